#!/usr/bin/env bash
# Launch a training run locally or on every worker of a Cloud TPU VM.
#
#   ./launch.sh local CONFIG WORKDIR [--config.KEY=VALUE ...]   # $PYTHON or .venv/bin/python
#   ./launch.sh tpu-setup TPU_NAME ZONE            # copy this checkout, install .[tpu]
#   ./launch.sh tpu TPU_NAME ZONE CONFIG WORKDIR [--config.KEY=VALUE ...]
#
# On a TPU VM every worker runs the same command with CNN_VS_RNN_DISTRIBUTED=1,
# which calls jax.distributed.initialize(); each host then reads its own slice
# of every global batch, and worker 0 alone writes the run files. WORKDIR should
# be on storage all workers share for multi-host runs: a GCS path, gs://...,
# which orbax (checkpoints) and etils.epath with gcsfs (run files) write.
set -euo pipefail

usage() { sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
[ $# -ge 1 ] || usage
mode=$1; shift
here=$(cd "$(dirname "$0")" && pwd)

case "$mode" in
  local)
    [ $# -ge 2 ] || usage
    config=$1 workdir=$2; shift 2
    cd "$here"
    # $PYTHON, else the Quick start's .venv, else python on the PATH.
    python=${PYTHON:-python}
    [ -z "${PYTHON:-}" ] && [ -x .venv/bin/python ] && python=.venv/bin/python
    exec "$python" -m cnn_vs_rnn.train --config "$config" --workdir "$workdir" "$@"
    ;;
  tpu-setup)
    [ $# -eq 2 ] || usage
    name=$1 zone=$2
    tar -C "$here" --exclude=.git --exclude=.venv --exclude=runs -czf /tmp/cnn_vs_rnn.tgz .
    gcloud compute tpus tpu-vm scp /tmp/cnn_vs_rnn.tgz "$name":/tmp/ --zone "$zone" --worker=all
    gcloud compute tpus tpu-vm ssh "$name" --zone "$zone" --worker=all --command \
      "mkdir -p ~/cnn_vs_rnn && tar -C ~/cnn_vs_rnn -xzf /tmp/cnn_vs_rnn.tgz && \
       cd ~/cnn_vs_rnn && python3 -m venv .venv && .venv/bin/pip install -e '.[tpu]'"
    ;;
  tpu)
    [ $# -ge 4 ] || usage
    name=$1 zone=$2 config=$3 workdir=$4; shift 4
    overrides=$(printf ' %q' "$@")
    gcloud compute tpus tpu-vm ssh "$name" --zone "$zone" --worker=all --command \
      "cd ~/cnn_vs_rnn && CNN_VS_RNN_DISTRIBUTED=1 .venv/bin/python -m cnn_vs_rnn.train \
       --config $(printf '%q' "$config") --workdir $(printf '%q' "$workdir")$overrides"
    ;;
  *) usage ;;
esac
