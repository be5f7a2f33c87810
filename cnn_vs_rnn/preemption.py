"""SIGTERM and SIGINT during training: finish the step, checkpoint, flush, exit.

TPU VMs, Kubernetes and Slurm preempt with SIGTERM and a grace period; a
user stops with Ctrl-C (SIGINT). While `StopSignals` is active the first such
signal only sets a flag: the train loop finishes the call in flight, writes a
checkpoint, flushes the metrics and raises `Preempted`, which the command line
turns into one line and exit code 128 + signal (143 for SIGTERM, 130 for
SIGINT). A second signal exits at once with the same code: orbax writes a
step into a temporary directory and renames it when complete, so a save cut
short leaves nothing that a resume would read.
"""

from __future__ import annotations

import os
import signal
import sys
import threading

from cnn_vs_rnn.errors import RunError

SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Preempted(RunError):
  """Training stopped on a signal after saving a checkpoint at `step`."""

  def __init__(self, step: int, signum: int, where: str):
    self.step = step
    self.exit_code = 128 + signum
    super().__init__(f'stopped by {signal.Signals(signum).name} at step {step}; the '
                     f'checkpoint is saved in {where}: run the same command to resume')


class StopSignals:
  """Context manager: SIGTERM/SIGINT set `signum` instead of killing the process."""

  def __init__(self):
    self.signum: int | None = None
    self._previous = {}

  def _handle(self, signum, frame):  # pylint: disable=unused-argument
    if self.signum is not None:  # A second signal: leave now.
      print(f'\n{signal.Signals(signum).name} again: exiting at once', file=sys.stderr,
            flush=True)
      os._exit(128 + signum)  # pylint: disable=protected-access
    self.signum = signum
    print(f'\n{signal.Signals(signum).name}: finishing the current step, then saving a '
          'checkpoint (send it again to exit at once)', file=sys.stderr, flush=True)

  def __enter__(self) -> 'StopSignals':
    if threading.current_thread() is threading.main_thread():
      for s in SIGNALS:
        self._previous[s] = signal.signal(s, self._handle)
    return self

  def __exit__(self, *exc) -> None:
    for s, handler in self._previous.items():
      signal.signal(s, handler)
    self._previous.clear()
