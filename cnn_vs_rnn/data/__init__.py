"""Dataset registry keyed by `config.data.name`.

A loader takes the data config and returns a `Dataset`: a `DataSpec` that
tells models and tasks the shapes, and its splits as dicts of NumPy arrays
with keys `inputs` and `targets`. Every dataset has the splits 'train',
'validation' and 'test' (splits.py says where each validation split comes
from); baselines.py computes trivial baselines of a split.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from typing import Callable

import numpy as np

from cnn_vs_rnn.errors import ConfigError, choose


class _QuietBuilderConfigs(logging.Filter):
  """Drops TFDS's notices about the generated datasets' own builder configs.

  Every procedural dataset is built from a config named by a hash of its
  parameters, which TFDS announces on each load ('Using custom data
  configuration ...'); the notice is expected here, and the command line
  promises one line on stderr for an error.
  """
  NOTICES = ('Using custom data configuration', 'Variant folder ')

  def filter(self, record: logging.LogRecord) -> bool:
    return not str(record.msg).startswith(self.NOTICES)


logging.getLogger('absl').addFilter(_QuietBuilderConfigs())


@dataclasses.dataclass(frozen=True)
class DataSpec:
  """What a model and a task need to know about the data."""
  input_shape: tuple[int, ...]  # one example: (T, C) for sequences, (H, W, C) for images
  task: str                     # a key of cnn_vs_rnn.tasks.TASKS
  num_outputs: int              # classes, or regression targets
  per_step: bool = False        # one output per time step instead of one per example
  vocab_size: int = 0           # > 0: inputs are int32 tokens [T] from this vocabulary
  variable_length: bool = False  # batches carry 'lengths' [B]
  # One example's outputs where they are neither [num_outputs] nor per step
  # [T, num_outputs]: [T_target, vocab] for seq2seq, [H, W, classes] for dense.
  output_shape: tuple[int, ...] = ()

  @property
  def input_dtype(self):
    return np.int32 if self.vocab_size else np.float32


@dataclasses.dataclass
class Dataset:
  spec: DataSpec
  splits: dict[str, dict[str, np.ndarray]]

  def split(self, name: str) -> dict[str, np.ndarray]:
    return choose('split', name, self.splits)


Loader = Callable[..., Dataset]
DATASETS: dict[str, Loader] = {}
# Dataset -> the config.data fields it reads, with their defaults (register's `options`).
OPTIONS: dict[str, dict] = {}


def register(name: str, options: dict | None = None):
  """Decorator: the loader of `config.data.name == name`.

  `options`: the config.data fields the loader reads beyond base_config's, with
  their defaults. A config built for a dataset by name (families.get_config,
  compare) holds them, so each can be set as --config.data.KEY=VALUE.
  """
  def wrap(fn: Loader) -> Loader:
    DATASETS[name] = fn
    OPTIONS[name] = dict(options or {})
    return fn
  return wrap


def declared_options(name: str) -> dict:
  """The options dataset `name` declares (a ConfigError naming the datasets if unknown)."""
  choose('dataset', name, DATASETS)
  return dict(OPTIONS.get(name, {}))


def load(data_config) -> Dataset:
  """The dataset `data_config.name`, with `data_config.view` applied if set."""
  from cnn_vs_rnn.data import transforms  # pylint: disable=g-import-not-at-top
  dataset = choose('dataset', data_config.name, DATASETS)(data_config)
  return transforms.apply_view(dataset, data_config.get('view', ''),
                               data_config.get('permutation_seed', 0))


def positive_field(data_config, key: str, default: int) -> int:
  """config.data.<key> (or `default`), checked to be a positive integer."""
  value = data_config.get(key, default)
  if isinstance(value, bool) or not isinstance(value, int) or value < 1:
    raise ConfigError(f'data.{key}={value!r} must be a positive integer')
  return value


def data_dir(data_config) -> str:
  """config.data.data_dir, else $TFDS_DATA_DIR, else ~/tensorflow_datasets."""
  return (data_config.get('data_dir') or os.environ.get('TFDS_DATA_DIR')
          or os.path.expanduser('~/tensorflow_datasets'))


def prepared_builder(builder_cls, data_config, **kwargs):
  """A procedural TFDS builder, generated into data_dir on first use.

  With several processes only process 0 generates; the others wait at a
  barrier and then open what it wrote, so no two hosts write the same files.
  """
  from cnn_vs_rnn import parallel  # pylint: disable=g-import-not-at-top
  make = lambda: builder_cls(data_dir=data_dir(data_config), file_format='array_record',
                             **kwargs)
  builder = None
  if parallel.is_primary():
    builder = make()
    if not builder.is_prepared():
      import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
      print(f'Generating {builder.name} into {builder.data_dir} (once).', flush=True)
      tfds.disable_progress_bar()
      builder.download_and_prepare()
  parallel.sync(f'cnn_vs_rnn.prepared_builder.{builder_cls.__name__}')
  return builder or make()


def read_all(source) -> dict[str, np.ndarray]:
  """Every record of a random-access TFDS data source, stacked per feature."""
  records = source.__getitems__(range(len(source)))
  return {k: np.stack([r[k] for r in records]) for k in records[0]}


def synthetic_split_BxS(shape, num_classes: int, n: int, seed) -> dict[str, np.ndarray]:
  """n standard-normal float32 inputs of `shape`, then n int32 labels, from one rng."""
  rng = np.random.default_rng(seed)
  inputs = rng.standard_normal((n,) + tuple(shape), dtype=np.float32)
  targets = rng.integers(0, num_classes, size=(n,)).astype(np.int32)
  return {'inputs': inputs, 'targets': targets}


@register('synthetic')
def synthetic(data_config) -> Dataset:
  """Random inputs and labels of any shape, offline: for benchmarks and tests.

  config.data: `shape` (one example, (T, C) or (H, W, C)), `num_classes`,
  `num_examples` (train; validation and test have num_examples // 4, at
  least 1) and an optional `seed` (default 0). The train split draws its
  inputs first, then its labels, from default_rng(seed), as
  torch_reference.py's make_data does, so with num_examples equal to the
  batch size it holds that exact batch. Validation and test are independent
  draws (seeds [seed, 2] and [seed, 1]), not carved from train: random
  inputs are never equal.
  """
  shape = tuple(data_config.get('shape', ()))
  num_classes = data_config.get('num_classes', 0)
  n = data_config.get('num_examples', 0)
  seed = data_config.get('seed', 0)
  if not shape or any(isinstance(d, bool) or not isinstance(d, int) or d < 1
                      for d in shape):
    raise ConfigError(f'data.shape={shape!r} must be a non-empty tuple of positive '
                      'ints, e.g. (784, 1) or (28, 28, 1)')
  for key, value, low in (('num_classes', num_classes, 2), ('num_examples', n, 1)):
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
      raise ConfigError(f'data.{key}={value!r} must be an integer >= {low}')
  splits = {'train': synthetic_split_BxS(shape, num_classes, n, seed),
            'validation': synthetic_split_BxS(shape, num_classes, max(n // 4, 1), [seed, 2]),
            'test': synthetic_split_BxS(shape, num_classes, max(n // 4, 1), [seed, 1])}
  return Dataset(DataSpec(input_shape=shape, task='classification',
                          num_outputs=num_classes), splits)


# Registers the offline datasets (mnist1d, adding, copy_memory, ...).
from cnn_vs_rnn.data import offline  # pylint: disable=g-import-not-at-top,wrong-import-position,unused-import
# Registers the real datasets read by their TFDS names (mnist, imdb_reviews, ...).
from cnn_vs_rnn.data import tfds_sources  # pylint: disable=g-import-not-at-top,wrong-import-position,unused-import
# Registers the real data that packages ship (mnist_5k, sunspots, co2).
from cnn_vs_rnn.data import bundled  # pylint: disable=g-import-not-at-top,wrong-import-position,unused-import
# Registers the generated transduction pairs (dates, reverse, arithmetic) and
# shapes_segmentation.
from cnn_vs_rnn.data import shapes, transduction  # pylint: disable=g-import-not-at-top,wrong-import-position,unused-import
# Registers the user's own files (arrays) and the UCR/UEA sets aeon ships (ucr).
from cnn_vs_rnn.data import arrays, ucr  # pylint: disable=g-import-not-at-top,wrong-import-position,unused-import
