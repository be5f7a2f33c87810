"""Training entry point.

  python -m cnn_vs_rnn.train --config configs/NAME.py --workdir DIR [--config.KEY=VALUE ...]

From Python: `train_and_evaluate(config, workdir) -> dict` of final metrics.
Exit codes: 0 success; 2 usage or config error; 1 failure during the run.

`_train_and_evaluate` builds, restores, then steps: `train_steps` makes each
compiled call (`TrainCalls`: one step, or K steps in a lax.scan) and then runs
the periodic actions of actions.py (diagnostics, log, evaluate and offer the
best step, checkpoint, preemption), each holding its own state. Best-step
selection and the once-only test report are in selection.py, the replica
axis helpers in replicas.py.

The replica axis: the train state, the RNGs and the batches carry a leading
axis of N >= 1 replicas, one code path for every N. A replica is a (seed,
learning rate) pair: config.replicas.learning_rate names a grid of points,
each trained by num_seeds replicas (N = points x num_seeds; replicas.py). The
peak learning rate lives in the optimizer state (optim.py), so the replicas of
a grid differ only there. With one replica the program runs on the replica
itself (replicas.over_replicas), computing what a one-seed run always has.

metrics.jsonl and final_metrics.json keep today's keys for one point:
`eval/accuracy` etc. for one replica; the mean, `/std` and `/seed_S` for N
seeds, with num_seeds, seeds, per_seed, mean and std in final_metrics.json.
A grid's keys are per point: `eval/accuracy/lr_0.003` (the mean over its
seeds), `.../lr_0.003/std` and `.../lr_0.003/seed_S` (with num_seeds > 1),
`train/learning_rate/lr_0.003`; final_metrics.json adds learning_rates and
`points`, one record per point (learning_rate, label, num_seeds, seeds,
per_seed, mean, std, and best_step when a step is selected). Best-step
selection picks a step per point, by the mean over the point's seeds
(selection.py).
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

from cnn_vs_rnn import (actions, cli, configlib, data, diagnostics, fileio, memory, models,
                        optim, parallel, replicas, selection, tasks)
from cnn_vs_rnn.checkpointing import Checkpointer
from cnn_vs_rnn.data.baselines import baseline_metrics
from cnn_vs_rnn.data.pipeline import SeedIterators, eval_batches, num_examples
from cnn_vs_rnn.errors import ConfigError, show
from cnn_vs_rnn.metric_writer import Progress, open_writer
from cnn_vs_rnn.preemption import StopSignals
from cnn_vs_rnn import errors, hostmem
# Also train.* for evaluate.py, sample.py, diagnose.py and the experiments:
from cnn_vs_rnn.actions import all_finite, restore_window, save_window, stop_requested  # pylint: disable=unused-import
from cnn_vs_rnn.replicas import (final_record, over_replicas, replica, replica_rngs,  # pylint: disable=unused-import
                                 seed_summary, seeds_of)
from cnn_vs_rnn.selection import best_checkpointer  # pylint: disable=unused-import


class TrainState(train_state.TrainState):
  """Step, params, optimizer state, and non-parameter collections (e.g. batch_stats)."""
  model_state: Any = struct.field(default_factory=dict)


# ---------------------------------------------------------------------------
# Pure functions: state creation, one train step, one eval step.


def create_train_state(model, tx, input_shape, rng, input_dtype=jnp.float32,
                       learning_rate=None) -> TrainState:
  """One replica's state from `rng`; `learning_rate`: its peak rate (default tx's own)."""
  x = jnp.zeros((1,) + tuple(input_shape), input_dtype)
  variables = dict(model.init({'params': rng, 'dropout': rng}, x))
  params = variables.pop('params')
  state = TrainState.create(apply_fn=model.apply, params=params, tx=tx,
                            model_state=variables)
  # A strongly typed step, as a restored checkpoint's is: with flax's weakly typed 0
  # the state's type changed at the first restore, and the evaluation program was
  # compiled a second time in every run.
  state = state.replace(step=jnp.zeros((), jnp.int32))
  if learning_rate is None:
    return state
  return state.replace(opt_state=optim.with_learning_rate(state.opt_state, learning_rate))


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


def jit_train_step(task, mesh):
  """train_step over the replica axis, compiled for `mesh`: state replicated and
  donated, batch [N, B, ...] sharded over B."""
  repl = parallel.replicated(mesh)
  batch_sh = parallel.batch_sharded(mesh, 1)
  step = over_replicas(functools.partial(train_step, task=task))

  def one_call(state, batch, rng):  # Metrics on a leading [K=1] axis, as the loop's.
    state, metrics = step(state, batch, rng)
    return state, jax.tree.map(lambda x: x[None], metrics)

  return jax.jit(one_call, in_shardings=(repl, batch_sh, repl), out_shardings=(repl, repl),
                 donate_argnums=0)


def train_loop(state, arrays, idx_KxNxB, rng, *, task, batch_sharding):
  """K train steps of the replicas in one lax.scan, batches gathered from resident `arrays`.

  idx_KxNxB: [K, N, B] record indices. Returns the state and every step's
  metrics stacked on a leading [K] axis.
  """
  step = over_replicas(functools.partial(train_step, task=task))

  def body(state, idx_B):
    batch = jax.lax.with_sharding_constraint(parallel.gather_batch(arrays, idx_B),
                                             batch_sharding)
    return step(state, batch, rng)

  return jax.lax.scan(body, state, idx_KxNxB)


def jit_train_loop(task, mesh):
  """train_loop compiled for `mesh`, state donated; one compile per distinct K."""
  repl = parallel.replicated(mesh)
  loop = functools.partial(train_loop, task=task,
                           batch_sharding=parallel.batch_sharded(mesh, 1))
  return jax.jit(loop, in_shardings=(repl, repl, repl, repl), out_shardings=(repl, repl),
                 donate_argnums=0)


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
  return [tasks.means(task, t) for t in replicas.split_replicas(total, len(total['count']))]


def evaluate(p_eval_step, state, split, batch_size, mesh, task, seeds=None) -> dict:
  """Metric means over every example of `split`: one replica's, or N seeds' mean, std
  and per seed (replicas.seed_summary; a grid's per point: replicas.summary)."""
  return seed_summary(evaluate_per_seed(p_eval_step, state, split, batch_size, mesh, task),
                      seeds)


@dataclasses.dataclass
class Run:
  """Everything a config builds before training: shared by train, evaluate and sample."""
  config: ml_collections.ConfigDict
  mesh: Any
  dataset: data.Dataset
  model: Any
  task: Any
  init: Callable  # jitted rngs [N] -> the N replicas' TrainState, replicated
  abstract_state: Any  # its shapes and shardings, for restoring checkpoints

  @property
  def num_seeds(self) -> int:
    """Replicas per point (config.num_seeds)."""
    return self.config.get('num_seeds', 1)

  @property
  def num_replicas(self) -> int:
    """N: points x num_seeds."""
    return replicas.num_replicas(self.config)


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
  create = over_replicas(lambda rng, lr: create_train_state(
      model, tx, dataset.spec.input_shape, rng, dataset.spec.input_dtype, lr))
  rates = np.asarray(replicas.replica_learning_rates(config), np.float32)
  init = jax.jit(lambda rngs: create(rngs, rates), out_shardings=repl)
  abstract_state = jax.tree.map(
      lambda s: jax.ShapeDtypeStruct(s.shape, s.dtype, sharding=repl),
      jax.eval_shape(init, replica_rngs(config)[0]))
  return Run(config, mesh, dataset, model, task, init, abstract_state)


def jit_eval_step(task, mesh):
  """eval_step of every replica on one shared batch: metric sums with a leading [N]."""
  step = over_replicas(functools.partial(eval_step, task=task), in_axes=(0, None))
  return jax.jit(step, in_shardings=(parallel.replicated(mesh), parallel.batch_sharded(mesh)),
                 out_shardings=parallel.replicated(mesh))


def next_stop(step: int, steps_per_loop: int, config) -> int:
  """Where the call starting after `step` ends: K steps on, or earlier at a boundary.

  Calls end at multiples of K (and at boundaries), whatever step a run
  resumed from, so a resumed run makes the same calls as an uninterrupted one.
  """
  return min((step // steps_per_loop + 1) * steps_per_loop, next_boundary(step, config))


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
  the last (||dL/dx_t|| for non-recurrent families; diagnostics.grad_summary). The replicas
  are probed together (vmap) and reported as replicas.summary does. It only
  reads the state: no RNG, no data position, no parameter changes. Within a
  K-step loop (steps_per_loop) it runs at the end of the call that passes a
  multiple of N, at the step where that call ends.
  """
  batch = parallel.device_resident(
      diagnostics.fixed_batch(eval_split, run.config.data.batch_size), mesh)
  fn = jax.jit(over_replicas(diagnostics.summary_fn(run.model, run.task), in_axes=(0, None)))

  def write(state) -> dict:
    out = jax.device_get(fn({'params': state.params, **state.model_state}, batch))
    per_replica = [{k: float(v) for k, v in m.items()}
                   for m in replicas.split_replicas(out, run.num_replicas)]
    return {f'diag/{k}': v for k, v in replicas.summary(per_replica, run.config).items()}

  return write


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str,
                       devices=None) -> dict:
  """Trains `config` in `workdir` (resuming if it holds a run) and returns final metrics.

  The replicas (num_seeds seeds at each point of config.replicas) train
  together; the metrics give each replica's values and each point's mean and
  std over its seeds (the module's docstring names the keys).
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


# ---------------------------------------------------------------------------
# The loop: build, restore, then step; after each call, the periodic actions.


def train_stream(run: Run):
  """The train batches of the replicas, advanced together; their position is saved."""
  return SeedIterators(run.dataset.split('train'), run.config.data.batch_size,
                       replicas.replica_seeds(run.config), process_index=jax.process_index(),
                       process_count=jax.process_count())


def check_checkpoint_config(config, workdir: str, data_state: dict) -> None:
  """Raises unless the config saved in the checkpoint itself is `config`."""
  if 'config' in data_state:
    error = config_mismatch(data_state['config'], config.to_dict(),
                            f'the checkpoint in {workdir!r}')
    if error is not None:
      raise error


def start_state(run: Run, restored, train_iter) -> tuple[Any, int, dict]:
  """(state, start step, log window): new, or those of the restored checkpoint."""
  if restored is None:
    return run.init(replica_rngs(run.config)[0]), 0, {}
  state, data_state, step = restored
  train_iter.set_state(data_state)
  print(f'Resuming from step {step} (data position {train_iter.position}).')
  return state, step, restore_window(data_state)


def describe(run: Run, state) -> tuple[int, int | None]:
  """Prints the model; (parameters of one replica, receptive field or None)."""
  config, spec, seeds = run.config, run.dataset.spec, seeds_of(run.config)
  one_params = jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape[1:], x.dtype),
                            state.params)  # Shapes only: no device work.
  many = ''
  if run.num_replicas > 1:
    rates = replicas.grid_rates(config)
    grid = f' x learning rates {", ".join(map(repr, rates))}' if rates else ''
    many = f', {run.num_replicas} replicas (seeds {seeds[0]}..{seeds[-1]}{grid})'
  print(f'Model {config.model.name!r} on {config.data.name!r} '
        f'({spec.task}, input {spec.input_shape}), '
        f'{run.mesh.devices.size} device(s){many}:\n{models.summary(one_params)}', flush=True)
  rf = models.receptive_field(run.model)
  if rf is not None:
    print(f'receptive field: {rf} steps (sequence length {spec.input_shape[0]})')
  return models.count_params(one_params), rf


class TrainCalls:
  """The compiled train step, or K steps in one call (steps_per_loop, resident data).

  A call from `step` ends at next_stop: K steps on, or earlier at a boundary.
  Each is compiled once per batch shape (and K), refused if its plan exceeds a device.
  """

  def __init__(self, run: Run, train_iter):
    config, mesh = run.config, run.mesh
    self.config, self.mesh, self.train_iter = config, mesh, train_iter
    self.rng = replica_rngs(config)[1]
    self.lead = 1  # The replica axis.
    split = run.dataset.split('train')
    resident = bool(config.data.get('device_resident', False)) and isinstance(split, dict)
    self.arrays = parallel.device_resident(split, mesh) if resident else None
    self.steps_per_loop = config.get('steps_per_loop', 1) if resident else 1
    hint = ('lower data.batch_size, model.* sizes, num_seeds or steps_per_loop, or use '
            'more devices')
    device = mesh.devices.flat[0]
    self.step_fn = memory.Checked(jit_train_step(run.task, mesh), device,
                                  'the train step', hint)
    self.loop_fn = (memory.Checked(jit_train_loop(run.task, mesh), device,
                                   'the train loop', hint) if self.steps_per_loop > 1 else None)
    self.resident_batch = (parallel.resident_batches(self.arrays, mesh, self.lead)
                           if resident else None)

  def __call__(self, state, step: int):
    """(new state, device metrics on a leading [K] axis, the step the call ends at)."""
    stop = next_stop(step, self.steps_per_loop, self.config)
    if stop - step > 1:
      idx = np.stack([self.train_iter.next_global_indices() for _ in range(stop - step)])
      state, metrics = self.loop_fn(state, self.arrays, idx, self.rng)
      return state, metrics, stop
    batch = (self.resident_batch(self.train_iter.next_global_indices())
             if self.resident_batch is not None
             else parallel.shard_batch(next(self.train_iter), self.mesh, self.lead))
    state, metrics = self.step_fn(state, batch, self.rng)
    return state, metrics, stop


@dataclasses.dataclass(frozen=True)
class Evaluator:
  """(state, split) -> metric means over every example of the split, one dict per replica."""
  p_eval_step: Callable
  batch_size: int
  mesh: Any
  task: Any

  def __call__(self, state, split) -> list[dict]:
    return evaluate_per_seed(self.p_eval_step, state, split, self.batch_size, self.mesh,
                             self.task)


def periodic_actions(run: Run, ckpt, best, writer, metrics, train_iter, baselines, signals,
                     start_step: int) -> list:
  """After each call, in this order: diagnostics, log, evaluate (offering the best step),
  checkpoint, preemption."""
  config, last = run.config, run.config.num_train_steps
  summarize = functools.partial(replicas.summary, config=config)
  eval_split = run.dataset.split(config.data.eval_split)
  evaluator = Evaluator(jit_eval_step(run.task, run.mesh),
                        configlib.eval_batch_size(config), run.mesh, run.task)
  out = []
  if config.get('diagnostics_every_steps', 0):
    out.append(actions.Diagnostics(config.diagnostics_every_steps,
                                   diagnostics_writer(run, eval_split, run.mesh), writer))
  checkpoint = actions.Checkpoint(config.checkpoint_every_steps, last, ckpt, metrics,
                                  train_iter, config, wait_for=[best] if best else [])
  return out + [
      actions.LogTrain(config.log_every_steps, last, metrics, run.task, summarize,
                       functools.partial(learning_rate_keys, config), writer,
                       Progress(start_step, last)),
      actions.Evaluate(config.eval_every_steps, last, metrics, evaluator, eval_split, writer,
                       baselines, summarize, best),
      checkpoint,
      actions.Preemption(signals, checkpoint, last)]


def learning_rate_keys(config, step: int) -> dict:
  """train/learning_rate at `step` (each point's, `/lr_R`, with a grid)."""
  last, labels = config.num_train_steps, replicas.point_labels(config)
  rates = [float(optim.make_schedule(config.optim, last, lr)(step - 1))
           for lr in replicas.learning_rates(config)]
  if labels is None:
    return {'train/learning_rate': rates[0]}
  return {f'train/learning_rate/{label}': r for label, r in zip(labels, rates)}


def train_steps(state, step: int, last_step: int, calls: TrainCalls, metrics, periodic):
  """Steps from `step` to `last_step`; after each call, every periodic action in turn."""
  while step < last_step:
    state, step_metrics, stop = calls(state, step)
    # The calls before are checked only once this one is dispatched: no host sync here.
    metrics.push(step + 1, step_metrics)
    for action in periodic:
      action(stop, step, state)
    step = stop
  metrics.drain()
  return state


def finish(run: Run, state, evaluate: actions.Evaluate, best, writer, start_step: int):
  """(each replica's last eval/* metrics, with val/* and test/* of its point's best step;
  each point's best step, or None).

  The best steps (if the run selects them) are evaluated on test here, once.
  """
  config = run.config
  last = evaluate.last
  if last is None:  # Resumed from the final checkpoint: evaluate it.
    last = evaluate.evaluator(state, evaluate.split)
  per_replica = [{f'eval/{k}': v for k, v in m.items()} for m in last]
  if best is None:
    return per_replica, None
  splits = {'val': evaluate.split}
  if config.get('report_test', True):  # compare evaluates test at its chosen point only.
    splits['test'] = run.dataset.split('test')
  write_at = config.num_train_steps if start_step < config.num_train_steps else None
  best_steps = best.report(per_replica, evaluate.evaluator, run.abstract_state, splits,
                           seeds_of(config), writer, write_at, config.data.eval_split)
  return per_replica, np.atleast_1d(best_steps).tolist()


def with_best_steps(final: dict, best_steps: list[int], config) -> dict:
  """`best_step` after `step` (one point), or in each record of final['points'] (a grid)."""
  if replicas.point_labels(config) is None:
    return {'step': final.pop('step'), 'best_step': int(best_steps[0]), **final}
  for point, step in zip(final['points'], best_steps):
    point['best_step'] = int(step)
  return final


def final_metrics(run: Run, per_replica: list[dict], num_params: int, best_steps, rf,
                  baselines: dict) -> dict:
  """final_metrics.json: the last evaluation, the best step's val/test, the baselines."""
  final = final_record(run.config.num_train_steps, per_replica, run.config, num_params)
  if best_steps is not None:
    final = with_best_steps(final, best_steps, run.config)
  if rf is not None:
    final['receptive_field'] = rf
  final.update(baselines)
  if best_steps is not None:
    final.update({f'test/{k}': v for k, v in baseline_metrics(run.dataset, 'test').items()})
  return final


def _train_and_evaluate(run: Run, workdir: str) -> dict:
  config, dataset = run.config, run.dataset
  resuming = check_workdir(config, workdir)
  ckpt = Checkpointer(workdir, config.max_checkpoints_to_keep)
  train_iter = train_stream(run)
  restored = ckpt.restore_latest(
      run.abstract_state, check_data=functools.partial(check_checkpoint_config, config, workdir))
  best = selection.create(config, dataset, workdir, ckpt)
  if not resuming and parallel.is_primary():  # Only once the checkpoints agree with it.
    write_run_record(config, workdir)
  state, start_step, window = start_state(run, restored, train_iter)
  if best is not None:  # Best steps after the resume point are recomputed.
    best.delete_after(start_step)
  num_params, rf = describe(run, state)
  calls = TrainCalls(run, train_iter)
  # Trivial baselines (majority class, train mean, persistence): fixed for the run.
  baselines = {f'eval/{k}': v
               for k, v in baseline_metrics(dataset, config.data.eval_split).items()}
  writer = open_writer(workdir, resume_step=start_step, primary=parallel.is_primary())
  metrics = actions.StepMetrics(replicas.replica_seeds(config), window,
                                replicas.replica_learning_rates(config)
                                if replicas.grid_rates(config) else None)
  # Signals are caught until the last checkpoint is written and the metrics flushed.
  with StopSignals() as signals:
    try:
      periodic = periodic_actions(run, ckpt, best, writer, metrics, train_iter, baselines,
                                  signals, start_step)
      state = train_steps(state, start_step, config.num_train_steps, calls, metrics, periodic)
      evaluate = next(a for a in periodic if isinstance(a, actions.Evaluate))
      per_replica, best_steps = finish(run, state, evaluate, best, writer, start_step)
    finally:
      ckpt.close()
      if best is not None:
        best.close()
      writer.close()
  final = final_metrics(run, per_replica, num_params, best_steps, rf, baselines)
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
  errors.as_program()  # A failed run ends right after its one error line.
  sys.exit(main())
