"""Host-memory policy for the command-line tools: keep freed memory in the process.

A jitted step on CPU allocates its large buffers (activations, the stacked
states of a scan, gradients) afresh every call. glibc serves allocations above
its mmap threshold (at most 32 MB) with fresh `mmap`s and returns them on free,
and its per-thread arenas trim themselves, so every step page-faults and
zero-fills tens to hundreds of MB. On the 2-core development machine that was
20-30% of an LSTM or GRU train step (experiments/speed/README.md).

`keep_freed_memory()` sets glibc's malloc to serve everything from one heap
that it never trims (M_ARENA_MAX=1, M_MMAP_MAX=0, a large M_TRIM_THRESHOLD), so
the second step reuses the first step's pages. The process keeps its peak
host memory for its lifetime, as framework memory pools do. Only the
command-line programs call it, first thing (`python -m cnn_vs_rnn.train`,
`.evaluate`, `.sample`, `.benchmark`); importing the package or calling a
`main()` from Python changes nothing. Set CNN_VS_RNN_KEEP_HOST_MEMORY=0 to
leave malloc alone.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

ENV = 'CNN_VS_RNN_KEEP_HOST_MEMORY'

# glibc's mallopt parameters (malloc.h).
M_TRIM_THRESHOLD = -1
M_TOP_PAD = -2
M_MMAP_MAX = -4
M_ARENA_MAX = -8

SETTINGS = (
    (M_ARENA_MAX, 1),                 # one heap for every thread
    (M_MMAP_MAX, 0),                  # no per-allocation mmaps
    (M_TRIM_THRESHOLD, 2 ** 31 - 1),  # never hand the heap's top back
    (M_TOP_PAD, 64 << 20),            # grow the heap 64 MB at a time
)


def keep_freed_memory() -> bool:
  """Applies SETTINGS on Linux with glibc; True if it did. Safe to call twice."""
  if os.environ.get(ENV, '1') == '0' or not sys.platform.startswith('linux'):
    return False
  name = ctypes.util.find_library('c') or 'libc.so.6'
  try:
    mallopt = ctypes.CDLL(name).mallopt
  except (OSError, AttributeError):  # Not glibc (e.g. musl): nothing to tune.
    return False
  mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
  return all(mallopt(param, value) == 1 for param, value in SETTINGS)
