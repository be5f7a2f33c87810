#!/usr/bin/env bash
# The comparisons of experiments/compare/README.md: `bash experiments/compare/run.sh RUNS`.
# Each writes RUNS/NAME/results.{md,json} and compare.png; rerun to resume.
set -euo pipefail
RUNS=${1:-runs/compare}
python -m cnn_vs_rnn.compare --data mnist1d --steps 1500 --out "$RUNS/mnist1d"
for ds in ItalyPowerDemand GunPoint; do
  python -m cnn_vs_rnn.compare --data ucr --set data.dataset=$ds --set data.batch_size=16 \
    --families fcn,resnet1d,cnn1d,tcn,lstm,gru,mlp --params 20000 --steps 1000 \
    --out "$RUNS/$ds"
done
python -m cnn_vs_rnn.compare --data ucr --set data.dataset=GunPoint --set data.batch_size=16 \
  --families lstm_fcn,fcn --params 20000 --steps 1000 --out "$RUNS/GunPoint_lstm_fcn"
python -m cnn_vs_rnn.compare --data sunspots --params 1200 --steps 500 --out "$RUNS/sunspots"
