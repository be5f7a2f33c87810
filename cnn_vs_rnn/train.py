"""Training entry point.

  python -m cnn_vs_rnn.train --config configs/NAME.py --workdir DIR [--config.KEY=VALUE ...]

From Python: `train_and_evaluate(config, workdir) -> dict` of final metrics.
Exit codes: 0 success; 2 usage or config error; 1 failure during the run.
"""

from __future__ import annotations

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

from cnn_vs_rnn import configlib, data, models, optim, parallel, tasks
from cnn_vs_rnn.checkpointing import Checkpointer
from cnn_vs_rnn.data.pipeline import TrainIterator, eval_batches
from cnn_vs_rnn.errors import ConfigError, NonFiniteLossError, run_command
from cnn_vs_rnn.metric_writer import MetricWriter, Progress
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


def _apply(state, params, batch, train, rng=None):
  """Model outputs and, when training, the updated non-parameter collections."""
  variables = {'params': params, **state.model_state}
  kwargs = dict(lengths=batch.get('lengths'), train=train)
  if train and state.model_state:
    return state.apply_fn(variables, batch['inputs'], rngs={'dropout': rng},
                          mutable=list(state.model_state), **kwargs)
  rngs = {'dropout': rng} if train else {}
  return state.apply_fn(variables, batch['inputs'], rngs=rngs, **kwargs), state.model_state


def loss_fn(params, state: TrainState, batch, rng, *, task):
  """Training loss of `params` on `batch`, with (metric sums, new model state)."""
  outputs, model_state = _apply(state, params, batch, True, rng)
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
  outputs, _ = _apply(state, state.params, batch, False)
  return tasks.loss_and_sums(task, outputs, batch)[1]


def jit_train_step(task, mesh):
  """train_step compiled for `mesh`: state replicated and donated, batch sharded."""
  repl, batch_sh = parallel.replicated(mesh), parallel.batch_sharded(mesh)
  return jax.jit(functools.partial(train_step, task=task),
                 in_shardings=(repl, batch_sh, repl), out_shardings=(repl, repl),
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


def check_workdir(config, workdir: str) -> bool:
  """Raises unless `workdir` is new or holds a run of the same config; True if it holds one."""
  if os.path.exists(workdir) and not os.path.isdir(workdir):
    raise ConfigError(f'workdir {workdir!r} is a file; pass a directory (new or from '
                      'a run of the same config)')
  path = os.path.join(workdir, 'config.json')
  if not os.path.exists(path):
    return False
  with open(path) as f:
    old = json.load(f)['config']
  new = config.to_dict()
  diff = configlib.differing_keys(old, new)
  if diff:
    a, b = configlib.flatten(old), configlib.flatten(new)
    shown = ', '.join(f'{k}: {a.get(k)!r} -> {b.get(k)!r}' for k in diff[:6])
    more = f' and {len(diff) - 6} more' if len(diff) > 6 else ''
    raise ConfigError(f'workdir {workdir!r} holds a run of another config ({shown}{more}); '
                      'use a new workdir or the same config')
  return True


def write_run_record(config, workdir: str) -> None:
  """config.json: the resolved config, package versions, git commit, devices."""
  os.makedirs(workdir, exist_ok=True)
  record = {'config': config.to_dict(), 'versions': _package_versions(),
            'git_commit': _git_commit(), 'devices': [str(d) for d in jax.devices()],
            'process_count': jax.process_count()}
  path = os.path.join(workdir, 'config.json')
  with open(path + '.tmp', 'w') as f:
    json.dump(record, f, indent=2, sort_keys=True)
  os.replace(path + '.tmp', path)


def _is_multiple(step: int, every: int) -> bool:
  return step % every == 0


def evaluate(p_eval_step, state, split, batch_size, mesh, task) -> dict:
  """Metric means over every example of `split` exactly once."""
  total = None
  for batch in eval_batches(split, batch_size, jax.process_index(), jax.process_count()):
    sums = p_eval_step(state, parallel.shard_batch(batch, mesh))
    total = sums if total is None else jax.tree.map(jnp.add, total, sums)
  return tasks.means(task, jax.device_get(total))


@dataclasses.dataclass
class Run:
  """Everything a config builds before training: shared by train, evaluate and sample."""
  config: ml_collections.ConfigDict
  mesh: Any
  dataset: data.Dataset
  model: Any
  task: Any
  init: Callable  # jitted rng -> TrainState, replicated over the mesh
  abstract_state: Any  # its shapes and shardings, for restoring checkpoints


def build_run(config: ml_collections.ConfigDict, devices=None) -> Run:
  """Validates `config` and builds its mesh, dataset, model, task and optimizer."""
  configlib.validate(config)
  mesh = parallel.make_mesh(devices)
  parallel.check_batch_size('data.batch_size', config.data.batch_size, mesh)
  parallel.check_batch_size('data.eval_batch_size', configlib.eval_batch_size(config), mesh)
  tx = optim.make_optimizer(config.optim, config.num_train_steps)
  dataset = data.load(config.data)
  model = models.build(config.model, dataset.spec, dtype=config.get('dtype', 'float32'))
  task = tasks.get(dataset.spec.task)
  repl = parallel.replicated(mesh)
  init = jax.jit(functools.partial(create_train_state, model, tx, dataset.spec.input_shape,
                                   input_dtype=dataset.spec.input_dtype),
                 out_shardings=repl)
  abstract_state = jax.tree.map(
      lambda s: jax.ShapeDtypeStruct(s.shape, s.dtype, sharding=repl),
      jax.eval_shape(init, jax.random.key(0)))
  return Run(config, mesh, dataset, model, task, init, abstract_state)


def jit_eval_step(task, mesh):
  return jax.jit(functools.partial(eval_step, task=task),
                 in_shardings=(parallel.replicated(mesh), parallel.batch_sharded(mesh)),
                 out_shardings=parallel.replicated(mesh))


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str,
                       devices=None) -> dict:
  """Trains `config` in `workdir` (resuming if it holds a run) and returns final metrics."""
  configlib.validate(config)
  resuming = check_workdir(config, workdir)
  run = build_run(config, devices)
  mesh, dataset, task = run.mesh, run.dataset, run.task
  eval_bs = configlib.eval_batch_size(config)
  if not resuming and jax.process_index() == 0:
    write_run_record(config, workdir)
  init_rng, train_rng = jax.random.split(jax.random.key(config.seed))
  init, abstract_state = run.init, run.abstract_state

  ckpt = Checkpointer(workdir, config.max_checkpoints_to_keep)
  train_split = dataset.split('train')
  device_batch = (parallel.device_resident(train_split, mesh)
                  if config.data.get('device_resident', False) and isinstance(train_split, dict)
                  else None)
  train_iter = TrainIterator(train_split, config.data.batch_size, config.seed,
                             process_index=jax.process_index(),
                             process_count=jax.process_count())
  restored = ckpt.restore_latest(abstract_state)
  if restored is None:
    state, start_step = init(init_rng), 0
  else:
    state, data_state, start_step = restored
    train_iter.set_state(data_state)
    print(f'Resuming from step {start_step} (data position {train_iter.position}).')

  num_params = models.count_params(state.params)
  print(f'Model {config.model.name!r} on {config.data.name!r} '
        f'({dataset.spec.task}, input {dataset.spec.input_shape}), '
        f'{mesh.devices.size} device(s):\n{models.summary(state.params)}', flush=True)

  p_train_step = jit_train_step(task, mesh)
  p_eval_step = jit_eval_step(task, mesh)
  p_all_finite = jax.jit(all_finite)
  lr_schedule = optim.make_schedule(config.optim, config.num_train_steps)
  eval_split = dataset.split(config.data.eval_split)

  writer = MetricWriter(workdir, resume_step=start_step)
  progress = Progress(start_step, config.num_train_steps)
  window: dict[str, float] = {}
  pending = []  # (step, device metrics) dispatched but not yet checked.
  eval_metrics = None

  def drain():
    """Fetches pending step metrics, checks them, adds them to the log window."""
    for step, m in pending:
      m = jax.device_get(m)
      loss, gnorm = float(m['loss']), float(m['grad_norm'])
      if not (np.isfinite(loss) and np.isfinite(gnorm)):
        raise NonFiniteLossError(step, loss if not np.isfinite(loss) else f'{loss} '
                                 f'with grad_norm={gnorm}')
      for k, v in m['sums'].items():
        window[k] = window.get(k, 0.0) + float(v)
    pending.clear()

  def save(step):
    drain()
    if not bool(p_all_finite(state.params)):
      raise NonFiniteLossError(step, 'finite, but the parameters are not')
    ckpt.save(step, state, train_iter.get_state())

  try:
    for step in range(start_step + 1, config.num_train_steps + 1):
      batch = (device_batch(train_iter.next_global_indices()) if device_batch
               else parallel.shard_batch(next(train_iter), mesh))
      state, metrics = p_train_step(state, batch, train_rng)
      # Check step N-1 only once step N is dispatched: no host sync in the loop.
      drain()
      pending.append((step, metrics))
      is_last = step == config.num_train_steps
      if _is_multiple(step, config.log_every_steps) or is_last:
        drain()
        train_metrics = {f'train/{k}': v for k, v in tasks.means(task, window).items()}
        train_metrics['train/learning_rate'] = float(lr_schedule(step - 1))
        window.clear()
        writer.write(step, train_metrics)
        print(progress.line(step, {'train/loss': train_metrics['train/loss']}), flush=True)
      if _is_multiple(step, config.eval_every_steps) or is_last:
        drain()
        eval_metrics = evaluate(p_eval_step, state, eval_split, eval_bs, mesh, task)
        eval_metrics = {f'eval/{k}': v for k, v in eval_metrics.items()}
        writer.write(step, eval_metrics)
        print(f'eval at step {step}: ' + ', '.join(
            f'{k} {v:.4f}' for k, v in eval_metrics.items()), flush=True)
      if _is_multiple(step, config.checkpoint_every_steps) or is_last:
        save(step)
    drain()
    if eval_metrics is None:  # Resumed from the final checkpoint: evaluate it.
      eval_metrics = {f'eval/{k}': v for k, v in
                      evaluate(p_eval_step, state, eval_split, eval_bs, mesh, task).items()}
  finally:
    ckpt.close()
    writer.close()

  final = {'step': int(config.num_train_steps), **eval_metrics, 'num_params': num_params}
  if jax.process_index() == 0:
    with open(os.path.join(workdir, 'final_metrics.json'), 'w') as f:
      json.dump(final, f, indent=2)
  return final


# ---------------------------------------------------------------------------
# Command line.


def _define_flags(flag_values=None, workdir: bool = True, sys_argv=None):
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


def _parse(argv, flag_values, config_flag):
  """Parses flags; every usage error becomes one ConfigError line."""
  config = _parse_config(argv, flag_values, config_flag)
  if not flag_values.workdir:
    raise ConfigError('--workdir is required: --workdir DIR')
  return config, flag_values.workdir


def _parse_config(argv, flag_values, config_flag) -> ml_collections.ConfigDict:
  """Parses flags and returns the config; every usage error becomes one ConfigError line."""
  from absl import flags  # pylint: disable=g-import-not-at-top
  try:
    flag_values(argv)
  except flags.Error as e:
    msg = str(e)
    if msg.startswith('flag --config.'):
      raise ConfigError(_type_error_message(msg, argv)) from None
    raise ConfigError(msg.splitlines()[0]) from None
  except (AttributeError, KeyError) as e:  # An override of a key the config lacks.
    raise ConfigError(_unknown_key_message(e, argv)) from None
  except Exception as e:  # pylint: disable=broad-except
    # Loading the config file itself failed (a syntax error, an import error...).
    first = str(e).strip().splitlines()[0] if str(e).strip() else ''
    raise ConfigError(f'the config file failed to load: {type(e).__name__}: {first}') from None
  config = config_flag.value
  if config is None:
    raise ConfigError('--config is required: --config configs/NAME.py')
  if not isinstance(config, ml_collections.ConfigDict):
    path = flag_values['config'].config_filename
    if not os.path.isfile(path.split(':', 1)[0]) and not os.path.isfile(path):
      raise ConfigError(f'config file {path!r} does not exist; pass a file such as '
                        'configs/default.py')
    try:
      config.seed  # _ErrorConfig raises what loading the file raised.
    except Exception as e:  # pylint: disable=broad-except
      while e.__cause__ is not None or e.__context__ is not None:
        e = e.__cause__ or e.__context__
      first = str(e).strip().splitlines()[0] if str(e).strip() else ''
      raise ConfigError(f'config file {path!r} failed to load: {type(e).__name__}: '
                        f'{first}') from None
  return config


def _unknown_key_message(error, argv) -> str:
  while error.args and isinstance(error.args[0], BaseException):
    error = error.args[0]  # ml_collections wraps a KeyError in an AttributeError.
  lines = str(error.args[0] if error.args else error).splitlines()
  name = lines[0].strip().strip("'")
  overrides = [a[len('--config.'):].split('=', 1)[0] for a in argv
               if a.startswith('--config.')]
  key = next((o for o in overrides if o.split('.')[-1] == name), name)
  hint = ' '.join(l.strip() for l in lines[1:])
  return f'unknown config key {key!r}' + (f'. {hint}' if hint else '')


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
  return f'--config.{key}={value!r} has the wrong type: {expected}'


def main(argv=None) -> int:
  argv = list(sys.argv if argv is None else argv)
  flag_values, config_flag = _define_flags()

  def body():
    config, workdir = _parse(argv, flag_values, config_flag)
    parallel.maybe_initialize_distributed()
    start = time.perf_counter()
    final = train_and_evaluate(config, workdir)
    print(f'final metrics ({time.perf_counter() - start:.1f}s): {json.dumps(final)}')

  return run_command(body)


if __name__ == '__main__':
  hostmem.keep_freed_memory()  # Only as a program: see hostmem.py.
  sys.exit(main())
