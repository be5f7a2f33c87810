"""LSTM on copy memory, T=100: configs/copy_gru.py with an LSTM.

The trivial baseline (blanks everywhere, then a guess among 8 symbols) has
cross-entropy 10 ln 8 / (T + 20) = 0.173 at T = 100.

  python -m cnn_vs_rnn.train --config configs/copy_lstm.py --workdir runs/copy_lstm

Expected (measured, seeds 0/1/2): eval/loss 0.1699, 0.1699, 0.1695 = 0.1698 +- 0.0002,
accuracy 0.931 +- 0.000: at the baseline 0.173 after 4000 steps (Bai et al.
report LSTM/GRU near the baseline at T=1000).
"""

from cnn_vs_rnn import configlib


def get_config():
  c = configlib.load_sibling(__file__, 'copy_gru.py')
  c.model.name = 'lstm'
  return c
