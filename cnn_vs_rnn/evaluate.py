"""Evaluate a workdir's checkpoint on a split.

  python -m cnn_vs_rnn.evaluate --workdir DIR [--split test] [--step N]

Prints one JSON line of metrics (the same keys as final_metrics.json; a run
with num_seeds > 1 gives each metric's mean, `/std` and `/seed_S` values).
Exit codes: 0 success; 2 usage error (no run in DIR, unknown split or step).
"""

from __future__ import annotations

import argparse
import json
import sys

import ml_collections

from cnn_vs_rnn import configlib, fileio, train
from cnn_vs_rnn.checkpointing import Checkpointer
from cnn_vs_rnn.errors import ConfigError, run_command
from cnn_vs_rnn import hostmem


def run_config(workdir: str) -> ml_collections.ConfigDict:
  """The config a training run recorded in `workdir`/config.json (any epath path)."""
  path = fileio.as_path(workdir) / 'config.json'
  if not path.is_file():
    raise ConfigError(f'workdir {workdir!r} holds no run (no config.json); pass the '
                      '--workdir of a training run')
  return ml_collections.ConfigDict(fileio.read_json(path)['config'])


def load_workdir(workdir: str, step: int | None = None):
  """(run, train state, step) of the newest readable (or the given) checkpoint in `workdir`."""
  config = run_config(workdir)
  run = train.build_run(config)
  ckpt = Checkpointer(workdir, config.max_checkpoints_to_keep)
  try:
    steps = ckpt.all_steps()
    if step is None:
      restored = ckpt.restore_latest(run.abstract_state, quarantine=False)
      if restored is None:
        raise ConfigError(f'workdir {workdir!r} has no checkpoint yet')
      state, _, step = restored
    elif step not in steps:
      raise ConfigError(f'--step={step} has no checkpoint in {workdir!r}; valid: '
                        + ', '.join(map(str, steps)))
    else:
      state, _ = ckpt.restore(step, run.abstract_state)
  finally:
    ckpt.close()
  return run, state, step


def evaluate_workdir(workdir: str, split: str = 'test', step: int | None = None) -> dict:
  run, state, step = load_workdir(workdir, step)
  metrics = train.evaluate(train.jit_eval_step(run.task, run.mesh, run.num_seeds), state,
                           run.dataset.split(split), configlib.eval_batch_size(run.config),
                           run.mesh, run.task, train.seeds_of(run.config))
  return {'step': step, 'split': split, **{f'eval/{k}': v for k, v in metrics.items()}}


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--workdir', required=True)
  parser.add_argument('--split', default='test')
  parser.add_argument('--step', type=int, default=None)
  args = parser.parse_args(argv)
  return run_command(
      lambda: print(json.dumps(evaluate_workdir(args.workdir, args.split, args.step))))


if __name__ == '__main__':
  hostmem.keep_freed_memory()  # Only as a program: see hostmem.py.
  sys.exit(main())
