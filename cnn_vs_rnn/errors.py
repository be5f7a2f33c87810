"""Exceptions the command line turns into one-line messages and exit codes."""


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
  (or the error's `exit_code`: 143/130 for a run stopped by SIGTERM/SIGINT).

  The error becomes one line on stderr, with no traceback.
  """
  import sys  # pylint: disable=g-import-not-at-top
  try:
    body()
  except ConfigError as e:
    print(f'error: {e}', file=sys.stderr)
    return 2
  except RunError as e:
    print(f'error: {e}', file=sys.stderr)
    return getattr(e, 'exit_code', 1)
  except KeyboardInterrupt:
    print('error: interrupted (SIGINT) before training started; nothing was saved',
          file=sys.stderr)
    return 130
  return 0


def choose(kind: str, name: str, registry) -> object:
  """Looks `name` up in `registry` or raises a ConfigError listing the choices."""
  try:
    return registry[name]
  except KeyError:
    valid = ', '.join(sorted(registry))
    raise ConfigError(f'unknown {kind} {name!r}; valid: {valid}') from None
