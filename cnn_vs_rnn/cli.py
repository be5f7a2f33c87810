"""The command line the programs share: every usage error becomes one line and exit 2.

- `config_command` (train, benchmark): absl flags with `--config FILE` and
  `--config.KEY=VALUE` overrides (ml_collections `config_flags`), whose
  failures (a missing or broken config file, an unknown key, a value of the
  wrong type, an unknown flag) become one ConfigError line each.
- `ArgumentParser`, `parser_of`, `argparse_command` (evaluate, sample, diagnose;
  sweep and plot for their own flags): argparse whose usage errors are
  ConfigErrors rather than a usage message and sys.exit.
- `load_config_file` (sweep): a config file's config, or one ConfigError line.

Each command's body runs under `errors.run_command`, which turns a ConfigError
into exit code 2, a RunError into 1, and prints the one line. Validating a
config is not done here: `train.build_run` does it, once, for every program.
Nothing here changes the process (see hostmem.py): the programs do that
themselves, under `__main__`.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Callable

import ml_collections

from cnn_vs_rnn import configlib
from cnn_vs_rnn.errors import ConfigError, HeldLogs, run_command, show


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
  """Parses flags and returns the config; every usage error becomes one ConfigError line."""
  # What ml_collections logs while loading (e.g. 'get_config() returned None') is
  # printed only if the config turns out fine; else the one error line says it.
  held = HeldLogs(logging.WARNING)
  try:
    with held:
      config = _load_config(argv, flag_values, config_flag)
  except ConfigError:
    held.discard()
    raise
  held.release()
  return config


def _load_config(argv, flag_values, config_flag) -> ml_collections.ConfigDict:
  from absl import flags  # pylint: disable=g-import-not-at-top
  # ml_collections loads the file as module '<flag>_config' with load_module(), which
  # reuses a module of that name: one loaded before (main called again in a process)
  # would lend its get_config() to a file that has none.
  sys.modules.pop(f'{config_flag.name}_config', None)
  try:
    flag_values(argv)
  except flags.Error as e:
    msg = str(e)
    if msg.startswith('flag --config.'):
      raise ConfigError(_type_error_message(msg, argv)) from None
    raise ConfigError(msg.splitlines()[0]) from None
  except SystemExit as e:  # The config file itself called exit().
    raise ConfigError(f'config file {_config_path(flag_values, argv)!r} exited '
                      f'(SystemExit({show(e.code)})) while loading; a config file defines '
                      'get_config() and returns an ml_collections.ConfigDict') from None
  except (AttributeError, KeyError) as e:  # An override of a key the config lacks.
    if "has no attribute 'get_config'" in str(e):
      raise ConfigError(f'config file {_config_path(flag_values, argv)!r} has no '
                        'get_config() function; define one that returns an '
                        'ml_collections.ConfigDict') from None
    raise ConfigError(_unknown_key_message(e, argv)) from None
  except Exception as e:  # pylint: disable=broad-except
    # Loading the config file itself failed (a syntax error, an import error...).
    raise ConfigError(f'the config file failed to load: {type(e).__name__}: '
                      f'{_first_line(e)}') from None
  config = config_flag.value
  path = _config_path(flag_values, argv)
  if config is None and path:
    raise ConfigError(f'config file {path!r}: get_config() returned None; it must return '
                      'an ml_collections.ConfigDict')
  if config is None:
    raise ConfigError('--config is required: --config configs/NAME.py')
  if not isinstance(config, ml_collections.ConfigDict):
    path = flag_values['config'].config_filename
    if not os.path.isfile(path.split(':', 1)[0]) and not os.path.isfile(path):
      raise _missing_file(path, 'pass a file such as configs/default.py')
    try:
      config.seed  # _ErrorConfig raises what loading the file raised.
    except Exception as e:  # pylint: disable=broad-except
      while e.__cause__ is not None or e.__context__ is not None:
        e = e.__cause__ or e.__context__
      raise _failed_to_load(path, e) from None
  return config


def _config_path(flag_values, argv) -> str | None:
  """The --config file named on the command line, if any."""
  try:
    path = flag_values['config'].config_filename
  except Exception:  # pylint: disable=broad-except
    path = None
  if path:
    return path
  for i, a in enumerate(argv):
    if a.startswith('--config='):
      return a.split('=', 1)[1]
    if a == '--config' and i + 1 < len(argv):
      return argv[i + 1]
  return None


def _unknown_key_message(error, argv) -> str:
  while error.args and isinstance(error.args[0], BaseException):
    error = error.args[0]  # ml_collections wraps a KeyError in an AttributeError.
  lines = str(error.args[0] if error.args else error).splitlines()
  name = lines[0].strip().strip("'")
  overrides = [a[len('--config.'):].split('=', 1)[0] for a in argv
               if a.startswith('--config.')]
  key = next((o for o in overrides if o.split('.')[-1] == name), name)
  hint = ' '.join(l.strip() for l in lines[1:])
  return f'unknown config key {show(key)}' + (f'. {hint}' if hint else '')


def _type_error_message(msg: str, argv) -> str:
  """'flag --config.seed=abc: invalid literal ...' -> which type the key wants."""
  head = msg.split(':', 1)[0][len('flag --config.'):]
  key, _, value = head.partition('=')
  config_path = next((a.split('=', 1)[1] for a in argv if a.startswith('--config=')), None)
  if config_path is None and '--config' in argv:
    config_path = argv[argv.index('--config') + 1]
  want = None
  if config_path:
    try:
      node = configlib.load_config_file(config_path)
      for part in key.split('.'):
        node = node[part]
      want = type(node).__name__
    except Exception:  # pylint: disable=broad-except
      pass
  expected = f'expected a value of type {want}' if want else msg.split(':', 1)[-1].strip()
  return f'--config.{key}={show(value)} has the wrong type: {expected}'


# ---------------------------------------------------------------------------
# Config files read directly: sweep.


def load_config_file(path: str, hint: str) -> ml_collections.ConfigDict:
  """The config of the file at `path`; a failure to load it is one ConfigError line,
  which ends with `hint` (what to pass instead) when the file does not exist."""
  if not os.path.isfile(path):
    raise _missing_file(path, hint)
  try:
    return configlib.load_config_file(path)
  except ConfigError:
    raise
  except Exception as e:  # pylint: disable=broad-except
    raise _failed_to_load(path, e) from None


def _missing_file(path: str, hint: str) -> ConfigError:
  return ConfigError(f'config file {path!r} does not exist; {hint}')


def _failed_to_load(path: str, error: BaseException) -> ConfigError:
  return ConfigError(f'config file {path!r} failed to load: {type(error).__name__}: '
                     f'{_first_line(error)}')


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
