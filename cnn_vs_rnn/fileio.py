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


def write_bytes(path: epath.PathLike, data: bytes) -> None:
  """Writes `path` atomically: a temporary sibling, then a rename over `path`."""
  path = as_path(path)
  path.parent.mkdir(parents=True, exist_ok=True)
  tmp = path.parent / f'.{path.name}.tmp-{uuid.uuid4().hex[:12]}'
  try:
    with tmp.open('wb') as f:
      f.write(data)
      _fsync(f)
    tmp.replace(path)
  finally:
    if tmp.exists():
      tmp.unlink()


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


def parse_lines(text: str) -> list[dict]:
  """The JSON objects of a JSON-lines text; lines that do not parse (cut off) are dropped."""
  records = []
  for line in text.splitlines():
    try:
      record = json.loads(line)
    except ValueError:
      continue
    if isinstance(record, dict):
      records.append(record)
  return records


def _dumps_lines(records: Iterable[dict]) -> str:
  return ''.join(json.dumps(r) + '\n' for r in records)


def append_line(path: epath.PathLike, line: str) -> None:
  """Appends `line` and a newline to a local file in one O_APPEND write; first a
  newline of its own if the file ends inside a line (cut off by a crash)."""
  data = (line + '\n').encode('utf-8')
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


class JsonLines:
  """A JSON-lines file that only ever grows by whole lines.

  Opening it keeps the records for which `keep(record)` holds (and drops lines
  that do not parse), rewriting the file atomically if anything was dropped.
  """

  def __init__(self, path: epath.PathLike, keep: Callable[[dict], bool] = lambda r: True):
    self.path = as_path(path)
    self._local = is_local(self.path)
    text = self.path.read_text() if self.path.exists() else ''
    self._records = [r for r in parse_lines(text) if keep(r)]
    kept_text = _dumps_lines(self._records)
    if text != kept_text:
      write_text(self.path, kept_text)
    if self._local:
      self._records = None  # Appends go to the file; nothing is held in memory.

  def append(self, record: dict) -> None:
    if self._local:
      append_line(self.path, json.dumps(record))
    else:
      self._records.append(record)
      write_text(self.path, _dumps_lines(self._records))

  def read(self) -> list[dict]:
    return parse_lines(self.path.read_text()) if self.path.exists() else []
