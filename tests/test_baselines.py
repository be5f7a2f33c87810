"""Trivial and AR baselines against closed forms and independent fits."""

import json

import ml_collections
import numpy as np
import pytest

from cnn_vs_rnn import data
from cnn_vs_rnn.data import baselines
from cnn_vs_rnn.data.pipeline import MappedSource


def load(**fields):
  return data.load(ml_collections.ConfigDict(fields))


def test_majority_class_accuracy():
  train = np.array([0, 2, 1, 2, 2, 1])
  assert baselines.majority_class(train) == 2
  assert baselines.majority_class_accuracy(train, np.array([2, 1, 2, 0])) == 0.5
  assert baselines.majority_class(np.array([3, 1, 1, 3])) == 1  # a tie: the smaller label
  assert baselines.majority_class_accuracy(np.array([0, 1, 1]), np.array([0, 0, 0])) == 0.0


def test_mean_prediction_mse_is_variance_plus_squared_shift():
  rng = np.random.default_rng(0)
  train, test = rng.normal(1.0, 2.0, (500, 3)), rng.normal(0.0, 1.0, (200, 3))
  # E (y - m)^2 = Var(y) + (mean(y) - m)^2 per output, averaged over outputs.
  m = train.mean(0)
  want = np.mean(test.var(0) + (test.mean(0) - m) ** 2)
  assert baselines.mean_prediction_mse(train, test) == pytest.approx(want, rel=1e-12)
  assert baselines.mean_prediction_mse(train, train) == pytest.approx(train.var(0).mean())


@pytest.mark.parametrize('horizon', [1, 4])
def test_persistence_on_a_ramp_is_slope_squared_times_mean_square_step(horizon):
  # x_t = a t + b: repeating x_{t-1} misses step h by a h, so the MSE is
  # a^2 (1^2 + ... + H^2) / H = a^2 (H + 1)(2H + 1) / 6.
  a, W = 0.3, 5
  t = np.arange(40)[:, None]
  inputs = (a * (t + np.arange(W)) + 2.0)[..., None]
  targets = a * (t + W + np.arange(horizon)) + 2.0
  got = baselines.persistence_mse(inputs, targets)
  assert got == pytest.approx(a ** 2 * (horizon + 1) * (2 * horizon + 1) / 6, rel=1e-12)
  per_step = baselines.persistence_mse_per_step(inputs, targets)
  np.testing.assert_allclose(per_step, (a * np.arange(1, horizon + 1)) ** 2, rtol=1e-12)


def ar2_windows(n, window, noise, seed=0):
  """Windows of x_t = 0.5 + 1.2 x_{t-1} - 0.5 x_{t-2} + noise."""
  rng = np.random.default_rng(seed)
  x = np.zeros(n + 100)
  for i in range(2, len(x)):
    x[i] = 0.5 + 1.2 * x[i - 1] - 0.5 * x[i - 2] + noise * rng.normal()
  x = x[100:]
  idx = np.arange(n - window)[:, None]
  return x[idx + np.arange(window)][..., None], x[idx[:, 0] + window][:, None], x


def test_ar_fit_recovers_noiseless_linear_targets_exactly():
  x = np.random.default_rng(1).normal(size=(300, 10, 1))
  y = 0.5 + 1.2 * x[:, -1, 0] - 0.5 * x[:, -2, 0]  # an AR(2) step without noise
  weights = baselines.fit_autoregressive(x, y, order=2)
  np.testing.assert_allclose(weights[:, 0], [-0.5, 1.2, 0.5], atol=1e-8)
  assert baselines.autoregressive_mse(x, y, x, y, order=2) < 1e-20


def test_ar_fit_equals_numpy_lstsq_and_statsmodels_autoreg():
  from statsmodels.tsa.ar_model import AutoReg  # pylint: disable=g-import-not-at-top
  window, p = 12, 3
  x, y, series = ar2_windows(400, window, noise=0.3)
  weights = baselines.fit_autoregressive(x, y, order=p)
  design = np.concatenate([x[:, -p:, 0], np.ones((len(x), 1))], axis=1)
  np.testing.assert_allclose(weights[:, 0], np.linalg.lstsq(design, y[:, 0], rcond=None)[0],
                             rtol=1e-10)
  # AutoReg's OLS on the same targets (x_t for t >= window): params are
  # (const, lag 1, ..., lag p); ours are (lag p, ..., lag 1, const).
  fit = AutoReg(series[:400], lags=p, trend='c', hold_back=window).fit()
  np.testing.assert_allclose(weights[::-1, 0][1:], fit.params[1:], rtol=1e-8)
  assert weights[-1, 0] == pytest.approx(fit.params[0], rel=1e-8)


def test_sunspots_baselines_reproduce_the_design_protocol():
  """The protocol: windows of 20 years, last 20% as test, standardised (by the train years).

  Exactly: targets of the last 62 years (1947-2008; int(0.8 * 309) = 247 is
  the first) are test, their windows reaching back into train; train windows
  have targets 1720-1946 (227); mean and std of the values 1700-1946; AR(9)
  is least squares with an intercept on the train windows' last 9 values.
  """
  dataset = load(name='sunspots', validation_fraction=0)
  got = baselines.baseline_metrics(dataset, 'test', ar_order=9)
  assert len(dataset.split('test')['targets']) == 62
  assert got['baseline_persistence_mse'] == pytest.approx(0.954, abs=5e-4)
  assert got['baseline_ar9_mse'] == pytest.approx(0.328, abs=5e-4)


def test_baseline_metrics_per_task():
  sun = baselines.baseline_metrics(load(name='sunspots'), 'test', ar_order=9)
  assert set(sun) == {'baseline_mean_mse', 'baseline_persistence_mse', 'baseline_ar9_mse'}
  assert sun['baseline_ar9_mse'] < sun['baseline_persistence_mse'] < sun['baseline_mean_mse']
  digits = load(name='digits')
  got = baselines.baseline_metrics(digits, 'validation')
  train_y, val_y = digits.split('train')['targets'], digits.split('validation')['targets']
  majority = np.bincount(train_y).argmax()
  assert got == {'baseline_majority_accuracy': pytest.approx(np.mean(val_y == majority))}
  adding = load(name='adding', seq_len=20, num_train=4000, num_test=2000)
  got = baselines.baseline_metrics(adding, 'test')
  assert set(got) == {'baseline_mean_mse'}
  assert got['baseline_mean_mse'] == pytest.approx(1 / 6, abs=0.01)  # Var(U1 + U2)
  copy = load(name='copy_memory', seq_len=10, num_train=50, num_test=20)
  assert baselines.baseline_metrics(copy, 'test') == {}


def test_lazily_read_splits_use_their_targets_or_have_no_baselines():
  arrays = {'inputs': np.zeros((4, 2)), 'targets': np.array([1, 1, 0, 1])}
  spec = data.DataSpec(input_shape=(2,), task='classification', num_outputs=2)
  with_targets = MappedSource(None, None, targets=arrays['targets'])
  dataset = data.Dataset(spec, {'train': with_targets, 'test': arrays})
  assert baselines.baseline_metrics(dataset, 'test') == {'baseline_majority_accuracy': 0.75}
  dataset = data.Dataset(spec, {'train': MappedSource(None, None), 'test': arrays})
  assert baselines.baseline_metrics(dataset, 'test') == {}


def test_command_line_prints_one_line_per_split(capsys, tmp_path):
  config = tmp_path / 'sun.py'
  config.write_text('from cnn_vs_rnn import configlib\n\ndef get_config():\n'
                    '  c = configlib.base_config()\n  c.data.name = "sunspots"\n  return c\n')
  assert baselines.main(['--config', str(config), '--ar_order', '9',
                         '--data', 'validation_fraction=0', '--splits', 'test']) == 0
  line = json.loads(capsys.readouterr().out)
  assert line['dataset'] == 'sunspots' and line['split'] == 'test'
  assert line['baseline_ar9_mse'] == pytest.approx(0.328, abs=5e-4)
