#!/usr/bin/env bash
# Use cases: for each classic application, the CNN side vs the RNN side vs a
# hybrid, every family sized to one parameter budget per use case
# (model.param_budget), the same learning-rate sweep (2 values) for each, 3
# seeds per point (num_seeds=3: one program). The learning rate is chosen on
# validation; test is reported once (summarize.py). Finished runs are skipped,
# unfinished ones resume. Forecasting is not run here: summarize.py carries it
# over from experiments/config_results (and the sunspots configs' docstrings).
#
# Sections (PART=NAME runs one; each writes RUNS/NAME/), with their measured
# cost on the 2-core CPU, two or three jobs side by side (README):
#   video         3 configs x 2 lrs, 1500 steps, 25k params, 8x24x24 clips. CPU ~30 min.
#   translation   3 configs x 2 lrs, 1500 steps, 100k params, dates (17 -> 18 tokens);
#                 then attention.png into RUNS/translation/. CPU ~8 min (2 streams).
#   segmentation  2 configs x 2 lrs, 500 steps, 20k params, 32x32 shapes; then
#                 masks.png into RUNS/segmentation/. CPU ~12 min.
#   keywords      3 configs x 2 lrs, 2000 steps, 40k params, 'hard' keywords
#                 (98 x 40 log-mel). CPU ~50 min (2 streams; the 2D CNN ~25 min a run).
#
# Usage (from the repository root):
#   bash experiments/use_cases/run.sh [RUNS_DIR] [SWEEP ARGS...]
#   PART=translation bash experiments/use_cases/run.sh runs/use_cases --set steps_per_loop=50
# Extra arguments go to every sweep (log, eval and checkpoint intervals here are
# multiples of 50, so --set steps_per_loop=50 divides them). Without PART the
# last step is summarize.py (tables, results.json, PNGs in STUDY_OUT, default
# this folder); with PART it is skipped (run summarize.py once all sections are in).
# Smoke test (tests/test_study_use_cases.py): ONLY (a regex on config names)
# keeps some configs, LRS replaces every learning-rate list, e.g.
#   ONLY='dates_seq2seq_attention|shapes_renet' LRS=1e-2 STUDY_OUT=/tmp/uc run.sh /tmp/uc \
#     --set num_train_steps=4
set -euo pipefail
runs=${1:-runs/use_cases}
shift $(( $# > 0 ? 1 : 0 ))
python=${PYTHON:-python}
[ -z "${PYTHON:-}" ] && [ -x .venv/bin/python ] && python=.venv/bin/python
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
here=experiments/use_cases
sections=(video translation segmentation keywords)
part=${PART:-}
if [[ -n $part && ! " ${sections[*]} " =~ " $part " ]]; then
  echo "PART=$part is not a section; valid: ${sections[*]}" >&2
  exit 2
fi
lrs=(--grid "optim.learning_rate=${LRS:-1e-3,3e-3}")
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
want() { [[ -z $part || $part == "$1" ]]; }
figures() {  # The section's figure from its selected runs' checkpoints (skipped if none ran).
  [[ -f "$runs/$1/results.json" ]] || return 0
  "$python" "$here/summarize.py" "$runs" --figures "$1" || status=1
}

# Video: 40 classes = digit x direction of motion; 3D CNN vs ConvLSTM vs a
# per-frame CNN read by an LSTM.
want video && sweep --out "$runs/video" --configs "$(c moving_digits_cnn3d \
  moving_digits_convlstm moving_digits_cnn_lstm)" "${lrs[@]}" --set model.param_budget=25000 \
  --seeds 3 --metric val/accuracy,test/accuracy "$@"
# Translation: dates in five styles -> '26 November 2026'; BiLSTM encoder with
# additive attention, without attention, and a TCN encoder with attention.
want translation && { sweep --out "$runs/translation" --configs "$(c dates_seq2seq_attention \
  dates_seq2seq_noattention dates_seq2seq_tcn)" "${lrs[@]}" --set model.param_budget=100000 \
  --seeds 3 --metric val/exact_match,test/exact_match,test/char_accuracy "$@"
  figures translation; }
# Segmentation: per-pixel background / circle / square / triangle.
want segmentation && { sweep --out "$runs/segmentation" --configs "$(c shapes_unet shapes_renet)" \
  "${lrs[@]}" --set model.param_budget=20000 --seeds 3 \
  --metric val/mean_iou,test/mean_iou,test/pixel_accuracy "$@"
  figures segmentation; }
# Keywords ('hard': other speakers, -5..10 dB SNR, a quieter second word): 2D CNN
# on the log-mel image, GRU over its frames, CRNN (conv front end, GRU).
want keywords && sweep --out "$runs/keywords" --configs "$(c keywords_cnn keywords_gru \
  keywords_crnn)" "${lrs[@]}" --set model.param_budget=40000 --set log_every_steps=100 \
  --seeds 3 --metric val/accuracy,test/accuracy "$@"

for a in "$@"; do [[ $a == --dry-run ]] && exit $status; done  # A plan writes no summary.
if [[ -z $part ]]; then
  "$python" "$here/summarize.py" "$runs" --out "${STUDY_OUT:-$here}"  # STUDY_OUT: elsewhere than the committed results
fi
exit $status
