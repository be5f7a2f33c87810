"""Arithmetic without attention: configs/arithmetic_seq2seq_attention.py with attention='none'.

The control for attention: the same bidirectional LSTM encoder and LSTM
decoder, but the decoder sees the expression only through its initial
state, tanh(W [final forward state; final backward state]) (and the cell
state from the same summary).

  python -m cnn_vs_rnn.train --config configs/arithmetic_seq2seq_noattention.py --workdir runs/arithmetic_noattention

Expected (measured, 1 seed, not a result; seed 0, --config.num_seeds=1, 86,569
parameters, 1500 steps): validation exact_match 0.003 / 0.025 / 0.043 at steps
500 / 1000 / 1500 (with attention: 0.012 / 0.040 / 0.084); test exact_match
0.040, char_accuracy 0.499 at step 1500.
"""

from cnn_vs_rnn import configlib


def get_config():
  c = configlib.load_sibling(__file__, 'arithmetic_seq2seq_attention.py')
  c.model.attention = 'none'
  return c
