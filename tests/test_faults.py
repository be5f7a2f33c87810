"""Faults injected into real training processes: signals, damaged checkpoints, garbled
metrics, two runs on one workdir, full and read-only disks; and what survives them."""

import contextlib
import errno
import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np
import pytest

from conftest import CONFIG_DIR, REPO
from test_checkpointing import flip_a_bit
from test_train import checkpoint_arrays


def cli(workdir, *overrides):
  return [sys.executable, '-m', 'cnn_vs_rnn.train', '--config',
          os.path.join(CONFIG_DIR, 'mnist1d_cnn.py'), '--workdir', workdir,
          '--config.num_train_steps=1500', '--config.data.batch_size=8',
          '--config.data.eval_batch_size=200', '--config.log_every_steps=100',
          '--config.eval_every_steps=100000', '--config.checkpoint_every_steps=1000',
          *overrides]


def start_and_signal(workdir, signum, *overrides, after_step=200):
  """Starts a run, sends `signum` once it has logged `after_step`; (returncode, stdout, stderr)."""
  proc = subprocess.Popen(cli(workdir, *overrides), cwd=REPO, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)
  lines = []
  deadline = time.time() + 180
  for line in proc.stdout:
    lines.append(line)
    if line.startswith(f'step {after_step}/') or time.time() > deadline:
      break
  time.sleep(0.05)  # Into the middle of the next steps.
  proc.send_signal(signum)
  out, err = proc.communicate(timeout=180)
  return proc.returncode, ''.join(lines) + out, err


@pytest.mark.parametrize('signum,code,loop', [(signal.SIGTERM, 143, 1),
                                              (signal.SIGINT, 130, 1),
                                              (signal.SIGTERM, 143, 10)])
def test_signal_saves_a_checkpoint_and_resume_is_bitwise_identical(tmp_path, uninterrupted_k,
                                                                   signum, code, loop):
  loop_flag = f'--config.steps_per_loop={loop}'
  stopped = str(tmp_path / 'stopped')
  rc, out, err = start_and_signal(stopped, signum, loop_flag)
  assert rc == code, err
  assert 'Traceback' not in err
  errors = [l for l in err.splitlines() if l.startswith('error: ')]
  assert len(errors) == 1 and f'stopped by {signal.Signals(signum).name} at step' in errors[0]
  step = int(errors[0].split(' at step ')[1].split(';')[0])
  assert 200 <= step < 1000 and step % loop == 0  # Before the first periodic checkpoint.
  assert os.listdir(os.path.join(stopped, 'checkpoints')) == [str(step)]
  rows = [json.loads(l) for l in open(os.path.join(stopped, 'metrics.jsonl'))]
  assert rows[-1]['step'] == (step // 100) * 100  # Flushed up to the last log step.

  resumed = subprocess.run(cli(stopped, loop_flag), cwd=REPO, capture_output=True, text=True)
  assert resumed.returncode == 0, resumed.stderr
  assert f'Resuming from step {step}' in resumed.stdout
  ref = uninterrupted_k(loop)
  for a, b in zip(checkpoint_arrays(ref, 1500), checkpoint_arrays(stopped, 1500)):
    np.testing.assert_array_equal(a, b)
  for name in ('final_metrics.json', 'metrics.jsonl'):
    assert (open(os.path.join(ref, name)).read() ==
            open(os.path.join(stopped, name)).read()), name


# ---------------------------------------------------------------------------
# Damaged checkpoints, garbled metrics, two runs at once, full and read-only disks.


def tool(name, *args):
  return [sys.executable, '-m', f'cnn_vs_rnn.{name}', *args]


def run(argv, timeout=300, **kwargs):
  return subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=timeout,
                        **kwargs)


def short(workdir, *overrides):
  """A 20-step run of cli(): checkpoints at steps 10 and 20, logs every 5."""
  return cli(workdir, '--config.num_train_steps=20', '--config.log_every_steps=5',
             '--config.eval_every_steps=10', '--config.checkpoint_every_steps=10', *overrides)


def only_line(stderr, prefix='error: '):
  """The one line on stderr, which starts with `prefix`; no traceback."""
  assert 'Traceback' not in stderr, stderr
  lines = stderr.strip().splitlines()
  assert len(lines) == 1, stderr
  assert lines[0].startswith(prefix), lines[0]
  return lines[0]


def read(path, mode='r'):
  with open(path, mode) as f:
    return f.read()


def steps_in(workdir):
  path = os.path.join(workdir, 'checkpoints')
  return sorted(int(n) for n in os.listdir(path) if n.isdigit()) if os.path.isdir(path) else []


def flip_bits(workdir, step):
  """Flips a bit in the middle of every array data file of checkpoint `step`."""
  chunks = glob.glob(os.path.join(workdir, 'checkpoints', str(step), 'state',
                                  'ocdbt.process_0', 'd', '*'))
  assert chunks
  for chunk in chunks:
    flip_a_bit(chunk)


def assert_same_run(a, b, step):
  """Bitwise the same checkpoint at `step`, metrics.jsonl and final_metrics.json."""
  for x, y in zip(checkpoint_arrays(a, step), checkpoint_arrays(b, step), strict=True):
    np.testing.assert_array_equal(x, y)
  for name in ('metrics.jsonl', 'final_metrics.json'):
    assert read(os.path.join(a, name)) == read(os.path.join(b, name)), name


@pytest.fixture(scope='module')
def finished(tmp_path_factory, mnist1d):
  """A finished short() run, checkpoints at steps 10 and 20; copy it before changing it."""
  del mnist1d
  workdir = str(tmp_path_factory.mktemp('finished') / 'run')
  result = run(short(workdir))
  assert result.returncode == 0, result.stderr
  assert steps_in(workdir) == [10, 20]
  return workdir


def copy_of(workdir, tmp_path, name='run'):
  copy = str(tmp_path / name)
  shutil.copytree(workdir, copy)
  return copy


def test_evaluate_skips_a_flipped_bit_with_one_warning(finished, tmp_path):
  workdir = copy_of(finished, tmp_path)
  flip_bits(workdir, 20)
  result = run(tool('evaluate', '--workdir', workdir))
  assert result.returncode == 0, result.stderr
  warning = only_line(result.stderr, 'warning: ')
  assert 'checkpoint at step 20 is unreadable' in warning and 'skipped it' in warning
  good = run(tool('evaluate', '--workdir', finished, '--step', '10'))
  assert good.returncode == 0, good.stderr
  assert json.loads(result.stdout) == json.loads(good.stdout)
  assert json.loads(result.stdout)['step'] == 10
  # Reading moves nothing.
  assert steps_in(workdir) == [10, 20]
  assert not os.path.exists(os.path.join(workdir, 'corrupt_checkpoints'))


def test_evaluate_of_a_flipped_bit_by_step_is_one_line(finished, tmp_path):
  workdir = copy_of(finished, tmp_path)
  flip_bits(workdir, 20)
  result = run(tool('evaluate', '--workdir', workdir, '--step', '20'))
  assert result.returncode == 1, result.stderr
  line = only_line(result.stderr)
  assert f'cannot read checkpoint {workdir}/checkpoints/20 (' in line, line
  assert 'the other steps are 10' in line
  assert result.stdout == ''


def test_training_quarantines_a_flipped_bit_and_redoes_the_steps(finished, tmp_path):
  workdir = copy_of(finished, tmp_path)
  flip_bits(workdir, 20)
  result = run(short(workdir))
  assert result.returncode == 0, result.stderr
  warning = only_line(result.stderr, 'warning: ')
  assert 'checkpoint at step 20 is unreadable' in warning
  assert f'moved it to {workdir}/corrupt_checkpoints/20' in warning
  assert 'Resuming from step 10 ' in result.stdout
  assert os.listdir(os.path.join(workdir, 'corrupt_checkpoints')) == ['20']
  assert steps_in(workdir) == [10, 20]
  assert_same_run(finished, workdir, 20)  # As if step 20 had never been damaged.


def test_every_checkpoint_damaged_stops_with_one_error_then_starts_over(finished, tmp_path):
  workdir = copy_of(finished, tmp_path)
  flip_bits(workdir, 10)
  flip_bits(workdir, 20)
  result = run(short(workdir))
  assert result.returncode == 1, result.stderr
  assert 'Traceback' not in result.stderr
  lines = result.stderr.strip().splitlines()
  assert [l.split(' is ')[0] for l in lines[:-1]] == [
      'warning: checkpoint at step 20', 'warning: checkpoint at step 10']
  assert lines[-1].startswith(f'error: no readable checkpoint in {workdir}/checkpoints: '
                              'steps [20, 10] are corrupt'), lines[-1]
  assert sorted(os.listdir(os.path.join(workdir, 'corrupt_checkpoints'))) == ['10', '20']
  again = run(short(workdir))
  assert again.returncode == 0, again.stderr
  assert again.stderr == '' and 'Resuming' not in again.stdout
  assert_same_run(finished, workdir, 20)


@pytest.fixture(scope='module')
def uninterrupted(tmp_path_factory, mnist1d):
  """cli() run to the end without interruption."""
  del mnist1d
  workdir = str(tmp_path_factory.mktemp('uninterrupted') / 'run')
  result = run(cli(workdir))
  assert result.returncode == 0, result.stderr
  return workdir


@pytest.fixture(scope='module')
def uninterrupted_k(tmp_path_factory, uninterrupted):
  """K -> cli() run to the end with steps_per_loop=K, each run once per module: K=1
  is the config's default, so `uninterrupted` itself."""
  runs = {1: uninterrupted}

  def get(loop):
    if loop not in runs:
      workdir = str(tmp_path_factory.mktemp(f'uninterrupted_k{loop}') / 'run')
      result = run(cli(workdir, f'--config.steps_per_loop={loop}'))
      assert result.returncode == 0, result.stderr
      runs[loop] = workdir
    return runs[loop]
  return get


def test_garbled_metrics_are_reported_in_one_line_and_the_readable_ones_kept(tmp_path,
                                                                             uninterrupted):
  stopped = str(tmp_path / 'stopped')
  rc, _, err = start_and_signal(stopped, signal.SIGTERM)
  assert rc == 143, err
  step = int(err.split(' at step ')[1].split(';')[0])
  path = os.path.join(stopped, 'metrics.jsonl')
  lines = read(path, 'rb').splitlines(keepends=True)
  assert [json.loads(l)['step'] for l in lines] == list(range(100, step // 100 * 100 + 1, 100))
  binary = bytes(b for b in range(256) if b not in b'\n\r')  # One line of garbage.
  logged_later = json.dumps({'step': step + 50, 'train/loss': 9.0}).encode() + b'\n'
  with open(path, 'wb') as f:
    f.write(lines[0] + binary + b'\n' + b'{"step": 150, "train/loss": \n' + b''.join(lines[1:])
            + logged_later + b'{"step": 99999, "train/lo')  # Cut off in the last line.
  resumed = run(cli(stopped))
  assert resumed.returncode == 0, resumed.stderr
  warning = only_line(resumed.stderr, 'warning: ')
  assert f'{path} had 3 unreadable line(s)' in warning, warning
  assert f'up to step {step}' in warning
  text = read(path, 'rb')
  assert text.endswith(b'\n')
  rows = [json.loads(l) for l in text.decode('utf-8').splitlines()]  # Valid JSON lines.
  train_steps = [r['step'] for r in rows if 'train/loss' in r]
  assert train_steps == list(range(100, 1501, 100))  # Each step once, the line at step+50 gone.
  # Every readable line up to the resume step kept, the rest as an uninterrupted run logs it.
  assert text == read(os.path.join(uninterrupted, 'metrics.jsonl'), 'rb')


def test_a_second_run_on_a_workdir_in_use_exits_2_naming_the_first(tmp_path, uninterrupted):
  workdir = str(tmp_path / 'run')
  first = subprocess.Popen(cli(workdir), cwd=REPO, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
  try:
    for line in first.stdout:
      if line.startswith('step 1100/'):  # After the checkpoint at step 1000.
        break
    first.send_signal(signal.SIGSTOP)  # Holds the workdir while the others start.
    second = run(cli(workdir))
    reader = run(tool('evaluate', '--workdir', workdir))  # Readers take no lock.
  finally:
    first.send_signal(signal.SIGCONT)
  _, err = first.communicate(timeout=300)
  assert first.returncode == 0, err
  assert second.returncode == 2, second.stderr
  line = only_line(second.stderr)
  assert f"workdir '{workdir}' is in use by another training run (PID {first.pid})" in line
  assert second.stdout == '' or 'Resuming' not in second.stdout
  assert reader.returncode == 0, reader.stderr
  assert json.loads(reader.stdout)['step'] == 1000
  rows = [json.loads(l) for l in read(os.path.join(workdir, 'metrics.jsonl')).splitlines()]
  for kind in ('train/loss', 'eval/loss'):
    steps = [r['step'] for r in rows if kind in r]
    assert len(steps) == len(set(steps)), (kind, steps)
  assert [r['step'] for r in rows if 'train/loss' in r] == list(range(100, 1501, 100))
  assert_same_run(uninterrupted, workdir, 1500)


# --- Full and read-only file systems (tmpfs mounts: root only).


@contextlib.contextmanager
def tmpfs(path, size):
  """A tmpfs of `size` mounted at `path` (created), unmounted afterwards; skips the
  test where mounting is not permitted."""
  os.makedirs(path, exist_ok=True)
  mounted = subprocess.run(['mount', '-t', 'tmpfs', '-o', f'size={size}', 'tmpfs', path],
                           capture_output=True, text=True)
  if mounted.returncode != 0:
    pytest.skip(f'cannot mount a tmpfs here (mount exited {mounted.returncode}: '
                f'{mounted.stderr.strip()})')
  try:
    yield path
  finally:
    if subprocess.run(['umount', path]).returncode != 0:
      subprocess.run(['umount', '--lazy', path], check=True)


def remount(path, options):
  subprocess.run(['mount', '-o', f'remount,{options}', path], check=True)


FULL = ('--config.num_train_steps=40', '--config.log_every_steps=1',
        '--config.checkpoint_every_steps=1', '--config.max_checkpoints_to_keep=100')


def test_a_full_disk_stops_with_one_line_and_keeps_the_checkpoints_before_it(
    tmp_path, mnist1d):
  del mnist1d
  ref = str(tmp_path / 'ref')
  assert run(cli(ref, *FULL)).returncode == 0
  with tmpfs(str(tmp_path / 'small'), '3m') as small:  # ~18 checkpoints of 156 kB fit.
    workdir = os.path.join(small, 'run')
    result = run(cli(workdir, *FULL))
    assert result.returncode == 1, result.stderr
    line = only_line(result.stderr)
    assert 'No space left on device' in line and workdir in line, line
    done = steps_in(workdir)
    assert done and done[-1] < 40
    if line.startswith(f'error: cannot write checkpoint {workdir}/checkpoints/'):
      assert line.endswith(f'the newest complete checkpoint is step {done[-1]}')
    # The newest complete checkpoint is intact: it restores and passes its checksum.
    newest = run(tool('evaluate', '--workdir', workdir))
    assert newest.returncode == 0 and newest.stderr == '', newest.stderr
    assert json.loads(newest.stdout)['step'] == done[-1]
    # With room again, the same command resumes there and ends as if never stopped.
    remount(small, 'size=64m')
    resumed = run(cli(workdir, *FULL))
    assert resumed.returncode == 0, resumed.stderr
    assert f'Resuming from step {done[-1]} ' in resumed.stdout
    for x, y in zip(checkpoint_arrays(ref, 40), checkpoint_arrays(workdir, 40), strict=True):
      np.testing.assert_array_equal(x, y)
    assert read(os.path.join(ref, 'final_metrics.json')) == read(
        os.path.join(workdir, 'final_metrics.json'))


def test_a_disk_too_small_for_one_checkpoint_stops_with_one_line(tmp_path, mnist1d):
  del mnist1d
  with tmpfs(str(tmp_path / 'tiny'), '100k') as tiny:
    workdir = os.path.join(tiny, 'run')
    result = run(cli(workdir, *FULL))
    assert result.returncode == 1, result.stderr
    line = only_line(result.stderr)
    assert 'No space left on device' in line and workdir in line, line
    assert steps_in(workdir) == []


def test_a_full_tensorboard_directory_stops_the_run_instead_of_hanging(tmp_path, mnist1d):
  """tensorboardX's writer thread died on the error and the run then blocked for ever."""
  del mnist1d
  workdir = str(tmp_path / 'run')
  with tmpfs(os.path.join(workdir, 'tensorboard'), '8k'):
    result = run(cli(workdir, '--config.num_train_steps=400', '--config.log_every_steps=1'),
                 timeout=120)
    assert result.returncode == 1, result.stderr
    line = only_line(result.stderr)
    assert line.startswith(f"error: No space left on device: '{workdir}/tensorboard/events."), line


@pytest.fixture
def world_readable(tmp_path):
  """A directory that user nobody can enter (tmp_path's parents are root's alone)."""
  path = tempfile.mkdtemp(prefix='cnn_vs_rnn_faults_')
  os.chmod(path, 0o755)
  try:
    yield path
  finally:
    subprocess.run(['chmod', '-R', 'u+w', path], check=False)
    shutil.rmtree(path, ignore_errors=True)


def as_nobody(argv, env=None):
  """`argv` run as user nobody (65534); skips the test where that cannot work."""
  if os.geteuid() != 0 or not shutil.which('setpriv'):
    pytest.skip('needs root and setpriv to run a command as an unprivileged user')
  env = dict(os.environ if env is None else env)
  env.pop('JAX_COMPILATION_CACHE_DIR', None)  # The suite's cache is root's.
  return run(['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', *argv],
             env=env)


@pytest.mark.xfail(strict=True, reason='open defect: reading a prepared dataset from a TFDS '
                   'directory the user cannot write fails with EACCES on the dataset directory')
def test_a_read_only_workdir_for_an_unprivileged_user_is_one_line(finished, world_readable):
  """chmod 555 does not stop root, so the run is user nobody's."""
  base = world_readable
  data = os.path.join(base, 'tfds')
  shutil.copytree(os.environ['TFDS_DATA_DIR'], data)
  run_copy = os.path.join(base, 'run')
  shutil.copytree(finished, run_copy)
  os.remove(os.path.join(run_copy, '.lock'))
  empty = os.path.join(base, 'empty')
  os.mkdir(empty)
  env = {**os.environ, 'TFDS_DATA_DIR': data, 'HOME': base}
  # The dataset as this command's config names it, generated while data/ is writable.
  warm = run(short(os.path.join(base, 'warm')), env=env)
  assert warm.returncode == 0, warm.stderr
  subprocess.run(['chmod', '-R', 'a+rX,a-w', data, run_copy, empty], check=True)
  probe = as_nobody([sys.executable, '-c', 'import cnn_vs_rnn.train'], env)
  if probe.returncode != 0:
    pytest.skip('user nobody cannot read the virtualenv or the repository: '
                + (probe.stderr.strip().splitlines() or ['?'])[-1])
  for workdir in (empty, run_copy):
    result = as_nobody(short(workdir), env)
    assert result.returncode == 1, result.stderr
    line = only_line(result.stderr)
    # The first write refused: the workdir's lock, or the read-only data
    # directory if TFDS touches it first; either way one line naming the path.
    assert line.startswith("error: Permission denied: '") and line.endswith("' (EACCES)"), line
    assert f"'{workdir}/.lock'" in line or f"'{data}/" in line, line
  assert sorted(os.listdir(empty)) == []
  # Reading needs no write: evaluate works on the read-only run.
  result = as_nobody(tool('evaluate', '--workdir', run_copy), env)
  assert result.returncode == 0, result.stderr
  assert json.loads(result.stdout)['step'] == 20


def test_a_read_only_file_system_is_one_line(finished, tmp_path):
  with tmpfs(str(tmp_path / 'ro'), '3m') as ro:
    run_copy = copy_of(finished, tmp_path, 'ro/run')
    os.mkdir(os.path.join(ro, 'empty'))
    remount(ro, 'ro')
    for workdir in (os.path.join(ro, 'empty'), run_copy, os.path.join(ro, 'new')):
      result = run(short(workdir))
      assert result.returncode == 1, result.stderr
      line = only_line(result.stderr)
      assert line.startswith('error: Read-only file system: ') and workdir in line, line
      assert line.endswith('(EROFS)')
    result = run(tool('evaluate', '--workdir', run_copy))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)['step'] == 20


def test_a_failed_save_replaces_a_stop_by_signal_but_no_other_error(tmp_path, monkeypatch):
  """Checkpointer.close() runs in train's `finally`: a stop by SIGTERM claims its
  checkpoint was saved, so a save that failed in the background must replace it; any
  other error in flight stays the one reported."""
  from cnn_vs_rnn.checkpointing import Checkpointer  # pylint: disable=g-import-not-at-top
  from cnn_vs_rnn.errors import NonFiniteLossError  # pylint: disable=g-import-not-at-top
  from cnn_vs_rnn.preemption import Preempted  # pylint: disable=g-import-not-at-top
  ckpt = Checkpointer(tmp_path / 'run', 3)

  def fail():
    raise OSError(errno.ENOSPC, 'No space left on device')
  monkeypatch.setattr(ckpt._manager, 'wait_until_finished', fail)  # pylint: disable=protected-access
  ckpt._saving = 7  # pylint: disable=protected-access
  failed = (rf'^cannot write checkpoint {tmp_path}/run/checkpoints/7 \(No space left on '
            r'device \(ENOSPC\)\); no checkpoint was completed$')
  with pytest.raises(Exception, match=failed) as stopped:
    try:
      raise Preempted(7, signal.SIGTERM, 'there')
    finally:
      ckpt.close()
  assert not isinstance(stopped.value, Preempted)
  with pytest.raises(NonFiniteLossError):
    try:
      raise NonFiniteLossError(3, float('nan'))
    finally:
      ckpt.close()
  with pytest.raises(Exception, match=failed):
    ckpt.close()
