"""Which failures to read a checkpoint quarantine it, and which stop the run.

Missing or garbled files are moved to corrupt_checkpoints/ and the previous
step is used. Permission and I/O errors, and a checkpoint that does not fit
the config, stop with a RunError naming the step's path, moving nothing.
"""

import builtins
import errno
import glob
import hashlib
import json
import os
import shutil

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import struct

from cnn_vs_rnn import configlib, parallel, train
from cnn_vs_rnn import fileio
from cnn_vs_rnn.checkpointing import (FILES, Checkpointer, CorruptCheckpoint,
                                      corrupt_or_failed, damage_in)
from cnn_vs_rnn.errors import RunError, run_command
from conftest import CONFIG_DIR, tiny


class State(struct.PyTreeNode):
  """A dataclass like train.TrainState: without its tree metadata orbax reads a dict."""
  step: jax.Array
  params: dict


def small_state(seed=0):
  repl = parallel.replicated(parallel.make_mesh())
  w = np.random.default_rng(seed).standard_normal((64, 64)).astype(np.float32)
  return jax.device_put(State(jnp.int32(2), {'w': w, 'b': jnp.ones(4)}), repl)


def abstract(state, reshape=None):
  return jax.tree.map(lambda x: jax.ShapeDtypeStruct(
      reshape(x.shape) if reshape else x.shape, x.dtype, sharding=x.sharding), state)


@pytest.fixture(scope='module')
def saved(tmp_path_factory):
  """A workdir with checkpoints at steps 2 (seed 2) and 4 (seed 4)."""
  workdir = tmp_path_factory.mktemp('ckpt') / 'run'
  ckpt = Checkpointer(workdir, 3)
  ckpt.save(2, small_state(2), {'position': 2})
  ckpt.save(4, small_state(4), {'position': 4})
  ckpt.close()
  return workdir


@pytest.fixture
def workdir(saved, tmp_path):
  copy = tmp_path / 'run'
  shutil.copytree(saved, copy)
  return copy


def step_files(workdir, step, pattern):
  files = [p for p in glob.glob(os.path.join(workdir, 'checkpoints', str(step), pattern),
                                recursive=True) if os.path.isfile(p)]
  assert files, pattern
  return files


def delete(pattern):
  return lambda workdir: [os.remove(p) for p in step_files(workdir, 4, pattern)]


def garble(pattern):
  def damage(workdir):
    for p in step_files(workdir, 4, pattern):
      with open(p, 'wb') as f:
        f.write(b'garbage')
  return damage


def restore_latest(workdir, abstract_state=None):
  ckpt = Checkpointer(workdir, 3)
  try:
    return ckpt.restore_latest(abstract_state or abstract(small_state()))
  finally:
    ckpt.close()


@pytest.mark.parametrize('damage', [
    delete('state/_METADATA'), delete('state/manifest.ocdbt'), delete('state/d/*'),
    delete('data/metadata'), lambda w: shutil.rmtree(w / 'checkpoints' / '4' / 'state'),
    garble('state/**'), garble('state/_METADATA'), garble('state/manifest.ocdbt'),
    garble('state/d/*'), garble('state/ocdbt.process_0/d/*'), garble('data/metadata'),
], ids=['del_metadata', 'del_manifest', 'del_data', 'del_data_state', 'del_state_dir',
        'garble_all', 'garble_metadata', 'garble_manifest', 'garble_data',
        'garble_chunks', 'garble_data_state'])
def test_missing_or_garbled_files_are_quarantined(workdir, damage, capsys):
  damage(workdir)
  state, data_state, step = restore_latest(workdir)
  assert step == 2 and data_state['position'] == 2
  np.testing.assert_array_equal(state.params['w'], small_state(2).params['w'])
  assert os.listdir(workdir / 'corrupt_checkpoints') == ['4']
  assert os.listdir(workdir / 'checkpoints') == ['2']
  assert 'checkpoint at step 4 is unreadable' in capsys.readouterr().err


def assert_stops_and_moves_nothing(workdir, error_fragment, abstract_state=None):
  with pytest.raises(RunError) as e:
    restore_latest(workdir, abstract_state)
  message = str(e.value)
  assert len(message.splitlines()) == 1
  assert str(workdir / 'checkpoints' / '4') in message
  assert error_fragment in message and 'nothing was moved' in message
  assert not os.path.exists(workdir / 'corrupt_checkpoints')
  assert sorted(os.listdir(workdir / 'checkpoints')) == ['2', '4']


@pytest.mark.parametrize('error', [
    PermissionError(errno.EACCES, 'Permission denied'),
    OSError(errno.EIO, 'Input/output error'),
    OSError(errno.ENOSPC, 'No space left on device'),
])
def test_an_environment_error_reading_a_file_stops_without_quarantine(workdir, error,
                                                                      monkeypatch):
  """The error comes from opening a checkpoint file, through orbax's own reading code."""
  target = str(workdir / 'checkpoints' / '4' / 'data' / 'metadata')
  real_open = builtins.open

  def failing_open(file, *args, **kwargs):
    if not isinstance(file, int) and os.fspath(file) == target:
      raise type(error)(error.errno, error.strerror, target)
    return real_open(file, *args, **kwargs)
  monkeypatch.setattr(builtins, 'open', failing_open)
  assert_stops_and_moves_nothing(workdir, error.strerror)


@pytest.mark.parametrize('error', [
    PermissionError(errno.EACCES, 'Permission denied'),
    OSError(errno.EIO, 'Input/output error'),
    ValueError('PERMISSION_DENIED: Error reading local file "x/d/abc": [OS error: 13]'),
    ValueError('UNAVAILABLE: Error reading "params.w/0.0": Input/output error'),
    ValueError('RESOURCE_EXHAUSTED: No space left on device'),
])
def test_any_other_restore_error_stops_without_quarantine(workdir, error, monkeypatch):
  """Also tensorstore's messages for the same errno values (as orbax raises them)."""
  def fail(self, step, abstract_state, check_data=None):
    raise error
  monkeypatch.setattr(Checkpointer, 'restore', fail)
  assert_stops_and_moves_nothing(workdir, str(error).split(':')[0])


def test_a_checkpoint_of_other_shapes_stops_without_quarantine(workdir):
  wrong = abstract(small_state(), reshape=lambda s: tuple(d + 1 for d in s))
  assert_stops_and_moves_nothing(workdir, 'stored shape', wrong)


def test_files_json_lists_every_file_of_a_complete_step(saved):
  step_dir = fileio.as_path(saved / 'checkpoints' / '4')
  files = json.loads((step_dir / FILES).read_text())
  on_disk = sorted(os.path.relpath(p, step_dir) for p in glob.glob(
      os.path.join(step_dir, '**'), recursive=True) if os.path.isfile(p))
  assert sorted(files) == [p for p in on_disk if p != FILES]
  for rel, (size, sha) in files.items():
    data = (step_dir / rel).read_bytes()
    assert size == len(data) and sha == hashlib.sha256(data).hexdigest()
  assert damage_in(step_dir) is None


def test_evidence_of_damage_comes_from_files_json(workdir):
  step_dir = fileio.as_path(workdir / 'checkpoints' / '4')
  chunk = sorted(step_files(workdir, 4, 'state/**/d/*'))[0]
  rel = os.path.relpath(chunk, step_dir)
  flip_a_bit(chunk)
  assert damage_in(step_dir) == f'file {rel} is not as written'
  os.remove(chunk)
  assert damage_in(step_dir) == f'file {rel} is missing'
  (step_dir / FILES).write_text('{"state/x": [1, ')
  assert damage_in(step_dir) == f'its {FILES} does not parse'
  os.remove(step_dir / FILES)
  assert 'its save did not finish' in damage_in(step_dir)


def test_only_the_projects_evidence_makes_an_error_a_corrupt_checkpoint(workdir):
  """Whatever the library raised (its type and text are not read), the step's files
  decide: as written -> the error itself; damaged -> CorruptCheckpoint."""
  step_dir = fileio.as_path(workdir / 'checkpoints' / '4')
  error = ValueError('NOT_FOUND: Error opening "zarr" driver')  # Text that once meant damage.
  assert corrupt_or_failed(error, step_dir) is error
  flip_a_bit(step_files(workdir, 4, 'data/metadata')[0])
  corrupt = corrupt_or_failed(error, step_dir)
  assert isinstance(corrupt, CorruptCheckpoint)
  assert str(corrupt).startswith('file data/metadata is not as written; ValueError: NOT_FOUND')
  # An OSError in the chain is the environment, however damaged the files look.
  try:
    try:
      raise PermissionError(errno.EACCES, 'denied')
    except PermissionError as e:
      raise ValueError('while reading') from e
  except ValueError as e:
    assert corrupt_or_failed(e, step_dir) is e


def test_a_step_whose_save_was_cut_short_restores_on_its_checksum(workdir):
  """A process killed after orbax's commit and before files.json: the arrays decide."""
  os.remove(workdir / 'checkpoints' / '4' / FILES)
  _, data_state, step = restore_latest(workdir)
  assert step == 4 and data_state['position'] == 4


def test_training_stops_with_exit_code_1_and_one_line(tmp_path, mnist1d, monkeypatch, capsys):
  config = tiny(configlib.load_config_file(os.path.join(CONFIG_DIR, 'mnist1d_cnn.py')),
                steps=2, every=2)
  workdir = tmp_path / 'run'
  train.train_and_evaluate(config, str(workdir))
  capsys.readouterr()

  def fail(self, step, abstract_state, check_data=None):
    raise PermissionError(errno.EACCES, 'Permission denied', 'some/file')
  monkeypatch.setattr(Checkpointer, 'restore', fail)
  assert run_command(lambda: train.train_and_evaluate(config, str(workdir))) == 1
  err = capsys.readouterr().err.strip().splitlines()
  assert len(err) == 1 and err[0].startswith('error: cannot read checkpoint ')
  assert str(workdir / 'checkpoints' / '2') in err[0] and 'Permission denied' in err[0]
  assert os.listdir(workdir / 'checkpoints') == ['2']
  assert not os.path.exists(workdir / 'corrupt_checkpoints')


def flip_a_bit(path):
  """Flips one bit in the middle of the file at `path`."""
  data = bytearray(open(path, 'rb').read())
  data[len(data) // 2] ^= 0x10
  open(path, 'wb').write(bytes(data))


def test_checksum_mismatch_is_quarantined(workdir, capsys, monkeypatch):
  """Arrays that read without error but differ from what was saved (a flipped bit that
  the compression did not catch: simulated by changing the saved checksum)."""
  import json  # pylint: disable=g-import-not-at-top
  path = workdir / 'checkpoints' / '4' / 'data' / 'metadata'
  meta = json.loads(path.read_text())
  meta['checksum'] = '0' * 64
  path.write_text(json.dumps(meta))
  state, data_state, step = restore_latest(workdir)
  assert step == 2 and data_state['position'] == 2
  assert os.listdir(workdir / 'corrupt_checkpoints') == ['4']
  assert 'do not match the checksum' in capsys.readouterr().err


def test_a_flipped_bit_in_array_data_never_restores_silently(workdir, capsys):
  chunks = sorted(glob.glob(str(workdir / 'checkpoints' / '4' / 'state' / 'ocdbt.process_0'
                                / 'd' / '*')))
  assert chunks
  for chunk in chunks:
    flip_a_bit(chunk)
  state, _, step = restore_latest(workdir)
  assert step == 2  # Step 4 was refused, whichever check caught it.
  np.testing.assert_array_equal(state.params['w'], small_state(2).params['w'])
  assert os.listdir(workdir / 'corrupt_checkpoints') == ['4']


def test_non_finite_restored_parameters_are_quarantined(tmp_path, capsys):
  workdir = tmp_path / 'run'
  ckpt = Checkpointer(workdir, 3)
  ckpt.save(2, small_state(2), {'position': 2})
  bad = small_state(4)
  bad = bad.replace(params={**bad.params, 'b': bad.params['b'] * jnp.nan})
  ckpt.save(4, bad, {'position': 4})
  ckpt.close()
  _, _, step = restore_latest(workdir)
  assert step == 2
  assert 'not finite' in capsys.readouterr().err


def test_a_config_error_from_the_saved_data_stops_and_moves_nothing(workdir):
  from cnn_vs_rnn.errors import ConfigError  # pylint: disable=g-import-not-at-top

  def check(data_state):
    raise ConfigError(f'another config at position {data_state["position"]}')
  ckpt = Checkpointer(workdir, 3)
  try:
    with pytest.raises(ConfigError, match='position 4'):
      ckpt.restore_latest(abstract(small_state()), check_data=check)
  finally:
    ckpt.close()
  assert not os.path.exists(workdir / 'corrupt_checkpoints')
