"""A linear recurrent unit over the 64-pixel sequence of the 8x8 UCI digits.

  python -m cnn_vs_rnn.train --config configs/digits_lru.py --workdir runs/digits_lru

Expected: see experiments/grids_vs_sequences/README.md (3 seeds, at 20k parameters).
"""

from cnn_vs_rnn import configlib


def get_config():
  c = configlib.base_config()
  c.num_train_steps = 2000
  c.log_every_steps = 125
  c.eval_every_steps = 500
  c.checkpoint_every_steps = 500

  c.data.name = 'digits'
  c.data.batch_size = 64
  c.data.eval_batch_size = 360
  c.data.data_dir = ''

  c.data.view = 'pixels'
  c.model.name = 'lru'
  c.model.d_model = 32
  c.model.d_state = 32
  c.model.num_layers = 2
  c.model.mlp = 'glu'
  c.model.pool = 'max'

  c.optim.name = 'adam'
  c.optim.learning_rate = 0.003
  c.optim.grad_clip_norm = 1.0
  return c
