"""Next-frame prediction on moving digits with a 3D CNN over (time, height, width).

  python -m cnn_vs_rnn.train --config configs/moving_digits_next_cnn3d.py --workdir runs/moving_digits_next_cnn3d

The clips of configs/moving_digits_cnn3d.py (8 frames, 24x24) with
data.target='next_frame': the target is frame 9 of the same motion, 24x24 in
[0, 1] (the 'pixel_regression' task: per-pixel MSE). The convolutions are
configs/moving_digits_cnn3d.py's (3x3x3, 16 and 32 channels, each block
max-pooled 2 in time and 2x2 in space: 2 x 6 x 6 cells) with head='pixels':
the 2 remaining time steps' features are stacked per cell (pool='flatten'),
a Dense layer of 64 acts at every cell, and the output layer gives each
cell's 4x4 pixels: 19,504 parameters. Runs log the baselines
eval/baseline_persistence_mse (the last input frame) and
eval/baseline_mean_mse (the train split's mean next frame).

Expected (measured, 1 seed, not a result; seed 0, --config.num_seeds=1, 1500
steps): validation MSE 0.0105 / 0.0093 / 0.0087 at steps 500 / 1000 / 1500
(still improving), test MSE 0.0090 at step 1500; the same data's
baselines: persistence 0.0255 / 0.0260, train-mean frame 0.0241 / 0.0242
(validation / test).
"""

from cnn_vs_rnn import configlib


def get_config():
  c = configlib.base_config()
  c.num_train_steps = 1500
  c.log_every_steps = 100
  c.eval_every_steps = 500
  c.checkpoint_every_steps = 500

  c.data.name = 'moving_digits'
  c.data.target = 'next_frame'
  c.data.num_frames = 8
  c.data.canvas = 24
  c.data.num_train = 6000  # clips; 600 of them are the validation split
  c.data.num_test = 1000
  c.data.batch_size = 32
  c.data.eval_batch_size = 200
  c.data.data_dir = ''

  c.model.name = 'cnn3d'
  c.model.blocks = ((16,), (32,))
  c.model.kernel_size = 3
  c.model.pool_size = 2
  c.model.time_pool_size = 2
  c.model.pool = 'flatten'  # over time only, with head='pixels': keeps the order
  c.model.dense = (64,)     # at every cell
  c.model.head = 'pixels'   # each cell's 4x4 pixels of the next frame

  c.optim.name = 'adam'
  c.optim.learning_rate = 0.002
  c.optim.grad_clip_norm = 1.0
  return c
