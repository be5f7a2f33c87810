"""Shapes segmentation, generated offline: circles, squares and triangles, per-pixel labels.

`shapes_segmentation` (the 'dense' task, tasks.py): grey images [size, size, 1]
holding `min_shapes`..`max_shapes` shapes, each labelled per pixel:

  0 background, 1 circle, 2 square, 3 triangle.

Each shape has a class, a centre (cx, cy) uniform in the image, a size r
uniform in [min_size, max_size] and an intensity uniform in [0.4, 1.0]; shapes
are drawn in order, a later one over an earlier one where they overlap (it
takes those pixels' label and intensity), so shapes often occlude each other.
A pixel (row i, column j) has its centre at (x, y) = (j + 0.5, i + 0.5) and
belongs to a shape when that centre is inside it:

  circle    (x - cx)^2 + (y - cy)^2 <= r^2
  square    |x - cx| <= r and |y - cy| <= r (axis-aligned, side 2r)
  triangle  apex (cx, cy - r), base from (cx - r, cy + r) to (cx + r, cy + r):
            y <= cy + r and |x - cx| <= (y - (cy - r)) / 2

The image is the intensities (background 0) plus Gaussian noise of std
`noise_std`. A TFDS builder in the manner of procedural.py (ArrayRecord files
in data_dir, named by a hash of every parameter and of the code); the
validation split is carved out of the `num_train` train images
(splits.carve), `num_test` images are drawn separately.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow_datasets as tfds

from cnn_vs_rnn.data import (DataSpec, Dataset, positive_field, prepared_builder, read_all,
                             register)
from cnn_vs_rnn.data import procedural
from cnn_vs_rnn.data import splits as splits_lib
from cnn_vs_rnn.errors import ConfigError

CLASSES = ('background', 'circle', 'square', 'triangle')


def shape_mask(kind: int, cx: float, cy: float, r: float, size: int) -> np.ndarray:
  """[size, size] bool: the pixels whose centres lie inside the shape (CLASSES[kind])."""
  y, x = np.mgrid[0:size, 0:size] + 0.5
  if kind == 1:
    return (x - cx) ** 2 + (y - cy) ** 2 <= r ** 2
  if kind == 2:
    return (np.abs(x - cx) <= r) & (np.abs(y - cy) <= r)
  if kind == 3:
    return (y <= cy + r) & (np.abs(x - cx) <= (y - (cy - r)) / 2)
  raise ValueError(f'unknown shape class {kind}')


def draw_shapes(rng, size: int, min_shapes: int, max_shapes: int, min_size: float,
                max_size: float, noise_std: float):
  """(image [size, size, 1] float32, labels [size, size] uint8, shapes).

  shapes: (class, cx, cy, r, intensity) in drawing order.
  """
  image = np.zeros((size, size), np.float32)
  labels = np.zeros((size, size), np.uint8)
  shapes = []
  for _ in range(int(rng.integers(min_shapes, max_shapes + 1))):
    kind = int(rng.integers(1, len(CLASSES)))
    cx, cy = rng.uniform(0, size, 2)
    r = rng.uniform(min_size, max_size)
    intensity = rng.uniform(0.4, 1.0)
    mask = shape_mask(kind, cx, cy, r, size)
    image[mask] = intensity
    labels[mask] = kind
    shapes.append((kind, float(cx), float(cy), float(r), float(intensity)))
  if noise_std:
    image = image + rng.normal(0, noise_std, image.shape).astype(np.float32)
  return image[..., None].astype(np.float32), labels, shapes


@dataclasses.dataclass
class ShapesConfig(procedural.GeneratedConfig):
  size: int = 32
  num_train: int = 4_000
  num_test: int = 500
  min_shapes: int = 1
  max_shapes: int = 4
  min_size: float = 3.0
  max_size: float = 8.0
  noise_std: float = 0.05


def shapes_arrays(c: ShapesConfig, n: int, seed):
  rng = np.random.default_rng(seed)
  drawn = [draw_shapes(rng, c.size, c.min_shapes, c.max_shapes, c.min_size, c.max_size,
                       c.noise_std) for _ in range(n)]
  return np.stack([d[0] for d in drawn]), np.stack([d[1] for d in drawn])


class ShapesSegmentation(procedural._ArraysBuilder):  # pylint: disable=protected-access
  """Circles, squares and triangles with per-pixel labels (0 background, 1-3 shapes)."""

  VERSION = tfds.core.Version('1.0.0')
  RELEASE_NOTES = {'1.0.0': 'cnn_vs_rnn.data.shapes.draw_shapes.'}

  def _info(self):
    s = self.builder_config.size
    return self.dataset_info_from_configs(
        description='Shapes segmentation: ' + ', '.join(CLASSES) + '.',
        features=tfds.features.FeaturesDict({
            'x': tfds.features.Tensor(shape=(s, s, 1), dtype=np.float32),
            'y': tfds.features.Tensor(shape=(s, s), dtype=np.uint8)}),
        disable_shuffling=True)

  def _arrays(self, split):
    c = self.builder_config
    n, seed = (c.num_train, 0) if split == 'train' else (c.num_test, 1)
    return shapes_arrays(c, n, [seed, 23])


def shapes_config(data_config) -> ShapesConfig:
  fields = dict(size=positive_field(data_config, 'size', 32),
                num_train=positive_field(data_config, 'num_train', 4_000),
                num_test=positive_field(data_config, 'num_test', 500),
                min_shapes=positive_field(data_config, 'min_shapes', 1),
                max_shapes=positive_field(data_config, 'max_shapes', 4),
                min_size=float(data_config.get('min_size', 3.0)),
                max_size=float(data_config.get('max_size', 8.0)),
                noise_std=float(data_config.get('noise_std', 0.05)),
                validation_fraction=splits_lib.validation_fraction(data_config))
  if fields['min_shapes'] > fields['max_shapes']:
    raise ConfigError(f'data.min_shapes={fields["min_shapes"]} must be <= '
                      f'data.max_shapes={fields["max_shapes"]}')
  if not 0 < fields['min_size'] <= fields['max_size']:
    raise ConfigError(f'data.min_size={fields["min_size"]:g} and data.max_size='
                      f'{fields["max_size"]:g} must satisfy 0 < min_size <= max_size')
  if fields['noise_std'] < 0:
    raise ConfigError(f'data.noise_std={fields["noise_std"]:g} must be >= 0')
  label = (f's{fields["size"]}_n{fields["num_train"]}_{fields["num_test"]}_'
           f'k{fields["min_shapes"]}-{fields["max_shapes"]}_'
           + procedural.fraction_label(fields['validation_fraction']))
  return procedural.named(ShapesConfig(name='', **fields), label)


@register('shapes_segmentation')
def shapes_segmentation(data_config) -> Dataset:
  """Images [size, size, 1] of shapes -> per-pixel classes [size, size] (4 classes)."""
  config = shapes_config(data_config)
  builder = prepared_builder(ShapesSegmentation, data_config, config=config)
  splits = {name: {'inputs': rec['x'].astype(np.float32), 'targets': rec['y'].astype(np.int32)}
            for name, rec in ((n, read_all(s)) for n, s in builder.as_data_source().items())}
  s = config.size
  spec = DataSpec(input_shape=(s, s, 1), task='dense', num_outputs=len(CLASSES),
                  output_shape=(s, s, len(CLASSES)))
  return Dataset(spec, splits)
