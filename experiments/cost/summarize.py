"""Plots, fitted exponents and markdown tables of the cost study (run.py's results.json).

  python experiments/cost/summarize.py RUN_DIR [--out DIR]

The curves are the points of the sweeps in results.json's settings (those
of the last run.py call on RUN_DIR): the length sweep at its --batch, the
batch sweep at its --batch-seq-len. Writes to --out (default RUN_DIR): cost_vs_length.png and cost_vs_batch.png
(log-log: ms per step, compile seconds, planned peak memory and matmul FLOPs
per train step, one line per family), summary.json (the fitted exponents and
the tables' numbers) and summary.md (the tables, also printed).

Fitted exponent: the least-squares slope of log(y) against log(x) over the
upper half of the family's measured range (x at or above the geometric middle
of its smallest and largest x, and at least its two largest points), so that
fixed per-step costs at small T do not flatten it. 1.0 means linear growth.
"""

from __future__ import annotations

import argparse
import json
import math
import os

import numpy as np

METRICS = (  # (key, axis label, exponent column)
    ('ms_per_step_median', 'ms per train step (median)', 'time'),
    ('compile_s', 'compile seconds', 'compile'),
    ('peak_memory_bytes', 'planned peak memory (bytes)', 'memory'),
    ('matmul_flops_per_step', 'matmul FLOPs per train step', 'FLOPs'),
    ('temp_bytes', "XLA's planned temporaries (bytes): activations, gradients", 'temporaries'),
    ('depth', 'sequential depth (stages run one after another)', 'depth'),
)
SWEEPS = {'length': ('seq_len', 'sequence length T'), 'batch': ('batch_size', 'batch size B')}
ORDER = ('lstm_scan', 'lstm_fused', 'gru', 'gru_scan', 'elman', 'tcn', 'lru_assoc', 'lru_seq',
         'cnn1d', 'torch_lstm', 'torch_gru', 'torch_tcn')
GROWS = {'lstm_scan': 'T', 'lstm_fused': 'T', 'gru': 'T', 'gru_scan': 'T', 'elman': 'T',
         'lru_seq': 'T', 'torch_lstm': 'T', 'torch_gru': 'T', 'tcn': 'log T',
         'lru_assoc': 'log T', 'cnn1d': 'constant', 'torch_tcn': 'constant (8 levels)'}


def load(run_dir: str) -> tuple[dict, list[dict]]:
  with open(os.path.join(run_dir, 'results.json')) as f:
    results = json.load(f)
  rows = results['rows']
  for r in rows:  # The part of the planned memory that is not parameters, state or inputs.
    r['temp_bytes'] = (r.get('memory_bytes') or {}).get('temp')
  return results['settings'], rows


def family_order(families) -> list[str]:
  return sorted(families, key=lambda f: (ORDER.index(f) if f in ORDER else len(ORDER), f))


def curve(rows: list[dict], settings: dict, sweep: str, family: str) -> list[dict]:
  """The family's ok rows of one sweep, by x."""
  x_key = SWEEPS[sweep][0]
  if sweep == 'length':
    want = lambda r: r['batch_size'] == settings['batch'] and r['seq_len'] in settings['lengths']
  else:
    want = lambda r: (r['seq_len'] == settings['batch_seq_len']
                      and r['batch_size'] in settings['batches'])
  return sorted((r for r in rows if r.get('family') == family and r.get('status') == 'ok'
                 and want(r)), key=lambda r: r[x_key])


def fit_exponent(xs, ys) -> dict | None:
  """Slope of log y on log x over the upper half of the x range (see the docstring)."""
  pts = [(x, y) for x, y in zip(xs, ys) if x and y and x > 0 and y > 0]
  if len(pts) < 2:
    return None
  pts.sort()
  middle = math.sqrt(pts[0][0] * pts[-1][0])
  upper = [p for p in pts if p[0] >= middle]
  if len(upper) < 2:
    upper = pts[-2:]
  lx, ly = np.log([p[0] for p in upper]), np.log([p[1] for p in upper])
  slope = float(np.polyfit(lx, ly, 1)[0])
  return {'exponent': slope, 'x_from': upper[0][0], 'x_to': upper[-1][0], 'points': len(upper)}


def summarize(settings: dict, rows: list[dict]) -> dict:
  families = family_order({r['family'] for r in rows if r.get('family')})
  out = {'families': {}, 'settings': settings}
  for family in families:
    entry = {}
    for sweep, (x_key, _) in SWEEPS.items():
      points = curve(rows, settings, sweep, family)
      xs = [p[x_key] for p in points]
      entry[sweep] = {
          'x': xs,
          'points': [{k: p.get(k) for k in (x_key, 'ms_per_step_median', 'compile_s',
                                             'peak_memory_bytes', 'matmul_flops_per_step',
                                             'temp_bytes', 'num_params', 'depth', 'levels',
                                             'receptive_field', 'model_widths')}
                     for p in points],
          'exponents': {name: fit_exponent(xs, [p.get(key) for p in points])
                        for key, _, name in METRICS},
          'skipped': sorted(r[x_key] for r in _sweep_rows(rows, settings, sweep)
                            if r.get('family') == family and
                            r.get('status') in ('skipped', 'failed', 'timeout')),
      }
    entry['depth_formula'] = next((r.get('depth_formula') for r in rows
                                   if r.get('family') == family and r.get('depth_formula')), None)
    out['families'][family] = entry
  torch_ran = any(r.get('framework') == 'torch' and r.get('status') == 'ok' for r in rows)
  out['torch'] = settings.get('torch') if torch_ran else next(
      (r.get('reason') for r in rows if r.get('status') == 'unavailable'), settings.get('torch'))
  return out


def _sweep_rows(rows, settings, sweep):
  if sweep == 'length':
    return [r for r in rows if r.get('batch_size') == settings['batch']
            and r.get('seq_len') in settings['lengths']]
  return [r for r in rows if r.get('seq_len') == settings['batch_seq_len']
          and r.get('batch_size') in settings['batches']]


# ---------------------------------------------------------------------------
# Tables.


def fmt(value, kind: str = 'g') -> str:
  if value is None or (isinstance(value, float) and not math.isfinite(value)):
    return '–'
  if kind == 'exp':
    return f"{value['exponent']:.2f}" if value else '–'
  if kind == 'bytes':
    return f'{value / 2**20:.1f} MiB'
  if kind == 'flops':
    return f'{value / 1e9:.2f} G'
  if kind == 'ms':
    return f'{value:.3g}' if value < 100 else f'{value:.0f}'
  return f'{value:,}' if isinstance(value, int) else f'{value:.3g}'


def widths_text(point: dict) -> str:
  widths = point.get('model_widths') or {}
  parts = []
  for key, value in widths.items():
    if isinstance(value, (list, tuple)):
      value = (f'{len(value)} x {value[0]}' if len(set(value)) == 1 else
               '/'.join(str(v) for v in value))
    parts.append(f'{key} {value}')
  return ', '.join(parts)


def main_table(summary: dict) -> str:
  s = summary['settings']
  lines = [f"Length sweep (batch {s['batch']}): T = {min(s['lengths'])}..{max(s['lengths'])}; "
           'exponents fitted over the upper half of each family\'s measured T range.', '',
           '| family | params | widths (at largest T) | sequential depth | grows as | '
           'depth at largest T | ms/step at smallest / largest T | time exponent | '
           'peak memory exponent | temporaries exponent | FLOPs exponent | '
           'compile s at largest T | peak memory at largest T | not measured (T) |',
           '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|']
  for family, entry in summary['families'].items():
    pts = entry['length']['points']
    if not pts and not entry['length']['skipped']:
      continue
    first, last = (pts[0], pts[-1]) if pts else ({}, {})
    ex = entry['length']['exponents']
    t_last = last.get('seq_len')
    lines.append(
        f"| {family} | {fmt(last.get('num_params'))} | {widths_text(last) or '–'} | "
        f"{entry.get('depth_formula') or '–'} | {GROWS.get(family, '?')} | "
        f"{fmt(last.get('depth'))} (T={t_last}) | "
        f"{fmt(first.get('ms_per_step_median'), 'ms')} / {fmt(last.get('ms_per_step_median'), 'ms')} | "
        f"{fmt(ex['time'], 'exp')} | {fmt(ex['memory'], 'exp')} | "
        f"{fmt(ex['temporaries'], 'exp')} | {fmt(ex['FLOPs'], 'exp')} | "
        f"{fmt(last.get('compile_s'))} | {fmt(last.get('peak_memory_bytes'), 'bytes')} | "
        f"{', '.join(map(str, entry['length']['skipped'])) or '–'} |")
  return '\n'.join(lines)


def batch_table(summary: dict) -> str:
  s = summary['settings']
  lines = [f"Batch sweep (T = {s['batch_seq_len']}): B = "
           f"{min(s['batches'])}..{max(s['batches'])}.", '',
           '| family | ms/step at smallest / largest B | time exponent | memory exponent | '
           'examples/s at largest B | not measured (B) |',
           '|---|---|---|---|---|---|']
  for family, entry in summary['families'].items():
    pts = entry['batch']['points']
    if not pts and not entry['batch']['skipped']:
      continue
    first, last = (pts[0], pts[-1]) if pts else ({}, {})
    ex = entry['batch']['exponents']
    ms = last.get('ms_per_step_median')
    eps = last['batch_size'] / ms * 1e3 if ms else None
    lines.append(f"| {family} | {fmt(first.get('ms_per_step_median'), 'ms')} / {fmt(ms, 'ms')} | "
                 f"{fmt(ex['time'], 'exp')} | {fmt(ex['memory'], 'exp')} | "
                 f"{fmt(eps and round(eps))} | "
                 f"{', '.join(map(str, entry['batch']['skipped'])) or '–'} |")
  return '\n'.join(lines)


def pivot_table(summary: dict, sweep: str, key: str, kind: str, title: str) -> str:
  x_key = SWEEPS[sweep][0]
  xs = sorted({p[x_key] for e in summary['families'].values() for p in e[sweep]['points']})
  lines = [title, '', '| family | ' + ' | '.join(str(x) for x in xs) + ' |',
           '|---|' + '---|' * len(xs)]
  for family, entry in summary['families'].items():
    by_x = {p[x_key]: p.get(key) for p in entry[sweep]['points']}
    if by_x:
      lines.append(f'| {family} | ' + ' | '.join(fmt(by_x.get(x), kind) for x in xs) + ' |')
  return '\n'.join(lines)


def markdown(summary: dict) -> str:
  parts = [main_table(summary), batch_table(summary),
           pivot_table(summary, 'length', 'ms_per_step_median', 'ms',
                       'ms per train step against T:'),
           pivot_table(summary, 'length', 'peak_memory_bytes', 'bytes',
                       'Planned peak memory against T:'),
           pivot_table(summary, 'length', 'compile_s', 'g', 'Compile seconds against T:'),
           pivot_table(summary, 'length', 'matmul_flops_per_step', 'flops',
                       'Matmul FLOPs per train step against T:')]
  if summary.get('torch'):
    parts.append(f"PyTorch reference: {summary['torch']}.")
  return '\n\n'.join(parts) + '\n'


# ---------------------------------------------------------------------------
# Figures.


def figure(summary: dict, sweep: str, path: str) -> None:
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  x_key, x_label = SWEEPS[sweep]
  fig, axes = plt.subplots(2, 3, figsize=(17, 9))
  cmap = plt.get_cmap('tab10')
  markers = 'os^vDPX*<>p'
  for ax, (key, label, name) in zip(axes.flat, METRICS):
    for i, (family, entry) in enumerate(summary['families'].items()):
      pts = [p for p in entry[sweep]['points'] if p.get(key)]
      if not pts:
        continue
      ex = entry[sweep]['exponents'][name]
      ax.plot([p[x_key] for p in pts], [p[key] for p in pts],
              marker=markers[i % len(markers)], ms=4, color=cmap(i % 10),
              ls='--' if family.startswith('torch_') else '-',
              label=family + (f" ({ex['exponent']:.2f})" if ex else ''))
    ax.set_xscale('log', base=2)
    ax.set_yscale('log')
    ax.set_xlabel(x_label)
    ax.set_ylabel(label)
    ax.grid(True, which='both', alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
      ax.legend(fontsize=7, title='family (fitted exponent)', title_fontsize=7)
  s = summary['settings']
  fixed = f"batch {s['batch']}" if sweep == 'length' else f"T = {s['batch_seq_len']}"
  fig.suptitle(f'Train-step cost against {x_label} ({fixed}, ~{s["param_budget"]:,} '
               'parameters; dashed: PyTorch reference)')
  fig.tight_layout()
  fig.savefig(path, dpi=110)
  plt.close(fig)


def main(argv=None) -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('run_dir')
  parser.add_argument('--out', default=None, help='where the plots and summary go '
                      '(default: RUN_DIR)')
  args = parser.parse_args(argv)
  out = args.out or args.run_dir
  os.makedirs(out, exist_ok=True)
  settings, rows = load(args.run_dir)
  summary = summarize(settings, rows)
  with open(os.path.join(out, 'summary.json'), 'w') as f:
    json.dump(summary, f, indent=1)
  text = markdown(summary)
  with open(os.path.join(out, 'summary.md'), 'w') as f:
    f.write(text)
  print(text)
  for sweep in SWEEPS:
    figure(summary, sweep, os.path.join(out, f'cost_vs_{sweep}.png'))


if __name__ == '__main__':
  main()
