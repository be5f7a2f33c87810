"""LRU (2 blocks) on copy memory, T=100: an output at every step.

  python -m cnn_vs_rnn.train --config configs/copy_lru.py --workdir runs/copy_lru

Expected: see the table of experiments/cnns_for_sequences/README.md (3 seeds,
learning rate chosen on validation, at the parameter budget of its study).
"""

from cnn_vs_rnn import configlib


def get_config():
  c = configlib.base_config()
  c.num_train_steps = 4000
  c.log_every_steps = 250
  c.eval_every_steps = 1000
  c.checkpoint_every_steps = 1000

  c.data.name = 'copy_memory'
  c.data.seq_len = 100  # T blanks between the symbols and the delimiter
  c.data.num_train = 10_000
  c.data.num_test = 1_000
  c.data.batch_size = 32
  c.data.eval_batch_size = 500
  c.data.data_dir = ''

  c.model.name = 'lru'
  c.model.embed_dim = 0  # one-hot tokens
  c.model.d_model = 32
  c.model.d_state = 32
  c.model.num_layers = 2
  c.model.mlp = 'glu'

  c.optim.name = 'adam'
  c.optim.learning_rate = 0.0005
  c.optim.grad_clip_norm = 1.0
  return c
