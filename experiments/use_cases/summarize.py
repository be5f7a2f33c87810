"""Tables, figures and results.json of the use-cases study from run.sh's sweeps.

  python experiments/use_cases/summarize.py RUNS_DIR [--out DIR]
  python experiments/use_cases/summarize.py RUNS_DIR --figures SECTION

For every family of a use case, the learning rate is the one with the best mean
validation metric over the seeds (cnn_vs_rnn.sweep.select_on_validation); the
test metric of that point is reported, as mean ± sample std over seeds.
Forecasting is not run by run.sh: its rows are carried over from
experiments/config_results (results_*.json[l]) and, for the sunspots configs,
from the protocol's comparison in experiments/compare/sunspots (results.json).

`--figures translation` draws the attention weights of the selected attention
model (its best checkpoint, replica 0) on one test date into
RUNS_DIR/translation/attention.png; `--figures segmentation` draws test images
with the true masks and the selected U-Net's and ReNet's masks into
RUNS_DIR/segmentation/masks.png. The summary copies those PNGs to --out, or
draws them itself where the runs' checkpoints are on this machine. Missing
sections (not run yet, or run elsewhere) are skipped with a note.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys

import numpy as np

from cnn_vs_rnn import plot, sweep

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Which side of the question each family stands on.
CNN, RNN, HYBRID = 'CNN', 'RNN', 'hybrid'
# Use cases run by run.sh: section (= sweep directory), title, config-name prefix,
# validation metric and mode, test metrics (the first decides), the families
# (config suffix -> (label, side)), the family the seed's summary table picks
# (CNNs for images, video frames and segmentation; RNNs for sequences,
# translation and speech), and the parameter budget.
USE_CASES = (
    {'section': 'video', 'title': 'Video: moving digits (digit x direction, 40 classes)',
     'prefix': 'moving_digits_', 'val': 'val/accuracy', 'mode': 'max',
     'test': ('test/accuracy',), 'predicted': CNN, 'budget': 25_000,
     'families': {'cnn3d': ('3D CNN', CNN), 'convlstm': ('ConvLSTM', RNN),
                  'cnn_lstm': ('CNN+LSTM', HYBRID)}},
    {'section': 'translation', 'title': 'Translation: dates in five styles -> "26 November 2026"',
     'prefix': 'dates_seq2seq_', 'val': 'val/exact_match', 'mode': 'max',
     'test': ('test/exact_match', 'test/char_accuracy'), 'predicted': RNN, 'budget': 100_000,
     'families': {'attention': ('BiLSTM enc. + attention', RNN),
                  'noattention': ('BiLSTM enc., no attention', RNN),
                  'tcn': ('TCN (conv.) enc. + attention', CNN)}},
    {'section': 'segmentation', 'title': 'Segmentation: shapes (background/circle/square/triangle)',
     'prefix': 'shapes_', 'val': 'val/mean_iou', 'mode': 'max',
     'test': ('test/mean_iou', 'test/pixel_accuracy'), 'predicted': CNN, 'budget': 20_000,
     'families': {'unet': ('U-Net', CNN), 'renet': ('ReNet', RNN)}},
    {'section': 'keywords', 'title': "Keywords: 10 synthetic words, 'hard' style (log-mel)",
     'prefix': 'keywords_', 'val': 'val/accuracy', 'mode': 'max',
     'test': ('test/accuracy',), 'predicted': RNN, 'budget': 40_000,
     'families': {'cnn': ('2D CNN', CNN), 'gru': ('GRU', RNN), 'crnn': ('CRNN', HYBRID)}},
)
# Forecasting, carried over: config name -> (task, label, side).
FORECASTING = {'forecast_tcn': ('Mackey-Glass, 64 -> 16 steps', 'TCN', CNN),
               'forecast_lstm': ('Mackey-Glass, 64 -> 16 steps', 'LSTM', RNN),
               'sunspots_tcn': ('sunspots, 20 -> 1 year', 'TCN', CNN),
               'sunspots_lstm': ('sunspots, 20 -> 1 year', 'LSTM', RNN)}
FORECAST_PREDICTED = RNN
CONFIG_RESULTS = os.path.join(REPO, 'experiments', 'config_results')
# Config name -> (dataset, family) of its row in experiments/compare/DATASET/results.json,
# the protocol's record, read before config_results.
COMPARED = {'sunspots_tcn': ('sunspots', 'tcn'), 'sunspots_lstm': ('sunspots', 'lstm')}
COMPARE_RESULTS = os.path.join(REPO, 'experiments', 'compare')
FIGURES = {'translation': 'attention.png', 'segmentation': 'masks.png'}


def sweep_points(runs: str, sub: str) -> list[dict]:
  """The points of the sweep in RUNS/SUB ([] if it has not run)."""
  path = os.path.join(runs, sub, 'results.json')
  return plot.load_results(path)['points'] if os.path.exists(path) else []


def family_of(point: dict, prefix: str) -> str:
  return plot.config_name(point).removeprefix(prefix)


def rows_of(runs: str, case: dict) -> list[dict]:
  """One row per family of `case`: the validation-selected point's numbers."""
  rows = []
  for p in sweep.select_on_validation(sweep_points(runs, case['section']),
                                      ('optim.learning_rate',), case['val'], case['mode']):
    family = family_of(p, case['prefix'])
    label, side = case['families'].get(family, (family, '?'))
    rows.append({
        'family': family, 'label': label, 'side': side, 'num_params': p['num_params'],
        'learning_rate': p['grid'].get('optim.learning_rate'), 'tried': p['tried'],
        'validation': p['metrics'][case['val']],
        'test': {m: p['metrics'][m] for m in case['test'] if m in p['metrics']},
        'seeds': p['seeds'], 'best_step': p.get('best_step'), 'steps': p['step'],
        'wall_s': p['wall_s'], 'workdir': p['workdir']})
  order = list(case['families'])
  return sorted(rows, key=lambda r: order.index(r['family']) if r['family'] in order else 99)


def stats(values: list[float]) -> dict:
  return {'per_seed': values, 'mean': float(np.mean(values)),
          'std': float(np.std(values, ddof=1)) if len(values) > 1 else None}


def carried_record(name: str) -> dict | None:
  """A 3-seed record of config `name` from experiments/config_results, if there is one."""
  records = []
  path = os.path.join(CONFIG_RESULTS, 'results_cpu.json')
  if os.path.exists(path):
    records += [dict(p, device='CPU') for p in plot.load_results(path)['points']]
  path = os.path.join(CONFIG_RESULTS, 'results_h200.jsonl')
  if os.path.exists(path):
    with open(path) as f:
      records += [dict(json.loads(l), device='H200') for l in f if l.strip()]
  for r in records:
    if plot.config_name(r) == name and 'test/mse' in r.get('metrics', {}):
      return {'num_params': r['num_params'], 'test': {'test/mse': r['metrics']['test/mse']},
              'best_step': r.get('best_step'), 'source': f'experiments/config_results '
              f'({r["device"]}, best step {r.get("best_step")})'}
  return None


def compare_record(name: str) -> dict | None:
  """Config `name`'s family in a `compare` record (COMPARED), if there is one."""
  if name not in COMPARED:
    return None
  dataset, family = COMPARED[name]
  path = os.path.join(COMPARE_RESULTS, dataset, 'results.json')
  if not os.path.exists(path):
    return None
  with open(path) as f:
    record = json.load(f)
  (row,) = [r for r in record['families'] if r['family'] == family]
  test = row['test']
  return {'num_params': row['num_params'],
          'test': {'test/mse': stats(test['per_seed'])},
          'best_step': row['best_step'],
          'source': f"experiments/compare/{dataset} (protocol: {len(test['per_seed'])} seeds, "
                    f"rate {row['learning_rate']:g} of {len(row['tried'])}, best step "
                    f"{row['best_step']})"}


def forecasting_rows() -> list[dict]:
  rows = []
  for name, (task, label, side) in FORECASTING.items():
    record = compare_record(name) or carried_record(name)
    if record:
      rows.append({'config': name, 'task': task, 'label': label, 'side': side, **record})
  return rows


def better(mode: str, a: float, b: float) -> bool:
  return a > b if mode == 'max' else a < b


def verdict(rows: list[dict], metric: str, mode: str, predicted: str) -> dict | None:
  """Which side measured best on `metric`, and whether the seed's pick agrees.

  The best family is the one with the best test mean; a family whose mean is
  within the larger of the two seed stds of it counts as tied with it. A tie
  with a family of the same side does not change the verdict.
  """
  scored = [r for r in rows if metric in r['test']]
  if not scored:
    return None
  best = scored[0]
  for r in scored[1:]:
    if better(mode, r['test'][metric]['mean'], best['test'][metric]['mean']):
      best = r
  b = best['test'][metric]
  tied = [r for r in scored if r is not best and abs(r['test'][metric]['mean'] - b['mean'])
          <= max(b['std'] or 0.0, r['test'][metric]['std'] or 0.0)]
  sides = {best['side']} | {r['side'] for r in tied}
  if best['side'] == predicted and sides == {predicted}:
    agreement = 'agrees'
  elif predicted in sides:
    agreement = 'agrees (tied within one std)'
  else:
    agreement = 'disagrees'
  return {'metric': metric, 'best': best['label'], 'best_side': best['side'],
          'tied_with': [r['label'] for r in tied], 'predicted': predicted,
          'agreement': agreement}


def fmt(s: dict | None) -> str:
  return sweep.format_mean_std(s) if s else '–'


def table(case: dict, rows: list[dict]) -> str:
  metrics = case['test']
  lines = ['| family | side | params | ' + ' | '.join(metrics) + f' | {case["val"]} | lr |',
           '|---|---|---|' + '---|' * (len(metrics) + 2)]
  for r in rows:
    lines.append(f"| {r['label']} | {r['side']} | {r['num_params']:,} | "
                 + ' | '.join(fmt(r['test'].get(m)) for m in metrics)
                 + f" | {fmt(r['validation'])} | {r['learning_rate']} |")
  return '\n'.join(lines)


def forecasting_table(rows: list[dict]) -> str:
  lines = ['| task | family | side | params | test/mse | source |', '|---|---|---|---|---|---|']
  for r in rows:
    params = f"{r['num_params']:,}" if r['num_params'] else '–'
    lines.append(f"| {r['task']} | {r['label']} | {r['side']} | {params} | "
                 f"{fmt(r['test']['test/mse'])} | {r['source']} |")
  return '\n'.join(lines)


def answer_line(title: str, v: dict | None) -> str:
  if v is None:
    return f'- {title}: not measured yet.'
  tie = f" (tied within one std with {', '.join(v['tied_with'])})" if v['tied_with'] else ''
  return (f"- {title}: the seed's table picks the {v['predicted']} side; measured best on "
          f"{v['metric']}: {v['best']} ({v['best_side']}){tie}; {v['agreement']}.")


def pyplot():
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  return plt


SIDE_COLORS = {CNN: 'tab:blue', RNN: 'tab:orange', HYBRID: 'tab:green'}


def summary_figure(panels: list[tuple[str, str, list[dict]]], path: str) -> None:
  """One bar panel per use case: the deciding test metric per family (mean ± std)."""
  plt = pyplot()
  cols = min(3, len(panels))
  nrows = -(-len(panels) // cols)
  fig, axes = plt.subplots(nrows, cols, figsize=(3.8 * cols, 3.6 * nrows), squeeze=False)
  for ax in axes.flat[len(panels):]:
    ax.set_visible(False)
  for ax, (title, metric, rows) in zip(axes.flat, panels):
    here = [r for r in rows if metric in r['test']]
    x = np.arange(len(here))
    means = [r['test'][metric]['mean'] for r in here]
    stds = [r['test'][metric]['std'] or 0.0 for r in here]
    colors = [SIDE_COLORS.get(r['side'], 'grey') for r in here]
    if metric.endswith('mse'):  # Points: a bar's height on a log axis depends on its start.
      for xi, m, e, c in zip(x, means, stds, colors):
        ax.errorbar(xi, m, yerr=e, fmt='o', capsize=3, color=c)
      ax.set_xlim(-0.6, len(here) - 0.4)
    else:
      ax.bar(x, means, 0.6, yerr=stds, capsize=3, color=colors)
    ax.set_xticks(x, [r['label'].replace(' + ', '\n+ ').replace(', ', ',\n') for r in here],
                  fontsize=7)
    ax.set_ylabel(metric + (' (log)' if metric.endswith('mse') else ''), fontsize=8)
    if metric.endswith('mse'):
      ax.set_yscale('log')
    ax.set_title(title, fontsize=9)
    ax.grid(axis='y', alpha=0.3)
  handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in SIDE_COLORS.values()]
  fig.legend(handles, list(SIDE_COLORS), loc='upper right', fontsize=8)
  fig.tight_layout(rect=(0, 0, 0.93, 1))
  fig.savefig(path, dpi=120)
  plt.close(fig)


# ---------------------------------------------------------------------------
# Figures from checkpoints: attention weights and segmentation masks.


def replica(state, k: int, num_seeds: int):
  """(params and model state) of replica k of a checkpoint's train state."""
  import jax  # pylint: disable=g-import-not-at-top
  del num_seeds  # Every state has a replica axis.
  pick = lambda t: jax.tree.map(lambda x: x[k], t)
  return {'params': pick(state.params), **pick(state.model_state)}


def load_best(workdir: str):
  from cnn_vs_rnn import evaluate  # pylint: disable=g-import-not-at-top
  return evaluate.load_workdir(workdir, best=True)


def date_example(split: dict) -> int:
  """The first test source in the weekday style ('Thu, 26 Nov 2026'), else 0."""
  from cnn_vs_rnn.data import transduction  # pylint: disable=g-import-not-at-top
  for i in range(min(500, len(split['inputs']))):
    source = transduction.decode(split['inputs'][i])
    if source[:3] in transduction.WEEKDAYS and source[3:5] == ', ':
      return i
  return 0


def attention_of(workdir: str, index: int | None = None) -> dict:
  """The selected model's greedy output and attention weights [T, S] on one test date."""
  import jax  # pylint: disable=g-import-not-at-top
  from cnn_vs_rnn.data import transduction  # pylint: disable=g-import-not-at-top
  run, state, step = load_best(workdir)
  split = run.dataset.split('test')
  i = date_example(split) if index is None else index
  variables = replica(state, 0, run.num_seeds)
  x, lengths, targets = (split['inputs'][i:i + 1], split['lengths'][i:i + 1],
                         split['targets'][i:i + 1])
  logits, sown = jax.jit(lambda v: run.model.apply(
      v, x, lengths=lengths, targets=targets, mutable=['intermediates']))(variables)
  weights = np.asarray(sown['intermediates']['backbone']['attention'][0][0])  # [T, S]
  output_ids = np.asarray(logits[0]).argmax(-1)
  out_text = transduction.decode(output_ids)
  source = transduction.decode(x[0])
  steps = min(len(out_text) + 1, weights.shape[0])  # the characters and EOS
  return {'source': source, 'output': out_text, 'target': transduction.decode(targets[0]),
          'weights': weights[:steps, :len(source)], 'step': step, 'index': i}


def attention_figure(att: dict, path: str) -> None:
  plt = pyplot()
  w = att['weights']
  fig, ax = plt.subplots(figsize=(0.32 * w.shape[1] + 2.0, 0.32 * w.shape[0] + 1.5))
  im = ax.imshow(w, cmap='viridis', vmin=0.0, vmax=1.0, aspect='auto')
  ax.set_xticks(np.arange(w.shape[1]), list(att['source']))
  ax.set_yticks(np.arange(w.shape[0]), list(att['output'])[:w.shape[0]] +
                ['EOS'] * (w.shape[0] - len(att['output'])))
  ax.set_xlabel('source character')
  ax.set_ylabel('generated character')
  ax.set_title(f"additive attention, test example {att['index']} (step {att['step']}, seed 0)\n"
               f"{att['source']!r} -> {att['output']!r}", fontsize=9)
  fig.colorbar(im, ax=ax, fraction=0.03)
  fig.tight_layout()
  fig.savefig(path, dpi=120)
  plt.close(fig)


def masks_of(workdir: str, count: int) -> dict:
  """Test images, true masks and the selected model's masks (replica 0)."""
  import jax  # pylint: disable=g-import-not-at-top
  run, state, step = load_best(workdir)
  split = run.dataset.split('test')
  x = split['inputs'][:count]
  logits = jax.jit(lambda v: run.model.apply(v, x, train=False))(
      replica(state, 0, run.num_seeds))
  return {'images': np.asarray(x)[..., 0], 'truth': np.asarray(split['targets'][:count]),
          'pred': np.asarray(logits).argmax(-1), 'step': step}


def masks_figure(images, truth, preds: dict, path: str) -> None:
  """Rows: input, true mask, one row per model; columns: test examples."""
  plt = pyplot()
  from matplotlib.colors import ListedColormap  # pylint: disable=g-import-not-at-top
  cmap = ListedColormap(['black', 'tab:red', 'tab:green', 'tab:blue'])
  rows = [('input', images, 'gray', None), ('true mask', truth, cmap, 3)] + [
      (name, p, cmap, 3) for name, p in preds.items()]
  n = len(images)
  fig, axes = plt.subplots(len(rows), n, figsize=(1.5 * n, 1.5 * len(rows)), squeeze=False)
  for r, (name, arr, cm, vmax) in enumerate(rows):
    for j in range(n):
      ax = axes[r][j]
      ax.imshow(arr[j], cmap=cm, vmin=0, vmax=vmax, interpolation='nearest')
      ax.set_xticks([])
      ax.set_yticks([])
      if j == 0:
        ax.set_ylabel(name, fontsize=8)
  fig.suptitle('test images; masks: background black, circle red, square green, '
               'triangle blue', fontsize=8)
  fig.tight_layout()
  fig.savefig(path, dpi=120)
  plt.close(fig)


def selected_workdirs(runs: str, section: str) -> dict:
  """family -> workdir of the validation-selected point of `section`."""
  case = next(c for c in USE_CASES if c['section'] == section)
  return {r['family']: r['workdir'] for r in rows_of(runs, case)}


def draw_figure(runs: str, section: str, path: str) -> bool:
  """Draws `section`'s figure from its selected checkpoints; False if they are not here."""
  workdirs = {k: v for k, v in selected_workdirs(runs, section).items()
              if os.path.isdir(os.path.join(v, 'best_checkpoint'))}
  if section == 'translation':
    if 'attention' not in workdirs:
      return False
    attention_figure(attention_of(workdirs['attention']), path)
    return True
  if section == 'segmentation':
    if not workdirs:
      return False
    got = {f: masks_of(w, 6) for f, w in workdirs.items()}
    first = next(iter(got.values()))
    case = next(c for c in USE_CASES if c['section'] == section)
    masks_figure(first['images'], first['truth'],
                 {case['families'].get(f, (f,))[0]: g['pred'] for f, g in got.items()}, path)
    return True
  raise ValueError(f'no figure for section {section!r}; valid: {", ".join(FIGURES)}')


def figure_into(runs: str, section: str, out: str) -> str:
  """Draws `section`'s figure into OUT, or copies RUNS/SECTION's; a note of what happened."""
  name = FIGURES[section]
  path = os.path.join(out, name)
  if draw_figure(runs, section, path):
    return f'{name}: drawn from the selected checkpoints'
  made = os.path.join(runs, section, name)
  if os.path.exists(made):
    if os.path.abspath(made) != os.path.abspath(path):
      shutil.copyfile(made, path)
    return f'{name}: copied from {made}'
  return f'{name}: missing (no checkpoints of the {section} section here, and no {made})'


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('runs')
  parser.add_argument('--out', default=None, help='where results.json and the PNGs go '
                      '(default: RUNS_DIR)')
  parser.add_argument('--figures', default=None, metavar='SECTION',
                      help='only draw SECTION\'s figure into RUNS_DIR/SECTION/ '
                      f'({", ".join(FIGURES)})')
  args = parser.parse_args(argv)
  if args.figures is not None:
    if args.figures not in FIGURES:
      print(f'--figures {args.figures!r}: valid: {", ".join(FIGURES)}', file=sys.stderr)
      return 2
    path = os.path.join(args.runs, args.figures, FIGURES[args.figures])
    if not draw_figure(args.runs, args.figures, path):
      print(f'{args.figures}: no selected run with a best checkpoint under {args.runs}',
            file=sys.stderr)
      return 1
    print(f'wrote {path}')
    return 0
  out = args.out or args.runs
  os.makedirs(out, exist_ok=True)
  results, answers, panels = {'use_cases': {}}, [], []
  for case in USE_CASES:
    rows = rows_of(args.runs, case)
    results['use_cases'][case['section']] = {
        'title': case['title'], 'budget': case['budget'], 'predicted': case['predicted'],
        'rows': rows}
    v = verdict(rows, case['test'][0], case['mode'], case['predicted'])
    results['use_cases'][case['section']]['verdict'] = v
    answers.append(answer_line(case['section'], v))
    print(f"\n### {case['title']} (budget {case['budget']:,} parameters)\n")
    if rows:
      print(table(case, rows))
      panels.append((case['section'], case['test'][0], rows))
    else:
      print(f"not measured: no {os.path.join(args.runs, case['section'], 'results.json')}")
  forecast = forecasting_rows()
  results['forecasting'] = {'rows': forecast, 'predicted': FORECAST_PREDICTED, 'verdicts': {}}
  print('\n### Forecasting (carried over, not run by this study)\n')
  print(forecasting_table(forecast) if forecast else 'no carried-over results found')
  for task in dict.fromkeys(r['task'] for r in forecast):
    here = [r for r in forecast if r['task'] == task]
    v = verdict(here, 'test/mse', 'min', FORECAST_PREDICTED)
    results['forecasting']['verdicts'][task] = v
    answers.append(answer_line(f'forecasting, {task}', v))
    panels.append((task.split(',')[0], 'test/mse', here))
  results['answers'] = answers
  notes = [figure_into(args.runs, section, out) for section in FIGURES]
  results['figures'] = notes
  with open(os.path.join(out, 'results.json'), 'w') as f:
    json.dump(results, f, indent=1)
  if panels:
    summary_figure(panels, os.path.join(out, 'test_metrics.png'))
  print('\n### Answers\n')
  print('\n'.join(answers))
  print('\n' + '\n'.join(notes))
  total = sum(r['wall_s'] or 0.0 for c in results['use_cases'].values() for r in c['rows'])
  print(f'\nwall time of the selected runs: {total:.0f} s')
  return 0


if __name__ == '__main__':
  sys.exit(main())
