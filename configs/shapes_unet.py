"""Shapes segmentation with a small U-Net: per-pixel background / circle / square / triangle.

32x32 grey images of 1-4 overlapping shapes with noise (data/shapes.py),
3,600 train / 400 validation / 500 test. Three levels (16, 32, 64
channels), batch norm. Selected on validation mean IoU (over the 4 classes,
background included, from intersection and union counts summed over the
split).

  python -m cnn_vs_rnn.train --config configs/shapes_unet.py --workdir runs/shapes_unet

Expected: not yet measured.
"""

from cnn_vs_rnn import configlib


def get_config():
  c = configlib.base_config()
  c.num_train_steps = 1000
  c.log_every_steps = 100
  c.eval_every_steps = 250
  c.checkpoint_every_steps = 500

  c.data.name = 'shapes_segmentation'
  c.data.num_train = 4_000
  c.data.num_test = 500
  c.data.batch_size = 32
  c.data.eval_batch_size = 100
  c.data.data_dir = ''

  c.model.name = 'unet'
  c.model.features = (16, 32, 64)
  c.model.norm = 'batch'

  c.optim.name = 'adam'
  c.optim.learning_rate = 3e-3
  c.optim.grad_clip_norm = 1.0
  return c
