"""Prints the MNIST-1D family table of README.md from run.sh's sweep (RUNS_DIR/results.json).

The numbers are those of the sweep's results.md (python -m cnn_vs_rnn.sweep);
this adds the published references and names the rows by family.
"""

import os
import sys

from cnn_vs_rnn import fileio, sweep

PUBLISHED = {'cnn': '94% (5,210 params)', 'gru': '91% (5,134 params)'}


def family(point: dict) -> str:
  return os.path.splitext(os.path.basename(point['config']))[0].removeprefix('mnist1d_')


def table(points: list[dict]) -> str:
  lines = ['| family | params | test accuracy (mean ± std over seeds) | seeds | wall s | '
           'published |', '|---|---|---|---|---|---|']
  for p in points:
    params = f'{p["num_params"]:,}' if p['num_params'] is not None else '–'
    wall = f'{p["wall_s"]:.0f}' if p['wall_s'] is not None else '–'
    accuracy = sweep.format_mean_std(p['metrics'].get('test/accuracy'))
    lines.append(f'| {family(p)} | {params} | {accuracy} | {len(p["seeds"])} | {wall} | '
                 f'{PUBLISHED.get(family(p), "")} |')
  return '\n'.join(lines)


def main(runs: str) -> None:
  points = fileio.read_json(os.path.join(runs, 'results.json'))['points']
  print(table(points))
  total = sum(p['wall_s'] or 0.0 for p in points)
  print(f'\ntotal wall time: {total:.0f} s')


if __name__ == '__main__':
  main(sys.argv[1] if len(sys.argv) > 1 else 'runs/mnist1d_families')
