"""A two-layer ConvLSTM (Shi et al. 2015) on moving digits (offline video).

  python -m cnn_vs_rnn.train --config configs/moving_digits_convlstm.py --workdir runs/moving_digits_convlstm

The clips of configs/moving_digits_cnn3d.py (8 frames, 24x24, 40 classes =
10 digits x 4 directions). Each frame is cut into 3x3 patches (8x8 cells of
9 values, as the paper cut Moving MNIST into 4x4 patches), then two ConvLSTM
layers of 16 channels with 3x3 kernels run over the frames; the last layer's
final state is max-pooled over space and read out: 33,640 parameters.

Expected over seeds 0-2 at model.param_budget=25000 (24,612 parameters;
experiments/use_cases, learning rate 3e-3 chosen on validation from 1e-3 and 3e-3;
test at the best validation step, 1500): test accuracy 0.633 +- 0.039 (0.616, 0.605, 0.677) (at 1e-3: 0.429 +- 0.040).
At its own size, expected (measured, 1 seed, not a result): validation accuracy 0.598 and
test accuracy 0.616 at step 1500 (still improving), 154 s on the 2-core CPU
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

  c.model.name = 'convlstm'
  c.model.features = (16, 16)
  c.model.kernel_size = 3
  c.model.patch_size = 3   # 24x24 frames -> 8x8 cells of 3x3 patches
  c.model.pool = 'max'

  c.optim.name = 'adam'
  c.optim.learning_rate = 0.002
  c.optim.grad_clip_norm = 1.0
  return c
