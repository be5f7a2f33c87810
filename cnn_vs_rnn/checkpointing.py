"""Orbax checkpoints of the train state together with the data position.

Saves go to `workdir/checkpoints/<step>/` through `ocp.CheckpointManager`,
which writes into a temporary directory and renames it when complete, so a
process killed mid-save never leaves a half-written step behind. A step that
exists but cannot be read is moved to `workdir/corrupt_checkpoints/` (never
deleted) and the next older step is tried.
"""

from __future__ import annotations

import os
import shutil
import sys

import orbax.checkpoint as ocp

from cnn_vs_rnn.errors import RunError


class Checkpointer:

  def __init__(self, workdir: str, max_to_keep: int):
    self.workdir = os.path.abspath(workdir)
    self.directory = os.path.join(self.workdir, 'checkpoints')
    self._max_to_keep = max_to_keep
    self._manager = self._open()

  def _open(self) -> ocp.CheckpointManager:
    return ocp.CheckpointManager(
        self.directory,
        options=ocp.CheckpointManagerOptions(max_to_keep=self._max_to_keep,
                                             create=True))

  def all_steps(self) -> list[int]:
    return sorted(self._manager.all_steps())

  def save(self, step: int, state, data_state: dict) -> None:
    """Starts an asynchronous save; device arrays are copied before it returns."""
    self._manager.save(step, args=ocp.args.Composite(
        state=ocp.args.StandardSave(state), data=ocp.args.JsonSave(data_state)))

  def restore(self, step: int, abstract_state):
    out = self._manager.restore(step, args=ocp.args.Composite(
        state=ocp.args.StandardRestore(abstract_state), data=ocp.args.JsonRestore()))
    return out['state'], out['data']

  def restore_latest(self, abstract_state, quarantine: bool = True):
    """(state, data_state, step) from the newest readable step, or None if none exist.

    Unreadable steps are moved aside when `quarantine` (training, which will
    write those steps again), and only skipped otherwise (read-only use).
    """
    steps = self.all_steps()
    moved = []
    for step in reversed(steps):
      try:
        state, data_state = self.restore(step, abstract_state)
      except Exception as e:  # pylint: disable=broad-except
        moved.append(step)
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        action = f'moved it to {self._quarantine(step)}' if quarantine else 'skipped it'
        print(f'warning: checkpoint at step {step} is unreadable ({type(e).__name__}: '
              f'{reason[:200]}); {action} and trying the previous one', file=sys.stderr)
        continue
      return state, data_state, step
    if moved and quarantine:
      raise RunError(
          f'no readable checkpoint in {self.directory}: steps {moved} are corrupt and '
          f'were moved to {os.path.join(self.workdir, "corrupt_checkpoints")}; run the '
          'same command again to start from step 0')
    if moved:
      raise RunError(f'no readable checkpoint in {self.directory}: steps {moved} are corrupt')
    return None

  def _quarantine(self, step: int) -> str:
    self._manager.close()
    dest_root = os.path.join(self.workdir, 'corrupt_checkpoints')
    os.makedirs(dest_root, exist_ok=True)
    dest = os.path.join(dest_root, str(step))
    n = 1
    while os.path.exists(dest):
      dest = os.path.join(dest_root, f'{step}.{n}')
      n += 1
    shutil.move(os.path.join(self.directory, str(step)), dest)
    self._manager = self._open()
    return dest

  def wait(self) -> None:
    self._manager.wait_until_finished()

  def close(self) -> None:
    self._manager.wait_until_finished()
    self._manager.close()
