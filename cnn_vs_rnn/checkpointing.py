"""Orbax checkpoints of the train state together with the data position.

Saves go to `workdir/checkpoints/<step>/` through `ocp.CheckpointManager`,
which writes into a temporary directory and renames it when complete, so a
process killed mid-save never leaves a half-written step behind. With several
processes every one of them saves and restores, and orbax coordinates them.

A step whose files are missing or garbled is moved to
`workdir/corrupt_checkpoints/` (never deleted; by process 0 alone while the
others wait) and the next older step is tried. Any other failure to read
(permissions, I/O errors such as EIO or ENOSPC, a checkpoint whose shapes do
not fit the config) stops the run with a RunError that names the step's
path, and moves nothing: those checkpoints may well be good.

A save that fails (a full disk, permissions; orbax writes in the background, so
the error may surface at the next save or at close) is a RunError naming the
step's directory and the newest complete checkpoint: steps saved before it are
complete, and the failed one never appears under its step number.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import sys

import jax
import numpy as np
import orbax.checkpoint as ocp

from cnn_vs_rnn import fileio, parallel
from cnn_vs_rnn.errors import ConfigError, RunError
from cnn_vs_rnn.preemption import Preempted


class CorruptCheckpoint(RuntimeError):
  """A checkpoint whose files read, but whose arrays are not what was saved."""


def state_checksum(state) -> str:
  """SHA-256 of every array of `state` (dtype, shape and bytes, in tree order)."""
  digest = hashlib.sha256()
  for leaf in jax.tree.leaves(jax.device_get(state)):
    leaf = np.ascontiguousarray(leaf)
    digest.update(f'{leaf.dtype.str}{leaf.shape}'.encode('ascii'))
    digest.update(leaf.tobytes())
  return digest.hexdigest()


def check_restored(state, data_state: dict) -> None:
  """Raises CorruptCheckpoint unless the restored arrays match the saved checksum and
  the parameters are finite."""
  saved = data_state.get('checksum')
  if saved is not None and state_checksum(state) != saved:
    raise CorruptCheckpoint('the arrays do not match the checksum saved with them')
  params = jax.device_get(getattr(state, 'params', state))
  for leaf in jax.tree.leaves(params):
    leaf = np.asarray(leaf)
    if np.issubdtype(leaf.dtype, np.inexact) and not np.all(np.isfinite(leaf)):
      raise CorruptCheckpoint('the restored parameters are not finite')

# tensorstore status codes that mean the stored bytes are missing or damaged.
# (PERMISSION_DENIED, UNAVAILABLE, RESOURCE_EXHAUSTED, UNKNOWN... are not.)
_MISSING_OR_DAMAGED = ('NOT_FOUND', 'DATA_LOSS', 'OUT_OF_RANGE')
# FAILED_PRECONDITION is also what some errnos (EBUSY, EBADF) become; it
# counts only as a decoding failure.
_DECODING_WORDS = ('decod', 'compress', 'zstd', 'truncated')
OK, UNREADABLE, FAILED = 0, 1, 2


def _chain(error: BaseException) -> list[BaseException]:
  """`error` and the exceptions it was raised from (cause or context)."""
  out = []
  while error is not None and error not in out:
    out.append(error)
    error = error.__cause__ or error.__context__
  return out


def is_unreadable(error: BaseException, step_dir) -> bool:
  """Whether `error`, raised restoring the checkpoint in `step_dir`, shows missing or
  garbled files (rather than a transient or environmental failure, or a mismatch
  with the config)."""
  chain = _chain(error)
  for e in chain:  # The environment, not the files: never quarantine.
    if isinstance(e, OSError) and not isinstance(e, FileNotFoundError):
      return False
  for e in chain:
    message = str(e)
    code = message.split(':', 1)[0].strip()
    if isinstance(e, (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError,
                      CorruptCheckpoint)):
      return True
    if code in _MISSING_OR_DAMAGED:
      return True
    if code == 'FAILED_PRECONDITION' and any(w in message.lower() for w in _DECODING_WORDS):
      return True
    if isinstance(e, KeyError) and 'not found in the checkpoint' in message:
      return True  # A whole item (state/, data/) is missing.
  # Without its tree metadata orbax reads the state as a plain dict and reports
  # a structure mismatch; with the file present, the mismatch is real.
  structure = any('pytree structure' in str(e) or 'node type mismatch' in str(e)
                  for e in chain)
  return structure and not (fileio.as_path(step_dir) / 'state' / '_METADATA').exists()


def first_line(error: BaseException) -> str:
  text = str(error).strip()
  return (text.splitlines()[0] if text else type(error).__name__)[:300]


def agree(outcome: int) -> int:
  """The outcome every process acts on: OK only if all read the step, UNREADABLE
  only if all found it damaged, else FAILED."""
  if jax.process_count() == 1:
    return outcome
  from jax.experimental import multihost_utils  # pylint: disable=g-import-not-at-top
  outcomes = np.asarray(multihost_utils.process_allgather(np.int32(outcome))).reshape(-1)
  if np.all(outcomes == outcomes[0]):
    return int(outcomes[0])
  return FAILED


class Checkpointer:

  def __init__(self, workdir, max_to_keep: int, subdir: str = 'checkpoints',
               best_mode: str | None = None):
    """`best_mode` 'max' or 'min': keep the `max_to_keep` steps with the best metric
    passed to `save` (orbax's best_fn) instead of the newest."""
    self.workdir = fileio.as_path(workdir)
    self.directory = self.workdir / subdir
    self._max_to_keep = max_to_keep
    self._best_mode = best_mode
    self._saving = None  # The step of the save in flight, if any.
    self._manager = self._open()

  def _open(self) -> ocp.CheckpointManager:
    best = {}
    if self._best_mode:
      best = dict(best_fn=lambda metrics: metrics['value'], best_mode=self._best_mode,
                  keep_checkpoints_without_metrics=False)
    return ocp.CheckpointManager(
        self.directory,
        options=ocp.CheckpointManagerOptions(max_to_keep=self._max_to_keep,
                                             create=True, **best))

  def best_step(self) -> int | None:
    return self._manager.best_step()

  def delete_after(self, step: int) -> None:
    """Deletes the steps after `step` (written by a run that is now resumed from `step`)."""
    for s in self.all_steps():
      if s > step:
        self._manager.delete(s)

  def all_steps(self) -> list[int]:
    return sorted(self._manager.all_steps())

  def save(self, step: int, state, data_state: dict, metric: float | None = None) -> None:
    """Starts an asynchronous save; device arrays are copied before it returns.

    The JSON item `data` carries `data_state` and the SHA-256 of the state's
    arrays, written in the same orbax save (one step directory, one commit).
    A failure to write (this step's, or the previous step's in the background)
    raises a RunError naming that step's directory.
    """
    data_state = {**data_state, 'checksum': state_checksum(state)}
    self._finish_save()  # The previous step's errors name that step.
    self._saving = step
    try:
      self._manager.save(step, args=ocp.args.Composite(
          state=ocp.args.StandardSave(state), data=ocp.args.JsonSave(data_state)),
                         metrics=None if metric is None else {'value': float(metric)})
    except Exception as e:  # pylint: disable=broad-except
      raise self._save_error(e) or e

  def read_data(self, step: int) -> dict:
    """The JSON item of a step alone (data position, config, checksum)."""
    return self._manager.restore(step, args=ocp.args.Composite(
        data=ocp.args.JsonRestore()))['data']

  def restore(self, step: int, abstract_state, check_data=None):
    """(state, data_state) of `step`, verified against its checksum.

    `check_data(data_state)` runs first, before any array is read: it may
    raise a ConfigError (a checkpoint of another config), which propagates.
    """
    if check_data is not None:
      check_data(self.read_data(step))
    out = self._manager.restore(step, args=ocp.args.Composite(
        state=ocp.args.StandardRestore(abstract_state), data=ocp.args.JsonRestore()))
    check_restored(out['state'], out['data'])
    return out['state'], out['data']

  def restore_latest(self, abstract_state, quarantine: bool = True, check_data=None):
    """(state, data_state, step) from the newest readable step, or None if none exist.

    Unreadable steps are moved aside when `quarantine` (training, which will
    write those steps again), and only skipped otherwise (read-only use).
    Every process takes the same decision (see `agree`).
    """
    moved = []
    for step in reversed(self.all_steps()):
      path = self.directory / str(step)
      error, restored = None, None
      try:
        restored = self.restore(step, abstract_state, check_data)
      except ConfigError:
        raise
      except Exception as e:  # pylint: disable=broad-except
        error = e
      outcome = (OK if error is None else
                 UNREADABLE if is_unreadable(error, path) else FAILED)
      outcome = agree(outcome)
      if outcome == OK:
        return restored[0], restored[1], step
      if outcome == FAILED:
        why = (f'{type(error).__name__}: {first_line(error)}' if error is not None
               else 'another process could not read it')
        raise RunError(f'cannot read checkpoint {path} ({why}); nothing was moved: '
                       'fix the cause and run the same command again') from error
      moved.append(step)
      dest = self._quarantine(step) if quarantine else None
      if parallel.is_primary():
        action = f'moved it to {dest}' if quarantine else 'skipped it'
        print(f'warning: checkpoint at step {step} is unreadable ({type(error).__name__}: '
              f'{first_line(error)[:200]}); {action} and trying the previous one',
              file=sys.stderr)
    if moved and quarantine:
      raise RunError(
          f'no readable checkpoint in {self.directory}: steps {moved} are corrupt and '
          f'were moved to {self.workdir / "corrupt_checkpoints"}; run the '
          'same command again to start from step 0')
    if moved:
      raise RunError(f'no readable checkpoint in {self.directory}: steps {moved} are corrupt')
    return None

  def _quarantine(self, step: int):
    """Moves step `step` to corrupt_checkpoints/ (process 0 moves, every process
    reopens after a barrier); its new path on process 0, None on the others."""
    self._manager.close()
    dest = None
    if parallel.is_primary():
      dest = fileio.free_name(self.workdir / 'corrupt_checkpoints' / str(step))
      fileio.move(self.directory / str(step), dest)
    parallel.sync(f'cnn_vs_rnn.quarantine.{step}')
    self._manager = self._open()
    return dest

  def _finish_save(self) -> None:
    """Waits for the save in flight; a RunError naming its step if it failed."""
    try:
      self._manager.wait_until_finished()
    except Exception as e:  # pylint: disable=broad-except
      raise self._save_error(e) or e
    self._saving = None

  def _save_error(self, error: BaseException) -> RunError | None:
    """A RunError naming the step being saved, if `error` is the file system's (an
    OSError, or tensorstore's report of one); None for anything else."""
    reason = _write_failure(error)
    if reason is None:
      return None
    step = self._saving
    where = self.directory / str(step) if step is not None else self.directory
    try:
      done = sorted(int(p.name) for p in self.directory.iterdir() if p.name.isdigit())
    except OSError:
      done = []
    kept = (f'the newest complete checkpoint is step {done[-1]}' if done else
            'no checkpoint was completed')
    run_error = RunError(f'cannot write checkpoint {where} ({reason}); {kept}')
    run_error.__cause__ = error
    return run_error

  def wait(self) -> None:
    self._finish_save()

  def close(self) -> None:
    """Waits for the save in flight and closes.

    Called from a `finally`: while an error is propagating, a failure here (often
    the same one again) is dropped rather than hide that error; but a stop by
    signal claims its checkpoint was saved, so a failed save replaces it.
    """
    propagating = sys.exc_info()[1]
    quiet = propagating is not None and not isinstance(propagating, Preempted)
    try:
      self._finish_save()
      self._manager.close()
    except Exception:  # pylint: disable=broad-except
      _close_parts(self._manager)
      if not quiet:
        raise


# The parts CheckpointManager.close() closes, in its order. Its close() stops at the
# first part that raises (after a failed save, the async checkpointer raises its
# error again), which left the metadata store's writer thread running: that thread
# logged its own failure (ENOSPC) after the command's one error line.
_MANAGER_PARTS = ('_checkpointer', '_non_blocking_metadata_store', '_blocking_metadata_store',
                  '_checkpoint_deleter')


def _close_parts(manager) -> None:
  """Closes each part of `manager` that has a close(), whatever the others raise;
  closing the metadata stores waits for their writes."""
  for name in _MANAGER_PARTS:
    part = getattr(manager, name, None)
    try:
      if part is not None:
        part.close()
    except Exception:  # pylint: disable=broad-except
      pass


# tensorstore reports an OS error as "... [os_error_code='28'] ..." or "[OS error: 13]".
_OS_ERROR_CODE = re.compile(r"os_error_code='?(\d+)|\[OS error: (\d+)")
# tensorstore status codes of a failed write that are the file system's.
_WRITE_STATUS = ('RESOURCE_EXHAUSTED', 'PERMISSION_DENIED', 'UNAVAILABLE', 'DATA_LOSS',
                 'FAILED_PRECONDITION', 'NOT_FOUND', 'UNKNOWN')


def _write_failure(error: BaseException) -> str | None:
  """'No space left on device (ENOSPC)' if `error` is a failed write, else None."""
  for e in _chain(error):
    if isinstance(e, OSError) and e.errno:
      return f'{os.strerror(e.errno)} ({errno.errorcode.get(e.errno, e.errno)})'
  for e in _chain(error):
    match = _OS_ERROR_CODE.search(str(e))
    if match:
      code = int(match.group(1) or match.group(2))
      return f'{os.strerror(code)} ({errno.errorcode.get(code, code)})'
  for e in _chain(error):
    code = str(e).split(':', 1)[0].strip()
    if code in _WRITE_STATUS:
      return first_line(e)[:200]
  return None
