"""PLACEHOLDER

  python -m cnn_vs_rnn.train --config configs/moving_digits_convlstm.py --workdir runs/moving_digits_convlstm

Expected: not run yet.
"""

from cnn_vs_rnn import configlib


def get_config():
  c = configlib.base_config()
  c.num_train_steps = 1500
  c.log_every_steps = 100
  c.eval_every_steps = 500
  c.checkpoint_every_steps = 500

  c.data.name = 'moving_digits'
  c.data.num_frames = 8
  c.data.canvas = 24
  c.data.num_train = 6000  # clips; 600 of them are the validation split
  c.data.num_test = 1000
  c.data.batch_size = 32
  c.data.eval_batch_size = 200
  c.data.data_dir = ''
  c.data.view = ''  # 'shuffled': every clip's frames in its own order (the motion control)

  c.model.name = 'convlstm'
  c.model.features = (16, 16)
  c.model.kernel_size = 3
  c.model.patch_size = 2
  c.model.pool = 'max'

  c.optim.name = 'adam'
  c.optim.learning_rate = 0.002
  c.optim.grad_clip_norm = 1.0
  return c
