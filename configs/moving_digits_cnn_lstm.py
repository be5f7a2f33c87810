"""A per-frame 2D CNN, then an LSTM over the frames, on moving digits (offline video).

  python -m cnn_vs_rnn.train --config configs/moving_digits_cnn_lstm.py --workdir runs/moving_digits_cnn_lstm

The clips of configs/moving_digits_cnn3d.py (8 frames, 24x24, 40 classes =
10 digits x 4 directions). cnn2d's conv blocks (8, 16, 16 channels, 3x3
SAME, max-pool 2) on every frame; each frame's 3x3x16 map, flattened so that
the digit's position survives, feeds an LSTM of 32 units read out at the
last frame: 27,672 parameters.

Expected over seeds 0-2 at model.param_budget=25000 (25,037 parameters;
experiments/use_cases, learning rate 3e-3 chosen on validation from 1e-3 and 3e-3;
test at the best validation step, 1500): test accuracy 0.775 +- 0.031 (0.740, 0.799, 0.785) (at 1e-3: 0.429 +- 0.037).
At its own size, expected (measured, 1 seed, not a result): validation accuracy 0.758 and
test accuracy 0.756 at step 1500 (still improving), 68 s on the 2-core CPU
shared with other jobs. --config.data.view=shuffled is the frame-order
control (about 0.5 at best); not run.
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

  c.model.name = 'cnn_lstm'
  c.model.blocks = ((8,), (16,), (16,))
  c.model.padding = 'SAME'
  c.model.frame_pool = 'flatten'  # keeps where the digit is: the motion is in there
  c.model.cell = 'lstm'
  c.model.hidden_size = 32
  c.model.pool = 'last'

  c.optim.name = 'adam'
  c.optim.learning_rate = 0.002
  c.optim.grad_clip_norm = 1.0
  return c
