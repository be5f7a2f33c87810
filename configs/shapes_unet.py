"""Shapes segmentation with a small U-Net: per-pixel background / circle / square / triangle.

32x32 grey images of 1-4 overlapping shapes with noise (data/shapes.py),
3,600 train / 400 validation / 500 test. Three levels (8, 16, 32
channels), batch norm. Selected on validation mean IoU (over the 4 classes,
background included, from intersection and union counts summed over the
split).

  python -m cnn_vs_rnn.train --config configs/shapes_unet.py --workdir runs/shapes_unet

Expected over seeds 0-2 at model.param_budget=20000 (19,978 parameters;
experiments/use_cases, learning rate 3e-3 chosen on validation from 1e-3 and 3e-3;
test at the best validation step, 500): test mean_iou 0.820 +- 0.117 (0.910, 0.862, 0.688), pixel_accuracy 0.976 +- 0.017 (at 1e-3: mean_iou 0.666, 0.874, 0.673).
At its own size, expected (1 seed, not a result; seed 0, 32,732 parameters, 117 s on the shared
2-core CPU): test mean_iou 0.927 (IoU background 1.000, circle 0.886, square
0.919, triangle 0.902), pixel_accuracy 0.991; validation mean_iou 0.930.
"""

from cnn_vs_rnn import configlib


def get_config():
  c = configlib.base_config()
  c.num_train_steps = 500
  c.log_every_steps = 50
  c.eval_every_steps = 250
  c.checkpoint_every_steps = 250

  c.data.name = 'shapes_segmentation'
  c.data.num_train = 4_000
  c.data.num_test = 500
  c.data.batch_size = 32
  c.data.eval_batch_size = 100
  c.data.data_dir = ''

  c.model.name = 'unet'
  c.model.features = (8, 16, 32)
  c.model.norm = 'batch'

  c.optim.name = 'adam'
  c.optim.learning_rate = 3e-3
  c.optim.grad_clip_norm = 1.0
  return c
