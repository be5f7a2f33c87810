"""Shapes segmentation with ReNet: bidirectional GRU sweeps along rows, then columns.

configs/shapes_unet.py's data; the image is cut into 2x2 patches (a 16x16
grid), one ReNet layer sweeps a bidirectional GRU (16 units per direction)
along every row of patches and then along every column, and a per-patch
Dense gives the 2x2 pixels' logits.

  python -m cnn_vs_rnn.train --config configs/shapes_renet.py --workdir runs/shapes_renet

Expected (1 seed, not a result; seed 0, 7,440 parameters, 30 s on the shared
2-core CPU): test mean_iou 0.805 (IoU background 0.999, circle 0.693, square
0.762, triangle 0.768), pixel_accuracy 0.973; validation mean_iou 0.792.
"""

from cnn_vs_rnn import configlib


def get_config():
  c = configlib.load_sibling(__file__, 'shapes_unet.py')
  c.model = configlib.base_config().model
  c.model.name = 'renet'
  c.model.hidden_size = 16
  c.model.num_layers = 1
  c.model.cell = 'gru'
  c.model.patch_size = 2
  c.model.recurrence = 'fused'
  return c
