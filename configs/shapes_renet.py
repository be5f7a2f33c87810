"""Shapes segmentation with ReNet: bidirectional GRU sweeps along rows, then columns.

configs/shapes_unet.py's data; the image is cut into 2x2 patches (a 16x16
grid), one ReNet layer sweeps a bidirectional GRU (16 units per direction)
along every row of patches and then along every column, and a per-patch
Dense gives the 2x2 pixels' logits.

  python -m cnn_vs_rnn.train --config configs/shapes_renet.py --workdir runs/shapes_renet

Expected over seeds 0-2 at model.param_budget=20000 (19,672 parameters;
experiments/use_cases, learning rate 3e-3 chosen on validation from 1e-3 and 3e-3;
test at the best validation step, 500): test mean_iou 0.844 +- 0.001 (0.845, 0.843, 0.845), pixel_accuracy 0.979 (at 1e-3: mean_iou 0.604, 0.571, 0.591).
At its own size, expected (1 seed, not a result; seed 0, 7,440 parameters, 30 s on the shared
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
