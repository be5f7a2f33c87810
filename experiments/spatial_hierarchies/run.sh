#!/usr/bin/env bash
# Spatial hierarchies: what the layers of 2D CNNs on mnist_5k compute (filters,
# feature maps, receptive fields, linear probes per layer) next to a row-LSTM
# and an MLP, and how each family's accuracy survives shifted digits. Every
# model is sized to 25,000 parameters (model.param_budget) and trained with
# the same learning-rate sweep (2 values) and 3 seeds per point (num_seeds=3:
# one program). The learning rate is chosen on validation; every probe reads
# the step validation selected; test is reported once (analyze.py,
# summarize.py). Finished runs are skipped, unfinished ones resume.
#
# Sections (PART=<name> runs only that one; each writes RUNS_DIR/<name>;
# costs are estimates from short runs, not measurements):
#   cnn        cnn2d with max pooling / without pooling (same 24,975 params):
#              4 runs; the no-pool net is ~10x the convolution FLOPs
#              (2-core CPU, loaded: ~6 min for the pooled pair, ~40 min no-pool;
#              H200: ~1-2 min)
#   deep       vgg, resnet: 4 runs (H200: ~1-2 min; 2-core CPU: ~20 min)
#   baselines  mlp, lstm_rows: 4 runs (2-core CPU: ~3 min; H200: ~1 min)
#   analyze    probes, translation, receptive fields, figures (analyze.py) on
#              whatever sections have finished, then summarize.py
#              (H200: ~1-2 min; 2-core CPU: ~10 min)
# Without PART: every section, then analyze.
# Usage (from the repository root):
#   bash experiments/spatial_hierarchies/run.sh [RUNS_DIR] [SWEEP ARGS...]
# Smoke test (tests/test_study_spatial_hierarchies.py): ONLY (a regex on config
# names) keeps some configs, LRS replaces the learning-rate list, PROBE_ARGS
# goes to analyze.py, e.g.
#   ONLY='mlp|cnn2d_gap' LRS=1e-2 PROBE_ARGS='--probe_steps 5' STUDY_OUT=/tmp/sh \
#     run.sh /tmp/sh --set num_train_steps=4
set -euo pipefail
runs=${1:-runs/spatial_hierarchies}
shift $(( $# > 0 ? 1 : 0 ))
python=${PYTHON:-python}
[ -z "${PYTHON:-}" ] && [ -x .venv/bin/python ] && python=.venv/bin/python
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
here=experiments/spatial_hierarchies
part=${PART:-}
case $part in ''|cnn|deep|baselines|analyze) ;;
  *) echo "run.sh: unknown PART=$part; valid: cnn, deep, baselines, analyze" >&2; exit 2 ;;
esac
common=(--seeds 3 --metric val/accuracy,test/accuracy --set model.param_budget=25000)
lrs=(--grid "optim.learning_rate=${LRS:-1e-3,3e-3}")
status=0
sweep() {  # Goes on after a failed run (exit 1); stops on bad input or a signal.
  local s=0 prev=
  for a in "$@"; do [[ $prev == --configs && -z $a ]] && return 0; prev=$a; done  # ONLY left none.
  "$python" -m cnn_vs_rnn.sweep "$@" || s=$?
  case $s in 0) ;; 1) status=1 ;; *) exit $s ;; esac
}
c() {  # Config paths, comma-separated (those whose name, mnist5k_..., matches $ONLY, if set).
  local out=
  for n in "$@"; do n=mnist5k_$n; [[ -z ${ONLY:-} || $n =~ ${ONLY:-} ]] && out+="configs/$n.py,"; done
  echo "${out%,}"
}
want() { [[ -z $part || $part == "$1" ]]; }

want cnn && sweep --out "$runs/cnn" --configs "$(c cnn2d_gap cnn2d_nopool)" "${lrs[@]}" \
  "${common[@]}" "$@"
want deep && sweep --out "$runs/deep" --configs "$(c vgg resnet)" "${lrs[@]}" "${common[@]}" "$@"
want baselines && sweep --out "$runs/baselines" --configs "$(c mlp lstm_rows)" "${lrs[@]}" \
  "${common[@]}" "$@"
for a in "$@"; do [[ $a == --dry-run ]] && exit $status; done
if want analyze; then
  out=${STUDY_OUT:-$here}  # STUDY_OUT: elsewhere than the committed results
  # shellcheck disable=SC2086
  "$python" "$here/analyze.py" "$runs" --out "$out" ${PROBE_ARGS:-}
  "$python" "$here/summarize.py" "$runs" --out "$out"
fi
exit $status
