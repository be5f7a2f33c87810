"""LSTM on copy memory, T=100: configs/copy_gru.py with an LSTM.

The trivial baseline (blanks everywhere, then a guess among 8 symbols) has
cross-entropy 10 ln 8 / (T + 20) = 0.173 at T = 100.

  python -m cnn_vs_rnn.train --config configs/copy_lstm.py --workdir runs/copy_lstm

Expected: eval/loss 0.170 (seed 0, measured): at the baseline 0.173 after 4000 steps
(Bai et al. report LSTM/GRU near the baseline at T=1000).
"""

from cnn_vs_rnn import configlib


def get_config():
  c = configlib.load_sibling(__file__, 'copy_gru.py')
  c.model.name = 'lstm'
  return c
