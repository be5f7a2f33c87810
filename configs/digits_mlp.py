"""An MLP on the 64 pixels of the 8x8 UCI digits: the control with no structural prior.

  python -m cnn_vs_rnn.train --config configs/digits_mlp.py --workdir runs/digits_mlp

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

  c.model.name = 'mlp'
  c.model.features = (128, 128)

  c.optim.name = 'adam'
  c.optim.learning_rate = 0.003
  c.optim.grad_clip_norm = 1.0
  return c
