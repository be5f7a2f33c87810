"""LSTM on copy memory, T=100: configs/copy_gru.py with an LSTM.

The trivial baseline (blanks everywhere, then a guess among 8 symbols) has
cross-entropy 10 ln 8 / (T + 20) = 0.173 at T = 100.

  python -m cnn_vs_rnn.train --config configs/copy_lstm.py --workdir runs/copy_lstm

Expected over seeds 0-2 (3 replicas of one program; test at the step with the best
validation metric; bash experiments/config_results/run.sh runs/config_results copy_lstm):
test/loss 0.1695 +- 0.0003 (per seed 0.1699, 0.1693, 0.1694; best step 4000; 12,910
parameters; a lent NVIDIA H200): near the baseline 0.173.
Earlier (old protocol: whole train split, no validation split, evaluated on test): eval/loss
0.1699, 0.1699, 0.1695 (seeds 0/1/2) = 0.1698 +- 0.0002, accuracy 0.931 +- 0.000: at
the baseline 0.173 after 4000 steps (Bai et al. report LSTM/GRU near the baseline
at T=1000).
"""

from cnn_vs_rnn import configlib


def get_config():
  c = configlib.load_sibling(__file__, 'copy_gru.py')
  c.model.name = 'lstm'
  return c
