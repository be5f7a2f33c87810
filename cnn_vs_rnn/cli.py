"""The command line the programs share: every usage error becomes one line and exit 2.

- `config_command` (train, benchmark): absl flags with `--config FILE` and
  `--config.KEY=VALUE` overrides (ml_collections `config_flags`). Before absl
  parses them, `check_config_args` checks them on the project's own terms: the
  config file loads (`load_config_file`), every override names a key of its
  config, and a number or boolean parses with absl's parser for that key's type.
  absl then sees a command line it accepts; what it still refuses (an unknown
  flag) is one line of its own error, caught by type.
- `ArgumentParser`, `parser_of`, `argparse_command` (evaluate, sample, diagnose;
  sweep and plot for their own flags): argparse whose usage errors are
  ConfigErrors rather than a usage message and sys.exit.

The programs do not go through absl's `app.run`, which the anchors use: it
parses absl's one global FLAGS (once per process, while `main(argv)` runs many
times in one test process, each on flags of its own), and it raises absl's
verbosity to INFO, so orbax's and tensorstore's INFO logs would print beside a
run's own lines. `config_command` does what app.run does that the programs
need: parse the flags, call the body, turn usage errors into exit code 2.

Each command's body runs under `errors.run_command`, which turns a ConfigError
into exit code 2, a RunError into 1, and prints the one line. Validating a
config is not done here: `train.build_run` does it, once, for every program.
Nothing here changes the process (see hostmem.py): the programs do that
themselves, under `__main__`.
"""

from __future__ import annotations

import argparse
import difflib
import logging
import os
import sys
from typing import Callable

import ml_collections

from cnn_vs_rnn import configlib
from cnn_vs_rnn.errors import ConfigError, HeldLogs, one_line, run_command, show


# ---------------------------------------------------------------------------
# Programs configured by a config file (absl flags): train, benchmark.


def config_command(argv, body: Callable, *, workdir: bool = False,
                   define: Callable | None = None) -> int:
  """Runs `body(config, flag_values)` under run_command; the exit code.

  `argv`: the command line with the program name first (None: sys.argv).
  `workdir`: the program also takes --workdir, which is then required.
  `define(flag_values)`: defines the program's other absl flags.
  """
  from absl import flags  # pylint: disable=g-import-not-at-top
  argv = list(sys.argv if argv is None else argv)
  # Flags of their own for each call (main may run more than once in a process), read
  # from `argv`, not sys.argv.
  flag_values, config_flag = define_flags(flags.FlagValues(), workdir=workdir, sys_argv=argv)
  if define is not None:
    define(flag_values)

  def run():
    config = parse_config(argv, flag_values, config_flag)
    if workdir and not flag_values.workdir:
      raise ConfigError('--workdir is required: --workdir DIR')
    body(config, flag_values)

  return run_command(run)


def config_of(argv) -> ml_collections.ConfigDict:
  """The config `argv` (program name first, --config FILE, --config.KEY=VALUE...) gives a
  program, parsed as config_command parses it; usage errors are ConfigErrors."""
  from absl import flags  # pylint: disable=g-import-not-at-top
  flag_values, config_flag = define_flags(flags.FlagValues(), workdir=False, sys_argv=argv)
  return parse_config(list(argv), flag_values, config_flag)


def define_flags(flag_values=None, workdir: bool = True, sys_argv=None):
  """--config (and --workdir) on `flag_values` (default: absl's global FLAGS).

  `sys_argv`: the argv that will be parsed, if not sys.argv (config_flags reads
  it to find the config file that --config.KEY overrides apply to).
  """
  from absl import flags  # pylint: disable=g-import-not-at-top
  from ml_collections import config_flags  # pylint: disable=g-import-not-at-top
  flag_values = flags.FLAGS if flag_values is None else flag_values
  config_flag = config_flags.DEFINE_config_file(
      'config', None, 'Path to a config file (configs/NAME.py).', lock_config=True,
      flag_values=flag_values, sys_argv=sys_argv)
  if workdir:
    flags.DEFINE_string('workdir', None, 'Directory for checkpoints, metrics and logs.',
                        flag_values=flag_values)
  return flag_values, config_flag


def parse_config(argv, flag_values, config_flag) -> ml_collections.ConfigDict:
  """Parses flags and returns the config; every usage error becomes one ConfigError line.

  What ml_collections logs while loading is printed only if the config turns
  out fine; else the one error line says it.
  """
  from absl import flags  # pylint: disable=g-import-not-at-top
  held = HeldLogs(logging.WARNING)
  try:
    with held:
      check_config_args(argv)
      try:
        flag_values(argv)
      except flags.Error as e:  # What the project's checks leave: an unknown flag.
        raise ConfigError(one_line(e)) from None
  except ConfigError:
    held.discard()
    raise
  held.release()
  return config_flag.value


def check_config_args(argv) -> None:
  """Raises a ConfigError unless argv names a config file that loads and overrides
  that name its keys with values of their types."""
  path = config_path(argv)
  if path is None:
    raise ConfigError('--config is required: --config configs/NAME.py')
  config = load_config_file(path, 'pass a file such as configs/default.py')
  for key, value in overrides(argv):
    check_override(config, key, value)


def config_path(argv) -> str | None:
  """The --config file named on the command line, if any."""
  for i, a in enumerate(argv):
    if a.startswith('--config='):
      return a.split('=', 1)[1]
    if a == '--config' and i + 1 < len(argv):
      return argv[i + 1]
  return None


def overrides(argv) -> list[tuple[str, str | None]]:
  """(KEY, VALUE) of each --config.KEY=VALUE; VALUE None for --config.KEY alone."""
  out = []
  for a in argv:
    if a.startswith('--config.'):
      key, eq, value = a[len('--config.'):].partition('=')
      out.append((key, value if eq else None))
  return out


def _parser_of(kind: type):
  """absl's parser of the values of a config field of type `kind`, if it is a number
  or a boolean (config_flags parses those fields with these parsers)."""
  from absl import flags  # pylint: disable=g-import-not-at-top
  return {bool: flags.BooleanParser, int: flags.IntegerParser,
          float: flags.FloatParser}.get(kind)


def check_override(config: ml_collections.ConfigDict, key: str, value: str | None) -> None:
  """Raises a ConfigError unless `key` is a field of `config` and `value` parses as its
  type (numbers and booleans)."""
  *parents, name = key.split('.')
  node = config
  for i, part in enumerate(parents):
    child = node.get(part) if isinstance(node, ml_collections.ConfigDict) else None
    if not isinstance(child, ml_collections.ConfigDict):
      raise ConfigError(_unknown_key(key, node, part, '.'.join(parents[:i])))
    node = child
  if name not in node:
    raise ConfigError(_unknown_key(key, node, name, '.'.join(parents)))
  parser = _parser_of(node.get_type(name))
  if parser is None or value is None:
    return
  try:
    parser().parse(value)
  except ValueError:
    raise ConfigError(f'--config.{key}={show(value)} has the wrong type: expected a value '
                      f'of type {node.get_type(name).__name__}') from None


def _unknown_key(key: str, node, name: str, where: str) -> str:
  keys = sorted(node.keys()) if isinstance(node, ml_collections.ConfigDict) else []
  close = difflib.get_close_matches(name, keys, n=3)
  hint = (f'; did you mean {", ".join(repr(k) for k in close)}?' if close else
          f'; {where or "the config"} has no field {show(name)}')
  return f'unknown config key {show(key)}{hint}'


# ---------------------------------------------------------------------------
# Config files: loaded by the project itself, every failure one ConfigError line.


def load_config_file(path: str, hint: str) -> ml_collections.ConfigDict:
  """The config of the file at `path` (`FILE:ARG`, as config_flags takes it, calls
  get_config(ARG)); a failure to load it is one ConfigError line, which ends with
  `hint` (what to pass instead) when the file does not exist."""
  arg = None
  if not os.path.isfile(path) and ':' in path:
    path, arg = path.split(':', 1)
  if not os.path.isfile(path):
    raise ConfigError(f'config file {path!r} does not exist; {hint}')
  try:
    config = configlib.load_config_file(path, arg)
  except ConfigError:
    raise
  except SystemExit as e:  # The config file itself called exit().
    raise ConfigError(f'config file {path!r} exited (SystemExit({show(e.code)})) while '
                      'loading; a config file defines get_config() and returns an '
                      'ml_collections.ConfigDict') from None
  except configlib.NoGetConfig:
    raise ConfigError(f'config file {path!r} has no get_config() function; define one '
                      'that returns an ml_collections.ConfigDict') from None
  except Exception as e:  # pylint: disable=broad-except
    raise ConfigError(f'config file {path!r} failed to load: {type(e).__name__}: '
                      f'{_first_line(e)}') from None
  if not isinstance(config, ml_collections.ConfigDict):
    raise ConfigError(f'config file {path!r}: get_config() returned {show(config)}; it '
                      'must return an ml_collections.ConfigDict')
  return config


def _first_line(error: BaseException) -> str:
  text = str(error).strip()
  return text.splitlines()[0] if text else ''


# ---------------------------------------------------------------------------
# Programs with argparse flags: evaluate, sample, diagnose (and sweep, plot).


class ArgumentParser(argparse.ArgumentParser):
  """argparse whose usage errors are ConfigErrors (exit 2, one line) instead of a usage
  message and sys.exit: call parse_args inside run_command's body.

  The line ends with the usage, or with `error_hint` where one is given
  ('see python -m cnn_vs_rnn.sweep --help').
  """

  def __init__(self, *args, error_hint: str | None = None, **kwargs):
    super().__init__(*args, **kwargs)
    self.error_hint = error_hint

  def error(self, message):
    hint = self.error_hint or ' '.join(self.format_usage().split())
    raise ConfigError(f'{message} ({hint})')


def parser_of(program: str, doc: str, **kwargs) -> ArgumentParser:
  """The parser of `python -m cnn_vs_rnn.PROGRAM`, described by `doc`'s first line."""
  return ArgumentParser(prog=f'python -m cnn_vs_rnn.{program}',
                        description=doc.splitlines()[0], **kwargs)


def argparse_command(parser: argparse.ArgumentParser, argv, body: Callable) -> int:
  """Runs `body(args)`, args parsed from `argv` (None: sys.argv[1:]), under run_command;
  the exit code."""
  return run_command(lambda: body(parser.parse_args(argv)))
