"""data.name='arrays': the user's .npz and .csv files, good ones and bad ones.

A good file's splits are rebuilt here from the file's rows with the
documented rules (TEST_SEED's permutation, then splits.carve_indices; the
train rows' per-channel mean and std); a bad file is one line naming the
file and the problem, exit code 2, through `train.main` in process and, for
a few rows, through `python -m cnn_vs_rnn.train`.
"""

import math
import os
import subprocess
import sys

import ml_collections
import numpy as np
import pytest

from cnn_vs_rnn import configlib, data, train
from cnn_vs_rnn.data import arrays, splits
from cnn_vs_rnn.errors import ConfigError
from conftest import REPO, tiny

RNG = np.random.default_rng(0)


def load(path, **fields):
  return data.load(ml_collections.ConfigDict({'name': 'arrays', 'path': str(path), **fields}))


def save(tmp_path, name='data.npz', **named):
  path = tmp_path / name
  np.savez(path, **named)
  return path


def standardised(x_train, *xs):
  flat = x_train.reshape(-1, x_train.shape[-1]).astype(np.float64)
  mean, std = flat.mean(0), flat.std(0)
  return [(x - mean) / std for x in (x_train,) + xs]


def test_an_npz_with_every_split_keeps_them_and_standardises_by_train(tmp_path):
  x = {s: RNG.normal(3, 2, (n, 12, 2)) for s, n in (('tr', 30), ('va', 6), ('te', 9))}
  y = {s: np.arange(len(v)) % 3 for s, v in x.items()}
  path = save(tmp_path, inputs=x['tr'], targets=y['tr'], validation_inputs=x['va'],
              validation_targets=y['va'], test_inputs=x['te'], test_targets=y['te'])
  dataset = load(path)
  assert dataset.spec == data.DataSpec(input_shape=(12, 2), task='classification',
                                       num_outputs=3)
  want = standardised(x['tr'], x['va'], x['te'])
  for split, key, w in zip(('train', 'validation', 'test'), ('tr', 'va', 'te'), want):
    got = dataset.split(split)
    assert got['inputs'].dtype == np.float32 and got['targets'].dtype == np.int32
    np.testing.assert_allclose(got['inputs'], w, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(got['targets'], y[key])


def test_missing_splits_are_carved_test_first_then_validation(tmp_path):
  n = 50
  x, y = RNG.normal(size=(n, 8)), np.arange(n) % 2
  dataset = load(save(tmp_path, inputs=x, targets=y), normalise='none')
  order = np.random.default_rng(arrays.TEST_SEED).permutation(n)
  test, rest = np.sort(order[:10]), np.sort(order[10:])       # round(0.2 * 50) = 10
  train_i, val_i = splits.carve_indices(len(rest), 0.1)        # round(0.1 * 40) = 4
  rows = {'train': rest[train_i], 'validation': rest[val_i], 'test': test}
  assert dataset.spec.input_shape == (8, 1)                    # [N, T] -> one channel
  for split, idx in rows.items():
    np.testing.assert_allclose(dataset.split(split)['inputs'][..., 0], x[idx], rtol=1e-6)
    np.testing.assert_array_equal(dataset.split(split)['targets'], y[idx])
  assert sorted(np.concatenate(list(rows.values()))) == list(range(n))


def test_float_targets_are_regression_with_one_output_per_column(tmp_path):
  x, y = RNG.normal(size=(20, 5, 1)), RNG.normal(size=(20, 3))
  dataset = load(save(tmp_path, inputs=x, targets=y), test_fraction=0.25,
                 validation_fraction=0.0)
  assert dataset.spec.task == 'regression' and dataset.spec.num_outputs == 3
  assert set(dataset.splits) == {'train', 'test'}
  flat = load(save(tmp_path, 'flat.npz', inputs=x, targets=y[:, 0]), task='forecasting')
  assert flat.spec.task == 'forecasting' and flat.split('train')['targets'].shape[1:] == (1,)


def test_lengths_leave_padding_out_of_the_statistics_and_zero_it(tmp_path):
  lengths = np.array([6, 3, 5, 2, 6, 4, 1, 6, 3, 5])
  x = RNG.normal(5, 3, (10, 6, 2))
  x[np.arange(6)[None, :] >= lengths[:, None]] = 1e6  # garbage past each length
  y = np.arange(10) % 2
  dataset = load(save(tmp_path, inputs=x, targets=y, lengths=lengths, test_inputs=x[:4],
                      test_targets=y[:4], test_lengths=lengths[:4]), validation_fraction=0.0)
  assert dataset.spec.variable_length
  valid = np.arange(6)[None, :] < lengths[:, None]
  steps = x[valid]  # [valid steps, C]
  want = np.where(valid[..., None], (x - steps.mean(0)) / steps.std(0), 0)
  np.testing.assert_allclose(dataset.split('train')['inputs'], want, rtol=1e-5, atol=1e-5)
  np.testing.assert_array_equal(dataset.split('test')['lengths'], lengths[:4])


def write_csv(tmp_path, text, name='data.csv'):
  path = tmp_path / name
  path.write_text(text)
  return path


def test_a_csv_series_makes_chronological_forecasting_windows(tmp_path):
  values = np.sin(np.arange(100) / 5) * 10 + np.arange(100) * 0.1
  text = 'time,level\n' + ''.join(f'{t},{float(v)!r}\n' for t, v in enumerate(values))
  dataset = load(write_csv(tmp_path, text), column='level', window=6, horizon=2)
  assert dataset.spec == data.DataSpec(input_shape=(6, 1), task='forecasting', num_outputs=2)
  # 100 values: test targets from int(100 * 0.8) = 80, validation from int(100 * 0.7) = 70.
  z = (values - values[:70].mean()) / values[:70].std()
  for split, (start, end) in {'train': (6, 70), 'validation': (70, 80),
                              'test': (80, 100)}.items():
    got = dataset.split(split)
    first = np.arange(start, end - 1)  # the first target of each window
    assert len(got['targets']) == len(first)
    np.testing.assert_allclose(got['targets'], z[first[:, None] + np.arange(2)], rtol=1e-5,
                               atol=1e-5)
    np.testing.assert_allclose(got['inputs'][..., 0], z[first[:, None] - 6 + np.arange(6)],
                               rtol=1e-5, atol=1e-5)


def test_csv_rows_are_examples_with_a_label_column(tmp_path):
  x, y = RNG.normal(size=(40, 7)), np.arange(40) % 4
  cells = lambda r, c: [repr(float(v)) for v in r[:2]] + [str(c)] + [repr(float(v))
                                                                      for v in r[2:]]
  lines = ['a,b,label,c,d,e,f,g'] + [','.join(cells(r, c)) for r, c in zip(x, y)]
  dataset = load(write_csv(tmp_path, '\n'.join(lines) + '\n'), normalise='none')
  assert dataset.spec == data.DataSpec(input_shape=(7, 1), task='classification',
                                       num_outputs=4)
  order = np.random.default_rng(arrays.TEST_SEED).permutation(40)
  test = np.sort(order[:8])
  np.testing.assert_allclose(dataset.split('test')['inputs'][..., 0], x[test], rtol=1e-6)
  np.testing.assert_array_equal(dataset.split('test')['targets'], y[test])


def test_a_csv_without_header_names_columns_by_position(tmp_path):
  rows = ''.join(f'{i % 2},{i * 0.5},{-i * 1.5}\n' for i in range(20))
  dataset = load(write_csv(tmp_path, rows), label_column='0', normalise='none')
  train_x = dataset.split('train')['inputs'][..., 0]
  np.testing.assert_allclose(train_x[:, 1], -3 * train_x[:, 0])
  assert dataset.spec.num_outputs == 2


def a_config(path, **model):
  config = configlib.base_config()
  config.data.name, config.data.path = 'arrays', str(path)
  config.model.name = 'cnn1d'
  config.model.update(model)
  return config


@pytest.mark.parametrize('kind', ['npz_lengths', 'csv_rows', 'csv_series'])
def test_a_good_file_trains(kind, tmp_path):
  if kind == 'npz_lengths':
    lengths = RNG.integers(5, 17, 60)
    path = save(tmp_path, inputs=RNG.normal(size=(60, 16, 3)), targets=np.arange(60) % 3,
                lengths=lengths)
    config = a_config(path, features=(4, 4), kernel_sizes=(3, 3), strides=(1, 1))
  elif kind == 'csv_rows':
    rows = [f'{i % 2},' + ','.join(repr(float(v)) for v in RNG.normal(size=10))
            for i in range(50)]
    path = write_csv(tmp_path, '\n'.join(['label,' + ','.join(f'x{i}' for i in range(10))]
                                         + rows) + '\n')
    config = a_config(path, features=(4, 4), kernel_sizes=(3, 3), strides=(1, 1))
  else:
    path = write_csv(tmp_path, 'y\n' + ''.join(f'{math.sin(t / 4)!r}\n' for t in range(200)))
    config = a_config(path)
    config.data.column, config.data.window = 'y', 12
    config.model.name, config.model.hidden_size = 'gru', 4
  final = train.train_and_evaluate(tiny(config), str(tmp_path / 'run'))
  assert final['step'] == 4 and math.isfinite(final['eval/loss'])
  assert math.isfinite(final['test/loss'])


def test_no_config_file_is_needed(tmp_path, capsys):
  """families.py's config holds the options 'arrays' declares: a file and flags train."""
  path = save(tmp_path, inputs=RNG.normal(size=(40, 10, 2)), targets=np.arange(40) % 2)
  code = train.main(['train', '--config', os.path.join(REPO, 'cnn_vs_rnn/families.py') +
                     ':cnn1d,arrays', '--workdir', str(tmp_path / 'w'),
                     f'--config.data.path={path}', '--config.data.normalise=none',
                     '--config.data.batch_size=8', '--config.num_train_steps=2',
                     '--config.log_every_steps=2', '--config.eval_every_steps=2',
                     '--config.checkpoint_every_steps=2', '--config.model.param_budget=1000'])
  assert code == 0, capsys.readouterr().err
  assert (tmp_path / 'w' / 'final_metrics.json').exists()


# ---------------------------------------------------------------------------
# Bad files: one line, exit code 2.

X, Y = RNG.normal(size=(20, 6, 1)), np.arange(20) % 2


def npz(**named):
  return lambda path: np.savez(path, **named)


def raw_bytes(content):
  return lambda path: open(path, 'wb').write(content)


def truncated(path):
  np.savez(path, inputs=X, targets=Y)
  content = open(path, 'rb').read()
  open(path, 'wb').write(content[:len(content) // 2])


def text(content):
  return lambda path: open(path, 'w').write(content)


BAD = {  # name: (file name, writer, fragments of the one line)
    'missing_key': ('d.npz', npz(inputs=X, labels=Y), ("array 'targets' is missing; the file "
                                                       'has inputs, labels',)),
    'unknown_key': ('d.npz', npz(inputs=X, targets=Y, validation_input=X),
                    ("unknown array 'validation_input'",)),
    'mismatched_lengths': ('d.npz', npz(inputs=X, targets=Y[:15]),
                           ('targets has 15 entries and inputs 20 examples',)),
    'lengths_out_of_range': ('d.npz', npz(inputs=X, targets=Y, lengths=np.full(20, 7)),
                             ('lengths[0]=7 must lie in 1..6',)),
    'lengths_in_one_split_only': ('d.npz', npz(inputs=X, targets=Y, lengths=np.full(20, 6),
                                               test_inputs=X, test_targets=Y),
                                  ("array 'test_lengths' is missing",)),
    'nan_inputs': ('d.npz', npz(inputs=np.where(np.arange(20)[:, None, None] == 4, np.nan, X),
                                targets=Y), ('inputs holds NaN or inf (first in example 4)',)),
    'inf_targets': ('d.npz', npz(inputs=X, targets=np.where(np.arange(20) == 2, np.inf, 0.5)),
                    ('targets holds NaN or inf (first in example 2)',)),
    'fractional_labels': ('d.npz', npz(inputs=X, targets=Y + 0.5),
                          ('targets[0]=0.5: labels must be integers 0..K-1',)),
    'csv_fractional_labels': ('d.csv', text('label,a\n0,1\n1.5,2\n'),
                              ("line 3, column 'label': 1.5 is not a class; labels must be "
                               'integers 0..K-1',)),
    'negative_labels': ('d.npz', npz(inputs=X, targets=Y - 1),
                        ('targets holds -1: labels must be integers 0..K-1',)),
    'labels_from_one': ('d.npz', npz(inputs=X, targets=Y + 1),
                        ('labels must be integers 0..K-1, every class present', '(no 0)')),
    'one_class': ('d.npz', npz(inputs=X, targets=0 * Y), ('K >= 2; the labels are [0]',)),
    'too_few_examples': ('d.npz', npz(inputs=X[:1], targets=Y[:1]),
                         ('1 example(s) are too few to carve a test split',)),
    'too_few_for_validation': ('d.npz', npz(inputs=X[:2], targets=Y[:2]),
                               ('the train split has 1 example(s): too few to carve a '
                                'validation split',)),
    'shapes_differ': ('d.npz', npz(inputs=X, targets=Y, test_inputs=X[:, :4], test_targets=Y),
                      ("examples differ in shape: inputs (6, 1), test_inputs (4, 1)",)),
    'object_array': ('d.npz', npz(inputs=np.array([[1.0], [1.0, 2.0]], dtype=object),
                                  targets=Y[:2]),
                     ("array 'inputs' holds Python objects (dtype object)",)),
    'string_inputs': ('d.npz', npz(inputs=np.array([['a', 'b']] * 4), targets=Y[:4]),
                      ('inputs has dtype <U1; it must hold real numbers',)),
    'not_a_zip': ('d.npz', raw_bytes(b'\x80\x04garbage that is no zip'),
                  ('not a readable .npz archive (BadZipFile)',)),
    'truncated_npz': ('d.npz', truncated, ('not a readable .npz archive',)),
    'no_such_file': ('absent.npz', None, ('absent.npz', 'no such file')),
    'unknown_extension': ('d.parquet', raw_bytes(b''),
                          ("unknown file type '.parquet'; valid: .npz, .csv",)),
    'csv_not_a_number': ('d.csv', text('label,a,b\n0,1.0,2.0\n1,oops,3\n'),
                         ("line 3, column 'a': 'oops' is not a number",)),
    'csv_nan': ('d.csv', text('label,a\n0,1\n1,nan\n'),
                ("line 3, column 'a': 'nan' is NaN or inf",)),
    'csv_ragged': ('d.csv', text('label,a,b\n0,1,2\n1,2\n'),
                   ('line 3 has 2 cells; the first row has 3',)),
    'csv_no_label_column': ('d.csv', text('y,a\n0,1\n1,2\n'),
                            ("data.label_column='label' names no column; the columns: y, a",)),
    'csv_binary': ('d.csv', raw_bytes(b'\xff\xfe\x00\x81label'),
                   ('not a readable CSV text file (UnicodeDecodeError)',)),
    'csv_series_too_short': ('d.csv', text('y\n' + '1\n2\n' * 10),
                             ('20 values: a split of the series spans times',
                              'too short for data.window=20')),
}
CONFIG = '''
from cnn_vs_rnn import configlib


def get_config():
  c = configlib.base_config()
  c.data.name, c.data.path, c.data.column, c.data.task = 'arrays', '', {column!r}, {task!r}
  c.model.name = 'cnn1d'
  return c
'''
THROUGH_CLI = ('missing_key', 'object_array', 'csv_not_a_number')


def bad_run(name, tmp_path):
  file_name, writer, fragments = BAD[name]
  path = tmp_path / file_name
  if writer is not None:
    writer(str(path))
  config = tmp_path / 'config.py'
  config.write_text(CONFIG.format(column='y' if name == 'csv_series_too_short' else '',
                                  task='classification' if name == 'fractional_labels'
                                  else 'auto'))
  argv = ['--config', str(config), '--workdir', str(tmp_path / 'w'),
          f'--config.data.path={path}']
  return argv, fragments


def check_line(code, err, fragments, tmp_path, path_name):
  lines = err.strip().splitlines()
  assert code == 2, err
  assert len(lines) == 1 and lines[0].startswith('error: data.path='), err
  assert path_name in lines[0]
  for fragment in fragments:
    assert fragment in lines[0], lines[0]
  assert not (tmp_path / 'w').exists()


@pytest.mark.parametrize('name', sorted(BAD))
def test_a_bad_file_is_one_line_and_exit_code_2(name, tmp_path, capsys):
  argv, fragments = bad_run(name, tmp_path)
  capsys.readouterr()
  code = train.main(['train'] + argv)
  check_line(code, capsys.readouterr().err, fragments, tmp_path, BAD[name][0])


@pytest.mark.parametrize('name', THROUGH_CLI)
def test_the_command_line_gives_the_same_line(name, tmp_path):
  argv, fragments = bad_run(name, tmp_path)
  result = subprocess.run([sys.executable, '-m', 'cnn_vs_rnn.train'] + argv, cwd=REPO,
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, 'PYTHONPATH': REPO})
  check_line(result.returncode, result.stderr, fragments, tmp_path, BAD[name][0])
  assert result.stdout == ''


def test_an_empty_path_names_the_option():
  with pytest.raises(ConfigError, match=r"data.path='' must name a .npz or .csv file"):
    load('')
