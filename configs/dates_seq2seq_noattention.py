"""Dates without attention: configs/dates_seq2seq_attention.py, decoder started from the encoder.

The control for attention: the same bidirectional LSTM encoder and LSTM
decoder, but the decoder sees the source only through its initial state,
tanh(W [final forward state; final backward state]) (and the cell state
from the same summary).

  python -m cnn_vs_rnn.train --config configs/dates_seq2seq_noattention.py --workdir runs/dates_noattention

Expected: not yet measured.
"""

from cnn_vs_rnn import configlib


def get_config():
  c = configlib.load_sibling(__file__, 'dates_seq2seq_attention.py')
  c.model.attention = 'none'
  return c
