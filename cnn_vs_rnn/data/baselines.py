"""Trivial and linear baselines of a split, fitted on the train split only.

What a model has to beat, in the units of the task's own metrics:

  classification        majority_class_accuracy: always predict the most
                        frequent train label (ties: the smallest label).
  regression            mean_prediction_mse: always predict the mean of the
                        train targets (per output).
  forecasting           mean_prediction_mse, and persistence_mse: repeat the
                        last input value for every horizon step. Also
                        autoregressive_mse: a least-squares AR(p) model on
                        the last p values of each window (with an
                        intercept, one set of weights per horizon step),
                        fitted on the train windows.
  pixel_regression      mean_prediction_mse (the train targets' mean frame),
                        and persistence_mse: the last input frame as the
                        prediction of the next (next_frame_persistence_mse).

`baseline_metrics(dataset, split)` gives these as the `eval/baseline_*`
keys of an evaluation, without the 'eval/' prefix. Command line:

  python -m cnn_vs_rnn.data.baselines --config configs/sunspots_lstm.py --ar_order 9
"""

from __future__ import annotations

import argparse
import ast
import json
import sys

import numpy as np

from cnn_vs_rnn.data.pipeline import MappedSource


def majority_class(train_targets: np.ndarray) -> int:
  """The most frequent label of the train split (ties: the smallest)."""
  return int(np.argmax(np.bincount(np.asarray(train_targets).reshape(-1))))


def majority_class_accuracy(train_targets: np.ndarray, targets: np.ndarray) -> float:
  """Accuracy on `targets` of always predicting the train split's majority class."""
  return float(np.mean(np.asarray(targets) == majority_class(train_targets)))


def mean_prediction_mse(train_targets: np.ndarray, targets: np.ndarray) -> float:
  """MSE on `targets` [N, ...] of predicting the train targets' mean, per output."""
  train = np.asarray(train_targets, np.float64)
  mean = train.reshape(len(train), -1).mean(0)
  err = np.asarray(targets, np.float64).reshape(len(targets), -1) - mean
  return float(np.mean(err ** 2))


def persistence_predictions(inputs_NxWxC: np.ndarray, horizon: int) -> np.ndarray:
  """[N, horizon, C]: the last input step, repeated for every horizon step."""
  last = np.asarray(inputs_NxWxC, np.float64)[:, -1:, :]
  return np.repeat(last, horizon, axis=1)


def _targets_NxHxD(targets: np.ndarray) -> np.ndarray:
  t = np.asarray(targets, np.float64)
  return t[..., None] if t.ndim == 2 else t


def persistence_mse_per_step(inputs_NxWxC: np.ndarray, targets: np.ndarray) -> np.ndarray:
  """[H]: MSE of each horizon step when the last input value is repeated."""
  t = _targets_NxHxD(targets)
  pred = persistence_predictions(inputs_NxWxC, t.shape[1])
  return np.mean((pred - t) ** 2, axis=(0, 2))


def persistence_mse(inputs_NxWxC: np.ndarray, targets: np.ndarray) -> float:
  """MSE over every horizon step of repeating the last input value."""
  return float(np.mean(persistence_mse_per_step(inputs_NxWxC, targets)))


def next_frame_persistence_mse(inputs_NxTxF: np.ndarray, targets_NxF: np.ndarray) -> float:
  """MSE of predicting each clip's next frame [N, *F] by its last input frame [N, T, *F]."""
  last = np.asarray(inputs_NxTxF, np.float64)[:, -1]
  return float(np.mean((last - np.asarray(targets_NxF, np.float64).reshape(last.shape)) ** 2))


def ar_design(inputs_NxWxC: np.ndarray, order: int) -> np.ndarray:
  """[N, order + 1]: the last `order` values of each window's channel 0, then 1."""
  x = np.asarray(inputs_NxWxC, np.float64)[:, :, 0]
  if not 1 <= order <= x.shape[1]:
    raise ValueError(f'AR order {order} must be in 1..{x.shape[1]} (the window)')
  return np.concatenate([x[:, -order:], np.ones((len(x), 1))], axis=1)


def fit_autoregressive(train_inputs: np.ndarray, train_targets: np.ndarray,
                       order: int) -> np.ndarray:
  """Least-squares weights [order + 1, H] (lags oldest first, then the intercept)."""
  y = np.asarray(train_targets, np.float64).reshape(len(train_targets), -1)
  weights, *_ = np.linalg.lstsq(ar_design(train_inputs, order), y, rcond=None)
  return weights


def autoregressive_mse(train_inputs: np.ndarray, train_targets: np.ndarray,
                       inputs: np.ndarray, targets: np.ndarray, order: int) -> float:
  """MSE on (inputs, targets) of the AR(order) model fitted on the train windows."""
  weights = fit_autoregressive(train_inputs, train_targets, order)
  pred = ar_design(inputs, order) @ weights
  err = pred - np.asarray(targets, np.float64).reshape(len(targets), -1)
  return float(np.mean(err ** 2))


# ---------------------------------------------------------------------------
# A dataset's splits.


def split_arrays(split, key: str) -> np.ndarray | None:
  """`key` of a whole split: a dict's array, a MappedSource's `targets`, else None."""
  if isinstance(split, dict):
    return split.get(key)
  if isinstance(split, MappedSource) and key == 'targets':
    return split.targets
  return None


def baseline_metrics(dataset, split: str, ar_order: int = 0) -> dict[str, float]:
  """The trivial baselines of `split` (fitted on 'train'), keyed as eval metrics.

  classification: 'baseline_majority_accuracy'; regression, forecasting and
  pixel_regression: 'baseline_mean_mse'; forecasting also
  'baseline_persistence_mse' (univariate inputs) and, with ar_order = p > 0,
  'baseline_ar{p}_mse'; pixel_regression also 'baseline_persistence_mse'
  (the last input frame, where a frame has the target's size). Empty for
  other tasks and for splits read lazily without their targets
  (speech_commands).
  """
  task = dataset.spec.task
  train, other = dataset.split('train'), dataset.split(split)
  train_t, t = split_arrays(train, 'targets'), split_arrays(other, 'targets')
  if train_t is None or t is None:
    return {}
  if task == 'classification':
    return {'baseline_majority_accuracy': majority_class_accuracy(train_t, t)}
  if task not in ('regression', 'forecasting', 'pixel_regression'):
    return {}
  out = {'baseline_mean_mse': mean_prediction_mse(train_t, t)}
  x = split_arrays(other, 'inputs')
  if (task == 'pixel_regression' and x is not None and x.ndim >= 3
      and np.prod(x.shape[2:]) == np.prod(t.shape[1:])):
    out['baseline_persistence_mse'] = next_frame_persistence_mse(x, t)
  if task == 'forecasting' and x is not None and x.ndim == 3 and x.shape[-1] == 1:
    out['baseline_persistence_mse'] = persistence_mse(x, t)
    if ar_order:
      out[f'baseline_ar{ar_order}_mse'] = autoregressive_mse(
          split_arrays(train, 'inputs'), train_t, x, t, ar_order)
  return out


def main(argv=None) -> int:
  """Prints one JSON line per split: the baselines of a config's dataset."""
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--config', required=True)
  parser.add_argument('--splits', default='validation,test')
  parser.add_argument('--ar_order', type=int, default=0)
  parser.add_argument('--data', action='append', default=[], metavar='KEY=VALUE',
                      help='override config.data.KEY (a Python literal), e.g. window=20')
  args = parser.parse_args(argv)
  from cnn_vs_rnn import configlib, data  # pylint: disable=g-import-not-at-top
  config = configlib.load_config_file(args.config)
  for item in args.data:
    key, value = item.split('=', 1)
    try:
      value = ast.literal_eval(value)
    except (ValueError, SyntaxError):
      pass  # a bare string
    config.data[key] = value
  dataset = data.load(config.data)
  for split in args.splits.split(','):
    metrics = baseline_metrics(dataset, split, args.ar_order)
    print(json.dumps({'dataset': config.data.name, 'split': split, **metrics}))
  return 0


if __name__ == '__main__':
  sys.exit(main())
