#!/usr/bin/env bash
# Trains every family on MNIST-1D at about 5k parameters, seeds 0-2 as three
# replicas of one program (num_seeds=3) with 50 steps per compiled call (as experiments/config_results), in one
# sweep (python -m cnn_vs_rnn.sweep: finished runs are skipped, unfinished ones
# resume), then draws RUNS_DIR/accuracy.png and prints the table of README.md.
# Usage (from the repository root):
#   bash experiments/mnist1d_families/run.sh [RUNS_DIR] [SWEEP ARGS...]
# e.g. a quick check: bash experiments/mnist1d_families/run.sh /tmp/families --set num_train_steps=20
set -euo pipefail
runs=${1:-runs/mnist1d_families}
shift $(( $# > 0 ? 1 : 0 ))
python=${PYTHON:-python}
[ -z "${PYTHON:-}" ] && [ -x .venv/bin/python ] && python=.venv/bin/python
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"  # This checkout's cnn_vs_rnn, also in summarize.py.
configs=$(printf 'configs/mnist1d_%s.py,' cnn tcn gru lstm elman lru)
status=0
"$python" -m cnn_vs_rnn.sweep --out "$runs" --configs "${configs%,}" --seeds 3 \
  --set steps_per_loop=50 --metric test/accuracy "$@" || status=$?
case $status in 0|1) ;; *) exit $status ;; esac  # 2: bad input; 130/143: stopped.
"$python" -m cnn_vs_rnn.plot results "$runs" --metric test/accuracy --x config --kind bar \
  --title 'MNIST-1D, about 5k parameters: mean ± std over 3 seeds' --out "$runs/accuracy.png"
"$python" experiments/mnist1d_families/summarize.py "$runs"
exit $status
