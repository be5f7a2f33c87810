"""Reverse a string: bidirectional LSTM encoder, LSTM decoder, additive attention.

Sources of 3..12 lowercase letters, targets the same letters reversed
(data/transduction.py), 9,000 train / 1,000 validation / 1,000 test pairs.
The model is configs/dates_seq2seq_attention.py's. Teacher forcing in
training; evaluation decodes greedily.

  python -m cnn_vs_rnn.train --config configs/reverse_seq2seq_attention.py --workdir runs/reverse_attention

Expected (measured, 1 seed, not a result; seed 0, --config.num_seeds=1, 144,105
parameters, 1500 steps): validation exact_match 0.994 / 1.000 / 0.850 at steps
500 / 1000 / 1500 (a loss spike late in training), so the best step by
validation is 1000, where test exact_match is 1.000, char_accuracy 1.000.
"""

from cnn_vs_rnn import configlib


def get_config():
  c = configlib.base_config()
  c.num_train_steps = 1500
  c.log_every_steps = 100
  c.eval_every_steps = 500
  c.checkpoint_every_steps = 500

  c.data.name = 'reverse'
  c.data.min_len = 3
  c.data.max_len = 12
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
