"""Training entry point.

  python -m cnn_vs_rnn.train --config configs/NAME.py --workdir DIR [--config.KEY=VALUE ...]

From Python: `train_and_evaluate(config, workdir) -> dict` of final metrics.
Exit codes: 0 success; 2 usage or config error; 1 failure during the run.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import os
import platform
import subprocess
import sys
import time
from importlib import metadata
from typing import Any, Callable

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from flax import struct
from flax.training import train_state

from cnn_vs_rnn import (cli, configlib, data, diagnostics, fileio, memory, models, optim,
                        parallel, tasks)
from cnn_vs_rnn.checkpointing import Checkpointer
from cnn_vs_rnn.data.baselines import baseline_metrics
from cnn_vs_rnn.data.pipeline import SeedIterators, TrainIterator, eval_batches, num_examples
from cnn_vs_rnn.errors import ConfigError, NonFiniteLossError, show
from cnn_vs_rnn.metric_writer import Progress, open_writer
from cnn_vs_rnn.preemption import Preempted, StopSignals
from cnn_vs_rnn import hostmem


class TrainState(train_state.TrainState):
  """Step, params, optimizer state, and non-parameter collections (e.g. batch_stats)."""
  model_state: Any = struct.field(default_factory=dict)


# ---------------------------------------------------------------------------
# Pure functions: state creation, one train step, one eval step.


def create_train_state(model, tx, input_shape, rng, input_dtype=jnp.float32) -> TrainState:
  x = jnp.zeros((1,) + tuple(input_shape), input_dtype)
  variables = dict(model.init({'params': rng, 'dropout': rng}, x))
  params = variables.pop('params')
  return TrainState.create(apply_fn=model.apply, params=params, tx=tx,
                           model_state=variables)


def _apply(state, params, batch, train, rng=None, task=None):
  """Model outputs and, when training, the updated non-parameter collections.

  The task may hand the model more of the batch (tasks.model_inputs: the
  targets of a sequence-to-sequence task, for teacher forcing).
  """
  variables = {'params': params, **state.model_state}
  kwargs = dict(lengths=batch.get('lengths'), train=train, **tasks.model_inputs(task, batch))
  if train and state.model_state:
    return state.apply_fn(variables, batch['inputs'], rngs={'dropout': rng},
                          mutable=list(state.model_state), **kwargs)
  rngs = {'dropout': rng} if train else {}
  return state.apply_fn(variables, batch['inputs'], rngs=rngs, **kwargs), state.model_state


def loss_fn(params, state: TrainState, batch, rng, *, task):
  """Training loss of `params` on `batch`, with (metric sums, new model state)."""
  outputs, model_state = _apply(state, params, batch, True, rng, task)
  loss, sums = tasks.loss_and_sums(task, outputs, batch)
  return loss, (sums, model_state)


def train_step(state: TrainState, batch, rng, *, task):
  """One optimizer update; the step's randomness is fold_in(rng, step)."""
  rng = jax.random.fold_in(rng, state.step)
  grad_fn = jax.value_and_grad(functools.partial(loss_fn, task=task), has_aux=True)
  (loss, (sums, model_state)), grads = grad_fn(state.params, state, batch, rng)
  state = state.apply_gradients(grads=grads, model_state=model_state)
  return state, {'loss': loss, 'grad_norm': optax.tree.norm(grads), 'sums': sums}


def eval_step(state: TrainState, batch, *, task):
  """Weighted metric sums of one (possibly padded) batch."""
  outputs, _ = _apply(state, state.params, batch, False, task=task)
  return tasks.loss_and_sums(task, outputs, batch)[1]


def over_seeds(fn, num_seeds: int, in_axes=0):
  """`fn` on one replica -> on a leading seed axis of N replicas (itself for N = 1)."""
  return fn if num_seeds == 1 else jax.vmap(fn, in_axes=in_axes)


def seed_lead(num_seeds: int) -> int:
  """Leading axes before a batch's example axis: 1 for the seed axis of N > 1 replicas."""
  return int(num_seeds > 1)


def jit_train_step(task, mesh, num_seeds: int = 1):
  """train_step compiled for `mesh`: state replicated and donated, batch sharded."""
  repl = parallel.replicated(mesh)
  batch_sh = parallel.batch_sharded(mesh, seed_lead(num_seeds))
  step = over_seeds(functools.partial(train_step, task=task), num_seeds)
  return jax.jit(step, in_shardings=(repl, batch_sh, repl), out_shardings=(repl, repl),
                 donate_argnums=0)


def train_loop(state, arrays, idx_KxB, rng, *, task, num_seeds, batch_sharding):
  """K train steps in one lax.scan, each gathering its batch from resident `arrays`.

  idx_KxB: [K, B] record indices ([K, N, B] with N replicas). Returns the
  state and every step's metrics stacked on a leading [K] axis.
  """
  step = over_seeds(functools.partial(train_step, task=task), num_seeds)

  def body(state, idx_B):
    batch = jax.lax.with_sharding_constraint(parallel.gather_batch(arrays, idx_B),
                                             batch_sharding)
    return step(state, batch, rng)

  return jax.lax.scan(body, state, idx_KxB)


def jit_train_loop(task, mesh, num_seeds: int = 1):
  """train_loop compiled for `mesh`, state donated; one compile per distinct K."""
  repl = parallel.replicated(mesh)
  loop = functools.partial(train_loop, task=task, num_seeds=num_seeds,
                           batch_sharding=parallel.batch_sharded(mesh, seed_lead(num_seeds)))
  return jax.jit(loop, in_shardings=(repl, repl, repl, repl), out_shardings=(repl, repl),
                 donate_argnums=0)


def all_finite(tree) -> jax.Array:
  return jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree)]))


# ---------------------------------------------------------------------------
# The run.


def _package_versions() -> dict:
  out = {'python': platform.python_version()}
  for name in ('cnn_vs_rnn', 'jax', 'jaxlib', 'flax', 'optax', 'orbax-checkpoint',
               'tensorflow-datasets', 'ml-collections', 'numpy'):
    try:
      out[name] = metadata.version(name)
    except metadata.PackageNotFoundError:
      pass
  return out


def _git_commit() -> str | None:
  here = os.path.dirname(os.path.abspath(__file__))
  try:
    commit = subprocess.run(['git', 'rev-parse', 'HEAD'], cwd=here, capture_output=True,
                            text=True, timeout=5, check=True).stdout.strip()
    dirty = subprocess.run(['git', 'status', '--porcelain', '--untracked-files=no'],
                           cwd=here, capture_output=True, text=True, timeout=5).stdout
  except (OSError, subprocess.SubprocessError):
    return None
  return commit + ('-dirty' if dirty.strip() else '')


def check_workdir_path(workdir: str) -> None:
  """Raises unless `workdir` is a directory or does not exist yet."""
  path = fileio.as_path(workdir)
  if path.exists() and not path.is_dir():
    raise ConfigError(f'workdir {workdir!r} is a file; pass a directory (new or from '
                      'a run of the same config)')


def has_checkpoints(workdir: str) -> bool:
  path = fileio.as_path(workdir) / 'checkpoints'
  return path.is_dir() and any(p.name.isdigit() for p in path.iterdir())


def config_mismatch(old: dict, new: dict, where: str) -> ConfigError | None:
  """A ConfigError naming the keys where `new` differs from the run's `old` config."""
  diff = configlib.differing_keys(old, new)
  if not diff:
    return None
  a, b = configlib.flatten(old), configlib.flatten(new)
  shown = ', '.join(f'{k}: {show(a.get(k))} -> {show(b.get(k))}' for k in diff[:6])
  more = f' and {len(diff) - 6} more' if len(diff) > 6 else ''
  return ConfigError(f'{where} holds a run of another config ({shown}{more}); use a new '
                     'workdir or the same config')


def check_workdir(config, workdir: str) -> bool:
  """Raises unless `workdir` is new or holds a run of the same config; True if it holds one.

  A config may change while the workdir holds no checkpoint (a run that
  failed before its first save): the run then starts over with the new one.
  """
  check_workdir_path(workdir)
  path = fileio.as_path(workdir) / 'config.json'
  if not path.exists():
    return False
  try:
    old = fileio.read_json(path)['config']
    if not isinstance(old, dict):
      raise TypeError(f'"config" is a {type(old).__name__}')
  except (ValueError, KeyError, TypeError) as e:  # Garbled, cut off, or another file.
    print(f'warning: {path} is unreadable ({type(e).__name__}: {str(e)[:100]}); it is '
          'written anew, and the checkpoints are checked against the config they carry',
          file=sys.stderr)
    return False
  error = config_mismatch(old, config.to_dict(), f'workdir {workdir!r}')
  if error is None:
    return True
  if has_checkpoints(workdir):
    raise error
  print(f'note: {workdir} holds no checkpoint yet; starting over with the new config',
        flush=True)
  return False


def write_run_record(config, workdir: str) -> None:
  """config.json: the resolved config, package versions, git commit, devices."""
  record = {'config': config.to_dict(), 'versions': _package_versions(),
            'git_commit': _git_commit(), 'devices': [str(d) for d in jax.devices()],
            'process_count': jax.process_count()}
  fileio.write_json(fileio.as_path(workdir) / 'config.json', record, indent=2,
                    sort_keys=True)


def _is_multiple(step: int, every: int) -> bool:
  return step % every == 0


def seeds_of(config) -> list[int]:
  """The seeds of the run's replicas: seed, seed + 1, ..., seed + num_seeds - 1."""
  return [config.seed + k for k in range(config.get('num_seeds', 1))]


def replica_rngs(config):
  """(init rng, train rng): split(key(seed)), stacked over the replicas if num_seeds > 1."""
  pairs = [jax.random.split(jax.random.key(s)) for s in seeds_of(config)]
  if len(pairs) == 1:
    return pairs[0][0], pairs[0][1]
  stacked = jnp.stack(pairs)
  return stacked[:, 0], stacked[:, 1]


def evaluate_per_seed(p_eval_step, state, split, batch_size, mesh, task) -> list[dict]:
  """Metric means over every example of `split` exactly once, one dict per replica."""
  total = None
  for batch in eval_batches(split, batch_size, jax.process_index(), jax.process_count()):
    # One evaluation in flight at a time. Batches do not depend on each other, so
    # dispatched together their multi-device executions overlap, and on a CPU with
    # fewer cores than devices each can hold some devices' threads in its all-reduce
    # while waiting for the others: XLA aborts after 40 s (seen with 4 simulated
    # devices on 2 cores). Training steps never overlap: each needs the last state.
    sums = jax.device_get(p_eval_step(state, parallel.shard_batch(batch, mesh)))
    total = sums if total is None else jax.tree.map(np.add, total, sums)
  n = np.ndim(total['count'])  # 0: one replica; 1: a seed axis.
  if n == 0:
    return [tasks.means(task, total)]
  return [tasks.means(task, {k: v[i] for k, v in total.items()})
          for i in range(len(total['count']))]


def evaluate(p_eval_step, state, split, batch_size, mesh, task, seeds=None) -> dict:
  """Metric means over every example of `split` (with replicas: mean, std and per seed)."""
  return seed_summary(evaluate_per_seed(p_eval_step, state, split, batch_size, mesh, task),
                      seeds)


def seed_summary(per_seed: list[dict], seeds=None) -> dict:
  """One replica's metrics as they are; N replicas' as mean, `/std` and `/seed_S` keys.

  The std is the sample standard deviation over the replicas (ddof=1).
  """
  if len(per_seed) == 1:
    return dict(per_seed[0])
  seeds = list(range(len(per_seed))) if seeds is None else list(seeds)
  out = {}
  for key in per_seed[0]:
    values = np.asarray([m[key] for m in per_seed], np.float64)
    out[key] = float(values.mean())
    out[f'{key}/std'] = float(values.std(ddof=1))
    out.update({f'{key}/seed_{s}': float(v) for s, v in zip(seeds, values)})
  return out


def final_record(step: int, per_seed: list[dict], seeds, num_params: int) -> dict:
  """final_metrics.json: the last evaluation; with replicas also per_seed, mean and std."""
  if len(per_seed) == 1:
    return {'step': int(step), **per_seed[0], 'num_params': num_params}
  table = {k: np.asarray([m[k] for m in per_seed], np.float64) for k in per_seed[0]}
  mean = {k: float(v.mean()) for k, v in table.items()}
  return {'step': int(step), **mean, 'num_params': num_params,
          'num_seeds': len(per_seed), 'seeds': list(seeds),
          'per_seed': {k: [float(x) for x in v] for k, v in table.items()},
          'mean': mean, 'std': {k: float(v.std(ddof=1)) for k, v in table.items()}}


@dataclasses.dataclass
class Run:
  """Everything a config builds before training: shared by train, evaluate and sample."""
  config: ml_collections.ConfigDict
  mesh: Any
  dataset: data.Dataset
  model: Any
  task: Any
  init: Callable  # jitted rng -> TrainState (rngs [N] -> N replicas), replicated
  abstract_state: Any  # its shapes and shardings, for restoring checkpoints

  @property
  def num_seeds(self) -> int:
    return self.config.get('num_seeds', 1)


def check_batch_fits(config, dataset) -> None:
  """A train batch may not be larger than the train split."""
  n = num_examples(dataset.split('train'))
  if config.data.batch_size > n:
    raise ConfigError(f'data.batch_size={config.data.batch_size} is larger than the {n:,} '
                      f'training examples of {config.data.name!r}; use at most {n}')


def build_run(config: ml_collections.ConfigDict, devices=None) -> Run:
  """Validates `config` and builds its mesh, dataset, model, task and optimizer."""
  configlib.validate(config)
  configlib.import_plugins(config)  # A user's models and datasets register themselves.
  mesh = parallel.make_mesh(devices)
  parallel.check_batch_size('data.batch_size', config.data.batch_size, mesh)
  parallel.check_batch_size('data.eval_batch_size', configlib.eval_batch_size(config), mesh)
  tx = optim.make_optimizer(config.optim, config.num_train_steps)
  dataset = data.load(config.data)
  check_batch_fits(config, dataset)
  model = models.build(config.model, dataset.spec, dtype=config.get('dtype', 'float32'))
  task = tasks.get(dataset.spec.task)
  repl = parallel.replicated(mesh)
  create = functools.partial(create_train_state, model, tx, dataset.spec.input_shape,
                             input_dtype=dataset.spec.input_dtype)
  init = jax.jit(over_seeds(create, config.get('num_seeds', 1)), out_shardings=repl)
  abstract_state = jax.tree.map(
      lambda s: jax.ShapeDtypeStruct(s.shape, s.dtype, sharding=repl),
      jax.eval_shape(init, replica_rngs(config)[0]))
  return Run(config, mesh, dataset, model, task, init, abstract_state)


def jit_eval_step(task, mesh, num_seeds: int = 1):
  step = over_seeds(functools.partial(eval_step, task=task), num_seeds, in_axes=(0, None))
  return jax.jit(step, in_shardings=(parallel.replicated(mesh), parallel.batch_sharded(mesh)),
                 out_shardings=parallel.replicated(mesh))


def replica(tree, k: int):
  """Replica k of a tree with a leading seed axis."""
  return jax.tree.map(lambda x: x[k], tree)


def next_stop(step: int, steps_per_loop: int, config) -> int:
  """Where the call starting after `step` ends: K steps on, or earlier at a boundary.

  Calls end at multiples of K (and at boundaries), whatever step a run
  resumed from, so a resumed run makes the same calls as an uninterrupted one.
  """
  return min((step // steps_per_loop + 1) * steps_per_loop, next_boundary(step, config))


def stop_requested(signals: StopSignals) -> bool:
  """Whether a stop signal arrived, on any process (all of them stop at the same step)."""
  stop = signals.signum is not None
  if jax.process_count() > 1:
    from jax.experimental import multihost_utils  # pylint: disable=g-import-not-at-top
    flags = multihost_utils.process_allgather(np.int32(signals.signum or 0))
    signals.signum = signals.signum or int(np.max(flags)) or None
    stop = signals.signum is not None
  return stop


def save_window(window: dict) -> dict:
  """The log window's metric sums as JSON (float64 values round-trip exactly)."""
  return {k: np.asarray(v, np.float64).tolist() for k, v in window.items()}


def restore_window(data_state: dict) -> dict:
  return {k: np.asarray(v, np.float64) for k, v in data_state.get('log_window', {}).items()}


def best_checkpointer(config, dataset, workdir) -> Checkpointer | None:
  """The best-step checkpoints (WORKDIR/best_checkpoint, by the task's validation metric),
  when the run evaluates on a split other than 'test' and the data has a test split.

  With num_seeds > 1 the replicas' mean metric picks one step for all of them.
  """
  if config.data.eval_split == 'test' or 'test' not in dataset.splits:
    return None
  return Checkpointer(workdir, 1, 'best_checkpoint',
                      best_mode=tasks.selection(dataset.spec.task)[1])


def next_boundary(step: int, config) -> int:
  """The first step after `step` that logs, evaluates, checkpoints or ends the run."""
  stop = config.num_train_steps
  for every in (config.log_every_steps, config.eval_every_steps,
                config.checkpoint_every_steps):
    stop = min(stop, (step // every + 1) * every)
  return stop


def diagnostics_writer(run: Run, eval_split, mesh) -> Callable:
  """state -> the diag/* metrics of config.diagnostics_every_steps.

  The gradient through time (diagnostics.grad_through_time) on a fixed batch,
  the first data.batch_size examples of the eval split, summarised as
  ||dL/dh_t|| at the first, middle (T // 2) and last step and the first over
  the last (||dL/dx_t|| for non-recurrent families; diagnostics.grad_summary). Replicas (num_seeds > 1)
  are probed together (vmap) and reported as mean, /std and /seed_S. It only
  reads the state: no RNG, no data position, no parameter changes. Within a
  K-step loop (steps_per_loop) it runs at the end of the call that passes a
  multiple of N, at the step where that call ends.
  """
  batch = parallel.device_resident(
      diagnostics.fixed_batch(eval_split, run.config.data.batch_size), mesh)
  fn = jax.jit(over_seeds(diagnostics.summary_fn(run.model, run.task), run.num_seeds,
                          in_axes=(0, None)))
  seeds = seeds_of(run.config)

  def write(state) -> dict:
    out = jax.device_get(fn({'params': state.params, **state.model_state}, batch))
    if run.num_seeds == 1:
      per_seed = [{k: float(v) for k, v in out.items()}]
    else:
      per_seed = [{k: float(v[i]) for k, v in out.items()} for i in range(run.num_seeds)]
    return {f'diag/{k}': v for k, v in seed_summary(per_seed, seeds).items()}

  return write


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str,
                       devices=None) -> dict:
  """Trains `config` in `workdir` (resuming if it holds a run) and returns final metrics.

  With `config.num_seeds = N > 1` the N replicas (seeds seed .. seed + N - 1)
  train together, and the metrics are their mean, std and per-seed values.
  With several processes (parallel.maybe_initialize_distributed) every process
  calls it; only process 0 writes run files and prints.
  """
  with parallel.stdout_on_primary_only():
    check_workdir_path(workdir)
    run = build_run(config, devices)  # Validates the config first.
    # One training run per workdir: process 0 holds its lock until the end.
    with fileio.WorkdirLock(workdir) if parallel.is_primary() else contextlib.nullcontext():
      final = _train_and_evaluate(run, workdir)
    # No process leaves (taking JAX's coordination service with it, on process 0)
    # while another still finishes its last saves and evaluations.
    parallel.sync('cnn_vs_rnn.train_and_evaluate.done')
    return final


def _train_and_evaluate(run: Run, workdir: str) -> dict:
  config = run.config
  resuming = check_workdir(config, workdir)
  mesh, dataset, task = run.mesh, run.dataset, run.task
  num_seeds, seeds = run.num_seeds, seeds_of(config)
  eval_bs = configlib.eval_batch_size(config)
  init_rng, train_rng = replica_rngs(config)

  ckpt = Checkpointer(workdir, config.max_checkpoints_to_keep)
  train_split = dataset.split('train')
  resident = (parallel.device_resident(train_split, mesh)
              if config.data.get('device_resident', False) and isinstance(train_split, dict)
              else None)
  process = dict(process_index=jax.process_index(), process_count=jax.process_count())
  train_iter = (TrainIterator(train_split, config.data.batch_size, config.seed, **process)
                if num_seeds == 1 else
                SeedIterators(train_split, config.data.batch_size, seeds, **process))
  window: dict[str, np.ndarray] = {}  # Metric sums since the last log step.
  def check_data(data_state):  # The config saved in the checkpoint itself.
    if 'config' in data_state:
      error = config_mismatch(data_state['config'], config.to_dict(),
                              f'the checkpoint in {workdir!r}')
      if error is not None:
        raise error

  restored = ckpt.restore_latest(run.abstract_state, check_data=check_data)
  best = best_checkpointer(config, dataset, workdir)
  if not resuming and parallel.is_primary():  # Only once the checkpoints agree with it.
    write_run_record(config, workdir)
  if restored is None:
    state, start_step = run.init(init_rng), 0
  else:
    state, data_state, start_step = restored
    train_iter.set_state(data_state)
    window = restore_window(data_state)
    print(f'Resuming from step {start_step} (data position {train_iter.position}).')
  if best is not None:  # Best steps after the resume point are recomputed.
    best.delete_after(start_step)

  one_params = state.params if num_seeds == 1 else replica(state.params, 0)
  num_params = models.count_params(one_params)
  replicas = f', {num_seeds} replicas (seeds {seeds[0]}..{seeds[-1]})' if num_seeds > 1 else ''
  print(f'Model {config.model.name!r} on {config.data.name!r} '
        f'({dataset.spec.task}, input {dataset.spec.input_shape}), '
        f'{mesh.devices.size} device(s){replicas}:\n{models.summary(one_params)}', flush=True)
  rf = models.receptive_field(run.model)
  if rf is not None:
    print(f'receptive field: {rf} steps (sequence length {dataset.spec.input_shape[0]})')

  lead = seed_lead(num_seeds)
  steps_per_loop = config.get('steps_per_loop', 1) if resident is not None else 1
  # Compiled once per batch shape (and per K), refused if the plan exceeds a device.
  hint = ('lower data.batch_size, model.* sizes, num_seeds or steps_per_loop, or use '
          'more devices')
  device = mesh.devices.flat[0]
  p_train_step = memory.Checked(jit_train_step(task, mesh, num_seeds), device,
                                'the train step', hint)
  p_train_loop = (memory.Checked(jit_train_loop(task, mesh, num_seeds), device,
                                 'the train loop', hint) if steps_per_loop > 1 else None)
  resident_batch = (parallel.resident_batches(resident, mesh, lead)
                    if resident is not None else None)
  p_eval_step = jit_eval_step(task, mesh, num_seeds)
  p_all_finite = jax.jit(all_finite)
  lr_schedule = optim.make_schedule(config.optim, config.num_train_steps)
  eval_split = dataset.split(config.data.eval_split)
  # Trivial baselines (majority class, train mean, persistence): fixed for the run.
  baselines = {f'eval/{k}': v
               for k, v in baseline_metrics(dataset, config.data.eval_split).items()}

  diag_every = config.get('diagnostics_every_steps', 0)
  write_diagnostics = (diagnostics_writer(run, eval_split, mesh) if diag_every else None)

  writer = open_writer(workdir, resume_step=start_step, primary=parallel.is_primary())
  progress = Progress(start_step, config.num_train_steps)
  pending = []  # (first step, device metrics [K, ...]) dispatched but not yet checked.
  eval_per_seed = None

  def drain():
    """Fetches pending step metrics, checks them, adds them to the log window."""
    for first, m in pending:
      m = jax.device_get(m)
      for i in range(len(m['loss'])):
        loss, gnorm = np.asarray(m['loss'][i]), np.asarray(m['grad_norm'][i])
        bad = ~(np.isfinite(loss) & np.isfinite(gnorm))
        if bad.any():
          k = int(np.argmax(bad.reshape(-1)))
          l, g = float(loss.reshape(-1)[k]), float(gnorm.reshape(-1)[k])
          desc = l if not np.isfinite(l) else f'{l} with grad_norm={g}'
          if num_seeds > 1:
            desc = f'{desc} in the replica with seed {seeds[k]}'
          raise NonFiniteLossError(first + i, desc)
        for key, v in m['sums'].items():
          window[key] = window.get(key, 0.0) + np.asarray(v[i], np.float64)
    pending.clear()

  def save(step):
    drain()
    if not bool(p_all_finite(state.params)):
      raise NonFiniteLossError(step, 'finite, but the parameters are not')
    if best is not None and jax.process_count() > 1:
      best.wait()  # orbax's multi-host barriers allow one save in flight at a time.
    ckpt.save(step, state, {**train_iter.get_state(), 'log_window': save_window(window),
                            'config': config.to_dict()})
    saved.append(step)

  def offer_best(step, per_seed):
    """Saves the state as a best candidate; orbax keeps the best by the selection metric."""
    if not bool(p_all_finite(state.params)):
      raise NonFiniteLossError(step, 'finite, but the parameters are not')
    metric = tasks.selection(dataset.spec.task)[0]
    if jax.process_count() > 1:
      ckpt.wait()  # orbax's multi-host barriers allow one save in flight at a time.
    best.save(step, state, {'config': config.to_dict()},
              metric=float(np.mean([m[metric] for m in per_seed])))

  def window_means() -> list[dict]:
    if num_seeds == 1:
      return [tasks.means(task, window)]
    return [tasks.means(task, {k: v[i] for k, v in window.items()}) for i in range(num_seeds)]

  def test_best(best, final_per_seed) -> int:
    """Evaluates the best step on validation and, once, on test; adds val/*, test/*."""
    best.wait()
    best_step = best.best_step()
    best_state, _ = best.restore(best_step, run.abstract_state)
    for prefix, split in (('val', eval_split), ('test', dataset.split('test'))):
      per_seed = evaluate_per_seed(p_eval_step, best_state, split, eval_bs, mesh, task)
      for out, m in zip(final_per_seed, per_seed):
        out.update({f'{prefix}/{k}': v for k, v in m.items()})
    summary = seed_summary(final_per_seed, seeds)
    if start_step < config.num_train_steps:  # Else a finished run's line is there.
      writer.write(config.num_train_steps, {
          'best_step': best_step,
          **{k: v for k, v in summary.items() if k.startswith('test/')}})
    print(f'best step by {config.data.eval_split}: {best_step}; test: ' + ', '.join(
        f'{k} {v:.4f}' for k, v in summary.items()
        if k.startswith('test/') and '/seed_' not in k), flush=True)
    return best_step

  saved = []
  # Signals are caught until the last checkpoint is written and the metrics flushed.
  with StopSignals() as signals:
    try:
      step = start_step
      while step < config.num_train_steps:
        k = next_stop(step, steps_per_loop, config) - step
        if k > 1:
          idx = np.stack([train_iter.next_global_indices() for _ in range(k)])
          state, metrics = p_train_loop(state, resident, idx, train_rng)
        else:
          batch = (resident_batch(train_iter.next_global_indices()) if resident_batch
                   else parallel.shard_batch(next(train_iter), mesh, lead))
          state, metrics = p_train_step(state, batch, train_rng)
          metrics = jax.tree.map(lambda x: x[None], metrics)
        # Check earlier calls only once this one is dispatched: no host sync in the loop.
        drain()
        pending.append((step + 1, metrics))
        step += k
        is_last = step == config.num_train_steps
        if diag_every and step // diag_every > (step - k) // diag_every:
          writer.write(step, write_diagnostics(state))
        if _is_multiple(step, config.log_every_steps) or is_last:
          drain()
          train_metrics = {f'train/{k}': v for k, v in
                           seed_summary(window_means(), seeds).items()}
          train_metrics['train/learning_rate'] = float(lr_schedule(step - 1))
          window.clear()
          writer.write(step, train_metrics)
          print(progress.line(step, {'train/loss': train_metrics['train/loss']}), flush=True)
        if _is_multiple(step, config.eval_every_steps) or is_last:
          drain()
          eval_per_seed = evaluate_per_seed(p_eval_step, state, eval_split, eval_bs, mesh, task)
          eval_metrics = {f'eval/{k}': v for k, v in seed_summary(eval_per_seed, seeds).items()}
          writer.write(step, {**eval_metrics, **baselines})
          if best is not None:
            offer_best(step, eval_per_seed)
          print(f'eval at step {step}: ' + ', '.join(
              f'{k} {v:.4f}' for k, v in eval_metrics.items() if '/seed_' not in k), flush=True)
        if _is_multiple(step, config.checkpoint_every_steps) or is_last:
          save(step)
        if stop_requested(signals) and not is_last:
          if step not in saved:
            save(step)
          raise Preempted(step, signals.signum, ckpt.directory)
      drain()
      if eval_per_seed is None:  # Resumed from the final checkpoint: evaluate it.
        eval_per_seed = evaluate_per_seed(p_eval_step, state, eval_split, eval_bs, mesh, task)
      final_per_seed = [{f'eval/{k}': v for k, v in m.items()} for m in eval_per_seed]
      best_step = None
      if best is not None:  # Select on validation, report test once.
        best_step = test_best(best, final_per_seed)
    finally:
      ckpt.close()
      if best is not None:
        best.close()
      writer.close()

  final = final_record(config.num_train_steps, final_per_seed, seeds, num_params)
  if best_step is not None:
    final = {'step': final.pop('step'), 'best_step': int(best_step), **final}
  if rf is not None:
    final['receptive_field'] = rf
  final.update(baselines)
  if best_step is not None:
    final.update({f'test/{k}': v for k, v in baseline_metrics(dataset, 'test').items()})
  if parallel.is_primary():
    fileio.write_json(fileio.as_path(workdir) / 'final_metrics.json', final, indent=2)
  return final


# ---------------------------------------------------------------------------
# Command line (cli.py: flags, config files and overrides, one-line errors).


def main(argv=None) -> int:
  def body(config, flag_values):
    parallel.maybe_initialize_distributed()
    start = time.perf_counter()
    final = train_and_evaluate(config, flag_values.workdir)
    if parallel.is_primary():
      print(f'final metrics ({time.perf_counter() - start:.1f}s): {json.dumps(final)}')

  return cli.config_command(argv, body, workdir=True)


if __name__ == '__main__':
  hostmem.keep_freed_memory()  # Only as a program: see hostmem.py.
  sys.exit(main())
