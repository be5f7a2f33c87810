"""metrics.jsonl, TensorBoard events (tensorboardX, no TensorFlow) and progress lines.

Files go through `cnn_vs_rnn.fileio` (etils.epath), so the workdir may be a
gs:// path. Only process 0 writes them: the other processes get a NullWriter.
"""

from __future__ import annotations

import datetime
import io
import os
import socket
import sys
import time

from tensorboardX import record_writer
from tensorboardX.proto.event_pb2 import Event, SessionLog
from tensorboardX.summary import scalar

from cnn_vs_rnn import fileio


class MetricWriter:
  """Appends one JSON object per logged step; on resume, drops lines past `resume_step`.

  A killed run may have logged steps after its last checkpoint; those steps are
  recomputed after resuming, so their old lines are removed first (and a line
  cut off by the kill with them).
  """

  def __init__(self, workdir, resume_step: int = 0):
    workdir = fileio.as_path(workdir)
    self.path = workdir / 'metrics.jsonl'
    self._lines = fileio.JsonLines(
        self.path, keep=lambda r: isinstance(r.get('step'), int) and r['step'] <= resume_step)
    if self._lines.unreadable:
      print(f'warning: {self.path} had {self._lines.unreadable} unreadable line(s) (garbage '
            'or cut off); rebuilt it from the readable lines up to step '
            f'{resume_step}', file=sys.stderr)
    logdir = workdir / 'tensorboard'
    if not fileio.is_local(logdir):
      use_epath_for_tensorboard(os.fspath(logdir))
    self._tb = EventWriter(os.fspath(logdir), purge_step=resume_step + 1 if resume_step else None)

  def write(self, step: int, metrics: dict) -> None:
    self._lines.append({'step': int(step), **{k: float(v) for k, v in metrics.items()}})
    for k, v in metrics.items():
      self._tb.add_scalar(k, float(v), step)

  def close(self) -> None:
    """Flushes and closes the event file. While another exception is propagating (this
    is called from a `finally`), a failure here is dropped rather than hide that one."""
    propagating = sys.exc_info()[1] is not None
    try:
      self._tb.close()
    except OSError:
      if not propagating:
        raise


class EventWriter:
  """TensorBoard scalars written on the calling thread (tensorboardX's record format).

  tensorboardX's SummaryWriter writes from a thread of its own: a write that fails
  there (a full disk) ends that thread, and the run then blocks for ever on the
  writer's full queue. Here a failed write raises an OSError naming the event file,
  in the train loop. Events are flushed every `flush_secs` seconds and on close (on
  object stores each flush rewrites the whole file).
  """

  def __init__(self, logdir: str, purge_step: int | None = None, flush_secs: float = 120):
    record_writer.directory_check(logdir)  # Through epath for a registered scheme.
    self.path = os.path.join(
        logdir, f'events.out.tfevents.{str(time.time())[:10]}.{socket.gethostname()}')
    self._flush_secs = flush_secs
    self._next_flush = 0.0  # The first event is flushed at once.
    self._file = self._call(lambda: record_writer.RecordWriter(self.path))
    self._write(Event(wall_time=time.time(), step=purge_step or 0,
                      file_version='brain.Event:2'))
    if purge_step is not None:  # TensorBoard drops older events at steps >= purge_step.
      self._write(Event(wall_time=time.time(), step=purge_step,
                        session_log=SessionLog(status=SessionLog.START)))

  def _call(self, fn):
    try:
      return fn()
    except OSError as e:
      raise fileio.with_path(e, self.path) from e

  def _write(self, event: Event) -> None:
    self._call(lambda: self._file.write(event.SerializeToString()))
    now = time.monotonic()
    if now >= self._next_flush:
      self._call(self._file.flush)
      self._next_flush = now + self._flush_secs

  def add_scalar(self, tag: str, value: float, step: int) -> None:
    self._write(Event(wall_time=time.time(), step=int(step), summary=scalar(tag, value)))

  def close(self) -> None:
    if self._file is None:
      return
    file, self._file = self._file, None
    try:
      self._call(file.flush)
    finally:
      self._call(file.close)


class NullWriter:
  """The metric writer of processes other than 0: writes nothing."""

  def write(self, step: int, metrics: dict) -> None:
    del step, metrics

  def close(self) -> None:
    pass


def open_writer(workdir, resume_step: int = 0, primary: bool = True):
  """A MetricWriter on the primary process (process 0), a NullWriter elsewhere."""
  return MetricWriter(workdir, resume_step) if primary else NullWriter()


class EpathEventFile:
  """A TensorBoard event file on an epath backend: each flush rewrites it whole.

  Object stores have no append; event files of scalars stay small.
  """

  def __init__(self, path: str):
    self.path = path
    self._buffer = io.BytesIO()

  def write(self, data: bytes) -> None:
    self._buffer.write(data)

  def flush(self) -> None:
    fileio.write_bytes(self.path, self._buffer.getvalue())

  def close(self) -> None:
    self.flush()


class EpathEventFiles:
  """tensorboardX's writer factory for a URI scheme, writing through etils.epath."""

  def open(self, path: str) -> EpathEventFile:
    return EpathEventFile(path)

  def directory_check(self, path: str) -> None:
    fileio.as_path(path).mkdir(parents=True, exist_ok=True)


def use_epath_for_tensorboard(uri: str) -> None:
  """Makes tensorboardX write `uri`'s scheme (gs, s3, ...) through etils.epath.

  tensorboardX's own gs:// writer needs google-cloud-storage (and s3:// boto3),
  which this package does not install; epath's backend is the one the rest
  of the workdir already uses.
  """
  record_writer.register_writer_factory(uri.split('://', 1)[0], EpathEventFiles())


class Progress:
  """'step 1200/6000 | loss 0.3512 | 812.3 steps/s | ETA 0:00:06'."""

  def __init__(self, start_step: int, total_steps: int):
    self.total = total_steps
    self._last_step = start_step
    self._last_time = time.perf_counter()

  def line(self, step: int, metrics: dict) -> str:
    now = time.perf_counter()
    rate = (step - self._last_step) / max(now - self._last_time, 1e-9)
    self._last_step, self._last_time = step, now
    eta = datetime.timedelta(seconds=round((self.total - step) / max(rate, 1e-9)))
    parts = [f'step {step}/{self.total}']
    parts += [f'{k.split("/")[-1]} {v:.4f}' for k, v in metrics.items()]
    parts += [f'{rate:.1f} steps/s', f'ETA {eta}']
    return ' | '.join(parts)
