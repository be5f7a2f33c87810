"""Dataset registry keyed by `config.data.name`.

A loader takes the data config and returns a `Dataset`: a `DataSpec` that
tells models and tasks the shapes, and its splits as dicts of NumPy arrays
with keys `inputs` and `targets`.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Callable

import numpy as np

from cnn_vs_rnn.errors import ConfigError, choose


@dataclasses.dataclass(frozen=True)
class DataSpec:
  """What a model and a task need to know about the data."""
  input_shape: tuple[int, ...]  # one example: (T, C) for sequences, (H, W, C) for images
  task: str                     # a key of cnn_vs_rnn.tasks.TASKS
  num_outputs: int              # classes, or regression targets
  per_step: bool = False        # one output per time step instead of one per example


@dataclasses.dataclass
class Dataset:
  spec: DataSpec
  splits: dict[str, dict[str, np.ndarray]]

  def split(self, name: str) -> dict[str, np.ndarray]:
    return choose('split', name, self.splits)


Loader = Callable[..., Dataset]
DATASETS: dict[str, Loader] = {}


def register(name: str):
  def wrap(fn: Loader) -> Loader:
    DATASETS[name] = fn
    return fn
  return wrap


def load(data_config) -> Dataset:
  return choose('dataset', data_config.name, DATASETS)(data_config)


def data_dir(data_config) -> str:
  """config.data.data_dir, else $TFDS_DATA_DIR, else ~/tensorflow_datasets."""
  return (data_config.get('data_dir') or os.environ.get('TFDS_DATA_DIR')
          or os.path.expanduser('~/tensorflow_datasets'))


def prepared_builder(builder_cls, data_config, **kwargs):
  """A procedural TFDS builder, generated into data_dir on first use."""
  builder = builder_cls(data_dir=data_dir(data_config),
                        file_format='array_record', **kwargs)
  if not builder.is_prepared():
    import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
    print(f'Generating {builder.name} into {builder.data_dir} (once).', flush=True)
    tfds.disable_progress_bar()
    builder.download_and_prepare()
  return builder


def read_all(source) -> dict[str, np.ndarray]:
  """Every record of a random-access TFDS data source, stacked per feature."""
  records = source.__getitems__(range(len(source)))
  return {k: np.stack([r[k] for r in records]) for k in records[0]}


@register('mnist1d')
def mnist1d(data_config) -> Dataset:
  from cnn_vs_rnn.data.procedural import Mnist1d  # pylint: disable=g-import-not-at-top
  sources = prepared_builder(Mnist1d, data_config).as_data_source()
  splits = {}
  for name, source in sources.items():
    rec = read_all(source)
    splits[name] = {'inputs': rec['x'].astype(np.float32)[..., None],
                    'targets': rec['label'].astype(np.int32)}
  return Dataset(DataSpec(input_shape=(40, 1), task='classification',
                          num_outputs=10), splits)
