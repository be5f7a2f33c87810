"""launch.sh: --dry-run's printed commands, and what the commands pass to python.

Fake `gcloud` and `tar` log their argv; the fake gcloud runs an ssh --command
string through bash as the TPU VM's shell would, and a fake python records the
argv it gets, so no cloud is needed.
"""

import json
import os
import shlex
import subprocess
import sys

import pytest

from conftest import REPO

LAUNCH = os.path.join(REPO, 'launch.sh')
OVERRIDES = ['--config.model.features=(8, 16)', '--config.data.prompt="it\'s"',
             "--config.data.prompt=it's a (test)", '--config.data.name=a\\b $HOME *;`x`',
             '--config.num_seeds=3']
SSH = ['gcloud', 'compute', 'tpus', 'tpu-vm', 'ssh', 'my-tpu', '--zone', 'us-central2-b',
       '--worker=all', '--command']

FAKE_TOOL = '''#!{python}
"""Logs its argv; with RUN_REMOTE=1, runs an ssh --command string with bash."""
import json, os, subprocess, sys
with open(os.environ['TOOL_LOG'], 'a') as f:
  f.write(json.dumps([os.path.basename(sys.argv[0])] + sys.argv[1:]) + '\\n')
if '--command' in sys.argv and os.environ.get('RUN_REMOTE') == '1':
  command = sys.argv[sys.argv.index('--command') + 1]
  env = dict(os.environ, HOME=os.environ['FAKE_HOME'])
  sys.exit(subprocess.run(['bash', '-c', command], env=env).returncode)
'''
FAKE_PYTHON = '''#!{python}
"""Records its argv, working directory and CNN_VS_RNN_DISTRIBUTED."""
import json, os, sys
with open(os.environ['LAUNCH_RECORD'], 'w') as f:
  json.dump({{'argv': sys.argv[1:], 'cwd': os.getcwd(),
             'distributed': os.environ.get('CNN_VS_RNN_DISTRIBUTED')}}, f)
'''


def write_script(path, text):
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with open(path, 'w') as f:
    f.write(text.format(python=sys.executable))
  os.chmod(path, 0o755)
  return str(path)


@pytest.fixture
def fakes(tmp_path):
  """Environment with fake gcloud and tar on PATH, a fake remote home and a fake python."""
  bin_dir = tmp_path / 'bin'
  for tool in ('gcloud', 'tar'):
    write_script(str(bin_dir / tool), FAKE_TOOL)
  home = tmp_path / 'remote home'
  write_script(str(home / 'cnn_vs_rnn' / '.venv' / 'bin' / 'python'), FAKE_PYTHON)
  env = {k: v for k, v in os.environ.items() if k != 'CNN_VS_RNN_DISTRIBUTED'}
  env.update(PATH=f'{bin_dir}{os.pathsep}{env["PATH"]}', FAKE_HOME=str(home),
             TOOL_LOG=str(tmp_path / 'tools.log'),
             LAUNCH_RECORD=str(tmp_path / 'record.json'),
             PYTHON=write_script(str(tmp_path / 'local py' / 'python'), FAKE_PYTHON))
  return env


def launch(*args, env=None):
  return subprocess.run(['bash', LAUNCH, *args], capture_output=True, text=True,
                        env=env, cwd='/', timeout=60)


def dry_run(*args, env=None):
  result = launch('--dry-run', *args, env=env)
  assert result.returncode == 0, result.stderr
  assert result.stderr == ''
  return result.stdout.splitlines()


def record(env):
  with open(env['LAUNCH_RECORD']) as f:
    return json.load(f)


def tool_calls(env):
  """argv of every fake gcloud and tar call so far."""
  if not os.path.exists(env['TOOL_LOG']):
    return []
  with open(env['TOOL_LOG']) as f:
    return [json.loads(line) for line in f]


# ---------------------------------------------------------------------------
# What --dry-run prints.


def test_dry_run_tpu_setup_prints_tar_scp_and_ssh(fakes):
  lines = dry_run('tpu-setup', 'my-tpu', 'us-central2-b', env=fakes)
  assert len(lines) == 3, lines
  tar, scp, ssh = (shlex.split(line) for line in lines)
  assert tar == ['tar', '-C', REPO, '--exclude=.git', '--exclude=.venv', '--exclude=runs',
                 '-czf', '/tmp/cnn_vs_rnn.tgz', '.']
  assert scp == ['gcloud', 'compute', 'tpus', 'tpu-vm', 'scp', '/tmp/cnn_vs_rnn.tgz',
                 'my-tpu:/tmp/', '--zone', 'us-central2-b', '--worker=all']
  assert ssh[:-1] == SSH
  assert shlex.split(ssh[-1]) == [
      'mkdir', '-p', '~/cnn_vs_rnn', '&&', 'tar', '-C', '~/cnn_vs_rnn', '-xzf',
      '/tmp/cnn_vs_rnn.tgz', '&&', 'cd', '~/cnn_vs_rnn', '&&', 'python3', '-m', 'venv',
      '.venv', '&&', '.venv/bin/pip', 'install', '-e', '.[tpu]']
  assert tool_calls(fakes) == []  # Printed only: neither tar nor gcloud ran.
  # Without --dry-run, the same three commands run.
  result = launch('tpu-setup', 'my-tpu', 'us-central2-b', env=fakes)
  assert result.returncode == 0, result.stderr
  assert tool_calls(fakes) == [tar, scp, ssh]


def test_dry_run_tpu_keeps_every_override_one_argument(fakes):
  config, workdir = 'configs/my config.py', "gs://bucket/run 'one'"
  lines = dry_run('tpu', 'my-tpu', 'us-central2-b', config, workdir, *OVERRIDES, env=fakes)
  assert len(lines) == 1, lines
  argv = shlex.split(lines[0])
  assert argv[:-1] == SSH
  remote = shlex.split(argv[-1])  # What the TPU VM's shell makes of the --command string.
  assert remote == ['cd', '~/cnn_vs_rnn', '&&', 'CNN_VS_RNN_DISTRIBUTED=1',
                    '.venv/bin/python', '-m', 'cnn_vs_rnn.train',
                    '--config', config, '--workdir', workdir, *OVERRIDES]
  assert tool_calls(fakes) == []


def test_dry_run_local_prints_the_python_command_with_overrides(fakes):
  lines = dry_run('local', 'configs/charlm_lstm.py', 'runs/x y', *OVERRIDES, env=fakes)
  assert len(lines) == 1, lines
  assert shlex.split(lines[0]) == [
      'cd', REPO, '&&', fakes['PYTHON'], '-m', 'cnn_vs_rnn.train',
      '--config', 'configs/charlm_lstm.py', '--workdir', 'runs/x y', *OVERRIDES]
  assert '--config.num_seeds=3' in shlex.split(lines[0])
  assert not os.path.exists(fakes['LAUNCH_RECORD'])  # python never ran.


# ---------------------------------------------------------------------------
# What the commands, run or printed and pasted, pass to python.

# Through two shells: a newline too (printf %q writes it as $'\n', which bash reads).
HARD = OVERRIDES + ['--config.data.prompt=line one\nline two']


def test_tpu_passes_each_override_to_the_remote_python_unchanged(fakes):
  want = {'argv': ['-m', 'cnn_vs_rnn.train', '--config', 'c.py', '--workdir', 'gs://b/r',
                   *HARD],
          'cwd': os.path.join(fakes['FAKE_HOME'], 'cnn_vs_rnn'), 'distributed': '1'}
  args = ('tpu', 'my-tpu', 'us-central2-b', 'c.py', 'gs://b/r', *HARD)
  fakes['RUN_REMOTE'] = '1'
  result = launch(*args, env=fakes)
  assert result.returncode == 0, result.stderr
  assert record(fakes) == want
  assert len(tool_calls(fakes)) == 1
  os.remove(fakes['LAUNCH_RECORD'])
  # The printed line, pasted into bash, runs the very same thing.
  printed = launch('--dry-run', *args, env=fakes).stdout
  assert printed.count('\n') == 1
  result = subprocess.run(['bash', '-c', printed], env=fakes, capture_output=True, text=True)
  assert result.returncode == 0, result.stderr
  assert record(fakes) == want
  assert tool_calls(fakes)[0] == tool_calls(fakes)[1]


def test_local_passes_overrides_through(fakes):
  want = {'argv': ['-m', 'cnn_vs_rnn.train', '--config', 'configs/default.py', '--workdir',
                   'runs/x', *HARD], 'cwd': REPO, 'distributed': None}
  result = launch('local', 'configs/default.py', 'runs/x', *HARD, env=fakes)
  assert result.returncode == 0, result.stderr
  assert record(fakes) == want
  assert '--config.num_seeds=3' in record(fakes)['argv']
  os.remove(fakes['LAUNCH_RECORD'])
  printed = launch('--dry-run', 'local', 'configs/default.py', 'runs/x', *HARD,
                   env=fakes).stdout
  result = subprocess.run(['bash', '-c', printed], env=fakes, capture_output=True, text=True,
                          cwd='/')
  assert result.returncode == 0, result.stderr
  assert record(fakes) == want


# ---------------------------------------------------------------------------
# Usage errors.


def usage_text():
  """launch.sh's header comment from line 2 to the --dry-run note, without the '# '."""
  with open(LAUNCH) as f:
    lines = f.read().splitlines()
  end = next(i for i, line in enumerate(lines) if 'needs no gcloud' in line)
  return [line[2:] if line.startswith('# ') else line[1:] for line in lines[1:end + 1]]


@pytest.mark.parametrize('args', [
    [], ['--dry-run'], ['deploy'], ['--dry-run', 'deploy'], ['local', 'configs/default.py'],
    ['tpu-setup', 'my-tpu'], ['--dry-run', 'tpu', 'my-tpu', 'zone', 'c.py'],
], ids=str)
def test_usage_error_exits_2_with_the_usage_text(args, fakes):
  result = launch(*args, env=fakes)
  assert result.returncode == 2
  assert result.stdout.splitlines() == usage_text()
  assert 'launch.sh [--dry-run] tpu TPU_NAME ZONE CONFIG WORKDIR' in result.stdout
  assert tool_calls(fakes) == [] and not os.path.exists(fakes['LAUNCH_RECORD'])
