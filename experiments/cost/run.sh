#!/usr/bin/env bash
# Cost study (issue 11, study 3): train-step time, compile time, planned peak
# memory and matmul FLOPs against sequence length (T = 64..4096, batch 32) and
# batch size (B = 8..256, T = 256) for every family at about 100k parameters,
# one benchmark subprocess per point, then the plots and tables (summarize.py).
# Points already in RUNS_DIR/results.jsonl are not run again.
# Usage (from the repository root, on a quiet machine):
#   bash experiments/cost/run.sh [RUNS_DIR] [RUN.PY ARGS...]
# e.g. TORCH_PYTHON=/tmp/torchref/bin/python bash experiments/cost/run.sh runs/cost
# PyTorch reference: TORCH_PYTHON (default /tmp/torchref/bin/python; if it
# cannot import torch, that is recorded and the JAX points go on).
set -euo pipefail
runs=${1:-runs/cost}
shift $(( $# > 0 ? 1 : 0 ))
python=${PYTHON:-python}
[ -z "${PYTHON:-}" ] && [ -x .venv/bin/python ] && python=.venv/bin/python
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"  # This checkout's cnn_vs_rnn.
here=experiments/cost
status=0
"$python" "$here/run.py" --out "$runs" \
  --lengths 64,128,256,512,1024,2048,4096 --batch 32 \
  --batches 8,16,32,64,128,256 --batch-seq-len 256 \
  --families lstm_scan,lstm_fused,gru,tcn,lru_assoc,lru_seq,cnn1d \
  --param-budget 100000 --steps 10 --warmup 2 --max-seconds-per-point 300 \
  --torch-python "${TORCH_PYTHON:-/tmp/torchref/bin/python}" "$@" || status=$?
case $status in 0|1) ;; *) exit $status ;; esac  # 1: some point failed; 2: bad input.
# STUDY_OUT: where the plots and tables go (default: RUNS_DIR, next to the raw results).
"$python" "$here/summarize.py" "$runs" --out "${STUDY_OUT:-$runs}"
exit $status
