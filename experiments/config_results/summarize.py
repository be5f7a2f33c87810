"""The table of every config's test result from a config_results sweep (results.json).

Each row: the config, its parameter count, the step validation selected (one for
all replicas of a run), and the test value of the task's headline
metric, mean ± sample std over the seeds.
"""

import json
import os
import sys

HEADLINE = ('test/accuracy', 'test/bits_per_char', 'test/mse', 'test/loss')


def rows(results: dict) -> list[tuple]:
  out = []
  for record in results['points']:
    metrics = record.get('metrics', {})
    key = next((k for k in HEADLINE if k in metrics), None)
    if key is None:
      out.append((record['name'], record.get('num_params'), None, record.get('status'), None))
      continue
    m = metrics[key]
    best = [b for b in record.get('best_step', []) if b is not None]
    out.append((record['name'], record.get('num_params'), best, key, m))
  return out


def main(runs: str) -> None:
  with open(os.path.join(runs, 'results.json')) as f:
    results = json.load(f)
  print('| config | params | best step | test metric | mean ± std | seeds | wall s |')
  print('|---|---|---|---|---|---|---|')
  for (name, params, best, key, m), record in zip(rows(results), results['points']):
    if m is None:
      print(f'| {name} | | | {key} | not finished | | |')
      continue
    fmt = '.4f' if 'accuracy' in key or 'bits' in key else '.3g'
    best = ', '.join(str(b) for b in best) or '–'
    print(f'| {name} | {params:,} | {best} | {key} | {m["mean"]:{fmt}} ± {m["std"]:{fmt}} | '
          f'{len(m["per_seed"])} | {record.get("wall_s", 0):.0f} |')


if __name__ == '__main__':
  main(sys.argv[1] if len(sys.argv) > 1 else 'runs/config_results')
