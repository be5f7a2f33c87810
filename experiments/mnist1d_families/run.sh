#!/usr/bin/env bash
# Trains every family on MNIST-1D at about 5k parameters, seeds 0-2 as three
# replicas of one program (num_seeds=3) with 100 steps per compiled call, then
# prints the table of README.md. Usage (from the repository root):
#   bash experiments/mnist1d_families/run.sh [RUNS_DIR] [--config.KEY=VALUE ...]
set -euo pipefail
runs=${1:-runs/mnist1d_families}
shift $(( $# > 0 ? 1 : 0 ))
python=${PYTHON:-python}
[ -z "${PYTHON:-}" ] && [ -x .venv/bin/python ] && python=.venv/bin/python
for family in cnn tcn gru lstm elman lru; do
  workdir="$runs/$family"
  [ -f "$workdir/final_metrics.json" ] && continue
  mkdir -p "$runs"
  start=$("$python" -c 'import time; print(time.time())')
  "$python" -m cnn_vs_rnn.train --config "configs/mnist1d_$family.py" --workdir "$workdir" \
    --config.num_seeds=3 --config.steps_per_loop=100 "$@" > "$workdir.log" 2>&1
  "$python" -c "import time; print(time.time() - $start)" > "$workdir.time"
done
"$python" experiments/mnist1d_families/summarize.py "$runs"
