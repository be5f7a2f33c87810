"""Exceptions the command line turns into one-line messages and exit codes."""

import errno
import logging


SHOWN_CHARS = 200  # An echoed value is cut to this many characters.
MAX_LINE = 1000  # An error line never grows past this.


def show(value) -> str:
  """repr(value) for an error line, cut to SHOWN_CHARS characters."""
  text = repr(value)
  if len(text) <= SHOWN_CHARS:
    return text
  return f'{text[:SHOWN_CHARS]}... ({len(text):,} characters)'


def one_line(message) -> str:
  """The first line of `message`, cut to MAX_LINE characters."""
  lines = str(message).strip().splitlines()
  line = lines[0] if lines else ''
  return line if len(line) <= MAX_LINE else line[:MAX_LINE] + '...'


class ConfigError(ValueError):
  """A usage or configuration error: the command line exits with code 2."""


class RunError(RuntimeError):
  """A failure during a run (non-finite loss, unreadable checkpoints): exit 1."""


class NonFiniteLossError(RunError):
  """The loss or gradient became NaN or infinite at `step`."""

  def __init__(self, step: int, loss: float):
    self.step = step
    self.loss = loss
    super().__init__(
        f'non-finite loss at step {step} (loss={loss}); the last good '
        'checkpoint is kept. Lower optim.learning_rate or set '
        'optim.grad_clip_norm.')


def run_command(body) -> int:
  """Runs a command's `body()`; its exit code: 0, 2 for a ConfigError, 1 for a RunError
  (or the error's `exit_code`: 143/130 for a run stopped by SIGTERM/SIGINT). An
  OSError (also one that another exception was raised from) becomes one line
  naming the path: exit 2 for a bad path the user gave, 1 for the environment.

  The error becomes one line on stderr, with no traceback. What libraries report
  at ERROR level while the body runs (orbax logs a failed background save with a
  traceback per thread through absl; asyncio and tensorstore report the writes it
  left behind) is held back: dropped when the command fails with its one line,
  printed when it succeeds or fails unexpectedly.
  """
  import gc  # pylint: disable=g-import-not-at-top
  import sys  # pylint: disable=g-import-not-at-top
  import threading  # pylint: disable=g-import-not-at-top
  held = HeldLogs(logging.ERROR)
  started_before = frozenset(threading.enumerate())
  try:
    with held:
      try:
        body()
        return 0
      except ConfigError as e:
        code, line = 2, one_line(e)
      except RunError as e:
        code, line = getattr(e, 'exit_code', 1), one_line(e)
      except Exception as e:  # pylint: disable=broad-except
        os_error = _os_error_in(e)
        if os_error is None:
          raise
        code = 2 if os_error.errno in USER_ERRNOS else 1
        line = os_error_line(os_error)
      except KeyboardInterrupt:
        code, line = 130, 'interrupted (SIGINT) before training started; nothing was saved'
      _join_workers(started_before)  # Save threads still running report now, while held,
      gc.collect()  # and so do the tasks the failure left behind.
      held.discard()
    # What asyncio says when the rest of them are collected at exit is noise too.
    logging.getLogger('asyncio').addFilter(_not_an_orphaned_task)
    print(f'error: {line}', file=sys.stderr)
    return code
  finally:
    held.release()  # Success, or an exception run_command does not handle.


WORKER_JOIN_S = 60.0  # At most this long for a failed command's writers to end.
# orbax runs each part of a save (array data, shardings, metadata) in a thread of this
# class; when one fails, the manager raises at once while the others go on writing.
_SAVE_WORKERS = ('_SignalingThread',)


def _join_workers(started_before, timeout_s: float = WORKER_JOIN_S) -> None:
  """Waits for the save threads the command started that are still running: each logs
  its own failure when it ends, and waiting here keeps that inside the held logs
  instead of after the error line. (The interpreter would wait for them at exit
  anyway: they are not daemons.)"""
  import threading  # pylint: disable=g-import-not-at-top
  import time  # pylint: disable=g-import-not-at-top
  deadline = time.monotonic() + timeout_s
  for thread in threading.enumerate():
    if thread not in started_before and type(thread).__name__ in _SAVE_WORKERS:
      thread.join(max(0.0, deadline - time.monotonic()))


def _not_an_orphaned_task(record: logging.LogRecord) -> bool:
  """False for asyncio's report of a failed task nobody awaited (after a failed command:
  orbax's background writes that a failed save left behind)."""
  return 'exception was never retrieved' not in record.getMessage().split('\n', 1)[0]


class HeldLogs(logging.Filter):
  """While active, holds what libraries report at `level` or above, instead of
  printing it: records logged through absl (orbax, ml_collections) and asyncio,
  and exceptions raised where nothing can catch them (sys.unraisablehook:
  tensorstore's callbacks into a closed event loop).

  `release()` prints them (through the handlers they would have reached);
  `discard()` drops them, for when one error line says it all.
  """

  LOGGERS = ('absl', 'asyncio')

  def __init__(self, level: int = logging.WARNING):
    super().__init__()
    self.level = level
    self.records = []
    self.unraisable = []  # Their text, as the default hook prints it.
    self._hook = None

  def filter(self, record: logging.LogRecord) -> bool:
    if record.levelno >= self.level:
      self.records.append(record)
      return False
    return True

  def _hold_unraisable(self, args) -> None:
    import traceback  # pylint: disable=g-import-not-at-top
    head = (f'{args.err_msg or "Exception ignored in"}: {args.object!r}\n'
            if args.object is not None else '')
    self.unraisable.append(head + ''.join(traceback.format_exception(
        args.exc_type, args.exc_value, args.exc_traceback)))

  def __enter__(self) -> 'HeldLogs':
    import sys  # pylint: disable=g-import-not-at-top
    for name in self.LOGGERS:
      logging.getLogger(name).addFilter(self)
    self._hook, sys.unraisablehook = sys.unraisablehook, self._hold_unraisable
    return self

  def __exit__(self, *exc) -> None:
    import sys  # pylint: disable=g-import-not-at-top
    for name in self.LOGGERS:
      logging.getLogger(name).removeFilter(self)
    if sys.unraisablehook == self._hold_unraisable:
      sys.unraisablehook = self._hook

  def release(self) -> None:
    import sys  # pylint: disable=g-import-not-at-top
    records, self.records = self.records, []
    for record in records:
      logging.getLogger(record.name).handle(record)
    unraisable, self.unraisable = self.unraisable, []
    for text in unraisable:
      sys.stderr.write(text)

  def discard(self) -> None:
    self.records, self.unraisable = [], []


# Errors of a path the user gave (exit 2); every other OSError is the environment's
# (a full or read-only disk, permissions, I/O errors: exit 1).
USER_ERRNOS = frozenset({errno.ENOTDIR, errno.ENAMETOOLONG, errno.EISDIR})


def _os_error_in(error: BaseException):
  """The OSError that `error` is, or was raised from (orbax wraps them), if any."""
  seen = []
  while error is not None and error not in seen:
    if isinstance(error, OSError):
      return error
    seen.append(error)
    error = error.__cause__ or error.__context__
  return None


def os_error_line(error: OSError) -> str:
  """'No space left on device: /path (errno ENOSPC)' in one line."""
  what = error.strerror or one_line(error) or type(error).__name__
  path = error.filename if error.filename is not None else ''
  name = errno.errorcode.get(error.errno, '') if error.errno else ''
  return one_line(f'{what}: {show(path) if path else "(no path)"}'
                  + (f' ({name})' if name else ''))


def choose(kind: str, name: str, registry) -> object:
  """Looks `name` up in `registry` or raises a ConfigError listing the choices."""
  try:
    return registry[name]
  except KeyError:
    valid = ', '.join(sorted(registry))
    raise ConfigError(f'unknown {kind} {show(name)}; valid: {valid}') from None
