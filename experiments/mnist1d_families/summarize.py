"""Prints the MNIST-1D family table from the runs of run.sh (final_metrics.json per family).

A run with num_seeds > 1 holds every seed's result in `per_seed`; a directory
of single-seed runs named FAMILY_seedS is read too.
"""

import glob
import json
import os
import statistics
import sys

PUBLISHED = {'cnn': '94% (5,210 params)', 'gru': '91% (5,134 params)'}


def results(runs: str) -> dict:
  """family -> (accuracies, params, wall seconds of all its seeds)."""
  rows = {}
  for path in sorted(glob.glob(os.path.join(runs, '*', 'final_metrics.json'))):
    run = os.path.dirname(path)
    family = os.path.basename(run).rsplit('_seed', 1)[0]
    with open(path) as f:
      final = json.load(f)
    seconds = float(open(run + '.time').read()) if os.path.exists(run + '.time') else 0.0
    accs = final.get('per_seed', {}).get('eval/accuracy', [final['eval/accuracy']])
    old = rows.get(family, ([], final['num_params'], 0.0))
    rows[family] = (old[0] + accs, final['num_params'], old[2] + seconds)
  return rows


def main(runs: str) -> None:
  rows = results(runs)
  print('| family | params | eval accuracy (mean ± std over seeds) | seeds | wall s, all seeds | published |')
  print('|---|---|---|---|---|---|')
  for family, (accs, params, seconds) in rows.items():
    std = statistics.stdev(accs) if len(accs) > 1 else 0.0
    print(f'| {family} | {params:,} | {statistics.mean(accs):.3f} ± {std:.3f} | '
          f'{len(accs)} | {seconds:.0f} | {PUBLISHED.get(family, "")} |')
  print(f'\ntotal wall time: {sum(s for _, _, s in rows.values()):.0f} s')


if __name__ == '__main__':
  main(sys.argv[1] if len(sys.argv) > 1 else 'runs/mnist1d_families')
