"""A GRU reading the 8x8 UCI digits pixel by pixel (64 steps of 1).

  python -m cnn_vs_rnn.train --config configs/digits_gru_pixels.py --workdir runs/digits_gru_pixels

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
  c.model.name = 'gru'
  c.model.hidden_size = 64
  c.model.pool = 'last'

  c.optim.name = 'adam'
  c.optim.learning_rate = 0.003
  c.optim.grad_clip_norm = 1.0
  return c
