"""Run files through etils.epath: atomic writes, whole-line logs, gs:// paths.

gs:// is tested offline: fsspec's `gs`/`gcs` protocols are pointed at an
in-memory file system that, like an object store, has no append. epath's
fsspec backend (the one it uses for gs:// when TensorFlow is absent) then
serves every gs:// path the package touches, exactly as it would serve gcsfs.
Orbax checkpoints are not covered: they go through tensorstore's own GCS driver.
"""

import importlib
import json
import os
import struct

import ml_collections
import pytest
from etils import epath
from fsspec.implementations.memory import MemoryFileSystem
from tensorboardX.proto import event_pb2

from cnn_vs_rnn import evaluate, fileio, metric_writer, train
from cnn_vs_rnn.errors import ConfigError


class FakeGcs(MemoryFileSystem):
  """gs:// held in memory; like an object store it has no append."""
  protocol = ('gs', 'gcs')
  store = {}
  pseudo_dirs = ['']

  @classmethod
  def _strip_protocol(cls, path):
    if isinstance(path, str):
      for prefix in ('gs://', 'gcs://'):
        path = path.removeprefix(prefix)
    return super()._strip_protocol(path)

  def _open(self, path, mode='rb', **kwargs):
    if 'a' in mode or '+' in mode:
      raise NotImplementedError(f'object stores have no mode {mode!r}')
    return super()._open(path, mode, **kwargs)


@pytest.fixture
def gcs(monkeypatch):
  """'gs://bucket', served from memory through epath's fsspec backend."""
  registry = importlib.import_module('fsspec.registry')._registry  # pylint: disable=protected-access
  for name in ('gs', 'gcs'):
    monkeypatch.setitem(registry, name, FakeGcs)
  type(epath.backend.fsspec_backend)._get_filesystem.cache_clear()  # pylint: disable=protected-access
  FakeGcs.clear_instance_cache()
  FakeGcs.store.clear()
  FakeGcs.pseudo_dirs[:] = ['']
  yield 'gs://bucket'
  type(epath.backend.fsspec_backend)._get_filesystem.cache_clear()  # pylint: disable=protected-access
  FakeGcs.clear_instance_cache()


def stored(prefix='/bucket/'):
  return sorted(k for k in FakeGcs.store if k.startswith(prefix))


# ---------------------------------------------------------------------------
# Local files.


def test_write_json_replaces_the_file_whole_and_leaves_no_temporary(tmp_path):
  path = tmp_path / 'sub' / 'final_metrics.json'
  fileio.write_json(path, {'a': 1})
  fileio.write_json(path, {'b': 2}, indent=2)
  assert json.loads(path.read_text()) == {'b': 2}
  assert os.listdir(tmp_path / 'sub') == ['final_metrics.json']


def test_a_write_that_fails_before_the_rename_keeps_the_old_file(tmp_path, monkeypatch):
  path = tmp_path / 'config.json'
  fileio.write_json(path, {'old': True})

  def fail(self, target):
    raise OSError(28, 'No space left on device')
  monkeypatch.setattr(type(epath.Path(str(path))), 'replace', fail)
  with pytest.raises(OSError, match='No space left'):
    fileio.write_json(path, {'new': True})
  assert json.loads(path.read_text()) == {'old': True}
  assert os.listdir(tmp_path) == ['config.json']


def test_a_line_cut_off_by_a_crash_never_merges_with_the_next(tmp_path):
  path = tmp_path / 'metrics.jsonl'
  path.write_text('{"step": 1}\n{"step": 2, "train/lo')  # killed mid-write
  fileio.append_line(path, '{"step": 3}')
  fileio.append_line(path, '{"step": 4}')
  assert path.read_text() == '{"step": 1}\n{"step": 2, "train/lo\n{"step": 3}\n{"step": 4}\n'
  assert [r['step'] for r in fileio.parse_lines(path.read_text())] == [1, 3, 4]


def test_reopening_a_log_drops_cut_off_lines_and_steps_past_the_resume_point(tmp_path):
  path = tmp_path / 'metrics.jsonl'
  path.write_text('{"step": 1}\n{"step": 2}\n{"step": 3}\n{"step": 4, "tr')
  log = fileio.JsonLines(path, keep=lambda r: r['step'] <= 2)
  assert path.read_text() == '{"step": 1}\n{"step": 2}\n'
  log.append({'step': 3, 'x': 0.5})
  assert [r['step'] for r in log.read()] == [1, 2, 3]
  assert os.listdir(tmp_path) == ['metrics.jsonl']


def test_metric_writer_resume_keeps_lines_up_to_the_checkpoint(tmp_path):
  writer = metric_writer.MetricWriter(tmp_path, 0)
  for step in (1, 2, 3):
    writer.write(step, {'train/loss': float(step)})
  writer.close()
  with open(tmp_path / 'metrics.jsonl', 'a') as f:
    f.write('{"step": 4, "train/lo')
  writer = metric_writer.MetricWriter(tmp_path, resume_step=2)
  writer.write(3, {'train/loss': 9.0})
  writer.close()
  rows = [json.loads(l) for l in open(tmp_path / 'metrics.jsonl')]
  assert rows == [{'step': 1, 'train/loss': 1.0}, {'step': 2, 'train/loss': 2.0},
                  {'step': 3, 'train/loss': 9.0}]


def test_null_writer_writes_nothing(tmp_path):
  writer = metric_writer.open_writer(tmp_path / 'run', 0, primary=False)
  writer.write(1, {'train/loss': 1.0})
  writer.close()
  assert not os.path.exists(tmp_path / 'run')


# ---------------------------------------------------------------------------
# gs:// through epath's fsspec backend (in memory).


def test_fake_gcs_is_served_by_epaths_fsspec_backend(gcs):
  path = epath.Path(gcs) / 'x'
  assert path._backend is epath.backend.fsspec_backend  # pylint: disable=protected-access
  path.write_text('hello')
  assert stored() == ['/bucket/x']
  with pytest.raises(NotImplementedError):
    path.open('a')


def test_run_record_and_workdir_check_on_gcs(gcs):
  config = ml_collections.ConfigDict({'seed': 0, 'model': {'name': 'cnn1d'}})
  workdir = f'{gcs}/run'
  assert train.check_workdir(config, workdir) is False
  train.write_run_record(config, workdir)
  assert stored() == ['/bucket/run/config.json']
  assert train.check_workdir(config, workdir) is True
  other = ml_collections.ConfigDict({'seed': 1, 'model': {'name': 'cnn1d'}})
  assert train.check_workdir(other, workdir) is False  # No checkpoint: may start over.
  fileio.write_bytes(f'{workdir}/checkpoints/2/commit_success.txt', b'')
  with pytest.raises(ConfigError, match='holds a run of another config'):
    train.check_workdir(other, workdir)
  assert evaluate.run_config(workdir) == config
  with pytest.raises(ConfigError, match='holds no run'):
    evaluate.run_config(f'{gcs}/empty')
  fileio.write_bytes(f'{gcs}/file', b'x')
  with pytest.raises(ConfigError, match='is a file'):
    train.check_workdir(config, f'{gcs}/file')


def read_event_scalars(data: bytes) -> list[tuple[str, int, float]]:
  """(tag, step, value) of every scalar in a TensorBoard event file's bytes."""
  out, offset = [], 0
  while offset < len(data):
    (length,) = struct.unpack('<Q', data[offset:offset + 8])
    event = event_pb2.Event.FromString(data[offset + 12:offset + 12 + length])
    offset += 12 + length + 4
    out += [(v.tag, event.step, v.simple_value) for v in event.summary.value]
  return out


def test_metrics_and_tensorboard_on_gcs_without_append(gcs):
  workdir = f'{gcs}/run'
  writer = metric_writer.MetricWriter(workdir, 0)
  writer.write(1, {'train/loss': 2.0})
  writer.write(2, {'train/loss': 1.0, 'eval/accuracy': 0.5})
  writer.close()
  lines = epath.Path(f'{workdir}/metrics.jsonl').read_text().splitlines()
  assert [json.loads(l) for l in lines] == [
      {'step': 1, 'train/loss': 2.0}, {'step': 2, 'train/loss': 1.0, 'eval/accuracy': 0.5}]
  events = [k for k in stored() if k.startswith('/bucket/run/tensorboard/events.out.tfevents')]
  assert len(events) == 1
  scalars = read_event_scalars(FakeGcs.store[events[0]].getvalue())
  assert scalars == [('train/loss', 1, 2.0), ('train/loss', 2, 1.0), ('eval/accuracy', 2, 0.5)]
  # Resuming at step 1 rewrites the log (no append) without step 2.
  writer = metric_writer.MetricWriter(workdir, resume_step=1)
  writer.write(2, {'train/loss': 0.75})
  writer.close()
  lines = epath.Path(f'{workdir}/metrics.jsonl').read_text().splitlines()
  assert [json.loads(l)['train/loss'] for l in lines] == [2.0, 0.75]
  assert not [k for k in stored() if '.tmp-' in k]


def test_final_metrics_and_quarantine_moves_on_gcs(gcs):
  fileio.write_json(f'{gcs}/run/final_metrics.json', {'step': 4}, indent=2)
  assert fileio.read_json(f'{gcs}/run/final_metrics.json') == {'step': 4}
  for rel in ('state/_METADATA', 'state/d/abc', 'data/metadata'):
    epath.Path(f'{gcs}/run/checkpoints/4/{rel}').parent.mkdir(parents=True, exist_ok=True)
    epath.Path(f'{gcs}/run/checkpoints/4/{rel}').write_text(rel)
  fileio.write_text(f'{gcs}/run/corrupt_checkpoints/4/old', 'an earlier quarantine')
  dest = fileio.free_name(f'{gcs}/run/corrupt_checkpoints/4')
  assert os.fspath(dest) == f'{gcs}/run/corrupt_checkpoints/4.1'
  fileio.move(f'{gcs}/run/checkpoints/4', dest)
  assert stored('/bucket/run/c') == [
      '/bucket/run/corrupt_checkpoints/4.1/data/metadata',
      '/bucket/run/corrupt_checkpoints/4.1/state/_METADATA',
      '/bucket/run/corrupt_checkpoints/4.1/state/d/abc',
      '/bucket/run/corrupt_checkpoints/4/old']
