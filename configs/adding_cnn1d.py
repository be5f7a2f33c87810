"""A 1D CNN without dilation on the adding problem, T=200.

Five convolutions of kernel 7, stride 1: receptive field 31 < T, read at the
last step like the TCN, so the first 169 steps never reach the output.

  python -m cnn_vs_rnn.train --config configs/adding_cnn1d.py --workdir runs/adding_cnn1d

Expected: see experiments/grids_vs_sequences/README.md (3 seeds, lr chosen on validation).
"""

from cnn_vs_rnn import configlib


def get_config():
  c = configlib.base_config()
  c.num_train_steps = 2000
  c.log_every_steps = 250
  c.eval_every_steps = 1000
  c.checkpoint_every_steps = 1000

  c.data.name = 'adding'
  c.data.seq_len = 200  # T
  c.data.num_train = 50_000
  c.data.num_test = 1_000
  c.data.batch_size = 64
  c.data.eval_batch_size = 500
  c.data.data_dir = ''

  c.model.name = 'cnn1d'
  c.model.features = (24, 24, 24, 24, 24)
  c.model.kernel_sizes = (7, 7, 7, 7, 7)
  c.model.strides = (1, 1, 1, 1, 1)
  c.model.padding = 3
  c.model.pool = 'last'

  c.optim.name = 'adam'
  c.optim.learning_rate = 0.002
  c.optim.grad_clip_norm = 1.0
  return c
