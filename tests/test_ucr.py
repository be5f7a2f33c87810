"""data.name='ucr': the UCR/UEA sets aeon ships, against aeon's raw .ts files.

The expected splits are rebuilt here from the shipped files themselves:
`aeon.datasets.load_from_ts_file` (the raw file reader, not the
load_classification path the loader takes), the class order read from each
file's own `@classLabel` line, the validation indices of splits.carve_indices
and the per-channel statistics of those train series. Skipped without aeon
(the optional extra `ucr`).
"""

import math
import os

import ml_collections
import numpy as np
import pytest

from cnn_vs_rnn import data, train
from cnn_vs_rnn.data import splits as splits_lib
from cnn_vs_rnn.data import ucr
from cnn_vs_rnn.errors import ConfigError
from conftest import tiny

aeon_datasets = pytest.importorskip('aeon.datasets')  # The optional extra `ucr`.

# aeon's own descriptions (the docstrings of its single-problem loaders and
# timeseriesclassification.com): train, test, classes, channels, longest series.
ARCHIVE = {
    'GunPoint': (50, 150, 2, 1, 150), 'ItalyPowerDemand': (67, 1029, 2, 1, 24),
    'ArrowHead': (36, 175, 3, 1, 251), 'OSULeaf': (200, 242, 6, 1, 427),
    'ACSF1': (100, 100, 10, 1, 1460), 'BasicMotions': (40, 40, 4, 6, 100),
    'JapaneseVowels': (270, 370, 9, 12, 29), 'PickupGestureWiimoteZ': (50, 50, 10, 1, 361),
}


def ts_file(name, split):
  return os.path.join(os.path.dirname(aeon_datasets.__file__), 'data', name,
                      f'{name}_{split}.ts')


def raw(name, split):
  """([T_i, C] series, labels, the header's classes in order), from the file alone."""
  X, y = aeon_datasets.load_from_ts_file(ts_file(name, split))
  with open(ts_file(name, split), encoding='utf-8') as f:
    header = next(line for line in f if line.lower().startswith('@classlabel'))
  classes = header.split()[2:]
  series = [np.asarray(x, np.float64).T for x in X]
  return series, [str(label) for label in y], [c.lower() for c in classes]


def expected_splits(name, fraction=0.1):
  train_x, train_y, classes = raw(name, 'TRAIN')
  test_x, test_y, _ = raw(name, 'TEST')
  ids = {c: k for k, c in enumerate(classes)}
  train_idx, val_idx = splits_lib.carve_indices(len(train_x), fraction)
  stacked = np.concatenate([train_x[i] for i in train_idx])  # every train step, [sum T_i, C]
  mean, std = stacked.mean(0), stacked.std(0)
  T = max(len(s) for s in train_x + test_x)
  def split(series, labels):
    x = np.zeros((len(series), T, series[0].shape[1]))
    for i, s in enumerate(series):
      x[i, :len(s)] = (s - mean) / std
    return x, np.array([ids[label.lower()] for label in labels]), [len(s) for s in series]
  return {'train': split([train_x[i] for i in train_idx], [train_y[i] for i in train_idx]),
          'validation': split([train_x[i] for i in val_idx], [train_y[i] for i in val_idx]),
          'test': split(test_x, test_y)}


def load(**fields):
  return data.load(ml_collections.ConfigDict({'name': 'ucr', **fields}))


@pytest.mark.parametrize('name', sorted(ARCHIVE))
def test_splits_are_the_archives_standardised_by_train(name):
  n_train, n_test, classes, channels, T = ARCHIVE[name]
  dataset = load(dataset=name)
  variable = name in ('JapaneseVowels', 'PickupGestureWiimoteZ')
  assert dataset.spec == data.DataSpec(input_shape=(T, channels), task='classification',
                                       num_outputs=classes, variable_length=variable)
  n_val = round(0.1 * n_train)
  sizes = {s: len(dataset.split(s)['targets']) for s in ('train', 'validation', 'test')}
  assert sizes == {'train': n_train - n_val, 'validation': n_val, 'test': n_test}
  for split, (x, y, lengths) in expected_splits(name).items():
    got = dataset.split(split)
    assert got['inputs'].dtype == np.float32 and got['targets'].dtype == np.int32
    np.testing.assert_allclose(got['inputs'], x, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(got['targets'], y)
    if variable:
      np.testing.assert_array_equal(got['lengths'], lengths)
    else:
      assert 'lengths' not in got and set(lengths) == {T}
  assert set(np.unique(dataset.split('test')['targets'])) == set(range(classes))


def test_label_order_is_the_headers():
  dataset = load(dataset='BasicMotions')
  _, labels, classes = raw('BasicMotions', 'TEST')
  assert classes == ['standing', 'running', 'walking', 'badminton']
  want = [classes.index(label.lower()) for label in labels]
  np.testing.assert_array_equal(dataset.split('test')['targets'], want)


@pytest.mark.parametrize('name', ['GunPoint', 'JapaneseVowels'])
def test_validation_holds_train_series_only(name):
  """Undo the standardisation: each validation series is one of the train file's, none
  of the test file's, and train and validation together are the train file."""
  dataset = load(dataset=name)
  train_x, _, _ = raw(name, 'TRAIN')
  test_x, _, _ = raw(name, 'TEST')
  stacked = np.concatenate([train_x[i] for i in splits_lib.carve_indices(len(train_x), 0.1)[0]])
  mean, std = stacked.mean(0), stacked.std(0)

  def source(split):
    out = []
    d = dataset.split(split)
    for i, x in enumerate(d['inputs']):
      n = int(d['lengths'][i]) if 'lengths' in d else len(x)
      series = x[:n] * std + mean
      same = lambda pool: [j for j, s in enumerate(pool) if s.shape == series.shape
                           and np.allclose(s, series, atol=1e-4)]
      assert not same(test_x), f'{split} example {i} is a test series'
      out.extend(same(train_x))
    return out
  val, tr = source('validation'), source('train')
  assert len(val) == len(dataset.split('validation')['targets'])
  assert set(val).isdisjoint(tr) and sorted(val + tr) == list(range(len(train_x)))


def test_validation_fraction_zero_keeps_the_whole_train_file():
  dataset = load(dataset='GunPoint', validation_fraction=0.0)
  assert 'validation' not in dataset.splits and len(dataset.split('train')['targets']) == 50


@pytest.mark.parametrize('fields,message', [
    (dict(dataset='Beef'), "unknown data.dataset 'Beef'; valid: ACSF1, ArrowHead"),
    (dict(), "unknown data.dataset ''"),
    (dict(dataset='GunPoint', validation_fraction=1.5), 'data.validation_fraction=1.5'),
])
def test_bad_options_are_one_line(fields, message):
  with pytest.raises(ConfigError, match=message):
    load(**fields)


def test_a_set_aeon_does_not_ship_is_refused_before_aeon_could_download_it(monkeypatch):
  def no_download(*args, **kwargs):
    raise AssertionError('load_classification was called for a set aeon does not ship')
  monkeypatch.setattr(ucr, 'UCR_DATASETS', ucr.UCR_DATASETS + ('Beef',))
  monkeypatch.setattr(aeon_datasets, 'load_classification', no_download)
  with pytest.raises(ConfigError, match=r"does not ship data.dataset='Beef' .*aeon>=1.6,<1.7"):
    load(dataset='Beef')


def test_without_aeon_the_error_names_the_extra(monkeypatch):
  import sys  # pylint: disable=g-import-not-at-top
  monkeypatch.setitem(sys.modules, 'aeon', None)  # `import aeon...` raises ImportError
  monkeypatch.setitem(sys.modules, 'aeon.datasets', None)
  with pytest.raises(ConfigError,
                     match=r'pip install "aeon>=1.6,<1.7" \(the optional extra ucr\)'):
    ucr.aeon_datasets()


def test_a_variable_length_set_trains(tmp_path):
  from cnn_vs_rnn import configlib  # pylint: disable=g-import-not-at-top
  config = configlib.base_config()
  config.data.name, config.data.dataset = 'ucr', 'JapaneseVowels'
  config.model.name, config.model.features = 'fcn', (8, 8, 8)
  final = train.train_and_evaluate(tiny(config), str(tmp_path / 'run'))
  assert final['step'] == 4 and math.isfinite(final['eval/loss'])
  assert 0 <= final['test/accuracy'] <= 1
