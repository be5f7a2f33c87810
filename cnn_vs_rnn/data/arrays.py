"""The user's own data, no code: `data.name='arrays'` reads the file `data.path`.

.npz  (np.savez) arrays `inputs` [N, T, C] ([N, T]: one channel; images
      [N, H, W, C] too) and `targets`, optionally `lengths` [N] (sequences
      zero-padded past each length). The same names with the prefix
      `validation_` or `test_` give those splits; a split the file lacks is
      carved from train: test first (the first round(f * N), at least 1, of
      `np.random.default_rng(TEST_SEED).permutation(N)`, f =
      `data.test_fraction`, default 0.2), then validation as splits.py carves
      it (`data.validation_fraction`, default 0.1). Read with
      `np.load(allow_pickle=False)`: loading data never runs code.
.csv  numbers only, a first row of column names optional (without one the
      columns are named 0, 1, ...). Either
      - one time series: `data.column` names it; windows of `data.window`
        (20) values forecast the next `data.horizon` (1); chronological
        splits and the train period's standardisation, as for sunspots
        (splits.forecast_splits; `data.validation_fraction`, `data.test_fraction`);
      - or one row per example (`data.column` unset): `data.label_column`
        (default 'label') holds the class, the other columns, in file order,
        are the steps of a univariate series [T, 1]; splits carved as for .npz.

`data.task`: 'auto' (the default: integer targets [N] are classes, float
targets [N] or [N, D] regression; the rows of a .csv are classes), or
'classification', 'regression', 'forecasting'. Classes are integers 0..K-1,
every one of them present, K >= 2. `data.normalise`: 'channel' (the default:
each input channel standardised with the mean and std of the train split's
values, padded steps left out and set to 0 after) or 'none'.

The options are declared (`OPTIONS`, data.register), so no config file is
needed: `python -m cnn_vs_rnn.train --config cnn_vs_rnn/families.py:cnn1d,arrays
--workdir DIR --config.data.path=FILE.npz` (any family of families.py).

A bad file is one ConfigError line (exit 2) naming `data.path` and the
problem: a missing or unknown array or column, mismatched lengths, NaN or
inf, labels that are not integers 0..K-1, too few examples for the splits,
an unreadable file, object arrays.
"""

from __future__ import annotations

import csv
import math
import os
import zipfile

import numpy as np

from cnn_vs_rnn.data import DataSpec, Dataset, positive_field, register
from cnn_vs_rnn.data.bundled import test_fraction_of
from cnn_vs_rnn.data.splits import (DEFAULT_VALIDATION_FRACTION, carve, forecast_splits,
                                    validation_fraction)
from cnn_vs_rnn.errors import ConfigError, choose, show

TEST_SEED = 20_240_602  # Fixed: which examples a file without test_* arrays holds out.
KEYS = ('inputs', 'targets', 'lengths')
PREFIXES = {'train': '', 'validation': 'validation_', 'test': 'test_'}
TASKS = ('auto', 'classification', 'regression', 'forecasting')
NORMALISATIONS = ('channel', 'none')
FORMATS = ('.npz', '.csv')
# The config.data fields the loader reads, with their defaults (data.register's
# `options`: families.py and compare put them into a config, so --config.data.KEY=VALUE
# sets any of them).
OPTIONS = {'path': '', 'task': 'auto', 'normalise': 'channel', 'column': '', 'window': 20,
           'horizon': 1, 'label_column': 'label',
           'validation_fraction': DEFAULT_VALIDATION_FRACTION, 'test_fraction': 0.2}


def option(data_config, key: str):
  return data_config.get(key, OPTIONS[key])


def fractions(data_config) -> tuple[float, float]:
  """(data.validation_fraction, data.test_fraction), each checked."""
  return (validation_fraction(data_config),
          test_fraction_of(data_config, OPTIONS['test_fraction']))


def bad(path: str, problem: str) -> ConfigError:
  return ConfigError(f'data.path={show(path)}: {problem}')


# ---------------------------------------------------------------------------
# Reading.


def check_file(path) -> str:
  """`path` if it names an existing file of a known format, else a ConfigError."""
  if not isinstance(path, str) or not path:
    raise ConfigError(f'data.path={show(path)} must name a .npz or .csv file '
                      '(--config.data.path=FILE)')
  ext = os.path.splitext(path)[1].lower()
  if ext not in FORMATS:
    raise bad(path, f'unknown file type {show(ext)}; valid: {", ".join(FORMATS)}')
  if not os.path.isfile(path):
    raise bad(path, 'no such file' if not os.path.exists(path) else 'not a file')
  return ext


def npz_dtypes(path: str) -> dict[str, np.dtype]:
  """Each array's dtype from its .npy header: no data read, nothing unpickled."""
  readers = {(1, 0): np.lib.format.read_array_header_1_0,
             (2, 0): np.lib.format.read_array_header_2_0}
  out = {}
  with zipfile.ZipFile(path) as archive:
    for info in archive.infolist():
      name = info.filename[:-4] if info.filename.endswith('.npy') else info.filename
      with archive.open(info) as f:
        version = np.lib.format.read_magic(f)
        if version not in readers:
          raise bad(path, f'array {name!r} is in .npy format {version}; write it with '
                    'np.savez')
        out[name] = readers[version](f)[2]
  return out


def read_npz(path: str) -> dict[str, np.ndarray]:
  """Every array of the .npz at `path`; object arrays and unreadable files are refused."""
  unreadable = (zipfile.BadZipFile, ValueError, EOFError)
  try:
    dtypes = npz_dtypes(path)
  except unreadable as e:
    raise bad(path, f'not a readable .npz archive ({type(e).__name__}); write it with '
              'np.savez(path, inputs=..., targets=...)') from None
  objects = sorted(k for k, d in dtypes.items() if d.hasobject)
  if objects:
    raise bad(path, f'array {objects[0]!r} holds Python objects (dtype object), which '
              'only unpickling reads; save numbers (e.g. float32, int64)')
  try:
    with np.load(path, allow_pickle=False) as npz:
      return {k: npz[k] for k in npz.files}
  except unreadable as e:
    raise bad(path, f'not a readable .npz archive ({type(e).__name__})') from None


def csv_rows(path: str) -> list[list[str]]:
  """The non-empty rows of a text CSV file."""
  try:
    with open(path, newline='', encoding='utf-8') as f:
      rows = [row for row in csv.reader(f) if any(cell.strip() for cell in row)]
  except (UnicodeDecodeError, csv.Error) as e:
    raise bad(path, f'not a readable CSV text file ({type(e).__name__})') from None
  if not rows:
    raise bad(path, 'the file holds no rows')
  return rows


def _number(cell: str) -> float | None:
  try:
    return float(cell)
  except ValueError:
    return None


def read_csv(path: str) -> tuple[list[str], np.ndarray, int]:
  """(column names, values [rows, columns] float64, the file line of row 0).

  Without a first row of names the columns are named 0, 1, ...
  """
  rows = csv_rows(path)
  has_header = any(_number(cell) is None for cell in rows[0])
  names = [c.strip() for c in rows[0]] if has_header else [str(i) for i in range(len(rows[0]))]
  if len(set(names)) != len(names):
    raise bad(path, f'the header names a column twice: {show(names)}')
  body, first_line = (rows[1:], 2) if has_header else (rows, 1)
  if not body:
    raise bad(path, 'the file holds a header and no data rows')
  values = np.empty((len(body), len(names)), np.float64)
  for r, row in enumerate(body):
    if len(row) != len(names):
      raise bad(path, f'line {r + first_line} has {len(row)} cells; the first row has '
                f'{len(names)}')
    for c, cell in enumerate(row):
      value = _number(cell)
      if value is None or not math.isfinite(value):
        raise bad(path, f'line {r + first_line}, column {names[c]!r}: {show(cell)} is '
                  + ('not a number' if value is None else 'NaN or inf'))
      values[r, c] = value
  return names, values, first_line


def column_index(names: list[str], key: str, value, path: str) -> int:
  if str(value) not in names:
    shown = ', '.join(names[:12]) + (', ...' if len(names) > 12 else '')
    raise bad(path, f'data.{key}={show(value)} names no column; the columns: {shown}')
  return names.index(str(value))


# ---------------------------------------------------------------------------
# Checks of one split, and of the splits together.


def first_bad(ok_N: np.ndarray) -> int:
  return int(np.argmin(ok_N))


def check_inputs(name: str, inputs: np.ndarray, path: str) -> np.ndarray:
  """inputs as float32 [N, ...] with a channel axis; numbers, finite, >= 1 example."""
  if inputs.dtype.kind not in 'biuf':
    raise bad(path, f'{name} has dtype {inputs.dtype}; it must hold real numbers')
  if inputs.ndim < 2 or len(inputs) == 0:
    raise bad(path, f'{name} has shape {inputs.shape}; it must be [N, T, C] or [N, T] '
              'with N >= 1')
  finite = np.isfinite(inputs.reshape(len(inputs), -1)).all(1)
  if not finite.all():
    raise bad(path, f'{name} holds NaN or inf (first in example {first_bad(finite)})')
  inputs = inputs[..., None] if inputs.ndim == 2 else inputs
  return inputs.astype(np.float32)


def check_lengths(name: str, lengths: np.ndarray, inputs: np.ndarray, path: str) -> np.ndarray:
  """lengths as int32 [N], each in 1..T, for inputs [N, T, C]."""
  T = inputs.shape[1]
  if inputs.ndim != 3:
    raise bad(path, f'{name} needs sequence inputs [N, T, C], not {inputs.shape}')
  if lengths.dtype.kind not in 'iu' or lengths.shape != (len(inputs),):
    raise bad(path, f'{name} must hold one integer per example ([{len(inputs)}]), not '
              f'dtype {lengths.dtype} of shape {lengths.shape}')
  ok = (lengths >= 1) & (lengths <= T)
  if not ok.all():
    i = first_bad(ok)
    raise bad(path, f'{name}[{i}]={int(lengths[i])} must lie in 1..{T} (the steps of the '
              'inputs)')
  return lengths.astype(np.int32)


def check_split(split: str, arrays: dict, path: str, names=()) -> dict[str, np.ndarray]:
  """One split's arrays checked and converted: float32 inputs, int32 lengths.

  `names`: every array of the file, for the message about a missing one.
  """
  prefix = PREFIXES[split]
  for key in ('inputs', 'targets'):
    if key not in arrays:
      raise bad(path, f'array {prefix + key!r} is missing; the file has '
                f'{", ".join(sorted(names)) or "no arrays"}')
  inputs = check_inputs(prefix + 'inputs', arrays['inputs'], path)
  n = len(inputs)
  for key in ('targets', 'lengths'):
    if key in arrays and len(arrays[key]) != n:
      raise bad(path, f'{prefix + key} has {len(arrays[key])} entries and '
                f'{prefix}inputs {n} examples; they must match')
  targets = arrays['targets']
  if targets.dtype.kind not in 'biuf':
    raise bad(path, f'{prefix}targets has dtype {targets.dtype}; it must hold numbers')
  finite = np.isfinite(targets.reshape(n, -1)).all(1)
  if not finite.all():
    raise bad(path, f'{prefix}targets holds NaN or inf (first in example {first_bad(finite)})')
  out = {'inputs': inputs, 'targets': targets}
  if 'lengths' in arrays:
    out['lengths'] = check_lengths(prefix + 'lengths', arrays['lengths'], inputs, path)
  return out


def npz_splits(arrays: dict[str, np.ndarray], path: str) -> dict[str, dict]:
  """The splits the file holds, each checked; train always."""
  missing = [k for k in ('inputs', 'targets') if k not in arrays]
  if missing:
    raise bad(path, f'array {missing[0]!r} is missing; the file has '
              f'{", ".join(sorted(arrays)) or "no arrays"}')
  unknown = sorted(set(arrays) - {p + k for p in PREFIXES.values() for k in KEYS})
  if unknown:
    raise bad(path, f'unknown array {unknown[0]!r}; valid names: inputs, targets, lengths, '
              'each also with the prefix validation_ or test_')
  out = {}
  for split, prefix in PREFIXES.items():
    present = {k: arrays[prefix + k] for k in KEYS if prefix + k in arrays}
    if present or split == 'train':
      out[split] = check_split(split, present, path, names=arrays)
  with_lengths = {s for s, a in out.items() if 'lengths' in a}
  if with_lengths and with_lengths != set(out):
    split = sorted(set(out) - with_lengths)[0]
    raise bad(path, f'array {PREFIXES[split] + "lengths"!r} is missing: the other splits '
              'have lengths')
  return out


def check_shapes(splits: dict, path: str) -> tuple[int, ...]:
  """The one example shape of every split's inputs."""
  shapes = {s: a['inputs'].shape[1:] for s, a in splits.items()}
  if len(set(shapes.values())) > 1:
    raise bad(path, 'the splits\' examples differ in shape: ' + ', '.join(
        f'{PREFIXES[s]}inputs {shape}' for s, shape in shapes.items()))
  return shapes['train']


# ---------------------------------------------------------------------------
# Targets: classes, or regression values.


def task_of(task: str, targets: np.ndarray) -> str:
  """data.task, with 'auto' resolved by the train targets' dtype and shape."""
  choose('data.task', task, {t: t for t in TASKS})
  if task != 'auto':
    return task
  return 'classification' if targets.dtype.kind in 'biu' and targets.ndim == 1 else 'regression'


def class_targets(splits: dict, path: str) -> int:
  """Every split's targets as int32 classes in place; the number of classes K."""
  for split, arrays in splits.items():
    name = PREFIXES[split] + 'targets'
    y = arrays['targets']
    y = y.astype(np.int64) if y.dtype.kind == 'b' else y
    if y.ndim != 1:
      raise bad(path, f'{name} has shape {y.shape}; class labels are one per example [N]')
    whole = y == np.round(y)
    if not whole.all():
      i = first_bad(whole)
      raise bad(path, f'{name}[{i}]={float(y[i]):g}: labels must be integers 0..K-1')
    if y.min() < 0:
      raise bad(path, f'{name} holds {int(y.min())}: labels must be integers 0..K-1')
    arrays['targets'] = y.astype(np.int32)
  labels = np.unique(np.concatenate([a['targets'] for a in splits.values()]))
  k = int(labels[-1]) + 1
  missing = sorted(set(range(k)) - set(labels.tolist()))
  if missing or k < 2:
    raise bad(path, f'labels must be integers 0..K-1, every class present, K >= 2; '
              f'the labels are {show(labels.tolist())}' + (f' (no {missing[0]})' if missing
                                                            else ''))
  return k


def value_targets(splits: dict, path: str) -> int:
  """Every split's targets as float32 [N, D] in place; D."""
  for split, arrays in splits.items():
    y = arrays['targets']
    y = y[:, None] if y.ndim == 1 else y
    if y.ndim != 2:
      raise bad(path, f'{PREFIXES[split]}targets has shape {arrays["targets"].shape}; '
                'regression targets are [N] or [N, D]')
    arrays['targets'] = y.astype(np.float32)
  widths = {a['targets'].shape[1] for a in splits.values()}
  if len(widths) > 1:
    raise bad(path, f'the splits\' targets differ in width: {sorted(widths)}')
  return widths.pop()


# ---------------------------------------------------------------------------
# Splits and normalisation.


def carve_test(arrays: dict, fraction: float, path: str) -> tuple[dict, dict]:
  """(the rest, test): the test examples by the fixed TEST_SEED permutation, both in order."""
  n = len(arrays['inputs'])
  k = max(1, int(round(fraction * n)))
  if k >= n:
    raise bad(path, f'{n} example(s) are too few to carve a test split of {fraction:g} and '
              'keep some to train on; add test_inputs and test_targets or more examples')
  order = np.random.default_rng(TEST_SEED).permutation(n)
  rest, test = np.sort(order[k:]), np.sort(order[:k])
  return ({key: v[rest] for key, v in arrays.items()},
          {key: v[test] for key, v in arrays.items()})


def complete_splits(splits: dict, data_config, path: str) -> dict:
  """`splits` with test (then validation) carved from train where the file has none."""
  out = dict(splits)
  val, test = fractions(data_config)
  if 'test' not in out:
    out['train'], out['test'] = carve_test(out['train'], test, path)
  if 'validation' not in out:
    try:
      out.update(carve(out['train'], val))
    except ConfigError as e:  # Too few train examples: say which file.
      raise bad(path, str(e)) from None
  return out


def channel_stats(inputs: np.ndarray, lengths: np.ndarray | None) -> tuple:
  """(mean [C], std [C]) over every valid step of every example; std 0 counts as 1."""
  values = inputs.reshape(len(inputs), -1, inputs.shape[-1]).astype(np.float64)
  if lengths is not None:
    values = values[np.arange(values.shape[1])[None, :] < lengths[:, None]]
  values = values.reshape(-1, inputs.shape[-1])
  std = values.std(0)
  return values.mean(0), np.where(std > 0, std, 1.0)


def standardise_channels(splits: dict) -> dict:
  """Every split's inputs standardised per channel by train's statistics; padding 0."""
  train = splits['train']
  mean, std = channel_stats(train['inputs'], train.get('lengths'))
  out = {}
  for name, arrays in splits.items():
    x = ((arrays['inputs'] - mean) / std).astype(np.float32)
    if 'lengths' in arrays:
      valid = np.arange(x.shape[1])[None, :] < arrays['lengths'][:, None]
      x = np.where(valid[..., None], x, np.float32(0))
    out[name] = {**arrays, 'inputs': x}
  return out


def example_dataset(splits: dict, data_config, path: str, auto_task: str = '') -> Dataset:
  """A Dataset of checked splits of examples: targets resolved, splits carved, normalised."""
  shape = check_shapes(splits, path)
  task = option(data_config, 'task')
  task = auto_task if task == 'auto' and auto_task else task_of(task, splits['train']['targets'])
  splits = complete_splits(splits, data_config, path)
  outputs = (class_targets if task == 'classification' else value_targets)(splits, path)
  normalise = option(data_config, 'normalise')
  choose('data.normalise', normalise, {n: n for n in NORMALISATIONS})
  if normalise == 'channel':
    splits = standardise_channels(splits)
  return Dataset(DataSpec(input_shape=tuple(shape), task=task, num_outputs=int(outputs),
                          variable_length='lengths' in splits['train']), splits)


# ---------------------------------------------------------------------------
# The formats.


def csv_series_dataset(names, values, data_config, path: str) -> Dataset:
  series = values[:, column_index(names, 'column', option(data_config, 'column'), path)]
  W, H = (positive_field(data_config, 'window', OPTIONS['window']),
          positive_field(data_config, 'horizon', OPTIONS['horizon']))
  val, test = fractions(data_config)
  if val + test >= 1:
    raise ConfigError(f'data.validation_fraction={val:g} and data.test_fraction={test:g} '
                      'leave no train period')
  try:
    splits = forecast_splits(series, W, H, val, test)
  except ConfigError as e:
    raise bad(path, f'{len(series)} values: {e}') from None
  return Dataset(DataSpec(input_shape=(W, 1), task='forecasting', num_outputs=H), splits)


def csv_rows_dataset(names, values, first_line: int, data_config, path: str) -> Dataset:
  label = column_index(names, 'label_column', option(data_config, 'label_column'), path)
  if len(names) < 2:
    raise bad(path, 'the file has only the label column; the other columns are the inputs')
  arrays = {'inputs': np.delete(values, label, axis=1), 'targets': values[:, label]}
  whole = arrays['targets'] == np.round(arrays['targets'])
  if option(data_config, 'task') in ('auto', 'classification') and not whole.all():
    i = first_bad(whole)
    raise bad(path, f'line {i + first_line}, column {names[label]!r}: '
              f'{arrays["targets"][i]:g} is not a class; labels must be integers 0..K-1')
  return example_dataset({'train': check_split('train', arrays, path)}, data_config, path,
                         auto_task='classification')


@register('arrays', options=OPTIONS)
def arrays_dataset(data_config) -> Dataset:
  """The user's .npz or .csv file `data.path` (the module's docstring has the format)."""
  path = option(data_config, 'path')
  if check_file(path) == '.npz':
    return example_dataset(npz_splits(read_npz(path), path), data_config, path)
  names, values, first_line = read_csv(path)
  if option(data_config, 'column'):
    return csv_series_dataset(names, values, data_config, path)
  return csv_rows_dataset(names, values, first_line, data_config, path)
