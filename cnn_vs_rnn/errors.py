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


_PROGRAM = {'exit_at_once': False}  # Set by as_program(), in a program's __main__ alone.


def as_program() -> None:
  """Marks this process as a program run from the command line: a failed command
  then ends the process at once after its one error line (see run_command)."""
  _PROGRAM['exit_at_once'] = True


def run_command(body) -> int:
  """Runs a command's `body()`; its exit code: 0, 2 for a ConfigError, 1 for a RunError
  (or the error's `exit_code`: 143/130 for a run stopped by SIGTERM/SIGINT). An
  OSError (also one that another exception was raised from) becomes one line
  naming the path: exit 2 for a bad path the user gave, 1 for the environment.

  The error becomes one line on stderr, with no traceback. What libraries report
  at ERROR level while the body runs (orbax logs a failed background save with a
  traceback per thread through absl; asyncio and tensorstore report the writes it
  left behind) is held back: dropped when the command fails with its one line,
  printed when it succeeds or fails unexpectedly. In a program (`as_program`) a
  failed command ends the process right after its line, with the reports still
  held: threads that a failed library left running (the other writers of a failed
  save) cannot print after it. Its files are complete by then: the command's own
  `finally` blocks have closed every writer and waited for every save.
  """
  import sys  # pylint: disable=g-import-not-at-top
  held = HeldLogs(logging.ERROR)
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
      held.discard()
      print(f'error: {line}', file=sys.stderr)
      if _PROGRAM['exit_at_once']:
        _exit_now(code)
    return code
  finally:
    held.release()  # Success, or an exception run_command does not handle.


def _exit_now(code: int) -> None:
  """Flushes stdout and stderr and ends the process with `code`, without waiting for
  other threads or running exit handlers."""
  import os  # pylint: disable=g-import-not-at-top
  import sys  # pylint: disable=g-import-not-at-top
  for stream in (sys.stdout, sys.stderr):
    try:
      stream.flush()
    except (OSError, ValueError):
      pass
  os._exit(code)  # pylint: disable=protected-access


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


def error_chain(error: BaseException) -> list[BaseException]:
  """`error` and the exceptions it was raised from (cause or context), in order."""
  out = []
  while error is not None and error not in out:
    out.append(error)
    error = error.__cause__ or error.__context__
  return out


def _os_error_in(error: BaseException):
  """The OSError that `error` is, or was raised from (orbax wraps them), if any."""
  return next((e for e in error_chain(error) if isinstance(e, OSError)), None)


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
