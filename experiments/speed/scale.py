"""Wall time of whole training runs against num_seeds and steps_per_loop.

  python experiments/speed/scale.py [--runs DIR] [--configs mnist1d_cnn,mnist1d_gru]
      [--seeds 1,2,4,8] [--loops 1] [--repeats 1] [--out results.json]

Every combination is one `python -m cnn_vs_rnn.train` run in a fresh workdir,
timed from process start to exit (compilation, evaluation and checkpoints
included), together with the training time the run prints itself. Prints a
markdown table: wall seconds, seconds per replica, ratio to the first row of
the same config, and steps/s (num_train_steps / training seconds).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run_once(config: str, seeds: int, loop: int, workdir: str, extra: list[str]) -> dict:
  shutil.rmtree(workdir, ignore_errors=True)
  argv = [sys.executable, '-m', 'cnn_vs_rnn.train', '--config',
          os.path.join(REPO, 'configs', config + '.py'), '--workdir', workdir,
          f'--config.num_seeds={seeds}', f'--config.steps_per_loop={loop}', *extra]
  start = time.perf_counter()
  out = subprocess.run(argv, cwd=REPO, capture_output=True, text=True)
  wall = time.perf_counter() - start
  if out.returncode:
    raise SystemExit(f'{" ".join(argv)} failed:\n{out.stderr[-2000:]}')
  match = re.search(r'final metrics \(([\d.]+)s\): (.*)', out.stdout)
  final = json.loads(match.group(2))
  with open(os.path.join(workdir, 'config.json')) as f:
    steps = json.load(f)['config']['num_train_steps']
  return {'config': config, 'num_seeds': seeds, 'steps_per_loop': loop, 'wall_s': wall,
          'train_s': float(match.group(1)), 'num_train_steps': steps,
          'eval_accuracy': final.get('eval/accuracy')}


def table(rows: list[dict]) -> str:
  lines = ['| config | seeds | K | wall s | wall s per seed | wall ratio | train steps/s |',
           '|---|---|---|---|---|---|---|']
  first = {}
  for r in rows:
    base = first.setdefault(r['config'], r['wall_s'])
    lines.append(f"| {r['config']} | {r['num_seeds']} | {r['steps_per_loop']} | "
                 f"{r['wall_s']:.1f} | {r['wall_s'] / r['num_seeds']:.1f} | "
                 f"{r['wall_s'] / base:.2f} | {r['num_train_steps'] / r['train_s']:.0f} |")
  return '\n'.join(lines)


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--runs', default='runs/scale')
  parser.add_argument('--configs', default='mnist1d_cnn,mnist1d_gru')
  parser.add_argument('--seeds', default='1,2,4,8')
  parser.add_argument('--loops', default='1')
  parser.add_argument('--repeats', type=int, default=1)
  parser.add_argument('--out', default='')
  parser.add_argument('extra', nargs='*', help='More --config.KEY=VALUE overrides.')
  args = parser.parse_args()
  ints = lambda s: [int(x) for x in s.split(',')]
  rows = []
  for rep, config, seeds, loop in itertools.product(
      range(args.repeats), args.configs.split(','), ints(args.seeds), ints(args.loops)):
    workdir = os.path.join(args.runs, f'{config}_n{seeds}_k{loop}_r{rep}')
    rows.append(run_once(config, seeds, loop, workdir, args.extra))
    print(json.dumps(rows[-1]), flush=True)
  print(table(rows))
  if args.out:
    with open(args.out, 'w') as f:
      json.dump(rows, f, indent=2)


if __name__ == '__main__':
  main()
