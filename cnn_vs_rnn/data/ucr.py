"""UCR/UEA time-series classification sets shipped inside aeon: `data.name='ucr'`.

`data.dataset` is aeon's name of one of UCR_DATASETS: the univariate
GunPoint, ItalyPowerDemand, ArrowHead, OSULeaf and ACSF1, the multivariate
BasicMotions (6 channels) and JapaneseVowels (12 channels, 7-29 steps), and
PickupGestureWiimoteZ (1 channel, 29-361 steps).

Read offline by aeon's own loader, `aeon.datasets.load_classification(name,
split='train' | 'test')`, from the files aeon ships under
aeon/datasets/data/NAME/. That loader downloads what the package lacks, so a
set whose files the installed aeon does not ship is refused with one line
before aeon is asked: nothing is ever downloaded. aeon 1.6 marks its shipped
OSULeaf and ACSF1 as deprecated and 1.7 removes them, hence the pin
`aeon>=1.6,<1.7`.

aeon is the optional extra `ucr` (`pip install -e ".[ucr]"`), not a core
dependency: it requires numba (with llvmlite, about 200 MB), whose releases
cap numpy (numba 0.63: numpy < 2.4) and so would hold back every user's numpy
and pandas, and importing it takes about 1.1 s, which every other dataset
would pay. It is imported only when a 'ucr' dataset loads.

Splits: the archive's own train and test; validation carved from train as
splits.py carves it (fixed seed, `data.validation_fraction`, default 0.1; 0:
no validation split). Labels: class k is the k-th class of the file's
`@classLabel` header (aeon's `class_values`; for the numbered sets that is
ascending order: GunPoint '1' -> 0, '2' -> 1; BasicMotions: standing 0,
running 1, walking 2, badminton 3). Inputs [T, C] float32, each channel
standardised with the mean and std of the train split (after the carve),
over its steps only. The variable-length sets are zero-padded (after
standardisation) to the longest series of train and test, with `lengths`,
as imdb_reviews and the transduction sets are.
"""

from __future__ import annotations

import functools
import os

import numpy as np

from cnn_vs_rnn.data import DataSpec, Dataset, register
from cnn_vs_rnn.data.arrays import standardise_channels
from cnn_vs_rnn.data.splits import DEFAULT_VALIDATION_FRACTION, carve, validation_fraction
from cnn_vs_rnn.errors import ConfigError, choose, show

UCR_DATASETS = ('GunPoint', 'ItalyPowerDemand', 'ArrowHead', 'OSULeaf', 'ACSF1',
                'BasicMotions', 'JapaneseVowels', 'PickupGestureWiimoteZ')
AEON_PIN = 'aeon>=1.6,<1.7'
# The config.data fields the loader reads, with their defaults (data.register's `options`).
OPTIONS = {'dataset': '', 'validation_fraction': DEFAULT_VALIDATION_FRACTION}


def aeon_datasets():
  """The aeon.datasets module, or a ConfigError saying how to install it."""
  try:
    import aeon.datasets  # pylint: disable=g-import-not-at-top
  except ImportError:
    raise ConfigError(f"data.name='ucr' reads the sets aeon ships; install it: pip install "
                      f'"{AEON_PIN}" (the optional extra ucr)') from None
  return aeon.datasets


def shipped_file(module, name: str, split: str) -> str:
  """aeon's file of `name`'s split inside the installed package; one line if absent."""
  path = os.path.join(os.path.dirname(module.__file__), 'data', name,
                      f'{name}_{split.upper()}.ts')
  if not os.path.isfile(path):
    import importlib.metadata  # pylint: disable=g-import-not-at-top
    raise ConfigError(f'aeon {importlib.metadata.version("aeon")} does not ship '
                      f'data.dataset={show(name)} (no {path}); cnn_vs_rnn reads the sets '
                      f'of {AEON_PIN}')
  return path


@functools.cache
def raw_split(name: str, split: str) -> tuple[list[np.ndarray], np.ndarray, tuple[str, ...]]:
  """(series [T_i, C] float64 each, labels as strings, the header's class names)."""
  module = aeon_datasets()
  shipped_file(module, name, split)
  X, y, meta = module.load_classification(name, split=split, return_metadata=True)
  series = [np.asarray(x, np.float64).T for x in X]  # aeon: [C, T] per case
  return series, np.asarray(y).astype(str), tuple(str(c) for c in meta['class_values'])


def pad_series(series: list[np.ndarray], T: int) -> tuple[np.ndarray, np.ndarray]:
  """(inputs [N, T, C] zero-padded past each series' end, lengths [N] int32)."""
  C = series[0].shape[1]
  out = np.zeros((len(series), T, C), np.float32)
  for i, s in enumerate(series):
    out[i, :len(s)] = s
  return out, np.array([len(s) for s in series], np.int32)


def label_ids(labels: np.ndarray, classes: tuple[str, ...], name: str) -> np.ndarray:
  """Each label's position in the header's class list, int32."""
  index = {c: k for k, c in enumerate(classes)}
  unknown = sorted(set(labels.tolist()) - set(index))
  if unknown:
    raise ConfigError(f'{name}: label {unknown[0]!r} is not among the header\'s classes '
                      f'{", ".join(classes)}')
  return np.array([index[label] for label in labels], np.int32)


def ucr_splits(name: str, fraction: float) -> tuple[dict, int, bool]:
  """(raw train / validation / test splits, number of classes, variable length)."""
  train_x, train_y, classes = raw_split(name, 'train')
  test_x, test_y, _ = raw_split(name, 'test')
  T = max(len(s) for s in train_x + test_x)
  variable = min(len(s) for s in train_x + test_x) != T
  splits = {}
  for split, (x, y) in {'train': (train_x, train_y), 'test': (test_x, test_y)}.items():
    inputs, lengths = pad_series(x, T)
    splits[split] = {'inputs': inputs, 'targets': label_ids(y, classes, name),
                     **({'lengths': lengths} if variable else {})}
  splits.update(carve(splits['train'], fraction))
  return splits, len(classes), variable


@register('ucr', options=OPTIONS)
def ucr(data_config) -> Dataset:
  """A UCR/UEA set aeon ships, `data.dataset` (the module's docstring has the details)."""
  name = data_config.get('dataset', OPTIONS['dataset'])
  choose('data.dataset', name, {n: n for n in UCR_DATASETS})
  splits, classes, variable = ucr_splits(name, validation_fraction(data_config))
  splits = standardise_channels(splits)
  return Dataset(DataSpec(input_shape=splits['train']['inputs'].shape[1:],
                          task='classification', num_outputs=classes,
                          variable_length=variable), splits)
