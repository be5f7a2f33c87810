"""Tables, figures and results.json of the spatial-hierarchies study.

  python experiments/spatial_hierarchies/summarize.py RUNS_DIR [--out DIR]

Reads run.sh's sweeps (RUNS_DIR/{cnn,deep,baselines}/results.json; the
learning rate of each model chosen on validation, cnn_vs_rnn.sweep.
select_on_validation) and analyze.py's RUNS_DIR/analysis.json. Every number
is a mean ± sample std over the seeds (replicas). Missing sections or a
missing analysis are skipped with a note.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

from cnn_vs_rnn import sweep

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import analyze  # pylint: disable=wrong-import-position

ORDER = ('input', 'cnn2d_gap', 'cnn2d_nopool', 'vgg', 'resnet', 'mlp', 'lstm_rows')
LABEL = {'input': 'input (pixels)', 'cnn2d_gap': 'cnn2d, max pooling',
         'cnn2d_nopool': 'cnn2d, no pooling', 'vgg': 'vgg', 'resnet': 'resnet', 'mlp': 'mlp',
         'lstm_rows': 'lstm (rows)'}
LSTM_ROWS_SHOWN = (3, 7, 11, 15, 19, 23, 27)


def stats(values) -> dict:
  v = [float(x) for x in values]
  return {'mean': float(np.mean(v)), 'std': float(np.std(v, ddof=1)) if len(v) > 1 else None,
          'per_seed': v}


def fmt(s: dict | None) -> str:
  return sweep.format_mean_std(s) if s else '–'


def order_key(name: str):
  return (ORDER.index(name) if name in ORDER else len(ORDER), name)


# ---------------------------------------------------------------------------
# Reading.


def accuracy_rows(runs: str) -> tuple[list[dict], list[str]]:
  rows, notes = [], []
  for section in analyze.SECTIONS:
    if not os.path.exists(os.path.join(runs, section, 'results.json')):
      notes.append(f'section {section!r} has not run ({runs}/{section}/results.json missing)')
  for p in analyze.chosen_points(runs):
    rows.append({'model': analyze.model_name(p), 'num_params': p['num_params'],
                 'learning_rate': p['grid']['optim.learning_rate'], 'tried': p['tried'],
                 'val_accuracy': p['metrics']['val/accuracy'],
                 'test_accuracy': p['metrics'].get('test/accuracy', {}),
                 'seeds': p['seeds'], 'steps': p['step'], 'wall_s': p['wall_s']})
  return sorted(rows, key=lambda r: order_key(r['model'])), notes


def load_analysis(runs: str) -> dict | None:
  path = os.path.join(runs, 'analysis.json')
  if not os.path.exists(path):
    return None
  with open(path) as f:
    return json.load(f)


def probe_rows(analysis: dict) -> list[dict]:
  """One row per (model, layer, kind): test accuracy over seeds, dim, chosen l2s."""
  rows = [{'model': 'input', 'layer': 'input', 'depth': 0, 'kind': p['kind'], 'dim': p['dim'],
           'test': stats([p['test']]), 'l2': [p['l2']]} for p in analysis['input_probes']]
  for name, m in analysis['models'].items():
    per = {}
    for rep in m['replicas']:
      for p in rep['probes']:
        per.setdefault((p['layer'], p['depth'], p['kind']), []).append(p)
    for (layer, depth, kind), ps in per.items():
      rows.append({'model': name, 'layer': layer, 'depth': depth, 'kind': kind,
                   'dim': ps[0]['dim'], 'test': stats([p['test'] for p in ps]),
                   'train': stats([p['train'] for p in ps]), 'l2': [p['l2'] for p in ps]})
  return rows


def translation_rows(analysis: dict) -> list[dict]:
  rows = []
  for name, m in analysis['models'].items():
    reps = [r['translation'] for r in m['replicas']]
    rows.append({'model': name, 'shifts': reps[0]['shifts'],
                 'accuracy': [stats(v) for v in zip(*(r['accuracy'] for r in reps))],
                 'consistency': [stats(v) for v in zip(*(r['consistency'] for r in reps))]})
  return sorted(rows, key=lambda r: order_key(r['model']))


def rf_rows(analysis: dict) -> list[dict]:
  rows = []
  for name, m in analysis['models'].items():
    reps = [r['receptive_fields'] for r in m['replicas'] if r['receptive_fields']]
    if not reps:
      continue
    for layers in zip(*reps):
      rows.append({'model': name, 'layer': layers[0]['name'], 'analytic': layers[0]['analytic'],
                   'analytic_clipped': layers[0]['analytic_clipped'],
                   'measured': stats([l['measured'] for l in layers]),
                   'effective': stats([l['effective'] for l in layers])})
  return sorted(rows, key=lambda r: order_key(r['model']))


# ---------------------------------------------------------------------------
# Tables.


def accuracy_table(rows: list[dict]) -> str:
  lines = ['| model | params | lr (chosen on val.) | val. accuracy | test accuracy |',
           '|---|---|---|---|---|']
  for r in rows:
    lines.append(f"| {LABEL.get(r['model'], r['model'])} | {r['num_params']:,} | "
                 f"{r['learning_rate']} | {fmt(r['val_accuracy'])} | {fmt(r['test_accuracy'])} |")
  return '\n'.join(lines)


def rf_table(rows: list[dict]) -> str:
  lines = ['| model | layer | analytic RF | analytic, clipped to 28x28 | measured extent | '
           'effective (95% of gradient mass) |', '|---|---|---|---|---|---|']
  for r in rows:
    clipped = 'x'.join(str(c) for c in r['analytic_clipped'])
    lines.append(f"| {LABEL.get(r['model'], r['model'])} | {r['layer']} | {r['analytic']} | "
                 f"{clipped} | {fmt(r['measured'])} | {fmt(r['effective'])} |")
  return '\n'.join(lines)


def probe_table(rows: list[dict]) -> str:
  by = {}
  for r in rows:
    by.setdefault((r['model'], r['layer'], r['depth']), {})[r['kind']] = r
  lines = ['| model | layer | depth | 7x7-grid probe (dim) | global-mean probe (dim) | '
           'full probe (dim) |', '|---|---|---|---|---|---|']
  for (model, layer, depth), kinds in sorted(by.items(),
                                             key=lambda kv: (order_key(kv[0][0]), kv[0][2])):
    if model == 'lstm_rows':
      continue
    cell = lambda k: (f"{fmt(kinds[k]['test'])} ({kinds[k]['dim']})" if k in kinds else '–')
    full = 'pixels' if model == 'input' else 'full'
    lines.append(f"| {LABEL.get(model, model)} | {layer} | {depth} | {cell('grid')} | "
                 f"{cell('global')} | {cell(full)} |")
  return '\n'.join(lines)


def lstm_probe_table(rows: list[dict]) -> str:
  here = {int(r['kind'][3:]): r for r in rows if r['model'] == 'lstm_rows'}
  if not here:
    return ''
  shown = [t for t in LSTM_ROWS_SHOWN if t in here] or sorted(here)
  lines = ['| rows read | ' + ' | '.join(str(t + 1) for t in shown) + ' |',
           '|---|' + '---|' * len(shown),
           '| probe test accuracy | ' + ' | '.join(fmt(here[t]['test']) for t in shown) + ' |']
  return '\n'.join(lines)


def translation_table(rows: list[dict]) -> str:
  if not rows:
    return ''
  shifts = rows[0]['shifts']
  lines = ['| model | ' + ' | '.join(f'acc., shift {k}' for k in shifts) +
           f' | consistency, shift {shifts[-1]} |', '|---|' + '---|' * (len(shifts) + 1)]
  for r in rows:
    lines.append(f"| {LABEL.get(r['model'], r['model'])} | " +
                 ' | '.join(fmt(a) for a in r['accuracy']) + f" | {fmt(r['consistency'][-1])} |")
  return '\n'.join(lines)


# ---------------------------------------------------------------------------
# Figures.


def probe_figure(rows: list[dict], out: str) -> None:
  plt = analyze.pyplot()
  fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
  inputs = {r['kind']: r for r in rows if r['model'] == 'input'}
  for ax, kind, title in ((axes[0], 'grid', 'probe on a 7x7 grid of averages'),
                          (axes[1], 'global', 'probe on the global mean of each channel')):
    for model in sorted({r['model'] for r in rows if r['kind'] == kind and r['model'] != 'input'},
                        key=order_key):
      here = sorted((r for r in rows if r['model'] == model and r['kind'] == kind),
                    key=lambda r: r['depth'])
      if kind in inputs:
        here = [inputs[kind]] + here
      ax.errorbar([r['depth'] for r in here], [r['test']['mean'] for r in here],
                  yerr=[r['test']['std'] or 0 for r in here], marker='o', capsize=3,
                  label=LABEL.get(model, model))
    ax.set_xlabel('depth (weight layers up to the probed one; 0 = pixels)')
    ax.set_ylabel('linear probe test accuracy (3 seeds)')
    ax.set_title(title, fontsize='medium')
    ax.legend(fontsize='small')
  ax = axes[2]
  full = sorted((r for r in rows if r['model'] == 'mlp'), key=lambda r: r['depth'])
  lstm = sorted((r for r in rows if r['model'] == 'lstm_rows'), key=lambda r: int(r['kind'][3:]))
  if lstm:
    ax.errorbar([int(r['kind'][3:]) + 1 for r in lstm], [r['test']['mean'] for r in lstm],
                yerr=[r['test']['std'] or 0 for r in lstm], marker='.', capsize=2,
                label='lstm hidden state after row t')
  if 'pixels' in inputs:
    ax.axhline(inputs['pixels']['test']['mean'], color='gray', ls=':', label='all 784 pixels')
  for r in full:
    ax.axhline(r['test']['mean'], color='tab:purple', ls='--', lw=0.8,
               label=f"mlp {r['layer']}")
  ax.set_xlabel('rows read (t)')
  ax.set_ylabel('linear probe test accuracy')
  ax.set_title('row-LSTM: probe of h_t', fontsize='medium')
  ax.legend(fontsize='small')
  fig.tight_layout()
  fig.savefig(os.path.join(out, 'probes.png'), dpi=110)
  plt.close(fig)


def translation_figure(rows: list[dict], out: str) -> None:
  plt = analyze.pyplot()
  fig, axes = plt.subplots(1, 2, figsize=(11, 4))
  for key, ax in zip(('accuracy', 'consistency'), axes):
    for r in rows:
      ax.errorbar(r['shifts'], [s['mean'] for s in r[key]], yerr=[s['std'] or 0 for s in r[key]],
                  marker='o', capsize=3, label=LABEL.get(r['model'], r['model']))
    ax.set_xlabel('shift (pixels; mean over up, down, left, right)')
    ax.set_ylabel(f'test {key} (3 seeds)')
    ax.legend(fontsize='small')
  fig.tight_layout()
  fig.savefig(os.path.join(out, 'translation.png'), dpi=110)
  plt.close(fig)


def rf_figure(rows: list[dict], out: str) -> None:
  plt = analyze.pyplot()
  models = sorted({r['model'] for r in rows}, key=order_key)
  fig, axes = plt.subplots(1, len(models), figsize=(4 * len(models), 3.6), squeeze=False)
  for ax, model in zip(axes[0], models):
    here = [r for r in rows if r['model'] == model]
    x = np.arange(len(here))
    ax.plot(x, [min(r['analytic'], 28) for r in here], 'k--o', label='analytic (clipped at 28)')
    ax.errorbar(x, [r['measured']['mean'] for r in here],
                yerr=[r['measured']['std'] or 0 for r in here], marker='s', capsize=3,
                label='measured (gradient support)')
    ax.errorbar(x, [r['effective']['mean'] for r in here],
                yerr=[r['effective']['std'] or 0 for r in here], marker='^', capsize=3,
                label='effective (95% of mass)')
    ax.set_xticks(x, [r['layer'] for r in here], rotation=45, fontsize='small')
    ax.set_ylabel('pixels (per axis)')
    ax.set_title(LABEL.get(model, model), fontsize='medium')
    ax.legend(fontsize='x-small')
  fig.tight_layout()
  fig.savefig(os.path.join(out, 'receptive_fields.png'), dpi=110)
  plt.close(fig)


# ---------------------------------------------------------------------------


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('runs')
  parser.add_argument('--out', default=os.path.dirname(os.path.abspath(__file__)))
  args = parser.parse_args(argv)
  os.makedirs(args.out, exist_ok=True)
  accuracy, notes = accuracy_rows(args.runs)
  analysis = load_analysis(args.runs)
  if analysis is None:
    notes.append(f'no analysis ({args.runs}/analysis.json missing: run analyze.py)')
  probes = probe_rows(analysis) if analysis else []
  shifts = translation_rows(analysis) if analysis else []
  rfs = rf_rows(analysis) if analysis else []
  for note in notes:
    print(f'note: {note}')
  print('## Test accuracy\n\n' + accuracy_table(accuracy) + '\n')
  if rfs:
    print('## Receptive fields\n\n' + rf_table(rfs) + '\n')
    rf_figure(rfs, args.out)
  if probes:
    print('## Linear probes\n\n' + probe_table(probes) + '\n')
    print('### Row-LSTM\n\n' + lstm_probe_table(probes) + '\n')
    probe_figure(probes, args.out)
  if shifts:
    print('## Translation\n\n' + translation_table(shifts) + '\n')
    translation_figure(shifts, args.out)
  result = {'accuracy': accuracy, 'receptive_fields': rfs, 'probes': probes,
            'translation': shifts, 'notes': notes,
            'analysis_options': analysis['options'] if analysis else None}
  with open(os.path.join(args.out, 'results.json'), 'w') as f:
    json.dump(result, f, indent=1)
  return 0


if __name__ == '__main__':
  sys.exit(main())
