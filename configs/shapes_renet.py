"""Shapes segmentation with ReNet: bidirectional GRU sweeps along rows, then columns.

configs/shapes_unet.py's data; the image is cut into 2x2 patches (a 16x16
grid), one ReNet layer sweeps a bidirectional GRU (16 units per direction)
along every row of patches and then along every column, and a per-patch
Dense gives the 2x2 pixels' logits.

  python -m cnn_vs_rnn.train --config configs/shapes_renet.py --workdir runs/shapes_renet

Expected: not yet measured.
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
