"""Bad input to every command: exit code 2 and one line `error: ...` naming the bad value.

One row per bad input, for `cnn_vs_rnn.train`, `evaluate`, `sample` and
`benchmark`. Rows run in process through each tool's `main(argv)` (which
returns the exit code through errors.run_command, as the program does);
`test_the_command_line_gives_the_same_line` runs a sample of them through
`python -m` and checks the programs give the same code and line. Set
CNN_VS_RNN_TEST_CLI=1 to run every row through `python -m` (a few minutes).
"""

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from typing import Callable

import pytest

from conftest import CONFIG_DIR, REPO

CNN = os.path.join(CONFIG_DIR, 'mnist1d_cnn.py')
TCN = os.path.join(CONFIG_DIR, 'mnist1d_tcn.py')
BIG = 'x' * 100_000  # A value of 100 kB: an error line shows ~200 characters of it.
MAX_LINE = 600  # No error line is longer than this, whatever it echoes.
ALL_THROUGH_CLI = os.environ.get('CNN_VS_RNN_TEST_CLI') == '1'


@dataclass
class Row:
  tool: str  # train, evaluate, sample, benchmark
  args: list  # '{tmp}' is the test's directory, '{run}' a trained tiny workdir.
  fragments: tuple  # In the one error line.
  code: int = 2
  setup: Callable = None  # setup(tmp, run): prepares files the args name.
  new: tuple = ('w',)  # Paths under {tmp} that must not exist afterwards.


def train(*overrides, config=CNN, workdir='{tmp}/w', **kw):
  argv = (['--config', config] if config else []) + (['--workdir', workdir] if workdir else [])
  return Row('train', argv + list(overrides), **kw)


def bench(*args, config=CNN, **kw):
  return Row('benchmark', (['--config', config] if config else []) + list(args), **kw)


def write(relpath, data):
  """setup: writes `data` (str or bytes) at {tmp}/relpath."""
  def setup(tmp, run):
    del run
    path = os.path.join(tmp, relpath)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'wb') as f:
      f.write(data.encode() if isinstance(data, str) else data)
  return setup


def copy_run(change=None):
  """setup: a copy of the trained run at {tmp}/run, then change(copy)."""
  def setup(tmp, run):
    shutil.copytree(run, os.path.join(tmp, 'run'))
    if change:
      change(os.path.join(tmp, 'run'))
  return setup


def with_config_json(data):
  def change(copy):
    with open(os.path.join(copy, 'config.json'), 'wb') as f:
      f.write(data)
  return copy_run(change)


def truncated_config_json(copy):
  path = os.path.join(copy, 'config.json')
  text = open(path, 'rb').read()
  open(path, 'wb').write(text[:len(text) // 2])


def valid_json_bad_config(copy):
  """A config.json whose config lacks the model and data groups."""
  path = os.path.join(copy, 'config.json')
  record = json.load(open(path))
  record['config'] = {'seed': 0}
  json.dump(record, open(path, 'w'))


CONFIG_FILES = {
    'exits': 'raise SystemExit(0)\n',
    'returns_none': 'def get_config():\n  return None\n',
    'no_get_config': 'X = 1\n',
    'syntax_error': 'def get_config(:\n  pass\n',
    'import_error': 'import no_such_module_xyz\n\ndef get_config():\n  return None\n',
    'raises': 'def get_config():\n  raise RuntimeError("broken config")\n',
}


def config_file(kind):
  return write(f'{kind}.py', CONFIG_FILES[kind])


ROWS = {
    # --- train: config keys, types and values.
    'train_unknown_key': train('--config.sed=1', fragments=("unknown config key 'sed'",)),
    'train_unknown_flag': train('--sed=1', fragments=("Unknown command line flag 'sed'",)),
    'train_wrong_type': train('--config.seed=abc', fragments=(
        "--config.seed='abc' has the wrong type", 'type int')),
    'train_float_for_int': train('--config.num_train_steps=1.5', fragments=(
        "--config.num_train_steps='1.5' has the wrong type",)),
    'train_seed_negative': train('--config.seed=-1', fragments=(
        'seed=-1 must be an integer in [0, 2147483647]',)),
    'train_seed_2_31': train('--config.seed=2147483648', fragments=(
        'seed=2147483648 must be an integer in [0, 2147483647]',)),
    'train_seed_plus_replicas': train('--config.seed=2147483647', '--config.num_seeds=2',
                                      fragments=('seed=2147483647', '[0, 2147483646]')),
    'train_num_seeds_0': train('--config.num_seeds=0', fragments=(
        'num_seeds=0 must be a positive integer',)),
    'train_steps_per_loop_0': train('--config.steps_per_loop=0', fragments=(
        'steps_per_loop=0 must be a positive integer',)),
    'train_num_train_steps_0': train('--config.num_train_steps=0', fragments=(
        'num_train_steps=0 must be a positive integer',)),
    'train_lr_nan': train('--config.optim.learning_rate=nan', fragments=(
        'optim.learning_rate=nan must be a finite number > 0',)),
    'train_lr_inf': train('--config.optim.learning_rate=inf', fragments=(
        'optim.learning_rate=inf must be a finite number > 0',)),
    'train_lr_negative': train('--config.optim.learning_rate=-0.1', fragments=(
        'optim.learning_rate=-0.1 must be a finite number > 0',)),
    'train_grad_clip_negative': train('--config.optim.grad_clip_norm=-1', fragments=(
        'optim.grad_clip_norm=-1.0 must be >= 0',)),
    'train_warmup_negative': train('--config.optim.warmup_steps=-1', fragments=(
        'optim.warmup_steps=-1 must be >= 0',)),
    'train_unknown_model': train('--config.model.name=transformer', fragments=(
        "unknown model 'transformer'", 'valid: cnn1d')),
    'train_unknown_dataset': train('--config.data.name=mnist2d', fragments=(
        "unknown dataset 'mnist2d'", 'mnist1d')),
    'train_unknown_optimizer': train('--config.optim.name=lion', fragments=(
        "unknown optimizer 'lion'", 'valid: adam, adamw, rmsprop, sgd')),
    'train_unknown_schedule': train('--config.optim.schedule=step', fragments=(
        "unknown schedule 'step'",)),
    'train_unknown_pool': train('--config.model.pool=median', fragments=(
        "unknown model.pool 'median'", 'flatten')),
    'train_width_zero': train('--config.model.features=(25,0,25)', fragments=(
        'model.features=(25, 0, 25) must hold integers >= 1',)),
    'train_width_negative': train('--config.model.features=(-4,25,25)', fragments=(
        'model.features=(-4, 25, 25) must hold integers >= 1',)),
    'train_kernel_size_zero': train('--config.model.kernel_sizes=(5,0,3)', fragments=(
        'model.kernel_sizes=(5, 0, 3) must hold integers >= 1',)),
    'train_stride_negative': train('--config.model.strides=(2,-2,2)', fragments=(
        'model.strides=(2, -2, 2) must hold integers >= 1',)),
    'train_tcn_dropout_1_5': train('--config.model.dropout=1.5', config=TCN, fragments=(
        'model.dropout=1.5 must be in [0, 1)',)),
    'train_tcn_channels_zero': train('--config.model.channels=(0,)', config=TCN, fragments=(
        'model.channels=(0,) must hold integers >= 1',)),
    'train_model_does_not_fit': train('--config.model.strides=(8,8,8)',
                                      '--config.model.padding=0', fragments=(
        'input length 40 is too short',)),
    'train_batch_0': train('--config.data.batch_size=0', fragments=(
        'data.batch_size=0 must be a positive integer',)),
    'train_batch_not_divisible': train('--config.data.batch_size=6', fragments=(
        'data.batch_size=6 is not divisible by the 4 devices',)),
    'train_eval_batch_negative': train('--config.data.eval_batch_size=-4', fragments=(
        'data.eval_batch_size=-4 must be a positive integer',)),
    'train_batch_larger_than_split': train('--config.data.batch_size=8000', fragments=(
        'data.batch_size=8000 is larger than the 3,600 training examples', 'at most 3600')),
    # --- train: config files.
    'train_config_missing': train(config='{tmp}/nope.py', fragments=(
        'nope.py', 'does not exist')),
    'train_no_config_flag': train(config=None, fragments=('--config is required',)),
    'train_no_workdir_flag': train(workdir=None, fragments=('--workdir is required',)),
    'train_config_exits': train(config='{tmp}/exits.py', setup=config_file('exits'),
                                fragments=('exits.py', 'exited (SystemExit(0))')),
    'train_config_returns_none': train(config='{tmp}/returns_none.py',
                                       setup=config_file('returns_none'),
                                       fragments=('get_config() returned None',)),
    'train_config_no_get_config': train(config='{tmp}/no_get_config.py',
                                        setup=config_file('no_get_config'),
                                        fragments=('has no get_config() function',)),
    'train_config_syntax_error': train(config='{tmp}/syntax_error.py',
                                       setup=config_file('syntax_error'),
                                       fragments=('syntax_error.py', 'SyntaxError')),
    'train_config_import_error': train(config='{tmp}/import_error.py',
                                       setup=config_file('import_error'),
                                       fragments=('ModuleNotFoundError', 'no_such_module_xyz')),
    'train_config_raises': train(config='{tmp}/raises.py', setup=config_file('raises'),
                                 fragments=('RuntimeError', 'broken config')),
    # --- train: values of 100 kB are cut in the line.
    'train_huge_model_name': train(f'--config.model.name={BIG}', fragments=(
        "unknown model 'xxxxxxxx", '(100,002 characters)')),
    'train_huge_type_error': train(f'--config.seed={BIG}', fragments=(
        "--config.seed='xxxxxxxx", 'has the wrong type')),
    'train_huge_unknown_key': train(f'--config.{BIG}=1', fragments=(
        "unknown config key 'xxxxxxxx",)),
    # --- train: workdirs.
    'train_workdir_is_a_file': train(workdir='{tmp}/file', setup=write('file', 'keep'),
                                     fragments=("{tmp}/file' is a file",)),
    'train_workdir_under_a_file': train(workdir='{tmp}/file/run', setup=write('file', 'keep'),
                                        fragments=('Not a directory', '{tmp}/file'),
                                        new=('file/run',)),
    'train_workdir_name_too_long': train(workdir='{tmp}/' + 'n' * 300, fragments=(
        'File name too long', 'nnnnnnnn'), new=()),
    'train_workdir_of_another_config': train(
        '--config.num_train_steps=2', '--config.data.batch_size=8',
        '--config.data.eval_batch_size=200', '--config.seed=1',
        workdir='{tmp}/run', setup=copy_run(),
        fragments=('holds a run of another config', 'seed: 0 -> 1')),

    # --- evaluate.
    'evaluate_empty_dir': Row('evaluate', ['--workdir', '{tmp}/empty'],
                              setup=write('empty/.keep', ''),
                              fragments=("'{tmp}/empty' holds no run (no config.json)",)),
    'evaluate_missing_dir': Row('evaluate', ['--workdir', '{tmp}/nothing'],
                                fragments=('holds no run',)),
    'evaluate_workdir_is_a_file': Row('evaluate', ['--workdir', '{tmp}/file'],
                                      setup=write('file', 'keep'), fragments=('holds no run',)),
    'evaluate_garbled_config_json': Row(
        'evaluate', ['--workdir', '{tmp}/run'],
        setup=with_config_json(b'\x00\xff garbage \x13\n{{{'),
        fragments=('{tmp}/run/config.json', 'unreadable')),
    'evaluate_truncated_config_json': Row(
        'evaluate', ['--workdir', '{tmp}/run'], setup=copy_run(truncated_config_json),
        fragments=('{tmp}/run/config.json', 'unreadable')),
    'evaluate_empty_object_config_json': Row(
        'evaluate', ['--workdir', '{tmp}/run'], setup=with_config_json(b'{}'),
        fragments=('{tmp}/run/config.json', "no 'config'")),
    'evaluate_config_json_not_an_object': Row(
        'evaluate', ['--workdir', '{tmp}/run'], setup=with_config_json(b'[1, 2]'),
        fragments=('{tmp}/run/config.json', "no 'config'")),
    'evaluate_config_json_incomplete_config': Row(
        'evaluate', ['--workdir', '{tmp}/run'], setup=copy_run(valid_json_bad_config),
        fragments=('{tmp}/run/config.json', "has no field 'data'")),
    'evaluate_no_checkpoint': Row(
        'evaluate', ['--workdir', '{tmp}/run'],
        setup=copy_run(lambda c: shutil.rmtree(os.path.join(c, 'checkpoints'))),
        fragments=("'{tmp}/run' has no checkpoint yet",)),
    'evaluate_step_without_checkpoint': Row('evaluate', ['--workdir', '{run}', '--step', '999'],
                                            fragments=('--step=999 has no checkpoint',
                                                       'valid: 2')),
    'evaluate_step_negative': Row('evaluate', ['--workdir', '{run}', '--step', '-1'],
                                  fragments=('--step=-1 has no checkpoint',)),
    'evaluate_step_not_a_number': Row('evaluate', ['--workdir', '{run}', '--step', 'two'],
                                      fragments=('--step', "invalid int value: 'two'")),
    'evaluate_unknown_split': Row('evaluate', ['--workdir', '{run}', '--split', 'dev'],
                                  fragments=("unknown split 'dev'", 'test')),
    'evaluate_no_workdir_flag': Row('evaluate', [], fragments=('--workdir',)),
    'evaluate_unknown_flag': Row('evaluate', ['--workdir', '{run}', '--stepz', '2'],
                                 fragments=('--stepz',)),

    # --- sample.
    'sample_temperature_nan': Row('sample', ['--workdir', '{run}', '--temperature', 'nan'],
                                  fragments=('--temperature=nan must be a finite number >= 0',)),
    'sample_temperature_negative': Row('sample', ['--workdir', '{run}', '--temperature', '-1'],
                                       fragments=('--temperature=-1.0 must be a finite',)),
    'sample_temperature_inf': Row('sample', ['--workdir', '{run}', '--temperature', 'inf'],
                                  fragments=('--temperature=inf must be a finite',)),
    'sample_temperature_not_a_number': Row(
        'sample', ['--workdir', '{run}', '--temperature', 'warm'],
        fragments=('--temperature', "invalid float value: 'warm'")),
    'sample_length_0': Row('sample', ['--workdir', '{run}', '--length', '0'],
                           fragments=('--length=0 must be a positive integer',)),
    'sample_length_negative': Row('sample', ['--workdir', '{run}', '--length', '-5'],
                                  fragments=('--length=-5 must be a positive integer',)),
    'sample_not_a_language_model': Row('sample', ['--workdir', '{run}', '--length', '3'],
                                       fragments=("holds a 'classification' model",
                                                  'byte-level language model')),
    'sample_replica_out_of_range': Row('sample', ['--workdir', '{run}', '--replica', '1'],
                                       fragments=('--replica=1 must be in [0, 1)',)),
    'sample_empty_dir': Row('sample', ['--workdir', '{tmp}/empty'], setup=write('empty/.keep', ''),
                            fragments=('holds no run',)),
    'sample_step_without_checkpoint': Row('sample', ['--workdir', '{run}', '--step', '7'],
                                          fragments=('--step=7 has no checkpoint',)),

    # --- benchmark.
    'benchmark_steps_0': bench('--steps=0', fragments=('--steps=0 must be >= 1',)),
    'benchmark_warmup_negative': bench('--warmup=-1', fragments=('--warmup=-1 must be >= 0',)),
    'benchmark_steps_not_a_number': bench('--steps=abc', fragments=('flag --steps=abc',)),
    'benchmark_unknown_flag': bench('--stepz=3', fragments=("Unknown command line flag 'stepz'",)),
    'benchmark_unknown_key': bench('--config.model.hiden_size=3', fragments=(
        "unknown config key 'model.hiden_size'",)),
    'benchmark_no_config': bench(config=None, fragments=('--config is required',)),
    'benchmark_config_missing': bench(config='{tmp}/nope.py', fragments=('does not exist',)),
    'benchmark_config_exits': bench(config='{tmp}/exits.py', setup=config_file('exits'),
                                    fragments=('exited (SystemExit(0))',)),
    'benchmark_lr_nan': bench('--config.optim.learning_rate=nan', fragments=(
        'optim.learning_rate=nan must be a finite number > 0',)),
    'benchmark_batch_larger_than_split': bench('--config.data.batch_size=8000', fragments=(
        'data.batch_size=8000 is larger than the 3,600 training examples',)),
    'benchmark_width_zero': bench('--config.model.features=(0,25,25)', fragments=(
        'model.features=(0, 25, 25) must hold integers >= 1',)),
}

# Rows also run through `python -m` (a few seconds each), one or more per tool.
THROUGH_CLI = ('train_config_exits', 'train_workdir_under_a_file', 'train_huge_model_name',
               'train_lr_nan', 'evaluate_garbled_config_json', 'evaluate_step_not_a_number',
               'sample_temperature_nan', 'benchmark_steps_0')


@pytest.fixture(scope='module')
def trained_run(tmp_path_factory, mnist1d):
  """A finished 2-step MNIST-1D CNN run (checkpoint at step 2): the '{run}' of the rows."""
  from cnn_vs_rnn import configlib  # pylint: disable=g-import-not-at-top
  from cnn_vs_rnn import train as train_lib  # pylint: disable=g-import-not-at-top
  from conftest import tiny  # pylint: disable=g-import-not-at-top
  del mnist1d
  config = tiny(configlib.load_config_file(CNN), steps=2, every=2)
  workdir = str(tmp_path_factory.mktemp('trained') / 'run')
  train_lib.train_and_evaluate(config, workdir)
  return workdir


def fill(text, tmp, run):
  return text.replace('{tmp}', tmp).replace('{run}', run)


def prepare(row, tmp_path, run):
  tmp = str(tmp_path)
  if row.setup:
    row.setup(tmp, run)
  return [fill(a, tmp, run) for a in row.args], tmp


def in_process(tool, argv, capsys):
  """(exit code, stdout, stderr) of `tool`'s main(argv), as run_command returns it."""
  import importlib  # pylint: disable=g-import-not-at-top
  module = importlib.import_module(f'cnn_vs_rnn.{tool}')
  capsys.readouterr()
  try:
    # train and benchmark parse absl flags from argv[1:]; evaluate and sample use argparse.
    code = module.main([tool] + argv if tool in ('train', 'benchmark') else argv)
  except SystemExit as e:  # A main that exits instead of returning its code.
    code = e.code
  out = capsys.readouterr()
  return code, out.out, out.err


def through_cli(tool, argv):
  result = subprocess.run([sys.executable, '-m', f'cnn_vs_rnn.{tool}'] + argv, cwd=REPO,
                          capture_output=True, text=True, timeout=300)
  return result.returncode, result.stdout, result.stderr


def check(row, tmp, code, err):
  lines = err.strip().splitlines()
  assert code == row.code, err
  assert 'Traceback' not in err, err
  assert len(lines) == 1, err
  line = lines[0]
  assert line.startswith('error: '), line
  assert len(line) <= MAX_LINE, (len(line), line[:300])
  for fragment in row.fragments:
    assert fill(fragment, tmp, '') in line, line
  for rel in row.new:  # Nothing is written for a bad input.
    assert not os.path.exists(os.path.join(tmp, rel)), rel


@pytest.mark.parametrize('name', sorted(ROWS))
def test_bad_input(name, tmp_path, trained_run, capsys):
  row = ROWS[name]
  argv, tmp = prepare(row, tmp_path, trained_run)
  if ALL_THROUGH_CLI:
    code, _, err = through_cli(row.tool, argv)
  else:
    code, _, err = in_process(row.tool, argv, capsys)
  check(row, tmp, code, err)


@pytest.mark.parametrize('name', THROUGH_CLI)
def test_the_command_line_gives_the_same_line(name, tmp_path, trained_run):
  row = ROWS[name]
  argv, tmp = prepare(row, tmp_path, trained_run)
  code, out, err = through_cli(row.tool, argv)
  check(row, tmp, code, err)
  assert out == ''


def test_the_table_covers_every_tool_and_enough_inputs():
  tools = {row.tool for row in ROWS.values()}
  assert tools == {'train', 'evaluate', 'sample', 'benchmark'}
  assert len(ROWS) >= 30
