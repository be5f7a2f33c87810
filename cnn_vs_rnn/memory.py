"""Planned memory of compiled programs, checked against what a device has.

`memory_of` reads XLA's buffer assignment of a compiled program; `Checked`
compiles a jitted function ahead of time once per argument shapes, refuses a
program whose plan does not fit the device (a ConfigError: exit 2 with one
line, before anything runs), and calls the compiled executable.
"""

from __future__ import annotations

import os

import jax

from cnn_vs_rnn.errors import ConfigError

GIB = 2.0**30


def memory_of(compiled) -> dict:
  """XLA's planned memory of a compiled program per device, in bytes (empty if unknown)."""
  try:
    m = compiled.memory_analysis()
  except Exception:  # pylint: disable=broad-except
    return {}
  if m is None:
    return {}
  out = {k: int(getattr(m, f'{k}_size_in_bytes', 0) or 0)
         for k in ('argument', 'output', 'temp', 'alias', 'generated_code')}
  out['planned'] = out['argument'] + out['output'] + out['temp'] - out['alias']
  out['xla_peak'] = int(getattr(m, 'peak_memory_in_bytes', 0) or 0)
  return out


def device_memory_bytes(device) -> int | None:
  """What one device can hold: its allocator's limit, or for a CPU the machine's RAM."""
  try:
    stats = device.memory_stats() or {}
  except Exception:  # pylint: disable=broad-except
    stats = {}
  if stats.get('bytes_limit'):
    return int(stats['bytes_limit'])
  if device.platform == 'cpu':
    try:
      return os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES')
    except (ValueError, OSError, AttributeError):
      return None
  return None


def check_fits(compiled, device, what: str, hint: str) -> None:
  """Raises a ConfigError if `compiled` plans more memory than `device` has."""
  planned = memory_of(compiled).get('planned')
  limit = device_memory_bytes(device)
  if planned and limit and planned > limit:
    raise ConfigError(f'{what} plans {planned / GIB:.2f} GiB on one {device.platform} '
                      f'device, which has {limit / GIB:.2f} GiB; {hint}')


class Checked:
  """A jitted function, compiled and memory-checked once per argument shapes.

  Calls go to the compiled executable: the same program jit would run, so
  results are identical, with no second compilation for the check.
  """

  def __init__(self, jitted, device, what: str, hint: str):
    self._jitted, self._device, self._what, self._hint = jitted, device, what, hint
    self._compiled = {}

  def __call__(self, *args):
    key = tuple((getattr(x, 'shape', None), getattr(x, 'dtype', None))
                for x in jax.tree.leaves(args))
    compiled = self._compiled.get(key)
    if compiled is None:
      compiled = self._jitted.lower(*args).compile()
      check_fits(compiled, self._device, self._what, self._hint)
      self._compiled[key] = compiled
    return compiled(*args)
