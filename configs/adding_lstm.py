"""LSTM (77 hidden units) on the adding problem, T=200: configs/adding_gru.py with an LSTM.

  python -m cnn_vs_rnn.train --config configs/adding_lstm.py --workdir runs/adding_lstm

Expected: eval/mse below the trivial 0.167 once the net finds the markers; not yet measured.
"""

from cnn_vs_rnn import configlib


def get_config():
  c = configlib.load_sibling(__file__, 'adding_gru.py')
  c.model.name = 'lstm'
  return c
