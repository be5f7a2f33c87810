"""Validation splits: carved from train by a fixed permutation, or chronologically.

Every dataset has 'train', 'validation' and 'test' splits. Where the source
has no validation split of its own, one is carved out of the train pool:

* examples drawn independently (images, generated problems, clips): the
  validation examples are the first round(f * n) (at least 1) of
  `np.random.default_rng(VALIDATION_SEED).permutation(n)`, where n is the
  size of the train pool and f is `config.data.validation_fraction` (default
  0.1). The seed is fixed, independent of `config.seed`: every run of every
  seed holds out the same examples. Both parts keep the pool's order.
* one text: the last fraction f of the train text (contiguous, like
  tiny_shakespeare's own validation split).
* one time series: the part of the series just before the test part
  (`forecast_splits`), so that the validation period lies between train and
  test in time.

`data.validation_fraction=0` carves nothing: the dataset then has no
'validation' split (the published protocols that train on the whole train
split, e.g. MNIST-1D's 4000 examples; evaluate with `data.eval_split=test`).
"""

from __future__ import annotations

import math

import numpy as np

from cnn_vs_rnn.errors import ConfigError

VALIDATION_SEED = 20_240_601  # Fixed: the carve-out never depends on the run's seed.
DEFAULT_VALIDATION_FRACTION = 0.1


def validation_fraction(data_config) -> float:
  """config.data.validation_fraction (default 0.1), checked to lie in [0, 1)."""
  value = data_config.get('validation_fraction', DEFAULT_VALIDATION_FRACTION)
  if (isinstance(value, bool) or not isinstance(value, (int, float))
      or not 0 <= value < 1 or math.isnan(value)):
    raise ConfigError(f'data.validation_fraction={value!r} must be a number in [0, 1) '
                      '(0: no validation split)')
  return float(value)


def num_validation(n: int, fraction: float) -> int:
  """round(fraction * n), at least 1 (0 for fraction 0); fewer than n."""
  if fraction == 0:
    return 0
  k = max(1, int(round(fraction * n)))
  if k >= n:
    raise ConfigError(f'the train split has {n} example(s): too few to carve a '
                      f'validation split of {fraction:g} from it (set '
                      'data.validation_fraction=0 to keep them all)')
  return k


def carve_indices(n: int, fraction: float) -> tuple[np.ndarray, np.ndarray]:
  """(train indices, validation indices) of a pool of n, both ascending."""
  order = np.random.default_rng(VALIDATION_SEED).permutation(n)
  k = num_validation(n, fraction)
  return np.sort(order[k:]), np.sort(order[:k])


def carve(arrays: dict[str, np.ndarray], fraction: float) -> dict[str, dict[str, np.ndarray]]:
  """{'train': ..., 'validation': ...} rows of `arrays` (no 'validation' for fraction 0)."""
  n = len(next(iter(arrays.values())))
  if fraction == 0:
    return {'train': arrays}
  train_idx, val_idx = carve_indices(n, fraction)
  return {'train': {k: v[train_idx] for k, v in arrays.items()},
          'validation': {k: v[val_idx] for k, v in arrays.items()}}


def carve_text(text_N: np.ndarray, fraction: float) -> dict[str, np.ndarray]:
  """A text's train part and its last `fraction` as validation (contiguous)."""
  if fraction == 0:
    return {'train': text_N}
  cut = len(text_N) - num_validation(len(text_N), fraction)
  return {'train': text_N[:cut], 'validation': text_N[cut:]}


# ---------------------------------------------------------------------------
# Time series.


def chronological_bounds(n: int, validation_fraction: float,
                         test_fraction: float) -> dict[str, tuple[int, int]]:
  """[start, end) of each split's target times in a series of n values.

  test: the last `test_fraction` (from int(n * (1 - test_fraction))),
  validation: the `validation_fraction` of the series just before it,
  train: everything before. No 'validation' for fraction 0.
  """
  test_start = int(n * (1 - test_fraction))
  val_start = int(n * (1 - test_fraction - validation_fraction))
  bounds = {'train': (0, val_start), 'validation': (val_start, test_start),
            'test': (test_start, n)}
  if validation_fraction == 0:
    del bounds['validation']
  return bounds


def windows_ending_in(series: np.ndarray, window: int, horizon: int, start: int,
                      end: int) -> tuple[np.ndarray, np.ndarray]:
  """Every (x [N, window, 1], y [N, horizon]) whose targets all lie in [start, end).

  The inputs are the `window` values before the first target; they may reach
  back before `start` (into the earlier split), the targets never leave it.
  """
  first = max(start, window)
  n = end - horizon + 1 - first
  if n < 1:
    raise ConfigError(f'a split of the series spans times [{start}, {end}): too short for '
                      f'data.window={window} and data.horizon={horizon}')
  t = first + np.arange(n)[:, None]
  x = series[t - window + np.arange(window)[None, :]][..., None]
  y = series[t + np.arange(horizon)[None, :]]
  return x.astype(np.float32), y.astype(np.float32)


def forecast_splits(series: np.ndarray, window: int, horizon: int,
                    validation_fraction: float, test_fraction: float
                    ) -> dict[str, dict[str, np.ndarray]]:
  """A series cut chronologically into forecasting windows, standardised by train values.

  Each split holds the windows whose `horizon` targets all fall in its period
  (chronological_bounds); the mean and std are those of the train period's
  values series[:train end], applied to every split.
  """
  bounds = chronological_bounds(len(series), validation_fraction, test_fraction)
  train_end = bounds['train'][1]
  mean, std = series[:train_end].mean(), series[:train_end].std()
  z = (np.asarray(series, np.float64) - mean) / std
  out = {}
  for name, (start, end) in bounds.items():
    x, y = windows_ending_in(z, window, horizon, start, end)
    out[name] = {'inputs': x, 'targets': y}
  return out
