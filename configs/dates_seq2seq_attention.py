"""Dates -> '26 November 2026': bidirectional LSTM encoder, LSTM decoder, additive attention.

Sources in five styles (2026-11-26, 11/26/2026, 26.11.2026, Nov 26, 2026,
Thu, 26 Nov 2026; data/transduction.py), 9,000 train / 1,000 validation /
1,000 test pairs. Teacher forcing in training; evaluation decodes greedily.
The attention-free control is configs/dates_seq2seq_noattention.py, the
TCN encoder configs/dates_seq2seq_tcn.py.

  python -m cnn_vs_rnn.train --config configs/dates_seq2seq_attention.py --workdir runs/dates_attention

Expected over seeds 0-2 at model.param_budget=100000 (99,957 parameters;
experiments/use_cases, learning rate 3e-3 chosen on validation from 1e-3 and 3e-3;
test at the best validation step, 1500): test exact_match 1.000 +- 0.001, char_accuracy
1.000 +- 0.000 (at 1e-3: exact_match 0.925 +- 0.021).
At its own size, expected (1 seed, not a result; seed 0, 144,105 parameters, 93 s on the shared
2-core CPU): validation exact_match 1.000 at steps 500, 1000 and 1500; test
exact_match 1.000, char_accuracy 1.000 (greedy decoding).
"""

from cnn_vs_rnn import configlib


def get_config():
  c = configlib.base_config()
  c.num_train_steps = 1500
  c.log_every_steps = 100
  c.eval_every_steps = 500
  c.checkpoint_every_steps = 500

  c.data.name = 'dates'
  c.data.target_style = 'long'
  c.data.num_train = 10_000
  c.data.num_test = 1_000
  c.data.batch_size = 64
  c.data.eval_batch_size = 500
  c.data.data_dir = ''

  c.model.name = 'seq2seq'
  c.model.embed_dim = 16            # source characters
  c.model.encoder = 'lstm'
  c.model.bidirectional = True
  c.model.hidden_size = 64
  c.model.decoder_cell = 'lstm'
  c.model.decoder_embed_dim = 16
  c.model.attention = 'additive'
  c.model.attention_size = 64

  c.optim.name = 'adam'
  c.optim.learning_rate = 3e-3
  c.optim.grad_clip_norm = 1.0
  return c
