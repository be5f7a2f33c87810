"""Dates with a convolutional encoder: configs/dates_seq2seq_attention.py with a TCN encoder.

The encoder is models/tcn.py's causal residual blocks (3 levels of 64
channels, kernel 3: receptive field 1 + 2*2*7 = 29 >= the 17 source steps);
its features at the last valid step start the LSTM decoder, which attends
over all of them (additive attention).

  python -m cnn_vs_rnn.train --config configs/dates_seq2seq_tcn.py --workdir runs/dates_tcn

Expected over seeds 0-2 at model.param_budget=100000 (99,992 parameters;
experiments/use_cases, learning rate 3e-3 chosen on validation from 1e-3 and 3e-3;
test at the best validation step, 1500): test exact_match 1.000 +- 0.000, char_accuracy
1.000 +- 0.000 (at 1e-3: exact_match 1.000 +- 0.001).
At its own size, expected (1 seed, not a result; seed 0, 135,721 parameters, 95 s on the shared
2-core CPU): validation exact_match 0.994 at step 500, 1.000 at 1000 and
1500; test exact_match 1.000, char_accuracy 1.000.
"""

from cnn_vs_rnn import configlib


def get_config():
  c = configlib.load_sibling(__file__, 'dates_seq2seq_attention.py')
  c.model.encoder = 'tcn'
  c.model.bidirectional = False
  c.model.channels = (64, 64, 64)
  c.model.kernel_size = 3
  return c
