"""Next-frame prediction on moving digits with a per-frame 2D CNN, then an LSTM.

  python -m cnn_vs_rnn.train --config configs/moving_digits_next_cnn_lstm.py --workdir runs/moving_digits_next_cnn_lstm

The clips of configs/moving_digits_cnn_lstm.py (8 frames, 24x24) with
data.target='next_frame': the target is frame 9 of the same motion, 24x24 in
[0, 1] (the 'pixel_regression' task: per-pixel MSE). The model is
configs/moving_digits_cnn_lstm.py's (conv blocks of 8, 16, 16 channels, each
frame's 3x3x16 map flattened, an LSTM of 32 units) with head='pixels': the
LSTM's output layer maps its last state to all 576 pixels, a fully
connected decoder without a spatial prior (the family's state is one
vector per clip), which holds 19,008 of its 45,360 parameters. Runs log the
baselines eval/baseline_persistence_mse (the last input frame) and
eval/baseline_mean_mse (the train split's mean next frame).

Expected (measured, 1 seed, not a result; seed 0, --config.num_seeds=1, 1500
steps): validation MSE 0.0160 / 0.0141 / 0.0130 at steps 500 / 1000 / 1500
(still improving), test MSE 0.0132 at step 1500; the same data's
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

  c.model.name = 'cnn_lstm'
  c.model.blocks = ((8,), (16,), (16,))
  c.model.padding = 'SAME'
  c.model.frame_pool = 'flatten'  # keeps where the digit is: the motion is in there
  c.model.cell = 'lstm'
  c.model.hidden_size = 32
  c.model.pool = 'last'
  c.model.head = 'pixels'         # the last state -> 576 pixels (a Dense layer)

  c.optim.name = 'adam'
  c.optim.learning_rate = 0.002
  c.optim.grad_clip_norm = 1.0
  return c
