"""Evaluate a workdir's checkpoint on a split.

  python -m cnn_vs_rnn.evaluate --workdir DIR [--split test] [--step N | --best]
      [--save_predictions FILE.npz]

`--best` evaluates the step that validation selected (WORKDIR/best_checkpoint)
instead of the newest one; in a run with a grid of points (config.replicas),
the step that point `--point P` (default 0) selected, with its replicas only.
`--save_predictions` also writes the model's outputs with the targets and
example indices of the split (NumPy .npz: `outputs` [E, ...] for a run of one
replica, [R, E, ...] for R replicas, `targets`, `indices`, and `lengths` where
the data has them), for baselines and analyses of one's own.

Prints one JSON line of metrics (the same keys as final_metrics.json; a run
with num_seeds > 1 gives each metric's mean, `/std` and `/seed_S` values, a
grid each point's, replicas.summary).
Exit codes: 0 success; 2 usage error (no run in DIR, an unreadable config.json,
unknown split or step); 1 a checkpoint that cannot be read.
"""

from __future__ import annotations

import io
import json
import sys

import jax
import ml_collections
import numpy as np

from cnn_vs_rnn import cli, configlib, fileio, replicas, selection, train
from cnn_vs_rnn.checkpointing import Checkpointer, first_line
from cnn_vs_rnn.data.pipeline import eval_batches, take
from cnn_vs_rnn.errors import ConfigError, RunError
from cnn_vs_rnn import errors, hostmem


def run_config(workdir: str) -> ml_collections.ConfigDict:
  """The config a training run recorded in `workdir`/config.json (any epath path)."""
  path = fileio.as_path(workdir) / 'config.json'
  if not path.is_file():
    raise ConfigError(f'workdir {workdir!r} holds no run (no config.json); pass the '
                      '--workdir of a training run')
  try:
    record = fileio.read_json(path)
  except ValueError as e:  # Garbled or cut off (also UnicodeDecodeError).
    raise ConfigError(f'{path} is unreadable ({type(e).__name__}: {first_line(e)[:100]}); '
                      'it is not the config.json of a training run') from None
  if not isinstance(record, dict) or not isinstance(record.get('config'), dict):
    raise ConfigError(f"{path} holds no 'config' object; it is not the config.json of a "
                      'training run')
  return ml_collections.ConfigDict(record['config'])


def build_recorded_run(workdir: str, config: ml_collections.ConfigDict) -> train.Run:
  """train.build_run of a recorded config; a field it lacks is a ConfigError."""
  try:
    return train.build_run(config)
  except (AttributeError, KeyError) as e:  # ml_collections: a missing field.
    name = str(e).strip('\'"')
    raise ConfigError(f'the config recorded in {fileio.as_path(workdir) / "config.json"} has '
                      f'no field {name!r}; it is not the config of a complete training '
                      'run') from None


def check_point(run, point: int) -> None:
  """Raises unless `point` is one of the run's grid points."""
  n = len(replicas.learning_rates(run.config))
  if not 0 <= point < n:
    raise ConfigError(f'--point={point} must be in [0, {n - 1}] (the run has {n} '
                      'hyper-parameter point(s), config.replicas)')


def load_workdir(workdir: str, step: int | None = None, best: bool = False,
                 point: int = 0):
  """(run, train state, step) of the newest readable (the given, or the best) checkpoint.

  The state has a leading replica axis: every replica's, or with `best` that
  of the replicas of `point` (all of them without a grid).
  """
  config = run_config(workdir)
  run = build_recorded_run(workdir, config)
  check_point(run, point)
  abstract = run.abstract_state
  if best:
    if step is not None:
      raise ConfigError('--step and --best exclude each other; pass one')
    abstract = selection.point_abstract(abstract, run.num_seeds)
    ckpt = train.best_checkpointer(config, run.dataset, workdir, point)
    if ckpt is None or ckpt.best_step() is None:
      if ckpt is not None:
        ckpt.close()
      raise ConfigError(f'workdir {workdir!r} has no best checkpoint (runs that evaluate '
                        'on a validation split keep one); drop --best')
    step = ckpt.best_step()
  else:
    ckpt = Checkpointer(workdir, config.max_checkpoints_to_keep)
  try:
    steps = ckpt.all_steps()
    if step is None:
      restored = ckpt.restore_latest(abstract, quarantine=False)
      if restored is None:
        raise ConfigError(f'workdir {workdir!r} has no checkpoint yet')
      state, _, step = restored
    elif step not in steps:
      raise ConfigError(f'--step={step} has no checkpoint in {workdir!r}; valid: '
                        + ', '.join(map(str, steps)))
    else:
      try:
        state, _ = ckpt.restore(step, abstract)
      except Exception as e:  # pylint: disable=broad-except
        raise RunError(f'cannot read checkpoint {ckpt.directory / str(step)} '
                       f'({type(e).__name__}: {first_line(e)[:200]}); the other steps are '
                       + ', '.join(str(s) for s in steps if s != step)) from e
  finally:
    ckpt.close()
  return run, state, step


def predictions(run, state, split_name: str) -> dict:
  """Outputs of `state` on every example of a split, with targets and indices (NumPy)."""
  split = run.dataset.split(split_name)
  apply = jax.jit(train.over_replicas(
      lambda s, x, l: s.apply_fn({'params': s.params, **s.model_state}, x, lengths=l),
      in_axes=(0, None, None)))
  batch_size = configlib.eval_batch_size(run.config)
  outputs, keep = [], []
  for batch in eval_batches(split, batch_size):
    out = apply(state, batch['inputs'], batch.get('lengths'))
    outputs.append(np.asarray(jax.device_get(out), np.float32))
    keep.append(batch['weights'] > 0)
  real = np.concatenate(keep)
  n = int(real.sum())
  arrays = {k: v for k, v in take(split, np.arange(n)).items() if k in ('targets', 'lengths')}
  outputs = np.compress(real, np.concatenate(outputs, axis=1), axis=1)
  return {'outputs': outputs[0] if run.num_replicas == 1 else outputs,
          'indices': np.arange(n), **arrays}


def evaluate_workdir(workdir: str, split: str = 'test', step: int | None = None,
                     best: bool = False, save_predictions: str | None = None,
                     point: int = 0) -> dict:
  """{'step', 'split', eval/* metrics} of a checkpoint (`best`: of `point`'s best step)."""
  run, state, step = load_workdir(workdir, step, best, point)
  per_replica = train.evaluate_per_seed(
      train.jit_eval_step(run.task, run.mesh), state, run.dataset.split(split),
      configlib.eval_batch_size(run.config), run.mesh, run.task)
  metrics = (replicas.seed_summary(per_replica, train.seeds_of(run.config)) if best
             else replicas.summary(per_replica, run.config))
  if save_predictions:
    buffer = io.BytesIO()
    np.savez(buffer, **predictions(run, state, split))
    fileio.write_bytes(save_predictions, buffer.getvalue())
  return {'step': step, 'split': split, **{f'eval/{k}': v for k, v in metrics.items()}}


def main(argv=None) -> int:
  parser = cli.parser_of('evaluate', __doc__)
  parser.add_argument('--workdir', required=True)
  parser.add_argument('--split', default='test')
  parser.add_argument('--step', type=int, default=None)
  parser.add_argument('--best', action='store_true',
                      help='The step that validation selected, not the newest.')
  parser.add_argument('--save_predictions', default=None, metavar='FILE.npz',
                      help='Also write outputs, targets and example indices.')
  parser.add_argument('--point', type=int, default=0,
                      help='With --best in a grid run (config.replicas): which point.')

  def body(args):
    print(json.dumps(evaluate_workdir(args.workdir, args.split, args.step, args.best,
                                      args.save_predictions, args.point)))

  return cli.argparse_command(parser, argv, body)


if __name__ == '__main__':
  hostmem.keep_freed_memory()  # Only as a program: see hostmem.py.
  errors.as_program()
  sys.exit(main())
