#!/usr/bin/env bash
# Launch a training run locally or on every worker of a Cloud TPU VM.
#
#   ./launch.sh [--dry-run] local CONFIG WORKDIR [--config.KEY=VALUE ...]   # $PYTHON or .venv/bin/python
#   ./launch.sh [--dry-run] tpu-setup TPU_NAME ZONE            # copy this checkout, install .[tpu]
#   ./launch.sh [--dry-run] tpu TPU_NAME ZONE CONFIG WORKDIR [--config.KEY=VALUE ...]
#
# --dry-run prints the commands instead of running them, one per line, quoted
# for the shell (paste a line into bash to run it); it needs no gcloud.
#
# On a TPU VM every worker runs the same command with CNN_VS_RNN_DISTRIBUTED=1,
# which calls jax.distributed.initialize(); each host then reads its own slice
# of every global batch, and worker 0 alone writes the run files. WORKDIR should
# be on storage all workers share for multi-host runs: a GCS path, gs://...,
# which orbax (checkpoints) and etils.epath with gcsfs (run files) write.
set -euo pipefail

usage() { sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }

# A command as one line of shell words: each argument quoted with printf %q.
show() { printf '%q' "$1"; shift; [ $# -eq 0 ] || printf ' %q' "$@"; printf '\n'; }

dry_run=0
run() { if [ "$dry_run" = 1 ]; then show "$@"; else "$@"; fi; }

while [ $# -ge 1 ] && [ "$1" = --dry-run ]; do dry_run=1; shift; done
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
    cmd=("$python" -m cnn_vs_rnn.train --config "$config" --workdir "$workdir" "$@")
    if [ "$dry_run" = 1 ]; then
      # Paths are relative to this checkout, where the command runs.
      printf 'cd %q && %s\n' "$here" "$(show "${cmd[@]}")"
    else
      exec "${cmd[@]}"
    fi
    ;;
  tpu-setup)
    [ $# -eq 2 ] || usage
    name=$1 zone=$2
    remote="mkdir -p ~/cnn_vs_rnn && tar -C ~/cnn_vs_rnn -xzf /tmp/cnn_vs_rnn.tgz"
    remote+=" && cd ~/cnn_vs_rnn && python3 -m venv .venv && .venv/bin/pip install -e '.[tpu]'"
    run tar -C "$here" --exclude=.git --exclude=.venv --exclude=runs -czf /tmp/cnn_vs_rnn.tgz .
    run gcloud compute tpus tpu-vm scp /tmp/cnn_vs_rnn.tgz "$name":/tmp/ --zone "$zone" \
      --worker=all
    run gcloud compute tpus tpu-vm ssh "$name" --zone "$zone" --worker=all --command "$remote"
    ;;
  tpu)
    [ $# -ge 4 ] || usage
    name=$1 zone=$2 config=$3 workdir=$4; shift 4
    # The remote shell splits this string again: every argument goes in %q-quoted,
    # so each override reaches python as one argument with its exact text.
    args=$(printf ' %q' --config "$config" --workdir "$workdir" "$@")
    remote="cd ~/cnn_vs_rnn && CNN_VS_RNN_DISTRIBUTED=1 .venv/bin/python -m cnn_vs_rnn.train$args"
    run gcloud compute tpus tpu-vm ssh "$name" --zone "$zone" --worker=all --command "$remote"
    ;;
  *) usage ;;
esac
