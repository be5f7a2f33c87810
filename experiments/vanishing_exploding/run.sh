#!/usr/bin/env bash
# Vanishing and exploding gradients on the adding problem (T = 200): the cures
# trained over 5 seeds, then summarize.py, which also computes the untrained
# probes (gradient through time at initialisation, Jacobian spectra under
# each init) and the trained ones (from each run's best checkpoint).
#
# Two kinds of sweep. 'vmap': 5 seeds as 5 replicas of one program
# (num_seeds=5), for the models that cannot blow up (tanh and gated cells, the
# LRU, the TCN). 'seeds': 5 separate runs (--seed-runs), for the ReLU Elman
# nets that may diverge: the non-finite guard stops a run at the first NaN or
# inf, and as replicas of one program one diverging seed would stop all five.
# A stopped run exits 1; the sweep records it (results.json, status 'failed',
# and the guard's line in its train.log) and goes on.
#
# Usage (from the repository root):
#   bash experiments/vanishing_exploding/run.sh [RUNS_DIR] [SWEEP ARGS...]
# Without SWEEP ARGS every run logs every 100 steps, evaluates validation every
# 500, logs the gradient-through-time summary (diag/*) every 500 and keeps its
# last checkpoint and its best one; SWEEP ARGS replace those settings.
# Environment:
#   SEEDS=N      seeds per point (default 5)
#   ONLY=REGEX   only the sweeps whose name matches (plain, clipping, clipping_adam, irnn,
#                relu_normal, relu_normal_half, layer_norm, gating, lru, tcn)
#   IRNN_LRS=A,B the IRNN's learning rates (default 3e-4,1e-3,1e-4)
#   GPU_JOBS=G CPU_JOBS=C   train G runs at a time on the default JAX device and
#                C single-seed runs at a time on CPU cores (pool.py); unset: one
#                sweep after the other, one run at a time
#   VMAP_STEPS_PER_LOOP=K   steps per compiled call of the 'vmap' sweeps (default
#                1, the fastest on CPU; 50 on a GPU)
#   STUDY_OUT=DIR where summarize.py writes (default: this directory)
#   NO_SUMMARY=1 train only (summarize.py RUNS_DIR --out DIR can run later, elsewhere)
# Smoke test (tests/test_studies.py): SEEDS=2 ONLY='plain|clipping' ... run.sh /tmp/ve \
#   --set num_train_steps=4 ...
set -euo pipefail
runs=${1:-runs/vanishing_exploding}
shift $(( $# > 0 ? 1 : 0 ))
python=${PYTHON:-python}
[ -z "${PYTHON:-}" ] && [ -x .venv/bin/python ] && python=.venv/bin/python
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
here=experiments/vanishing_exploding
seeds=${SEEDS:-5}
if [ $# -gt 0 ]; then
  extra=("$@"); vmap_extra=("$@")
else
  extra=(--set log_every_steps=100 --set eval_every_steps=500 --set diagnostics_every_steps=500
         --set checkpoint_every_steps=1000 --set max_checkpoints_to_keep=1)
  vmap_extra=("${extra[@]}" --set "steps_per_loop=${VMAP_STEPS_PER_LOOP:-1}")
fi
common=(--metric val/mse,test/mse)
plan=
if [ -n "${GPU_JOBS:-}${CPU_JOBS:-}" ]; then
  mkdir -p "$runs"
  plan="$runs/plan.txt"
  : > "$plan"
fi
status=0
sweep() {  # sweep NAME LANE ARGS...: run (or, with a pool, plan) one sweep.
  local name=$1 lane=$2
  shift 2
  [[ -n ${ONLY:-} && ! $name =~ ^(${ONLY})$ ]] && return 0
  local args=(--out "$runs/$name" "$@" "${common[@]}")
  if [ "$lane" = vmap ]; then args+=(--seeds "$seeds" "${vmap_extra[@]}")
  else args+=(--seeds "$seeds" --seed-runs "${extra[@]}"); fi
  if [ -n "$plan" ]; then
    "$python" -m cnn_vs_rnn.sweep --dry-run "${args[@]}" > /dev/null  # Bad input stops here.
    printf '%q ' "$lane" "${args[@]}" >> "$plan"
    echo >> "$plan"
    return 0
  fi
  local s=0
  "$python" -m cnn_vs_rnn.sweep "${args[@]}" || s=$?
  case $s in 0) ;; 1) status=1 ;; *) exit $s ;; esac  # 1: a run failed (or diverged).
}

elman=configs/adding_elman.py
relu=(--set model.activation=relu)
# The plain tanh Elman net (orthogonal init) with the adding configs' recipe:
# Adam 2e-3, gradient clipping at norm 1, 4,000 steps.
sweep plain vmap --configs "$elman"
# Clipping (Pascanu et al. 2013): the IRNN under SGD (momentum 0.9, lr 1e-2),
# clipped at norm 1 and not clipped.
sweep clipping seeds --configs "$elman" "${relu[@]}" --set model.recurrent_init=identity \
  --set optim.name=sgd --set optim.learning_rate=1e-2 --grid optim.grad_clip_norm=1.0,0.0
# The same with Adam: the IRNN at 3e-4 without clipping (the irnn sweep below clips at 1).
sweep clipping_adam seeds --configs "$elman" "${relu[@]}" --set model.recurrent_init=identity \
  --set optim.learning_rate=3e-4 --set optim.grad_clip_norm=0.0
# Identity init (IRNN, Le et al. 2015) over its learning-rate window, and a ReLU
# net with a Gaussian recurrent matrix (spectral radius about 1) at 3e-4.
sweep irnn seeds --configs "$elman" "${relu[@]}" --set model.recurrent_init=identity \
  --grid "optim.learning_rate=${IRNN_LRS:-3e-4,1e-3,1e-4}"
sweep relu_normal seeds --configs "$elman" "${relu[@]}" --set model.recurrent_init=normal \
  --set optim.learning_rate=3e-4
# The same with the Gaussian matrix at half the scale (spectral radius about 0.5).
sweep relu_normal_half seeds --configs "$elman" "${relu[@]}" --set model.recurrent_init=normal \
  --set model.recurrent_init_scale=0.5 --set optim.learning_rate=3e-4
# Layer normalisation of the tanh Elman net's pre-activation.
sweep layer_norm vmap --configs "$elman" --set model.layer_norm=True
# Gating: the GRU and the LSTM with the plain net's recipe.
sweep gating vmap --configs configs/adding_gru.py,configs/adding_lstm.py
# The LRU: ring init near the unit circle (0.9 <= |lambda| <= 0.999) and, as an
# ablation, far inside it (|lambda| <= 0.5); |lambda| < 1 always.
sweep lru vmap --configs configs/adding_lru.py --zip model.r_min=0.9,0.0 \
  --zip model.r_max=0.999,0.5
# The TCN: no recurrence (its gradient reaches each input through the dilations).
sweep tcn vmap --configs configs/adding_tcn.py

if [ -n "$plan" ]; then
  s=0
  "$python" "$here/pool.py" "$plan" --gpu-jobs "${GPU_JOBS:-1}" --cpu-jobs "${CPU_JOBS:-0}" \
    || s=$?
  case $s in 0) ;; 1) status=1 ;; *) exit $s ;; esac
fi
[ -n "${NO_SUMMARY:-}" ] && exit $status
"$python" "$here/summarize.py" "$runs" --out "${STUDY_OUT:-$here}"  # STUDY_OUT: elsewhere than the committed results
exit $status
