"""Workdir and data-dir files through `etils.epath`: local paths, gs:// and the rest.

Every run file is written whole: into a temporary file beside it, then
renamed over its name, so a reader or a crash never sees half a file.
JSON-lines logs grow by whole lines: a local file gets one append per line
(after a newline if a crash left the last line cut off); object stores such
as GCS have no append, so there the whole log is rewritten the same way.
"""

from __future__ import annotations

import json
import os
import uuid
from typing import Callable, Iterable

from etils import epath


def as_path(path: epath.PathLike) -> epath.Path:
  """An epath.Path; a local path made absolute, a URI (gs://...) kept as it is."""
  if is_local(path):
    return epath.Path(os.path.abspath(os.fspath(path)))
  return epath.Path(path)


def is_local(path: epath.PathLike) -> bool:
  """Whether `path` is on the local file system (has no scheme:// prefix)."""
  return '://' not in os.fspath(path)


def _fsync(f) -> None:
  try:
    f.flush()
    os.fsync(f.fileno())
  except (AttributeError, OSError, ValueError):
    pass  # Not a local file: the backend commits on close.


def with_path(error: OSError, path) -> OSError:
  """`error`, or a copy naming `path` if it names no file (a failed write() names none)."""
  if error.filename is not None:
    return error
  return type(error)(error.errno, error.strerror, os.fspath(path))


def write_bytes(path: epath.PathLike, data: bytes) -> None:
  """Writes `path` atomically: a temporary sibling, then a rename over `path`.

  An OSError that names no file (a full disk fails the write, not the open) names `path`.
  """
  path = as_path(path)
  path.parent.mkdir(parents=True, exist_ok=True)
  tmp = path.parent / f'.{path.name}.tmp-{uuid.uuid4().hex[:12]}'
  try:
    with tmp.open('wb') as f:
      f.write(data)
      _fsync(f)
    tmp.replace(path)
  except OSError as e:
    raise with_path(e, path) from e
  finally:
    try:
      if tmp.exists():
        tmp.unlink()
    except OSError:
      pass  # The error above says what went wrong.


def write_text(path: epath.PathLike, text: str) -> None:
  write_bytes(path, text.encode('utf-8'))


def write_json(path: epath.PathLike, obj, **dumps_kwargs) -> None:
  """`obj` as JSON (one trailing newline), written atomically."""
  write_text(path, json.dumps(obj, **dumps_kwargs) + '\n')


def read_json(path: epath.PathLike):
  return json.loads(as_path(path).read_text())


def move(src: epath.PathLike, dst: epath.PathLike) -> None:
  """Renames a file or directory tree (one rename locally; copy then delete on GCS)."""
  dst = as_path(dst)
  dst.parent.mkdir(parents=True, exist_ok=True)
  as_path(src).rename(dst)


def free_name(path: epath.PathLike) -> epath.Path:
  """`path` if nothing is there, else the first of path.1, path.2, ... that is free."""
  path = as_path(path)
  candidate, n = path, 1
  while candidate.exists():
    candidate = path.parent / f'{path.name}.{n}'
    n += 1
  return candidate


def parse_lines(text) -> list[dict]:
  """The JSON objects of a JSON-lines text (str or bytes); other lines are dropped."""
  return split_lines(text)[0]


def split_lines(text) -> tuple[list[dict], int]:
  """(the JSON objects of a JSON-lines text, how many non-empty lines were not one).

  Bytes are decoded line by line, so binary garbage costs only its own lines.
  """
  if isinstance(text, str):
    text = text.encode('utf-8', errors='surrogateescape')
  records, bad = [], 0
  for line in text.splitlines():
    if not line.strip():
      continue
    try:
      record = json.loads(line.decode('utf-8'))
    except ValueError:  # Also UnicodeDecodeError: garbage, or a line cut off.
      record = None
    if isinstance(record, dict):
      records.append(record)
    else:
      bad += 1
  return records, bad


def _dumps_lines(records: Iterable[dict]) -> str:
  return ''.join(json.dumps(r) + '\n' for r in records)


def append_line(path: epath.PathLike, line: str) -> None:
  """Appends `line` and a newline to a local file in one O_APPEND write; first a
  newline of its own if the file ends inside a line (cut off by a crash)."""
  data = (line + '\n').encode('utf-8')
  try:
    fd = os.open(os.fspath(path), os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    try:
      size = os.fstat(fd).st_size
      if size and os.pread(fd, 1, size - 1) != b'\n':
        data = b'\n' + data
      view = memoryview(data)
      while view:
        view = view[os.write(fd, view):]
    finally:
      os.close(fd)
  except OSError as e:  # A full disk fails os.write, which names no file.
    raise with_path(e, path) from e


class JsonLines:
  """A JSON-lines file that only ever grows by whole lines.

  Opening it keeps the records for which `keep(record)` holds (and drops lines
  that do not parse: cut off by a crash, or garbage, counted in `unreadable`),
  rewriting the file atomically if anything was dropped.
  """

  def __init__(self, path: epath.PathLike, keep: Callable[[dict], bool] = lambda r: True):
    self.path = as_path(path)
    self._local = is_local(self.path)
    data = self.path.read_bytes() if self.path.exists() else b''
    records, self.unreadable = split_lines(data)
    self._records = [r for r in records if keep(r)]
    kept = _dumps_lines(self._records).encode('utf-8')
    if data != kept:
      write_bytes(self.path, kept)
    if self._local:
      self._records = None  # Appends go to the file; nothing is held in memory.

  def append(self, record: dict) -> None:
    if self._local:
      append_line(self.path, json.dumps(record))
    else:
      self._records.append(record)
      write_text(self.path, _dumps_lines(self._records))

  def read(self) -> list[dict]:
    return parse_lines(self.path.read_bytes()) if self.path.exists() else []


class WorkdirLock:
  """An exclusive lock on a local workdir (`fcntl.flock` on WORKDIR/.lock), held by a run.

  A second run on the same workdir gets a ConfigError naming the holder's
  PID. The kernel drops the lock when the holder exits, however it exits, so
  a killed run never leaves a stale lock. Readers (evaluate, sample) do not
  lock. Non-local workdirs (gs://) have no such lock: run one job per workdir.
  """

  NAME = '.lock'

  def __init__(self, workdir: epath.PathLike):
    self.path = as_path(workdir) / self.NAME
    self._fd = None

  def __enter__(self) -> 'WorkdirLock':
    if not is_local(self.path):
      return self
    import fcntl  # pylint: disable=g-import-not-at-top
    from cnn_vs_rnn.errors import ConfigError  # pylint: disable=g-import-not-at-top
    self.path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(os.fspath(self.path), os.O_RDWR | os.O_CREAT, 0o644)
    try:
      fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
      holder = os.pread(fd, 64, 0).decode('ascii', errors='replace').strip() or 'unknown'
      os.close(fd)
      raise ConfigError(f'workdir {os.fspath(self.path.parent)!r} is in use by another '
                        f'training run (PID {holder}); wait for it to end, stop it, or '
                        'use another workdir') from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f'{os.getpid()}\n'.encode('ascii'), 0)
    self._fd = fd
    return self

  def __exit__(self, *exc) -> None:
    if self._fd is not None:
      os.ftruncate(self._fd, 0)
      os.close(self._fd)  # Closing releases the flock.
      self._fd = None
