#!/usr/bin/env bash
# Recurrence and context: what a recurrent state holds, how far back a model
# looks, and how long it can remember. Two GPU sections, then a CPU analysis:
#  1. Character LMs on the offline corpus (stdlib_text, 128-byte windows):
#     LSTM, GRU, Elman and a causal TCN (4 levels of kernel 3: receptive field
#     61 bytes, inside the window) at one budget of 100k parameters, 3000 steps
#     of batch 32, 3 seeds (num_seeds=3: one program each).
#  2. Copy memory at delays T = 10, 20, 50, 100, 200: the same four families at
#     16k parameters (Bai et al. 2018's size), 2000 steps of batch 32 at
#     learning rate 3e-3 for every family and delay, 3 seeds.
#  2b. The same at a 4x budget (8000 steps) for the recurrences at T <= 100:
#     is what they miss at 2000 steps the budget or the delay? (The TCN
#     copies every delay at 2000 steps already.)
#  3. summarize.py (CPU, from the checkpoints): the hidden-state trajectory of
#     "The quick brown fox ...", the sensitivity probe at initialisation and at
#     the validation-selected step, copy-memory recall accuracy; tables,
#     figures and results.json.
# Every (family, section, delay) is its own sweep directory, so JOBS>1 can run
# them side by side (JOBS=12 on one GPU: the runs are small and latency bound).
# Finished runs are skipped, unfinished ones resume.
# Usage (from the repository root):
#   [JOBS=N] bash experiments/recurrence_context/run.sh [RUNS_DIR] [SWEEP ARGS...]
# e.g. on a GPU: JOBS=12 bash experiments/recurrence_context/run.sh runs/recurrence_context \
#   --set steps_per_loop=50
# SECTIONS (default 'charlm copy copy_long') picks sections 1, 2 and 2b.
# Smoke test (tests/test_studies.py): FAMILIES, DELAYS, LONG_FAMILIES,
# LONG_DELAYS, LM_BUDGET and COPY_BUDGET shrink the study, SUMMARIZE=0 skips step 3, SUMMARY_ARGS go to
# summarize.py, STUDY_OUT is where step 3 writes (default: this directory).
set -euo pipefail
runs=${1:-runs/recurrence_context}
shift $(( $# > 0 ? 1 : 0 ))
extra=("$@")  # Sweep arguments for every sweep.
python=${PYTHON:-python}
[ -z "${PYTHON:-}" ] && [ -x .venv/bin/python ] && python=.venv/bin/python
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
here=experiments/recurrence_context
families=(${FAMILIES:-lstm gru elman tcn})
delays=(${DELAYS-10 20 50 100 200})
long_families=(${LONG_FAMILIES-lstm gru elman})
long_delays=(${LONG_DELAYS-10 20 50 100})
sections=" ${SECTIONS:-charlm copy copy_long} "
jobs=${JOBS:-1}
common=(--seeds 3 --metric val/loss,test/loss)
lm=(--set model.param_budget=${LM_BUDGET:-100000} --set num_train_steps=3000)
copy=(--set model.param_budget=${COPY_BUDGET:-16000} --set data.batch_size=32
      --set optim.learning_rate=3e-3)
dry=0
for a in "$@"; do [[ $a == --dry-run ]] && dry=1; done
if (( jobs > 1 )); then
  # Several processes on one GPU: allocate as needed, not 75% each.
  export XLA_PYTHON_CLIENT_PREALLOCATE=${XLA_PYTHON_CLIENT_PREALLOCATE:-false}
  if (( !dry )); then  # Build every dataset once, before processes read them side by side.
    "$python" "$here/summarize.py" --prepare-data --delays ${delays[@]+"${delays[@]}"} \
      ${long_delays[@]+"${long_delays[@]}"}
  fi
fi

status=0 running=0
collect() {  # Waits for one sweep; goes on after a failed run (1), stops on anything else.
  local s=0
  wait -n || s=$?
  running=$((running - 1))
  case $s in 0) ;; 1) status=1 ;; *) echo "a sweep exited with $s; stopping" >&2; exit $s ;; esac
}
sweep() {
  if (( jobs > 1 )); then
    (( running >= jobs )) && collect
    "$python" -m cnn_vs_rnn.sweep "$@" &
    running=$((running + 1))
  else
    local s=0
    "$python" -m cnn_vs_rnn.sweep "$@" || s=$?
    case $s in 0) ;; 1) status=1 ;; *) exit $s ;; esac
  fi
}
copy_sweeps() {  # copy_sweeps SECTION STEPS DELAY FAMILY...: each family at one delay.
  local section=$1 steps=$2 T=$3 f config name
  shift 3
  for f in "$@"; do
    if [[ $f == tcn ]]; then config=configs/copy_tcn.py name=(); else
      config=configs/copy_gru.py name=(--set model.name=$f); fi
    sweep --out "$runs/$section/$f/T$T" --configs $config ${name[@]+"${name[@]}"} \
      --grid data.seq_len=$T --set num_train_steps=$steps "${copy[@]}" "${common[@]}" \
      ${extra[@]+"${extra[@]}"}
  done
}
lm_sweeps() {
  local f
  for f in "${families[@]}"; do
    if [[ $f == tcn ]]; then
      sweep --out "$runs/charlm/$f" --configs configs/charlm_tcn.py \
        --set 'model.channels=(128,128,128,128)' "${lm[@]}" "${common[@]}" ${extra[@]+"${extra[@]}"}
    else
      sweep --out "$runs/charlm/$f" --configs configs/charlm_lstm.py --set model.name=$f \
        "${lm[@]}" "${common[@]}" ${extra[@]+"${extra[@]}"}
    fi
  done
}

# The longest runs start first (the 8000 steps at the largest T, then 2000 steps at
# the largest T), then the LMs, then the shorter delays: parallel jobs end together.
desc() { printf '%s\n' "$@" | sort -rn; }
if [[ $sections == *" copy_long "* && ${#long_families[@]} -gt 0 ]]; then
  for T in $(desc ${long_delays[@]+"${long_delays[@]}"}); do
    copy_sweeps copy_long 8000 "$T" "${long_families[@]}"
  done
fi
copy_delays=()
[[ $sections == *" copy "* ]] && copy_delays=($(desc ${delays[@]+"${delays[@]}"}))
(( ${#copy_delays[@]} )) && copy_sweeps copy 2000 "${copy_delays[0]}" "${families[@]}"
[[ $sections == *" charlm "* ]] && lm_sweeps
for T in ${copy_delays[@]+"${copy_delays[@]:1}"}; do copy_sweeps copy 2000 "$T" "${families[@]}"; done
while (( running > 0 )); do collect; done

if [[ ${SUMMARIZE:-1} == 1 ]] && (( !dry )); then
  "$python" "$here/summarize.py" "$runs" --out "${STUDY_OUT:-$here}" ${SUMMARY_ARGS:-}
fi
exit $status
