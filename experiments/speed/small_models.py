"""Step time and HLO op count of the small MNIST-1D models, before and after a change.

  python experiments/speed/small_models.py [--before REV] [--reps 60] [--steps 10]

Builds the real train step (`train.jit_train_step`, as `cnn_vs_rnn.benchmark`
does) of each config on its first batch, once with the models of this
checkout and, with --before, once with the models of git revision REV
(cnn_vs_rnn/models/ of REV imported as a second package; data, task, optimizer
and train step are this checkout's). All programs are compiled in this one
process and timed round-robin: each round runs `--steps` steps of every
program in turn (the order reversed every other round), so that the load of
a shared machine falls on all of them alike. Prints one markdown row per
program: median ms per step over the rounds, the median over rounds of the
after/before ratio of the same round, compile time, and op counts of the
optimized HLO, which do not depend on the load:

With --before it first trains both versions of each config `--check_steps`
steps from the same initial parameters on the same batch and prints the
largest differences of their losses after 1, 10 and all steps (the changes
are meant to keep the results within float32 rounding; training amplifies
rounding differences over many steps).

  kernels       instructions outside fused computations and reducers
                (parameters, constants, tuples and bitcasts left out): what
                XLA:CPU runs one after another; a loop body counts once
  instructions  every instruction of every computation
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

import jax

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, REPO)

from cnn_vs_rnn import configlib, data, models, optim, parallel, tasks, train  # pylint: disable=wrong-import-position
from cnn_vs_rnn.benchmark import fixed_batch  # pylint: disable=wrong-import-position

CONFIGS = (
    ('cnn', 'mnist1d_cnn.py', {}),
    ('gru', 'mnist1d_gru.py', {}),
    ('tcn', 'mnist1d_tcn.py', {}),
    ('lru assoc', 'mnist1d_lru.py', {}),
    ('lru seq', 'mnist1d_lru.py', {'scan_type': 'sequential'}),
)
NOT_KERNELS = {'parameter', 'constant', 'get-tuple-element', 'tuple', 'bitcast'}


def models_at(rev: str):
  """cnn_vs_rnn/models/ (and errors.py) of git revision `rev`, as package cnn_vs_rnn_before."""
  root = tempfile.mkdtemp(prefix='cnn_vs_rnn_before_')
  pkg = os.path.join(root, 'cnn_vs_rnn_before')
  os.makedirs(pkg)
  archive = subprocess.run(['git', '-C', REPO, 'archive', rev, 'cnn_vs_rnn/models',
                            'cnn_vs_rnn/errors.py'], check=True, capture_output=True).stdout
  subprocess.run(['tar', '-x', '-C', root], input=archive, check=True)
  os.rename(os.path.join(root, 'cnn_vs_rnn', 'models'), os.path.join(pkg, 'models'))
  os.rename(os.path.join(root, 'cnn_vs_rnn', 'errors.py'), os.path.join(pkg, 'errors.py'))
  open(os.path.join(pkg, '__init__.py'), 'w').close()
  for dirpath, _, files in os.walk(pkg):
    for name in files:
      path = os.path.join(dirpath, name)
      with open(path) as f:
        text = f.read()
      with open(path, 'w') as f:
        f.write(text.replace('cnn_vs_rnn', 'cnn_vs_rnn_before'))
  sys.path.insert(0, root)
  return importlib.import_module('cnn_vs_rnn_before.models')


def hlo_op_counts(hlo_text: str) -> dict:
  computations = re.split(r'\n(?=\S)', hlo_text)
  inner = set(re.findall(r'(?:calls|to_apply)=%?([\w.\-]+)', hlo_text))
  kernels = instructions = 0
  for comp in computations:
    name = re.match(r'(?:ENTRY )?%?([\w.\-]+)', comp)
    ops = re.findall(r'\n\s+(?:ROOT )?%?[\w.\-]+ = .*? ([a-z][\w\-]*)\(', comp)
    instructions += len(ops)
    if name and name.group(1) not in inner:
      kernels += sum(op not in NOT_KERNELS for op in ops)
  return {'kernels': kernels, 'instructions': instructions}


def compiled_step(config, build):
  """The jitted train step of `config` with the model `build(config.model, spec)`, compiled."""
  mesh = parallel.make_mesh()
  tx = optim.make_optimizer(config.optim, config.num_train_steps)
  dataset = data.load(config.data)
  model = build(config.model, dataset.spec)
  init_rng, rng = train.replica_rngs(config)  # One replica: a leading axis of 1.
  state = jax.jit(train.over_replicas(lambda r: train.create_train_state(
      model, tx, dataset.spec.input_shape, r, dataset.spec.input_dtype)))(init_rng)
  one = fixed_batch(dataset.split('train'), config.data.batch_size)
  batch = parallel.shard_batch({k: v[None] for k, v in one.items()}, mesh, 1)
  start = time.perf_counter()
  compiled = train.jit_train_step(tasks.get(dataset.spec.task), mesh).lower(
      state, batch, rng).compile()
  compile_s = time.perf_counter() - start
  return {'compiled': compiled, 'state': state, 'batch': batch, 'rng': rng,
          'compile_s': compile_s, **hlo_op_counts(compiled.as_text())}


def run_steps(program, steps: int) -> float:
  """Seconds per step of `steps` steps (the state is donated and carried on)."""
  start = time.perf_counter()
  for _ in range(steps):
    program['state'], metrics = program['compiled'](program['state'], program['batch'],
                                                    program['rng'])
  jax.block_until_ready((program['state'], metrics))
  return (time.perf_counter() - start) / steps


def losses(program, steps: int) -> list[float]:
  out = []
  for _ in range(steps):
    program['state'], metrics = program['compiled'](program['state'], program['batch'],
                                                    program['rng'])
    out.append(float(metrics['loss'][0]))
  return out


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--before', default=None, help='git revision of the models to compare')
  parser.add_argument('--reps', type=int, default=60)
  parser.add_argument('--steps', type=int, default=10)
  parser.add_argument('--check_steps', type=int, default=100)
  args = parser.parse_args()
  builds = {'after': models.build}
  if args.before:
    builds = {'before': models_at(args.before).build, **builds}
  programs = {}
  for label, path, overrides in CONFIGS:
    config = configlib.load_config_file(os.path.join(REPO, 'configs', path))
    for key, value in overrides.items():
      config.model[key] = value
    for version, build in builds.items():
      programs[(label, version)] = compiled_step(config, build)
  for label, _, _ in CONFIGS:
    if args.before and args.check_steps:
      before = losses(programs[(label, 'before')], args.check_steps)
      after = losses(programs[(label, 'after')], args.check_steps)
      diff = lambda n: max(abs(a - b) for a, b in zip(after[:n], before[:n]))
      print(f'{label}: losses {before[0]:.5f} -> {before[-1]:.5f} (before), {after[0]:.5f} -> '
            f'{after[-1]:.5f} (after); largest difference in the first 1 / 10 / '
            f'{args.check_steps} steps: {diff(1):.1e} / {diff(10):.1e} / '
            f'{diff(args.check_steps):.1e}')
  for program in programs.values():
    run_steps(program, 5)
  times = {key: [] for key in programs}
  keys = list(programs)
  for rep in range(args.reps):
    for key in keys if rep % 2 == 0 else keys[::-1]:
      times[key].append(1e3 * run_steps(programs[key], args.steps))
  print(f'{jax.devices()[0].device_kind}, {os.cpu_count()} CPUs, {args.reps} rounds of '
        f'{args.steps} steps, jax {jax.__version__}')
  print('| model | version | ms/step (median) | after/before (median) | compile s '
        '| kernels | instructions |')
  print('|---|---|---|---|---|---|---|')
  for (label, version), program in programs.items():
    ratio = ''
    if version == 'after' and (label, 'before') in times:
      ratio = f'{statistics.median(a / b for a, b in zip(times[(label, "after")], times[(label, "before")])):.2f}'
    print(f'| {label} | {version} | {statistics.median(times[(label, version)]):.2f} | {ratio} '
          f'| {program["compile_s"]:.1f} | {program["kernels"]} | {program["instructions"]} |')


if __name__ == '__main__':
  main()
