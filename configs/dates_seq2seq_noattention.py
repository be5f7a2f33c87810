"""Dates without attention: configs/dates_seq2seq_attention.py, decoder started from the encoder.

The control for attention: the same bidirectional LSTM encoder and LSTM
decoder, but the decoder sees the source only through its initial state,
tanh(W [final forward state; final backward state]) (and the cell state
from the same summary).

  python -m cnn_vs_rnn.train --config configs/dates_seq2seq_noattention.py --workdir runs/dates_noattention

Expected over seeds 0-2 at model.param_budget=100000 (100,060 parameters;
experiments/use_cases, learning rate 3e-3 chosen on validation from 1e-3 and 3e-3;
test at the best validation step, 1500): test exact_match 0.992 +- 0.006, char_accuracy
0.999 +- 0.001 (at 1e-3: exact_match 0.299 +- 0.237).
At its own size, expected (1 seed, not a result; seed 0, 86,569 parameters, 80 s on the shared
2-core CPU): validation exact_match 0.004 / 0.229 / 0.675 at steps
500 / 1000 / 1500 (with attention: 1.000 at each); test exact_match
0.687, char_accuracy 0.970.
"""

from cnn_vs_rnn import configlib


def get_config():
  c = configlib.load_sibling(__file__, 'dates_seq2seq_attention.py')
  c.model.attention = 'none'
  return c
