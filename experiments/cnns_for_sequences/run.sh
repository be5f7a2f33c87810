#!/usr/bin/env bash
# CNNs for sequences: the TCN against LSTM, GRU and LRU at matched parameters
# and with the same tuning effort (2 learning rates per family, chosen on
# validation; 3 seeds as replicas of one program; test reported once by
# summarize.py). Finished runs are skipped, unfinished ones resume.
# Usage (from the repository root):
#   bash experiments/cnns_for_sequences/run.sh [RUNS_DIR] [SWEEP ARGS...]
# Sections (PART=<name> runs one; default: all), runs of 3 seeds each:
#   adding200  adding T=200, 4 families x 2 lrs (8 runs)     CPU: about 40 min
#   adding400  adding T=400, 3 recurrences at their T=200 lr  CPU: about 15 min
#   copy100    copy memory T=100, 4 x 2 (8 runs)             CPU: about 25 min
#   copy200    copy memory T=200, 4 x 2 (8 runs)             CPU: about 40 min
#   rf         adding T=400, TCNs of 3..7 levels (5 runs)     CPU: about 75 min
#   charlm     character LM, 4 x 2 (8 runs)                   CPU: about 2 h (1 h as 2 streams)
#   keywords   hard keywords, 4 x 2 (8 runs)                  CPU: about 17 min
#   forecast   Mackey-Glass, 4 x 2 (8 runs)                   CPU: about 23 min
#   sunspots   sunspots, 4 x 2 (8 runs)                       CPU: about 5 min
# MNIST-1D and the pixel digits are not rerun: their rows come from
# experiments/grids_vs_sequences (same protocol and families).
# Smoke test (tests/test_study_cnns_for_sequences.py): ONLY (a regex on config
# names) keeps some configs, LRS replaces every learning-rate list, LEVELS the
# receptive-field sweep's levels, STUDY_OUT puts the summary elsewhere.
set -euo pipefail
runs=${1:-runs/cnns_for_sequences}
shift $(( $# > 0 ? 1 : 0 ))
python=${PYTHON:-python}
[ -z "${PYTHON:-}" ] && [ -x .venv/bin/python ] && python=.venv/bin/python
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
here=experiments/cnns_for_sequences
part=${PART:-all}
lrs=(--grid "optim.learning_rate=${LRS:-1e-3,3e-3}")
budget=(--set model.param_budget=20000)
every=(--set log_every_steps=50 --set eval_every_steps=250 --set checkpoint_every_steps=250)
status=0
sweep() {  # Goes on after a failed run (exit 1); stops on bad input or a signal.
  local s=0 prev=
  for a in "$@"; do [[ $prev == --configs && -z $a ]] && return 0; prev=$a; done  # ONLY left none.
  "$python" -m cnn_vs_rnn.sweep "$@" || s=$?
  case $s in 0) ;; 1) status=1 ;; *) exit $s ;; esac
}
c() {  # Config paths, comma-separated (those matching $ONLY, if set).
  local out=
  for n in "$@"; do [[ -z ${ONLY:-} || $n =~ ${ONLY:-} ]] && out+="configs/$n.py,"; done
  echo "${out%,}"
}
want() { [[ $part == all || $part == "$1" ]]; }
lr_list=${LRS:-1e-3,3e-3}
chosen_lr() {  # The lr the adding T=200 sweep chose for config $1 on validation.
  local lr
  lr=$("$python" "$here/summarize.py" "$runs" --chosen-lr "adding200:$1" 2>/dev/null) || lr=
  echo "${lr:-${lr_list%%,*}}"
}
tcn_levels() {  # Channels of an L-level TCN (24 each; param_budget rescales them).
  local t=() i
  for ((i = 0; i < $1; i++)); do t+=(24); done
  (IFS=,; echo "(${t[*]})")
}

# The adding problem (MSE at the last step; predicting 1 gives 1/6): 1000 steps
# of batch 64 for every family (what the 2-core CPU affords; Bai et al. train
# for 10 epochs of 50,000, 15,625 steps of batch 32). At T=200 every family gets both learning rates; the TCN has 5
# levels of kernel 7 (receptive field 373).
if want adding200; then  # One sweep directory per family, so families can run side by side.
  for f in lstm gru lru tcn; do
    [[ -z ${ONLY:-} || adding_$f =~ ${ONLY:-} ]] || continue
    sweep --out "$runs/adding200_$f" --configs "configs/adding_$f.py" "${lrs[@]}" \
      --set data.seq_len=200 --set num_train_steps=1000 "${budget[@]}" "${every[@]}" --seeds 3 \
      --metric val/mse,test/mse "$@"
  done
fi
# At T=400 each family trains once, at the learning rate its T=200 sweep chose
# on validation (the first of LRS before that sweep has run): the recurrences
# here, the TCN in the receptive-field sweep (its 6-level net, receptive field
# 757, is the TCN row of T=400).
if want adding400; then
  for f in lstm gru lru; do
    [[ -z ${ONLY:-} || adding_$f =~ ${ONLY:-} ]] || continue
    sweep --out "$runs/adding400_$f" --configs "configs/adding_$f.py" \
      --set "optim.learning_rate=$(chosen_lr adding_$f)" \
      --set data.seq_len=400 --set num_train_steps=1000 "${budget[@]}" "${every[@]}" --seeds 3 \
      --metric val/mse,test/mse "$@"
  done
fi
# Copy memory (cross-entropy over all T+20 steps; a memoryless model that knows
# the format gets 10 ln 8 / (T + 20)): 2000 steps of batch 32. The TCN has 8
# levels of kernel 8 (receptive field 3,571).
for T in 100 200; do
  want "copy$T" || continue
  sweep --out "$runs/copy$T" --configs "$(c copy_tcn copy_lstm copy_gru copy_lru)" "${lrs[@]}" \
    --set data.seq_len=$T --set num_train_steps=2000 "${budget[@]}" "${every[@]}" --seeds 3 \
    --metric val/loss,test/loss,test/accuracy "$@"
done
# Receptive field against sequence length: adding T=400 with TCNs of 3..7
# levels (receptive fields 85, 181, 373, 757, 1525: 0.21 to 3.8 times T), each at 20k parameters
# and the learning rate the TCN's T=200 sweep chose.
if want rf; then
  zip=()
  for L in ${LEVELS:-3 4 5 6 7}; do zip+=("$(tcn_levels "$L")"); done
  sweep --out "$runs/rf" --configs "$(c adding_tcn)" \
    --set "optim.learning_rate=$(chosen_lr adding_tcn)" \
    --zip "model.channels=$(IFS=,; echo "${zip[*]}")" \
    --set data.seq_len=400 --set num_train_steps=1000 "${budget[@]}" "${every[@]}" --seeds 3 \
    --metric val/mse,test/mse "$@"
fi
# Character language model on the offline corpus (bits per character from the
# loss), 3000 steps of 32 windows of 128, at 150k parameters.
want charlm && sweep --out "$runs/charlm" \
  --configs "$(c charlm_tcn charlm_lstm charlm_gru charlm_lru)" "${lrs[@]}" \
  --set model.param_budget=150000 --set num_train_steps=3000 "${every[@]}" --seeds 3 \
  --metric val/loss,test/loss,test/accuracy "$@"
# Hard keywords (procedural speech: 40 mel bands per frame), 2000 steps.
want keywords && sweep --out "$runs/keywords" \
  --configs "$(c keywords_tcn keywords_lstm keywords_gru keywords_lru)" "${lrs[@]}" \
  "${budget[@]}" --set num_train_steps=2000 "${every[@]}" --seeds 3 \
  --metric val/accuracy,test/accuracy "$@"
# Forecasting Mackey-Glass (64 -> 16 values), 3000 steps; the baselines
# (persistence, linear AR) are logged by every evaluation.
want forecast && sweep --out "$runs/forecast" \
  --configs "$(c forecast_tcn forecast_lstm forecast_gru forecast_lru)" "${lrs[@]}" \
  "${budget[@]}" --set num_train_steps=3000 "${every[@]}" --seeds 3 \
  --metric val/mse,test/mse,test/baseline_persistence_mse,test/baseline_mean_mse "$@"
# Sunspots (20 years -> the next), 500 steps at 1,200 parameters.
want sunspots && sweep --out "$runs/sunspots" \
  --configs "$(c sunspots_tcn sunspots_lstm sunspots_gru sunspots_lru)" \
  --grid "optim.learning_rate=${LRS:-3e-3,1e-2}" --set model.param_budget=1200 --seeds 3 \
  --metric val/mse,test/mse,test/baseline_persistence_mse,test/baseline_mean_mse "$@"
dry=0
for a in "$@"; do [[ $a == --dry-run ]] && dry=1; done  # A plan writes nothing, no summary either.
if [[ $dry == 0 && ( $part == all || ${SUMMARIZE:-} == 1 ) ]]; then
  "$python" "$here/summarize.py" "$runs" --out "${STUDY_OUT:-$here}"  # STUDY_OUT: elsewhere than the committed results
fi
exit $status
