"""The families `compare` puts side by side, and the config file of one family's run.

A family is a registered model with the settings that make it that family
(FAMILIES: model fields, and for the row-LSTM the `rows` view of an image);
its widths come from `model.param_budget`, so every family of a comparison
has the same number of parameters (models/sizing.py). Which families fit the
data follows from the shape of one example: sequences [T, C] (or tokens [T])
or images [H, W, C] (`default_families`).

This module is also the config file of each run compare starts:

  python -m cnn_vs_rnn.train --config cnn_vs_rnn/families.py:lstm,mnist1d ...

`get_config('FAMILY,DATASET')`: base_config with the family's fields, the
dataset's name and the options it declares (data.register's `options`), and
the protocol every family shares (`shared`); compare passes the rest
(budget, grid, seeds, steps) as --config.KEY=VALUE overrides.
"""

from __future__ import annotations

import ml_collections

from cnn_vs_rnn import configlib
from cnn_vs_rnn.errors import ConfigError

# Family -> (the kind of data it takes, the config fields that make it that family).
FAMILIES: dict[str, tuple[str, dict]] = {
    'cnn1d': ('sequence', {'model.name': 'cnn1d', 'model.pool': 'mean'}),
    'tcn': ('sequence', {'model.name': 'tcn'}),
    'elman': ('sequence', {'model.name': 'elman'}),
    'lstm': ('sequence', {'model.name': 'lstm'}),
    'gru': ('sequence', {'model.name': 'gru'}),
    'lru': ('sequence', {'model.name': 'lru'}),
    'mlp': ('any', {'model.name': 'mlp'}),
    # Fawaz et al. 2019's time-series classifiers (models/fcn.py); not in the defaults.
    'fcn': ('sequence', {'model.name': 'fcn'}),
    'resnet1d': ('sequence', {'model.name': 'resnet1d'}),
    # Karim et al. 2018's hybrid: the FCN beside an LSTM over the shuffled input.
    'lstm_fcn': ('sequence', {'model.name': 'lstm_fcn'}),
    'cnn2d': ('image', {'model.name': 'cnn2d'}),
    'resnet': ('image', {'model.name': 'resnet'}),
    # An LSTM reading an image one row at a time (Sutskever's row-by-row MNIST).
    'row_lstm': ('image', {'model.name': 'lstm', 'data.view': 'rows'}),
}
SEQUENCE_DEFAULT = ('cnn1d', 'tcn', 'elman', 'lstm', 'gru', 'lru', 'mlp')
IMAGE_DEFAULT = ('cnn2d', 'resnet', 'row_lstm', 'mlp')


def data_kind(spec) -> str:
  """'image' for examples [H, W, C], 'sequence' for [T, C] or tokens [T]."""
  rank = len(spec.input_shape)
  if rank == 3:
    return 'image'
  if rank == 2 or (rank == 1 and spec.vocab_size):
    return 'sequence'
  raise ConfigError(f'compare takes sequences [T, C], tokens [T] or images [H, W, C]; '
                    f'this data has examples of shape {tuple(spec.input_shape)}')


def default_families(spec) -> tuple[str, ...]:
  return IMAGE_DEFAULT if data_kind(spec) == 'image' else SEQUENCE_DEFAULT


def check_families(names, spec) -> None:
  """Each family is known and takes the kind of data `spec` describes."""
  kind = data_kind(spec)
  for name in names:
    if name not in FAMILIES:
      raise ConfigError(f'--families: unknown family {name!r}; known: '
                        + ', '.join(FAMILIES))
    if FAMILIES[name][0] not in ('any', kind):
      fits = [n for n, (k, _) in FAMILIES.items() if k in ('any', kind)]
      raise ConfigError(f'--families: {name!r} takes {FAMILIES[name][0]}s and this data '
                        f'holds {kind}s; families for it: ' + ', '.join(fits))


def shared(c: ml_collections.ConfigDict) -> None:
  """The protocol every family of a comparison trains under."""
  c.optim.name = 'adam'
  c.optim.schedule = 'constant'
  c.optim.grad_clip_norm = 1.0
  c.data.batch_size = 64
  c.data.data_dir = ''  # '' = $TFDS_DATA_DIR or ~/tensorflow_datasets
  c.data.eval_split = 'validation'


def set_path(c: ml_collections.ConfigDict, key: str, value) -> None:
  """c.KEY = value for a dotted key, adding the field where it is new."""
  *parents, leaf = key.split('.')
  node = c
  for part in parents:
    node = node[part]
  node[leaf] = value


def get_config(arg: str = 'cnn1d,mnist1d') -> ml_collections.ConfigDict:
  """The config of one family on one dataset: arg 'FAMILY,DATASET'."""
  from cnn_vs_rnn import data  # pylint: disable=g-import-not-at-top
  family, _, dataset = arg.partition(',')
  if family not in FAMILIES or not dataset:
    raise ConfigError(f'families.py takes FAMILY,DATASET (FAMILY one of '
                      f'{", ".join(FAMILIES)}); got {arg!r}')
  c = configlib.base_config()
  shared(c)
  c.data.name = dataset
  for key, value in data.declared_options(dataset).items():
    set_path(c, f'data.{key}', value)
  for key, value in FAMILIES[family][1].items():
    set_path(c, key, value)
  return c
