"""A 3D CNN over (time, height, width) on moving digits (offline video).

  python -m cnn_vs_rnn.train --config configs/moving_digits_cnn3d.py --workdir runs/moving_digits_cnn3d

Clips of 8 frames, 24x24, of one UCI 8x8 digit moving at 1-3 pixels per
frame and bouncing off the walls; 40 classes = 10 digits x 4 directions
(the motion from frame 0 to frame 1), so a model needs the digit's looks and
the frames' order (chance 0.025). Two blocks of 3x3x3 convolutions (16, 32
channels), each followed by a max pool (2 in time, 2x2 in space), a global
max, dense 64: 19,016 parameters.

Expected over seeds 0-2 at model.param_budget=25000 (25,005 parameters;
experiments/use_cases, learning rate 3e-3 chosen on validation from 1e-3 and 3e-3;
test at the best validation step, 1500): test accuracy 0.926 +- 0.017 (0.933, 0.907, 0.938) (at 1e-3: 0.876 +- 0.005).
At its own size, expected (measured, 1 seed, not a result): validation accuracy 0.867 and
test accuracy 0.870 at step 1500 (still improving), 154 s on the 2-core CPU
shared with other jobs. The control --config.data.view=shuffled (every clip's
frames in its own order) leaves the digit and the axis of its motion but not
the sign, so about 0.5 is the best a model can do; not run.
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

  c.model.name = 'cnn3d'
  c.model.blocks = ((16,), (32,))
  c.model.kernel_size = 3
  c.model.pool_size = 2
  c.model.time_pool_size = 2
  c.model.pool = 'max'
  c.model.dense = (64,)

  c.optim.name = 'adam'
  c.optim.learning_rate = 0.002
  c.optim.grad_clip_norm = 1.0
  return c
