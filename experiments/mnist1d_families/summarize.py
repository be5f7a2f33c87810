"""Prints the MNIST-1D family table from the runs of run.sh (final_metrics.json per run)."""

import glob
import json
import os
import statistics
import sys

PUBLISHED = {'cnn': '94% (5,210 params)', 'gru': '91% (5,134 params)'}


def main(runs: str) -> None:
  rows = {}
  for path in sorted(glob.glob(os.path.join(runs, '*_seed*', 'final_metrics.json'))):
    family = os.path.basename(os.path.dirname(path)).rsplit('_seed', 1)[0]
    with open(path) as f:
      final = json.load(f)
    time_path = os.path.dirname(path) + '.time'
    seconds = float(open(time_path).read()) if os.path.exists(time_path) else float('nan')
    rows.setdefault(family, []).append((final['eval/accuracy'], final['num_params'], seconds))
  print('| family | params | eval accuracy (mean ± std over seeds) | seeds | wall s per run | published |')
  print('|---|---|---|---|---|---|')
  for family, runs_ in rows.items():
    accs = [a for a, _, _ in runs_]
    std = statistics.stdev(accs) if len(accs) > 1 else 0.0
    print(f'| {family} | {runs_[0][1]:,} | {statistics.mean(accs):.3f} ± {std:.3f} | '
          f'{len(accs)} | {statistics.mean(t for _, _, t in runs_):.0f} | '
          f'{PUBLISHED.get(family, "")} |')


if __name__ == '__main__':
  main(sys.argv[1] if len(sys.argv) > 1 else 'runs/mnist1d_families')
