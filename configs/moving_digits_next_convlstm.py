"""Next-frame prediction on moving digits with a two-layer ConvLSTM (Shi et al. 2015).

  python -m cnn_vs_rnn.train --config configs/moving_digits_next_convlstm.py --workdir runs/moving_digits_next_convlstm

The clips of configs/moving_digits_convlstm.py (8 frames, 24x24, one UCI
digit moving 1-3 pixels per frame and bouncing off the walls), with
data.target='next_frame': the target is frame 9 of the same motion, 24x24 in
[0, 1] (the 'pixel_regression' task: per-pixel MSE). The model is
configs/moving_digits_convlstm.py's (3x3 patches, two ConvLSTM layers of 16
channels, 3x3 kernels) with head='pixels': the output layer reads each of the 8x8
cells of the last layer's final state and gives its 3x3 pixels (a 1x1
convolution to 9 values): 33,113 parameters. Runs log the baselines
eval/baseline_persistence_mse (the last input frame) and
eval/baseline_mean_mse (the train split's mean next frame).

Expected (measured, 1 seed, not a result; seed 0, --config.num_seeds=1, 1500
steps): validation MSE 0.0076 / 0.0063 / 0.0054 at steps 500 / 1000 / 1500
(still improving), test MSE 0.0056 at step 1500; the same data's
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

  c.model.name = 'convlstm'
  c.model.features = (16, 16)
  c.model.kernel_size = 3
  c.model.patch_size = 3   # 24x24 frames -> 8x8 cells of 3x3 patches
  c.model.head = 'pixels'  # each cell's 3x3 pixels of the next frame

  c.optim.name = 'adam'
  c.optim.learning_rate = 0.002
  c.optim.grad_clip_norm = 1.0
  return c
