"""Tables, figure and results.json of the grids-vs-sequences study from run.sh's sweeps.

  python experiments/grids_vs_sequences/summarize.py RUNS_DIR [--out DIR]

For every family and view, the learning rate is the one with the best mean
validation accuracy over the seeds (cnn_vs_rnn.sweep.select_on_validation);
the test accuracy of that point is reported, as mean ± sample std over seeds.
"""

from __future__ import annotations

import argparse
import json
import os

import numpy as np

from cnn_vs_rnn import plot, sweep

# (sweep directory, dataset label, prefix of its configs' names)
SWEEPS = (('mnist1d', 'MNIST-1D', 'mnist1d_'), ('mnist1d_elman', 'MNIST-1D', 'mnist1d_'),
          ('digits_grid', '8x8 digits', 'digits_'),
          ('digits_rows', '8x8 digits', 'digits_'), ('digits_pixels', '8x8 digits', 'digits_'))
# Long-range sweeps: (directory, label, prefix, validation metric, mode, test metric,
# the trivial baseline's value of the test metric).
LONG_RANGE = (('adding', 'adding, T=100', 'adding_', 'val/mse', 'min', 'test/mse', 0.167),
              ('copy', 'copy memory, T=50', 'copy_', 'val/loss', 'min', 'test/loss', 0.297))
INTACT_VIEWS = ('', 'rows', 'pixels')
FORMAT = {'': 'as is', 'rows': 'rows (8 steps)', 'pixels': 'pixels (64 steps)'}
# Greydanus (2020), MNIST-1D: test accuracy on the ordered data / the shuffled control.
PUBLISHED = {('MNIST-1D', 'cnn'): '94% / ~56%', ('MNIST-1D', 'gru'): '91% / ~57%',
             ('MNIST-1D', 'mlp'): '68% / 68%'}


def sweep_points(runs: str, sub: str) -> list[dict]:
  """The points of the sweep in RUNS/SUB ([] if it has not run)."""
  path = os.path.join(runs, sub, 'results.json')
  return plot.load_results(path)['points'] if os.path.exists(path) else []


def selected(runs: str, sub: str, metric: str, mode: str) -> list[dict]:
  """The sweep's points with the learning rate chosen on the validation `metric`."""
  return sweep.select_on_validation(sweep_points(runs, sub), ('optim.learning_rate',),
                                    metric, mode)


def family_of(point: dict, prefix: str) -> str:
  return plot.config_name(point).removeprefix(prefix)


def pyplot():
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  return plt


def view_of(point: dict) -> str:
  return sweep.unquote(point['grid'].get('data.view', "''"))


def rows_of(runs: str) -> list[dict]:
  """One row per (dataset, family, view): the validation-selected point's numbers."""
  rows = []
  for sub, dataset, prefix in SWEEPS:
    for p in selected(runs, sub, 'val/accuracy', 'max'):
      view = view_of(p)
      family = family_of(p, prefix)
      test = p['metrics'].get('test/accuracy', {})
      rows.append({
          'dataset': dataset, 'family': family, 'view': view,
          'structure': 'intact' if view in INTACT_VIEWS else 'destroyed',
          'num_params': p['num_params'], 'learning_rate': p['grid']['optim.learning_rate'],
          'tried': p['tried'], 'val_accuracy': p['metrics']['val/accuracy'],
          'test_accuracy': test, 'seeds': p['seeds'], 'wall_s': p['wall_s'],
          'steps': p['step']})
  return rows


def long_range_rows(runs: str) -> list[dict]:
  rows = []
  for sub, dataset, prefix, val, mode, test, baseline in LONG_RANGE:
    for p in selected(runs, sub, val, mode):
      rows.append({
          'dataset': dataset, 'family': family_of(p, prefix), 'num_params': p['num_params'],
          'receptive_field': p['receptive_field'], 'learning_rate':
          p['grid']['optim.learning_rate'], 'tried': p['tried'], 'metric': test,
          'validation': p['metrics'][val], 'test': p['metrics'].get(test, {}),
          'baseline': baseline, 'seeds': p['seeds'], 'wall_s': p['wall_s'], 'steps': p['step']})
  return rows


def long_range_table(rows: list[dict], dataset: str) -> str:
  here = [r for r in rows if r['dataset'] == dataset]
  if not here:
    return ''
  metric = here[0]['metric']
  lines = [f'| family | params | receptive field | {metric} | / trivial baseline '
           f'({here[0]["baseline"]}) | lr |', '|---|---|---|---|---|---|']
  for r in sorted(here, key=lambda r: r['test'].get('mean', float('inf'))):
    ratio = f"{r['test']['mean'] / r['baseline']:.4f}" if r['test'] else '–'
    rf = r['receptive_field'] if r['receptive_field'] is not None else 'all steps'
    lines.append(f"| {r['family']} | {r['num_params']:,} | {rf} | "
                 f"{sweep.format_mean_std(r['test']) if r['test'] else '–'} | {ratio} | "
                 f"{r['learning_rate']} |")
  return '\n'.join(lines)


def long_range_figure(rows: list[dict], out: str) -> None:
  plt = pyplot()
  datasets = list(dict.fromkeys(r['dataset'] for r in rows if r['test']))
  fig, axes = plt.subplots(1, len(datasets), figsize=(5.5 * len(datasets), 4.0), squeeze=False)
  for ax, dataset in zip(axes[0], datasets):
    here = sorted((r for r in rows if r['dataset'] == dataset and r['test']),
                  key=lambda r: r['test']['mean'])
    x = np.arange(len(here))
    ratios = np.array([r['test']['mean'] / r['baseline'] for r in here])
    errs = np.array([(r['test']['std'] or 0.0) / r['baseline'] for r in here])
    # Points, not bars: a bar's height on a log axis depends on where the axis
    # starts. A lower error bar that would reach zero stops at a tenth of the mean.
    lower = np.minimum(errs, 0.9 * ratios)
    ax.errorbar(x, ratios, yerr=[lower, errs], fmt='o', capsize=3, color='tab:green')
    ax.axhline(1.0, color='k', lw=1, ls='--', label='trivial baseline')
    ax.set_yscale('log')
    ax.set_xticks(x, [r['family'] for r in here], rotation=30)
    ax.set_ylabel(f"{here[0]['metric']} / baseline (log scale; mean ± std, 3 seeds)")
    ax.grid(axis='y', which='both', alpha=0.3)
    ax.set_title(dataset)
    ax.legend()
  fig.tight_layout()
  fig.savefig(os.path.join(out, 'long_range.png'), dpi=120)
  plt.close(fig)


def fmt(stats: dict) -> str:
  return sweep.format_mean_std(stats) if stats else '–'


def table(rows: list[dict], dataset: str) -> str:
  lines = ['| family | input | params | test acc., intact | test acc., shuffled | drop | '
           'lr (intact / shuffled) | published (intact / shuffled) |',
           '|---|---|---|---|---|---|---|---|']
  by = {(r['family'], r['structure']): r for r in rows if r['dataset'] == dataset}
  for family in sorted({f for f, _ in by}):
    intact, shuffled = by.get((family, 'intact')), by.get((family, 'destroyed'))
    ref = intact or shuffled
    drop = ('–' if not (intact and shuffled and intact['test_accuracy'] and
                        shuffled['test_accuracy']) else
            f"{intact['test_accuracy']['mean'] - shuffled['test_accuracy']['mean']:+.3f}")
    lines.append(
        f"| {family} | {FORMAT.get(intact['view'], intact['view']) if intact else '–'} | "
        f"{ref['num_params']:,} | {fmt(intact and intact['test_accuracy'])} | "
        f"{fmt(shuffled and shuffled['test_accuracy'])} | {drop} | "
        f"{intact['learning_rate'] if intact else '–'} / "
        f"{shuffled['learning_rate'] if shuffled else '–'} | "
        f"{PUBLISHED.get((dataset, family), '')} |")
  return '\n'.join(lines)


def figure(rows: list[dict], out: str) -> None:
  datasets = list(dict.fromkeys(r['dataset'] for r in rows))
  plt = pyplot()
  fig, axes = plt.subplots(1, len(datasets), figsize=(6.0 * len(datasets), 4.2), squeeze=False)
  for ax, dataset in zip(axes[0], datasets):
    here = [r for r in rows if r['dataset'] == dataset and r['test_accuracy']]
    families = sorted({r['family'] for r in here})
    x = np.arange(len(families))
    for k, (structure, color) in enumerate((('intact', 'tab:blue'), ('destroyed', 'tab:orange'))):
      stats = [next((r['test_accuracy'] for r in here
                     if r['family'] == f and r['structure'] == structure), None)
               for f in families]
      means = [s['mean'] if s else np.nan for s in stats]
      stds = [(s['std'] or 0.0) if s else 0.0 for s in stats]
      ax.bar(x + (k - 0.5) * 0.4, means, 0.4, yerr=stds, capsize=3, color=color,
             label='structure intact' if structure == 'intact' else 'positions shuffled')
    ax.set_xticks(x, families, rotation=30)
    ax.set_ylim(0, 1)
    ax.set_ylabel('test accuracy (mean ± std, 3 seeds)')
    ax.set_title(dataset)
    ax.grid(axis='y', alpha=0.3)
    ax.legend(loc='lower left')
  fig.tight_layout()
  fig.savefig(os.path.join(out, 'accuracy.png'), dpi=120)
  plt.close(fig)


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('runs')
  parser.add_argument('--out', default=None, help='where results.json and accuracy.png go '
                      '(default: RUNS_DIR)')
  args = parser.parse_args()
  out = args.out or args.runs
  os.makedirs(out, exist_ok=True)
  rows, long_rows = rows_of(args.runs), long_range_rows(args.runs)
  with open(os.path.join(out, 'results.json'), 'w') as f:
    json.dump({'structure': rows, 'long_range': long_rows}, f, indent=1)
  for dataset in dict.fromkeys(r['dataset'] for r in rows):
    print(f'\n### {dataset}\n')
    print(table(rows, dataset))
  for dataset in dict.fromkeys(r['dataset'] for r in long_rows):
    print(f'\n### {dataset}\n')
    print(long_range_table(long_rows, dataset))
  if rows:
    figure(rows, out)
  if any(r['test'] for r in long_rows):
    long_range_figure(long_rows, out)
  subs = [s[0] for s in SWEEPS] + [s[0] for s in LONG_RANGE]
  total = sum(p['wall_s'] or 0.0 for sub in subs for p in sweep_points(args.runs, sub))
  print(f'\nwall time of every run (all learning rates): {total:.0f} s')


if __name__ == '__main__':
  main()
