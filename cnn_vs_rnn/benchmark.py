"""Time, FLOPs and memory of one config's train step; one JSON line out.

  python -m cnn_vs_rnn.benchmark --config configs/NAME.py [--config.KEY=VALUE ...] \
      [--steps 20] [--warmup 3]

It builds what `cnn_vs_rnn.train` builds (`train.build_run`: mesh, dataset,
model, task and initial state, token inputs included) and its train step
(`train.jit_train_step`: the same jit, shardings and state donation), runs
that on one fixed batch, the first `data.batch_size` examples of the config's
train split (the same batch for each of the run's replicas, whose whole
program is timed; losses are replica 0's), and reports:

  compile_s            lowering plus XLA compilation of the step
  ms_per_step_*        median / min / max over `--steps` timed steps after
                       `--warmup` untimed ones, each timed to block_until_ready
  steps_per_s, examples_per_s   from the median
  flops_per_step       XLA's cost analysis of the compiled step (forward,
                       backward and optimizer update), summed over devices.
                       XLA counts the body of a loop ONCE, whatever its trip
                       count: for scan-based RNNs this is far too low.
  gflops_per_s         flops_per_step / median step time
  matmul_flops_per_step  FLOPs of every matmul and convolution in the step's
                       jaxpr, scan bodies counted `length` times (elementwise
                       work left out); the number to compare across families.
                       matmul_flops_exact is false if a while loop (unknown
                       trip count) was counted once.
  matmul_gflops_per_s  matmul_flops_per_step / median step time
  peak_memory_bytes    one device's memory for the compiled step as XLA's buffer
                       assignment plans it (`compiled.memory_analysis()`):
                       arguments + outputs + temporaries - donated (aliased)
                       buffers. An upper bound planned by the compiler, not
                       measured at run time; null where the backend has no
                       analysis. `memory_bytes` holds the parts and XLA's own
                       `peak_memory_in_bytes` ('xla_peak'), which on CPU leaves
                       out the temporaries.
  model_widths         the model's width fields as built (those that
                       `model.param_budget` scales, e.g. {'hidden_size': 155}),
                       so a budget-sized model's shape is on record

Exit codes: 0 success; 2 usage or config error (one line on stderr).
"""

from __future__ import annotations

import json
import math
import os
import statistics
import sys
import time
from importlib import metadata

import jax
import ml_collections
import numpy as np

from cnn_vs_rnn import cli, models, parallel, train
from cnn_vs_rnn.data.pipeline import MappedSource, TrainIterator, num_examples
from cnn_vs_rnn.errors import ConfigError, RunError
from cnn_vs_rnn.memory import memory_of
from cnn_vs_rnn.models import sizing
from cnn_vs_rnn import errors, hostmem


def flops_of(compiled) -> float | None:
  """Total FLOPs XLA counts in a compiled program (dict, or a list of dicts in older jax)."""
  try:
    cost = compiled.cost_analysis()
  except Exception:  # pylint: disable=broad-except  # Not every backend implements it.
    return None
  if isinstance(cost, (list, tuple)):
    cost = cost[0] if cost else None
  if not cost or 'flops' not in cost:
    return None
  return float(cost['flops'])


def _subjaxprs(params) -> list:
  """Jaxprs in an equation's params (scan/cond/pjit/remat/custom_vjp bodies)."""
  out = []
  for v in params.values():
    for item in (v if isinstance(v, (tuple, list)) else (v,)):
      if isinstance(item, jax.extend.core.ClosedJaxpr):
        out.append(item.jaxpr)
      elif isinstance(item, jax.extend.core.Jaxpr):
        out.append(item)
  return out


def _eqn_flops(eqn) -> float:
  if eqn.primitive.name not in ('dot_general', 'conv_general_dilated'):
    return 0.0
  out = eqn.outvars[0].aval
  if eqn.primitive.name == 'dot_general':
    (lhs_contract, _), _ = eqn.params['dimension_numbers']
    lhs_shape = eqn.invars[0].aval.shape
    return 2.0 * math.prod(out.shape) * math.prod(lhs_shape[d] for d in lhs_contract)
  rhs_shape = eqn.invars[1].aval.shape  # A convolution: MACs per output element
  rhs_out_dim = eqn.params['dimension_numbers'].rhs_spec[0]  # = kernel size / out features.
  macs_per_output = math.prod(rhs_shape) // rhs_shape[rhs_out_dim]
  return 2.0 * math.prod(out.shape) * macs_per_output


def matmul_flops(jaxpr) -> tuple[float, bool]:
  """(FLOPs of every dot_general and convolution in `jaxpr`, whether a while loop was seen).

  Scan bodies count `length` times; a cond counts its costliest branch; a
  while loop (unknown trip count) counts once. Elementwise work is left out.
  """
  total, saw_while = 0.0, False
  for eqn in jaxpr.eqns:
    total += _eqn_flops(eqn)
    subs = _subjaxprs(eqn.params)
    if not subs:
      continue
    counts = [matmul_flops(j) for j in subs]
    saw_while |= eqn.primitive.name == 'while' or any(w for _, w in counts)
    if eqn.primitive.name == 'cond':
      total += max(f for f, _ in counts)
    else:
      total += eqn.params.get('length', 1) * sum(f for f, _ in counts)
  return total, saw_while


def fixed_batch(split, batch_size: int) -> dict:
  """The first `batch_size` examples of `split`, in order, with weights 1.

  `split` is what a dataset's `split()` gives: a dict of arrays (any dtype,
  e.g. int32 tokens) or a `MappedSource` read record by record.
  """
  if not isinstance(split, (dict, MappedSource)):
    raise ConfigError(f'the benchmark reads its batch from a dict of arrays or a '
                      f'MappedSource, not a {type(split).__name__} split')
  n = num_examples(split)
  if n < batch_size:
    raise ConfigError(f'data.batch_size={batch_size} is larger than the {n} training '
                      'examples; the benchmark needs one full batch')
  return next(TrainIterator(split, batch_size, seed=0, shuffle=False))


def model_widths(model, name: str) -> dict:
  """The width fields (models/sizing.py) of a built model: what param_budget chose."""
  backbone = model.backbone if isinstance(model, models.Embedded) else model
  return {f: getattr(backbone, f) for f in sizing.WIDTH_FIELDS.get(name, ())
          if hasattr(backbone, f)}


def summarize_ms(times_s: list[float]) -> dict:
  ms = [1e3 * t for t in times_s]
  return {'ms_per_step_median': statistics.median(ms), 'ms_per_step_min': min(ms),
          'ms_per_step_max': max(ms)}


def benchmark(config: ml_collections.ConfigDict, steps: int = 20, warmup: int = 3,
              devices=None) -> dict:
  """Compiles and times `config`'s train step; returns the measurements."""
  if steps < 1:
    raise ConfigError(f'--steps={steps} must be >= 1')
  if warmup < 0:
    raise ConfigError(f'--warmup={warmup} must be >= 0')
  run = train.build_run(config, devices)
  mesh, dataset, task = run.mesh, run.dataset, run.task
  batch_size = config.data.batch_size
  init_rng, train_rng = train.replica_rngs(config)
  state = run.init(init_rng)
  num_params = models.count_params(state.params) // run.num_replicas
  one = fixed_batch(dataset.split('train'), batch_size)
  batch = parallel.shard_batch({k: np.stack([v] * run.num_replicas) for k, v in one.items()},
                               mesh, 1)

  start = time.perf_counter()
  traced = train.jit_train_step(task, mesh).trace(state, batch, train_rng)
  compiled = traced.lower().compile()
  compile_s = time.perf_counter() - start
  mm_flops, has_while = matmul_flops(traced.jaxpr.jaxpr)

  def step(state):
    state, metrics = compiled(state, batch, train_rng)
    return jax.block_until_ready((state, metrics))

  state, metrics = step(state)
  loss_first = float(metrics['loss'][0, 0])  # [K=1, N]
  for _ in range(warmup):
    state, metrics = step(state)
  times = []
  for _ in range(steps):
    start = time.perf_counter()
    state, metrics = step(state)
    times.append(time.perf_counter() - start)
  loss_last = float(metrics['loss'][0, 0])
  if not (math.isfinite(loss_first) and math.isfinite(loss_last)):
    raise RunError(f'non-finite loss in the benchmark (first {loss_first}, last {loss_last})')

  result = summarize_ms(times)
  median_s = result['ms_per_step_median'] / 1e3
  flops = flops_of(compiled)
  flops = None if flops is None else flops * mesh.devices.size
  memory = memory_of(compiled)
  device = mesh.devices.flat[0]
  result.update({
      'compile_s': compile_s,
      'steps_per_s': 1.0 / median_s,
      'examples_per_s': batch_size / median_s,
      'num_params': num_params,
      'receptive_field': models.receptive_field(run.model),
      'model_widths': model_widths(run.model, config.model.name),
      'flops_per_step': flops,
      'gflops_per_s': None if flops is None else flops / median_s / 1e9,
      'matmul_flops_per_step': mm_flops,
      'matmul_gflops_per_s': mm_flops / median_s / 1e9,
      'matmul_flops_exact': not has_while,
      'peak_memory_bytes': memory.get('planned'),
      'memory_bytes': memory,
      'timed_steps': steps,
      'warmup_steps': warmup,
      'loss_first': loss_first,
      'loss_last': loss_last,
      'model': config.model.name,
      'dataset': config.data.name,
      'input_shape': list(dataset.spec.input_shape),
      'batch_size': batch_size,
      'num_replicas': run.num_replicas,
      'num_devices': int(mesh.devices.size),
      'device_kind': device.device_kind,
      'platform': device.platform,
      'jax_version': jax.__version__,
      'jaxlib_version': _version('jaxlib'),
      'flax_version': _version('flax'),
  })
  return result


def _version(name: str) -> str | None:
  try:
    return metadata.version(name)
  except metadata.PackageNotFoundError:
    return None


# ---------------------------------------------------------------------------
# Command line.


def _define_flags(flag_values) -> None:
  from absl import flags  # pylint: disable=g-import-not-at-top
  flags.DEFINE_integer('steps', 20, 'Timed steps.', flag_values=flag_values)
  flags.DEFINE_integer('warmup', 3, 'Untimed steps after the first call.',
                       flag_values=flag_values)


def config_name(flag_values) -> str:
  """configs/bench/lstm_pixel.py -> 'bench/lstm_pixel' (the path under configs/)."""
  path = flag_values['config'].config_filename.split(':', 1)[0]
  stem = os.path.splitext(os.path.normpath(path))[0]
  parts = stem.split(os.sep)
  return '/'.join(parts[parts.index('configs') + 1:]) if 'configs' in parts else parts[-1]


def main(argv=None) -> int:
  def body(config, flag_values):
    parallel.maybe_initialize_distributed()
    result = benchmark(config, flag_values.steps, flag_values.warmup)
    print(json.dumps({'config': config_name(flag_values), **result}), flush=True)

  return cli.config_command(argv, body, define=_define_flags)


if __name__ == '__main__':
  hostmem.keep_freed_memory()  # Only as a program: see hostmem.py.
  errors.as_program()
  sys.exit(main())
