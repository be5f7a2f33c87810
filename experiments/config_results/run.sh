#!/usr/bin/env bash
# Every config that runs offline, 3 seeds as replicas of one program, selected
# on the validation split and reported once on test, in one sweep; then the
# table of README.md (summarize.py). Usage (from the repository root):
#   bash experiments/config_results/run.sh [RUNS_DIR] [CONFIG_NAME...]
# e.g. bash experiments/config_results/run.sh runs/config_results adding_tcn copy_tcn
set -euo pipefail
runs=${1:-runs/config_results}
shift $(( $# > 0 ? 1 : 0 ))
python=${PYTHON:-python}
[ -z "${PYTHON:-}" ] && [ -x .venv/bin/python ] && python=.venv/bin/python
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
  names=(mnist1d_cnn mnist1d_tcn mnist1d_gru mnist1d_lstm mnist1d_elman mnist1d_lru
         digits_cnn digits_lstm digits_tcn mnist5k_cnn2d mnist5k_lstm_rows mnist5k_tcn_pixels
         adding_tcn adding_gru adding_lstm adding_elman copy_tcn copy_gru copy_lstm
         forecast_tcn forecast_lstm sunspots_tcn sunspots_lstm charlm_lstm charlm_tcn
         keywords_cnn keywords_gru)
fi
configs=$(printf 'configs/%s.py,' "${names[@]}")
status=0
"$python" -m cnn_vs_rnn.sweep --out "$runs" --configs "${configs%,}" --seeds 3 \
  --set steps_per_loop=50 || status=$?
case $status in 0|1) ;; *) exit $status ;; esac
"$python" experiments/config_results/summarize.py "$runs"
exit $status
