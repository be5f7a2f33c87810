"""Orbax checkpoints of the train state together with the data position.

Saves go to `workdir/checkpoints/<step>/` through `ocp.CheckpointManager`,
which writes into a temporary directory and renames it when complete, so a
process killed mid-save never leaves a half-written step behind. With several
processes every one of them saves and restores, and orbax coordinates them.

The project decides on its own evidence whether a checkpoint is damaged:
- the SHA-256 of the state's arrays, saved with them in the JSON item `data`;
- `files.json` in the step's directory, the size and SHA-256 of every file of
  the step, written by process 0 once the save is complete.
A step that fails to restore is moved to `workdir/corrupt_checkpoints/`
(never deleted; by process 0 alone while the others wait) and the next older
step tried, when its arrays do not match their checksum, its parameters are
not finite, or files that `files.json` lists are missing or changed (or a step
without `files.json`, whose save was cut short, does not restore). Any other
failure (permissions, I/O errors such as EIO, a checkpoint whose shapes do not
fit the config: its files are as written) stops the run with a RunError that
names the step's path, and moves nothing.

A save that fails (a full disk, permissions; orbax writes in the background, so
the error may surface at the next save or at close) is a RunError naming the
step's directory and the newest complete checkpoint, when the project's own
test write into the checkpoint directory fails too (that OSError says why):
steps saved before it are complete, and the failed one never appears under its
step number.
"""

from __future__ import annotations

import errno
import hashlib
import os
import sys
import uuid

import jax
import numpy as np
import orbax.checkpoint as ocp

from cnn_vs_rnn import fileio, parallel
from cnn_vs_rnn.errors import ConfigError, RunError, error_chain
from cnn_vs_rnn.preemption import Preempted

FILES = 'files.json'  # In each step's directory: what the complete save wrote.


class CorruptCheckpoint(RuntimeError):
  """A checkpoint whose files or arrays are not what was saved."""


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


# ---------------------------------------------------------------------------
# files.json: the project's record of a complete step.


def _file_digest(path) -> tuple[int, str]:
  digest, size = hashlib.sha256(), 0
  with path.open('rb') as f:
    for chunk in iter(lambda: f.read(1 << 20), b''):
      digest.update(chunk)
      size += len(chunk)
  return size, digest.hexdigest()


def _walk(step_dir) -> list:
  """Every file under `step_dir` but files.json, as paths relative to it, sorted."""
  out = []
  for root, _, names in step_dir.walk():
    for name in names:
      rel = os.path.relpath(os.fspath(root / name), os.fspath(step_dir))
      if rel != FILES:
        out.append(rel)
  return sorted(out)


def write_file_list(step_dir) -> None:
  """files.json of a complete step: {relative path: [size, sha256]}."""
  files = {rel: list(_file_digest(step_dir / rel)) for rel in _walk(step_dir)}
  fileio.write_json(step_dir / FILES, files, indent=0, sort_keys=True)


def damage_in(step_dir) -> str | None:
  """What differs from the step's files.json ('file state/x is missing'), None if
  nothing does, or 'it has no files.json' when its save was cut short. An OSError
  reading a file (permissions, I/O) propagates: that is not damage."""
  path = step_dir / FILES
  if not path.exists():
    return f'it has no {FILES} (its save did not finish)'
  try:
    files = fileio.read_json(path)
    listed = {str(k): (int(v[0]), str(v[1])) for k, v in files.items()}
  except (ValueError, TypeError, AttributeError, IndexError, KeyError):
    return f'its {FILES} does not parse'
  for rel, (size, sha) in sorted(listed.items()):
    if not (step_dir / rel).exists():
      return f'file {rel} is missing'
    if _file_digest(step_dir / rel) != (size, sha):
      return f'file {rel} is not as written'
  return None


def corrupt_or_failed(error: Exception, step_dir) -> Exception:
  """What a failure to restore `step_dir` is: CorruptCheckpoint on the project's own
  evidence (a damaged file, or a cut-short save that does not restore); else `error`."""
  if isinstance(error, CorruptCheckpoint):
    return error
  if any(isinstance(e, OSError) and not isinstance(e, FileNotFoundError)
         for e in error_chain(error)):
    return error  # The environment (permissions, I/O), not the files.
  damage = damage_in(step_dir)
  if damage is None:
    return error  # The files are as written: the cause lies elsewhere.
  corrupt = CorruptCheckpoint(f'{damage}; {type(error).__name__}: {first_line(error)}')
  corrupt.__cause__ = error
  return corrupt


def first_line(error: BaseException) -> str:
  text = str(error).strip()
  return (text.splitlines()[0] if text else type(error).__name__)[:300]


def one_copy(state):
  """In one process, `state` on its first device alone; with several, as it is.

  Orbax splits an array replicated over R devices into R slices that each
  device writes (replica-parallel saving), and each slice is a compiled
  program per array shape: dozens of compilations at a run's first save,
  for arrays that one process writes anyway. The files are the same; a
  restore places the arrays as its abstract state says.
  """
  if jax.process_count() > 1:
    return state
  device = jax.local_devices()[0]
  return jax.tree.map(lambda x: jax.device_put(x, device) if isinstance(x, jax.Array) else x,
                      state)


OK, UNREADABLE, FAILED = 0, 1, 2


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


# ---------------------------------------------------------------------------
# Failed saves.


def _probe_write(directory, size: int) -> OSError | None:
  """The OSError of writing `size` bytes into `directory` (then removed), or None."""
  probe = directory / f'.write-probe-{uuid.uuid4().hex[:12]}'
  try:
    directory.mkdir(parents=True, exist_ok=True)
    with probe.open('wb') as f:
      f.write(b'\0' * size)
      f.flush()
    return None
  except OSError as e:
    return e
  finally:
    try:
      if probe.exists():
        probe.unlink()
    except OSError:
      pass


def _os_reason(error: OSError) -> str:
  code = error.errno
  return (f'{os.strerror(code)} ({errno.errorcode.get(code, code)})' if code
          else f'{type(error).__name__}: {first_line(error)}')


def _step_size(step_dir) -> int:
  """Bytes of a complete step's files (by its files.json), 1 MiB if unknown."""
  try:
    return max(1, sum(int(v[0]) for v in fileio.read_json(step_dir / FILES).values()))
  except (OSError, ValueError, TypeError, AttributeError, IndexError):
    return 1 << 20


# ---------------------------------------------------------------------------
# The manager.


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
    arrays, written in the same orbax save (one step directory, one commit);
    files.json follows once the save is complete (at the next save, wait or
    close). A failure to write (this step's, or the previous step's in the
    background) raises a RunError naming that step's directory.
    """
    data_state = {**data_state, 'checksum': state_checksum(state)}
    state = one_copy(state)
    self._finish_save()  # The previous step's errors name that step.
    self._saving = step
    try:
      self._manager.save(step, args=ocp.args.Composite(
          state=ocp.args.StandardSave(state), data=ocp.args.JsonSave(data_state)),
                         metrics=None if metric is None else {'value': float(metric)})
    except Exception as e:  # pylint: disable=broad-except
      raise self._save_error(e, self.directory / str(step)) or e

  def read_data(self, step: int) -> dict:
    """The JSON item of a step alone (data position, config, checksum)."""
    return self._manager.restore(step, args=ocp.args.Composite(
        data=ocp.args.JsonRestore()))['data']

  def restore(self, step: int, abstract_state, check_data=None):
    """(state, data_state) of `step`, verified against its checksum.

    `check_data(data_state)` runs first, before any array is read: it may
    raise a ConfigError (a checkpoint of another config), which propagates.
    A failure that the step's own files explain is a CorruptCheckpoint
    (`corrupt_or_failed`); any other propagates as it is.
    """
    try:
      if check_data is not None:
        check_data(self.read_data(step))
      out = self._manager.restore(step, args=ocp.args.Composite(
          state=ocp.args.StandardRestore(abstract_state), data=ocp.args.JsonRestore()))
    except ConfigError:
      raise
    except Exception as e:  # pylint: disable=broad-except
      raise corrupt_or_failed(e, self.directory / str(step)) from e
    check_restored(out['state'], out['data'])
    return out['state'], out['data']

  def _try_restore(self, step, abstract_state, check_data):
    """(outcome, restored, error) of reading `step`, agreed by every process."""
    error, restored = None, None
    try:
      restored = self.restore(step, abstract_state, check_data)
    except ConfigError:
      raise
    except Exception as e:  # pylint: disable=broad-except
      error = e
    outcome = (OK if error is None else
               UNREADABLE if isinstance(error, CorruptCheckpoint) else FAILED)
    return agree(outcome), restored, error

  def restore_latest(self, abstract_state, quarantine: bool = True, check_data=None):
    """(state, data_state, step) from the newest readable step, or None if none exist.

    Corrupt steps are moved aside when `quarantine` (training, which will
    write those steps again), and only skipped otherwise (read-only use).
    Every process takes the same decision (see `agree`).
    """
    moved = []
    for step in reversed(self.all_steps()):
      path = self.directory / str(step)
      outcome, restored, error = self._try_restore(step, abstract_state, check_data)
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
    """Waits for the save in flight and writes its files.json; a RunError naming what
    could not be written if it failed."""
    step_dir = None if self._saving is None else self.directory / str(self._saving)
    try:
      self._manager.wait_until_finished()
    except Exception as e:  # pylint: disable=broad-except
      raise self._save_error(e, step_dir) or e
    # (A best-step save worse than those kept is deleted as soon as it is complete.)
    if step_dir is not None and parallel.is_primary() and step_dir.exists():
      try:
        write_file_list(step_dir)
      except OSError as e:
        raise self._save_error(e, step_dir / FILES) or e
    self._saving = None

  def _newest_complete(self) -> int | None:
    try:
      done = sorted(int(p.name) for p in self.directory.iterdir() if p.name.isdigit())
    except OSError:
      return None
    return done[-1] if done else None

  def _save_error(self, error: BaseException, where=None) -> RunError | None:
    """A RunError naming `where` (the step being saved), if the failure is an OSError or
    a test write of a checkpoint's size into the checkpoint directory fails too (that
    OSError is the reason); else None."""
    newest = self._newest_complete()
    size = _step_size(self.directory / str(newest)) if newest is not None else 1 << 20
    probe = next((e for e in error_chain(error) if isinstance(e, OSError) and e.errno), None)
    probe = probe or _probe_write(self.directory, size)
    if probe is None:
      return None
    where = self.directory if where is None else where
    kept = (f'the newest complete checkpoint is step {newest}' if newest is not None else
            'no checkpoint was completed')
    run_error = RunError(f'cannot write checkpoint {where} ({_os_reason(probe)}); {kept}')
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
      if not quiet:
        raise
