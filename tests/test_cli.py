"""Bad input on the command line: exit code 2 and one line naming the bad value."""

import os
import subprocess
import sys

import pytest

from cnn_vs_rnn import models, optim

from conftest import CONFIG_DIR, REPO

CNN = os.path.join(CONFIG_DIR, 'mnist1d_cnn.py')
SHORT = ['--config.num_train_steps=2', '--config.data.batch_size=8',
         '--config.data.eval_batch_size=200', '--config.log_every_steps=1',
         '--config.eval_every_steps=2', '--config.checkpoint_every_steps=2']


def run(*args, config=CNN, workdir='WORKDIR'):
  argv = [sys.executable, '-m', 'cnn_vs_rnn.train']
  if config is not None:
    argv += ['--config', config]
  if workdir is not None:
    argv += ['--workdir', workdir]
  return subprocess.run(argv + list(args), cwd=REPO, capture_output=True, text=True)


def assert_usage_error(result, *fragments):
  lines = result.stderr.strip().splitlines()
  assert result.returncode == 2, result.stderr
  assert 'Traceback' not in result.stderr
  assert len(lines) == 1, result.stderr
  assert lines[0].startswith('error: ')
  for fragment in fragments:
    assert fragment in lines[0], lines[0]


@pytest.mark.parametrize('args,fragments', [
    (['--config.sed=1'], ["unknown config key 'sed'", 'seed']),
    (['--config.seed=abc'], ["--config.seed='abc'", 'type int']),
    (['--config.model.name=transformer'],
     ["unknown model 'transformer'",
      'valid: ' + ', '.join(sorted(models.MODELS))]),
    (['--config.data.name=mnist2d'], ["unknown dataset 'mnist2d'; valid: ", 'mnist1d']),
    (['--config.optim.name=lion'],
     ["unknown optimizer 'lion'", 'valid: ' + ', '.join(sorted(optim.OPTIMIZERS))]),
    (['--config.optim.schedule=step'],
     ["unknown schedule 'step'", 'valid: constant, cosine, linear']),
    (['--config.data.batch_size=0'], ['data.batch_size=0 must be a positive integer']),
    (['--config.num_train_steps=-5'], ['num_train_steps=-5 must be a positive integer']),
    (['--config.data.batch_size=6'],
     ['data.batch_size=6 is not divisible by the 4 devices', 'multiple of 4']),
    (['--config.model.strides=(8,8,8)', '--config.model.padding=0'],
     ['cnn1d conv layer 2', 'input length 40 is too short']),
])
def test_bad_config_values(args, fragments, tmp_path, mnist1d):
  assert_usage_error(run(*args, workdir=str(tmp_path / 'w')), *fragments)
  assert not os.path.exists(tmp_path / 'w')  # Nothing is written for a bad config.


def test_unknown_config_file(tmp_path):
  missing = str(tmp_path / 'nope.py')
  assert_usage_error(run(config=missing, workdir=str(tmp_path / 'w')),
                     f"config file '{missing}' does not exist")


def test_missing_workdir_flag():
  assert_usage_error(run(workdir=None), '--workdir is required')


def test_workdir_that_is_a_file(tmp_path):
  path = tmp_path / 'file'
  path.write_text('keep me')
  assert_usage_error(run(workdir=str(path)), f"workdir '{path}' is a file")
  assert path.read_text() == 'keep me'


def test_workdir_of_another_config(tmp_path, mnist1d):
  workdir = str(tmp_path / 'w')
  first = run(*SHORT, workdir=workdir)
  assert first.returncode == 0, first.stderr
  before = sorted(os.listdir(os.path.join(workdir, 'checkpoints')))
  assert_usage_error(run(*SHORT, '--config.seed=1', '--config.optim.learning_rate=0.5',
                         workdir=workdir),
                     'holds a run of another config',
                     'optim.learning_rate: 0.01 -> 0.5', 'seed: 0 -> 1')
  assert sorted(os.listdir(os.path.join(workdir, 'checkpoints'))) == before


def test_non_finite_loss_exits_non_zero_naming_the_step(tmp_path, mnist1d):
  result = run(*SHORT[1:], '--config.num_train_steps=20', '--config.optim.learning_rate=1e30',
               workdir=str(tmp_path / 'w'))
  assert result.returncode == 1
  assert 'Traceback' not in result.stderr
  assert 'error: non-finite loss at step ' in result.stderr.strip().splitlines()[-1]


def test_success_prints_progress_and_summary(tmp_path, mnist1d):
  result = run(*SHORT, workdir=str(tmp_path / 'w'))
  assert result.returncode == 0, result.stderr
  assert 'total' in result.stdout and '5,210' in result.stdout
  assert 'step 2/2 | loss ' in result.stdout and 'steps/s | ETA' in result.stdout


@pytest.mark.parametrize('setting,applied', [('1', 'True'), ('0', 'False')])
def test_host_memory_policy_applies_on_linux_and_can_be_turned_off(setting, applied):
  # In a child process: the policy is process-wide, and only programs set it.
  if not sys.platform.startswith('linux'):
    pytest.skip('glibc malloc tuning is Linux-only')
  code = ('from cnn_vs_rnn import hostmem; '
          'print(hostmem.keep_freed_memory(), hostmem.keep_freed_memory())')
  out = subprocess.run([sys.executable, '-c', code], cwd=REPO, capture_output=True, text=True,
                       env={**os.environ, 'CNN_VS_RNN_KEEP_HOST_MEMORY': setting}, check=True)
  assert out.stdout.split() == [applied, applied]


def test_each_program_validates_the_config_once(tmp_path, mnist1d, monkeypatch, capsys):
  # In process: the command line parses the config (cli.py) and build_run validates it.
  del mnist1d
  from cnn_vs_rnn import benchmark, configlib, evaluate, train  # pylint: disable=g-import-not-at-top
  calls = []
  validate = configlib.validate

  def counted(config):
    calls.append(config)
    return validate(config)

  monkeypatch.setattr(configlib, 'validate', counted)
  workdir = str(tmp_path / 'w')
  assert train.main(['train', '--config', CNN, '--workdir', workdir, *SHORT]) == 0
  assert len(calls) == 1
  assert evaluate.main(['--workdir', workdir]) == 0
  assert len(calls) == 2
  assert benchmark.main(['benchmark', '--config', CNN, '--steps=1', '--warmup=0',
                         '--config.data.batch_size=8']) == 0
  assert len(calls) == 3
  capsys.readouterr()
