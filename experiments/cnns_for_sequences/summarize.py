"""Tables, figures and results.json of the CNNs-for-sequences study from run.sh's sweeps.

  python experiments/cnns_for_sequences/summarize.py RUNS_DIR [--out DIR]

For every task and family the learning rate is the one with the best mean
validation metric over the seeds (cnn_vs_rnn.sweep.select_on_validation); the
test metric of that point is reported once, as mean ± sample std over seeds.
Sections that have not run are left out of the tables (and say so). MNIST-1D
and the pixel digits are read from experiments/grids_vs_sequences/results.json
(same protocol); the forecasting baselines (persistence, the train mean, a
least-squares linear AR) are computed from the data by
cnn_vs_rnn.data.baselines.
"""

from __future__ import annotations

import argparse
import json
import math
import os

import numpy as np

from cnn_vs_rnn import plot, sweep

HERE = os.path.dirname(os.path.abspath(__file__))
GVS = os.path.join(HERE, '..', 'grids_vs_sequences', 'results.json')
CONTEXT = os.path.join(HERE, '..', 'recurrence_context', 'results.json')
FAMILIES = ('tcn', 'lstm', 'gru', 'lru')
# (sweep directory, task label, config prefix, validation metric, mode, test metric,
#  what the number is, how to show it)
TASKS = (
    ('adding200', 'adding, T=200', 'adding_', 'val/mse', 'min', 'test/mse', 'MSE', 'sci'),
    ('adding400', 'adding, T=400', 'adding_', 'val/mse', 'min', 'test/mse', 'MSE', 'sci'),
    ('copy100', 'copy memory, T=100', 'copy_', 'val/loss', 'min', 'test/loss', 'CE', 'sci'),
    ('copy200', 'copy memory, T=200', 'copy_', 'val/loss', 'min', 'test/loss', 'CE', 'sci'),
    ('charlm', 'character LM (offline corpus)', 'charlm_', 'val/loss', 'min', 'test/loss',
     'bits/char', 'bpc'),
    ('keywords', 'hard keywords', 'keywords_', 'val/accuracy', 'max', 'test/accuracy',
     'accuracy', 'acc'),
    ('forecast', 'Mackey-Glass, 64 -> 16', 'forecast_', 'val/mse', 'min', 'test/mse', 'MSE', 'sci'),
    ('sunspots', 'sunspots, 20 -> 1', 'sunspots_', 'val/mse', 'min', 'test/mse',
     'MSE (standardised)', 'fix'),
)
# The trivial baselines of the synthetic tasks, in the test metric's units.
TRIVIAL = {'adding200': ('predict 1', 1 / 6), 'adding400': ('predict 1', 1 / 6),
           'copy100': ('memoryless', 10 * math.log(8) / 120),
           'copy200': ('memoryless', 10 * math.log(8) / 220)}
# Least-squares AR order of the forecasting baselines (sunspots: the published AR(9)).
AR_ORDER = {'forecast': 16, 'sunspots': 9}
# Bai, Kolter & Koltun (2018), Table 1 (TCN / GRU / LSTM), at their sizes and lengths.
PUBLISHED = {
    'adding': 'T=600: TCN 5.8e-5, GRU 5.3e-5, LSTM 0.164',
    'copy': 'T=1000: TCN 3.5e-5, GRU 0.0197, LSTM 0.0204',
    'charlm': 'char PTB bpc: TCN 1.31, GRU 1.37, LSTM 1.36',
    'pixels': 'seq. MNIST acc.: TCN 99.0, GRU 96.2, LSTM 87.2',
    'mnist1d': 'Greydanus 2020: CNN 94%, GRU 91%',
}


def sweep_points(runs: str, sub: str) -> list[dict]:
  path = os.path.join(runs, sub, 'results.json')
  return plot.load_results(path)['points'] if os.path.exists(path) else []


def lr_of(point: dict) -> str | None:
  """The point's learning rate: a grid value, or an override of the whole sweep."""
  return point['grid'].get('optim.learning_rate', point.get('overrides', {}).get(
      'optim.learning_rate'))


def levels_of(point: dict) -> int | None:
  channels = point['grid'].get('model.channels')
  return len(sweep.split_values(channels.strip('()'))) if channels else None


def task_points(runs: str, sub: str) -> list[dict]:
  """The points of RUNS/SUB and of RUNS/SUB_* (one sweep per family where lrs differ).

  Adding at T=400 also takes the receptive-field sweep's 6-level TCN (receptive
  field 757 >= 400) as its TCN.
  """
  points = sweep_points(runs, sub)
  if os.path.isdir(runs):
    for d in sorted(os.listdir(runs)):
      if d.startswith(f'{sub}_'):
        points += sweep_points(runs, d)
  if sub == 'adding400':
    points += [p for p in sweep_points(runs, 'rf') if levels_of(p) == 6]
  return points


def selected(runs: str, sub: str, metric: str, mode: str) -> list[dict]:
  """The task's points with the lr chosen on validation (per config and grid point)."""
  return sweep.select_on_validation(task_points(runs, sub), ('optim.learning_rate',),
                                    metric, mode)


def chosen_lr(runs: str, sub: str, config: str) -> str | None:
  """The learning rate the sweep RUNS/SUB chose on validation for `config` (a name)."""
  task = next(t for t in TASKS if t[0] == sub)
  for p in selected(runs, sub, task[3], task[4]):
    if plot.config_name(p) == config:
      return lr_of(p)
  return None


def to_bits(stats: dict) -> dict:
  """Cross-entropy in nats (mean, std, per seed) -> bits per character."""
  k = 1 / math.log(2)
  out = dict(stats)
  for key in ('mean', 'std'):
    if out.get(key) is not None:
      out[key] = out[key] * k
  if 'per_seed' in out:
    out['per_seed'] = [v * k for v in out['per_seed']]
  return out


def task_rows(runs: str) -> list[dict]:
  """One row per (task, family): the validation-selected point's numbers."""
  rows = []
  for sub, label, prefix, val, mode, test, unit, style in TASKS:
    for p in selected(runs, sub, val, mode):
      stats = p['metrics'].get(test, {})
      rows.append({
          'task': sub, 'label': label, 'family': plot.config_name(p).removeprefix(prefix),
          'num_params': p['num_params'], 'receptive_field': p.get('receptive_field'),
          'learning_rate': lr_of(p), 'tried': p['tried'],
          'metric': test, 'unit': unit, 'style': style,
          'validation': to_bits(p['metrics'][val]) if style == 'bpc' else p['metrics'][val],
          'source': 'this study',
          'test': to_bits(stats) if style == 'bpc' and stats else stats,
          'test_accuracy': p['metrics'].get('test/accuracy') if sub.startswith('copy') else None,
          'seeds': p['seeds'], 'steps': p['step'], 'wall_s': p['wall_s']})
  return rows


def carried_rows(path: str = GVS) -> list[dict]:
  """MNIST-1D and pixel-digit rows of the grids-vs-sequences study (structure intact)."""
  if not os.path.exists(path):
    return []
  with open(path) as f:
    structure = json.load(f).get('structure', [])
  rows = []
  for r in structure:
    if r['structure'] != 'intact':
      continue
    if r['dataset'] == 'MNIST-1D' and r['family'] in FAMILIES:
      task, label, family = 'mnist1d', 'MNIST-1D (40 steps)', r['family']
    elif r['dataset'] == '8x8 digits' and r['view'] == 'pixels':
      task, label = 'pixels', '8x8 digits, pixel by pixel (64 steps)'
      family = {'lstm_pixels': 'lstm', 'gru_pixels': 'gru'}.get(r['family'], r['family'])
    else:
      continue
    rows.append({'task': task, 'label': label, 'family': family, 'num_params': r['num_params'],
                 'learning_rate': r['learning_rate'], 'tried': r['tried'],
                 'metric': 'test/accuracy', 'unit': 'accuracy', 'style': 'acc',
                 'validation': r['val_accuracy'], 'test': r['test_accuracy'],
                 'seeds': r['seeds'], 'steps': r['steps'], 'wall_s': r['wall_s'],
                 'source': 'experiments/grids_vs_sequences'})
  return rows


def context_rows(path: str = CONTEXT) -> list[dict]:
  """Copy memory (T=100, 200) and the character LM of the recurrence-context study.

  That study trained LSTM, GRU and TCN (and Elman) at one learning rate each
  (3e-3 for copy; the configs' own for the LM), 3 seeds, on an H200; its
  copy-memory runs are at 16k parameters and 2,000 steps, its LMs at 100k
  parameters and 3,000 steps. The LRU was not trained there.
  """
  if not os.path.exists(path):
    return []
  with open(path) as f:
    context = json.load(f)
  rows = []
  for r in context.get('copy_memory', []):
    if r['delay'] in (100, 200) and r['family'] in FAMILIES:
      rows.append({'task': f"copy{r['delay']}", 'label': f"copy memory, T={r['delay']}",
                   'family': r['family'], 'num_params': r['num_params'],
                   'receptive_field': r.get('receptive_field'), 'learning_rate': '3e-3',
                   'tried': [], 'metric': 'test/loss', 'unit': 'CE', 'style': 'sci',
                   'validation': None, 'test': r['test_loss'],
                   'recall_accuracy': r['recall_accuracy'], 'seeds': r['seeds'],
                   'steps': r['steps'], 'wall_s': r.get('wall_s'),
                   'source': 'experiments/recurrence_context (H200)'})
  for r in context.get('charlm', []):
    if r['family'] in FAMILIES:
      rows.append({'task': 'charlm', 'label': 'character LM (offline corpus)',
                   'family': r['family'], 'num_params': r['num_params'],
                   'receptive_field': r.get('receptive_field'),
                   'learning_rate': r['learning_rate'], 'tried': [], 'metric': 'test/loss',
                   'unit': 'bits/char', 'style': 'bpc', 'validation': r['val_bits_per_char'],
                   'test': r['test_bits_per_char'], 'seeds': r['seeds'],
                   'steps': r['selected_step'], 'wall_s': r.get('wall_s'),
                   'source': 'experiments/recurrence_context (H200)'})
  return rows


def forecasting_baselines(tasks=('forecast', 'sunspots')) -> dict:
  """Test MSE of persistence, the train mean and a linear AR(p), from the data itself."""
  from cnn_vs_rnn import configlib, data  # pylint: disable=g-import-not-at-top
  from cnn_vs_rnn.data import baselines  # pylint: disable=g-import-not-at-top
  out = {}
  for task in tasks:
    config = configlib.load_config_file(
        os.path.join(HERE, '..', '..', 'configs', f'{task}_lstm.py'))
    dataset = data.load(config.data)
    b = baselines.baseline_metrics(dataset, 'test', AR_ORDER[task])
    out[task] = {'persistence': b['baseline_persistence_mse'], 'train mean':
                 b['baseline_mean_mse'], f'linear AR({AR_ORDER[task]})':
                 b[f'baseline_ar{AR_ORDER[task]}_mse']}
  return out


def fmt(stats: dict | None, style: str) -> str:
  if not stats or stats.get('mean') is None:
    return '–'
  m, s = stats['mean'], stats.get('std') or 0.0
  if style == 'sci':
    return f'{m:.2e} ± {s:.1e}'
  return f'{m:.3f} ± {s:.3f}'


def main_table(rows: list[dict], baselines: dict) -> str:
  lines = ['| task | metric | ' + ' | '.join(f.upper() for f in FAMILIES) +
           ' | baseline | best | published (Bai et al. 2018 unless noted) |',
           '|---|---|' + '---|' * len(FAMILIES) + '---|---|---|']
  order = ['adding200', 'adding400', 'copy100', 'copy200', 'pixels', 'mnist1d', 'charlm',
           'keywords', 'forecast', 'sunspots']
  for task in order:
    here = {r['family']: r for r in rows if r['task'] == task}
    if not here:
      continue
    any_row = next(iter(here.values()))
    style, higher = any_row['style'], any_row['style'] == 'acc'
    cells = [fmt(here[f]['test'], style) if f in here else '–' for f in FAMILIES]
    scored = [(here[f]['test']['mean'], f) for f in FAMILIES
              if f in here and here[f]['test'] and here[f]['test'].get('mean') is not None]
    best = (max(scored) if higher else min(scored))[1].upper() if scored else '–'
    if task in TRIVIAL:
      base = f'{TRIVIAL[task][0]}: {TRIVIAL[task][1]:.3g}'
    elif task in baselines:
      base = ', '.join(f'{k} {v:.3g}' for k, v in baselines[task].items())
    else:
      base = ''
    published = PUBLISHED.get(task.rstrip('0123456789'), '')
    lines.append(f"| {any_row['label']} | {any_row['unit']} | " + ' | '.join(cells) +
                 f' | {base} | {best} | {published} |')
  return '\n'.join(lines)


def detail_table(rows: list[dict]) -> str:
  lines = ['| task | family | params | receptive field | lr (tried) | validation | test | '
           'per seed (test) |', '|---|---|---|---|---|---|---|---|']
  for r in rows:
    tried = ', '.join(str(t['optim.learning_rate']) for t in r['tried']
                      if t.get('optim.learning_rate')) or 'one lr'
    seeds = ', '.join(f'{v:.3g}' for v in r['test'].get('per_seed', [])) if r['test'] else ''
    rf = r.get('receptive_field') or ('–' if r['family'] != 'tcn' else '?')
    lines.append(f"| {r['task']} | {r['family']} | {r['num_params']:,} | {rf} | "
                 f"{r['learning_rate']} ({tried}) | {fmt(r['validation'], r['style'])} | "
                 f"{fmt(r['test'], r['style'])} | {seeds} |")
  return '\n'.join(lines)


def rf_rows(runs: str) -> list[dict]:
  """Adding T=400: the TCNs of 3..7 levels (receptive field / T), lr chosen per level."""
  rows = []
  for p in selected(runs, 'rf', 'val/mse', 'min'):
    rf = p.get('receptive_field')
    rows.append({'levels': levels_of(p),
                 'receptive_field': rf, 'rf_over_T': rf / 400 if rf else None,
                 'num_params': p['num_params'], 'learning_rate': lr_of(p),
                 'validation': p['metrics']['val/mse'], 'test': p['metrics'].get('test/mse', {}),
                 'seeds': p['seeds'], 'wall_s': p['wall_s']})
  return sorted(rows, key=lambda r: r['receptive_field'] or 0)


def blind_spot_mse(rf_over_t: float) -> float:
  """The adding problem's MSE floor for a model that sees only the last RF of T steps.

  Each of the two markers lies outside the window with probability 1 - RF/T;
  an unseen U[0, 1] value is best predicted by its mean, at variance 1/12.
  """
  return 2 * max(0.0, 1 - rf_over_t) / 12


def rf_table(rows: list[dict]) -> str:
  lines = ['| TCN levels | receptive field | RF / T | params | lr | test MSE | per seed | '
           'floor if unseen markers are guessed |', '|---|---|---|---|---|---|---|---|']
  for r in rows:
    seeds = ', '.join(f'{v:.2e}' for v in r['test'].get('per_seed', []))
    lines.append(f"| {r['levels']} | {r['receptive_field']} | {r['rf_over_T']:.2f} | "
                 f"{r['num_params']:,} | {r['learning_rate']} | {fmt(r['test'], 'sci')} | "
                 f"{seeds} | {blind_spot_mse(r['rf_over_T']):.3g} |")
  return '\n'.join(lines)


def pyplot():
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  return plt


def rf_figure(rf: list[dict], rows: list[dict], out: str) -> None:
  """Test MSE against receptive field / T, the T=400 recurrences as horizontal lines."""
  rf = [r for r in rf if r['test'] and r['rf_over_T']]
  if not rf:
    return
  plt = pyplot()
  fig, ax = plt.subplots(figsize=(6.0, 4.2))
  x = [r['rf_over_T'] for r in rf]
  ax.errorbar(x, [r['test']['mean'] for r in rf], yerr=[r['test']['std'] or 0 for r in rf],
              marker='o', capsize=3, color='tab:blue',
              label=f"TCN ({min(r['levels'] for r in rf)}..{max(r['levels'] for r in rf)} levels)")
  grid = np.linspace(min(x) * 0.9, 0.999, 50)
  ax.plot(grid, [blind_spot_mse(g) for g in grid], color='grey', ls=':',
          label='floor: unseen markers predicted by their mean')
  for r, level in zip(rf, (r['levels'] for r in rf)):
    ax.annotate(f'{level} levels', (r['rf_over_T'], r['test']['mean']), fontsize=8,
                textcoords='offset points', xytext=(4, 4))
  colors = {'lstm': 'tab:red', 'gru': 'tab:orange', 'lru': 'tab:green'}
  for r in rows:
    if r['task'] == 'adding400' and r['family'] in colors and r['test']:
      ax.axhline(r['test']['mean'], color=colors[r['family']], ls='--',
                 label=f"{r['family'].upper()} (sees all 400 steps)")
  ax.axhline(1 / 6, color='k', lw=1, ls=':', label='predict 1 (1/6)')
  ax.axvline(1.0, color='grey', lw=1)
  ax.set_xscale('log')
  ax.set_xticks([0.25, 0.5, 1, 2, 4], ['0.25', '0.5', '1', '2', '4'])
  ax.xaxis.set_minor_formatter(plt.NullFormatter())  # No labels on the minor ticks.
  ax.set_yscale('log')
  ax.set_xlabel('receptive field / T  (T = 400)')
  ax.set_ylabel('test MSE (mean ± std, 3 seeds)')
  ax.set_title('Adding problem, T=400: where a TCN stops seeing')
  ax.legend(fontsize=8)
  fig.tight_layout()
  fig.savefig(os.path.join(out, 'receptive_field.png'), dpi=120)
  plt.close(fig)


def tasks_figure(rows: list[dict], out: str) -> None:
  """Each task's test metric per family, relative to the best family of that task."""
  tasks = [t for t in dict.fromkeys(r['task'] for r in rows)]
  if not tasks:
    return
  plt = pyplot()
  cols = min(5, len(tasks))
  nrows = -(-len(tasks) // cols)
  fig, axes = plt.subplots(nrows, cols, figsize=(2.9 * cols, 3.3 * nrows), squeeze=False)
  colors = {'tcn': 'tab:blue', 'lstm': 'tab:red', 'gru': 'tab:orange', 'lru': 'tab:green'}
  for ax in axes.flat[len(tasks):]:
    ax.set_visible(False)
  for ax, task in zip(axes.flat, tasks):
    here = [r for r in rows if r['task'] == task and r['test']]
    fams = [f for f in FAMILIES if any(r['family'] == f for r in here)]
    stats = [next(r['test'] for r in here if r['family'] == f) for f in fams]
    first = here[0]
    log = first['style'] == 'sci'
    if log:  # Points, not bars: a bar's height on a log axis depends on where the axis starts.
      for i, (f, st) in enumerate(zip(fams, stats)):
        ax.errorbar(i, st['mean'], yerr=st['std'] or 0, fmt='o', capsize=3, color=colors[f])
      ax.set_yscale('log')
    else:
      ax.bar(range(len(fams)), [s['mean'] for s in stats], yerr=[s['std'] or 0 for s in stats],
             capsize=3, color=[colors[f] for f in fams])
    ax.set_xticks(range(len(fams)), [f.upper() for f in fams], rotation=45, fontsize=8)
    if task in TRIVIAL:
      ax.axhline(TRIVIAL[task][1], color='k', ls=':', lw=1)
    ax.set_title(first['label'], fontsize=8)
    ax.set_ylabel(first['unit'] + (' (log scale)' if log else ''), fontsize=8)
  fig.suptitle('Test metric per family (mean ± std over seeds); dotted: the trivial baseline',
               fontsize=9)
  fig.tight_layout()
  fig.savefig(os.path.join(out, 'tasks.png'), dpi=110)
  plt.close(fig)


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('runs')
  parser.add_argument('--out', default=None, help='where results.json and the PNGs go '
                      '(default: RUNS_DIR)')
  parser.add_argument('--no-baselines', action='store_true',
                      help='skip the forecasting baselines (they load both datasets)')
  parser.add_argument('--chosen-lr', metavar='SWEEP:CONFIG', default=None,
                      help='print the learning rate SWEEP chose on validation for CONFIG '
                      '(run.sh uses it); exit 1 if that sweep has no result for it')
  args = parser.parse_args()
  if args.chosen_lr:
    sub, config = args.chosen_lr.split(':', 1)
    lr = chosen_lr(args.runs, sub, config)
    if lr is None:
      raise SystemExit(1)
    print(lr)
    return
  out = args.out or args.runs
  os.makedirs(out, exist_ok=True)
  rows = task_rows(args.runs)
  have = {r['task'] for r in rows}
  rows += [r for r in carried_rows() + context_rows() if r['task'] not in have]
  rf = rf_rows(args.runs)
  have = {r['task'] for r in rows}
  baselines = ({} if args.no_baselines else
               forecasting_baselines([t for t in ('forecast', 'sunspots') if t in have]))
  missing = [t[0] for t in TASKS if t[0] not in have] + ([] if rf else ['rf'])
  with open(os.path.join(out, 'results.json'), 'w') as f:
    json.dump({'tasks': rows, 'receptive_field': rf, 'baselines': baselines,
               'not_run': missing}, f, indent=1)
  print('### Every task (test, validation-selected lr, mean ± std over 3 seeds)\n')
  print(main_table(rows, baselines))
  print('\n### Receptive field vs sequence length (adding, T=400)\n')
  print(rf_table(rf) if rf else '(not run)')
  print('\n### Details\n')
  print(detail_table(rows))
  if missing:
    print(f'\nNot run: {", ".join(missing)}')
  tasks_figure([r for r in rows if r['task'] in have], out)
  rf_figure(rf, rows, out)


if __name__ == '__main__':
  main()
