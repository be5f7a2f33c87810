#!/usr/bin/env bash
# Trains every family on MNIST-1D at about 5k parameters over seeds 0-2, then
# prints the table of README.md. Usage (from the repository root):
#   bash experiments/mnist1d_families/run.sh [RUNS_DIR]
set -euo pipefail
runs=${1:-runs/mnist1d_families}
for family in cnn tcn gru lstm elman lru; do
  for seed in 0 1 2; do
    workdir="$runs/${family}_seed$seed"
    [ -f "$workdir/final_metrics.json" ] && continue
    mkdir -p "$(dirname "$workdir")"
    start=$(python -c 'import time; print(time.time())')
    python -m cnn_vs_rnn.train --config "configs/mnist1d_$family.py" --workdir "$workdir" \
      --config.seed=$seed > "$workdir.log" 2>&1
    python -c "import time; print(time.time() - $start)" > "$workdir.time"
  done
done
python experiments/mnist1d_families/summarize.py "$runs"
