"""Evaluate '12+7*3' -> '33': bidirectional LSTM encoder, LSTM decoder, additive attention.

Sources of 2..3 integers in 0..99 joined by + - * (usual precedence; values
from -9,801 to 970,299), targets the value ('-' if negative; data/transduction.py),
9,000 train / 1,000 validation / 1,000 test pairs. The model is
configs/dates_seq2seq_attention.py's; the attention-free control is
configs/arithmetic_seq2seq_noattention.py. Teacher forcing in training;
evaluation decodes greedily.

  python -m cnn_vs_rnn.train --config configs/arithmetic_seq2seq_attention.py --workdir runs/arithmetic_attention

Expected (measured, 1 seed, not a result; seed 0, --config.num_seeds=1, 144,105
parameters, 1500 steps): validation exact_match 0.012 / 0.040 / 0.084 at steps
500 / 1000 / 1500 (still improving; char_accuracy 0.564 at 1500); test
exact_match 0.072, char_accuracy 0.549 at step 1500. Far from solved at
this length of training, unlike dates and reverse.
"""

from cnn_vs_rnn import configlib


def get_config():
  c = configlib.base_config()
  c.num_train_steps = 1500
  c.log_every_steps = 100
  c.eval_every_steps = 500
  c.checkpoint_every_steps = 500

  c.data.name = 'arithmetic'
  c.data.max_operands = 3
  c.data.max_value = 99
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
