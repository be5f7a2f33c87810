"""PNG charts of runs and sweeps (matplotlib's Agg canvas: no display, no pyplot).

  python -m cnn_vs_rnn.plot curves WORKDIR [WORKDIR...] --out FILE.png
      [--metric KEY]... [--label NAME]... [--band std|range|none] [--logy] [--title T]
  python -m cnn_vs_rnn.plot results SWEEP_DIR|results.json --out FILE.png
      [--metric KEY] [--x config|KEY] [--kind bar|line] [--logx] [--logy] [--title T]

curves: learning curves from each workdir's metrics.jsonl, a panel per metric
(default eval/accuracy) and a line per workdir. For a run with num_seeds > 1
the line is the mean over the replicas, with a band of ± the sample std
(KEY/std) or the replicas' range (KEY/seed_S). A sweep point of separate seed
runs (a directory of seed_S/ workdirs) is drawn the same way from its runs.

results: a sweep's results.json, each grid point's mean with std error bars.
x is a grid key (default: the first one) or 'config'; points that differ in
the other keys are separate series. Numeric x values give a line chart,
others grouped bars.

Exit codes: 0 written; 2 bad input (no metrics.jsonl, an unknown metric or key).
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import os
import re
import sys

import numpy as np

from cnn_vs_rnn import cli, errors, fileio
from cnn_vs_rnn.errors import ConfigError, run_command, show

# ---------------------------------------------------------------------------
# Learning curves: data.


@dataclasses.dataclass
class Curve:
  steps: np.ndarray  # [T]
  mean: np.ndarray  # [T]
  std: np.ndarray | None = None  # [T], where the run has replicas
  seeds: np.ndarray | None = None  # [num_seeds, T]: each replica's values


def read_metrics(workdir: str) -> list[dict]:
  """The records of WORKDIR/metrics.jsonl (unreadable lines are dropped)."""
  path = fileio.as_path(workdir) / 'metrics.jsonl'
  if not path.is_file():
    raise ConfigError(f'{workdir!r} holds no metrics.jsonl; pass the --workdir of a '
                      'training run')
  return fileio.parse_lines(path.read_bytes())


def seed_keys(records: list[dict], key: str) -> list[str]:
  """'KEY/seed_S' keys of the records, in the order of S."""
  pattern = re.compile(re.escape(key) + r'/seed_(\d+)')
  found = {k for r in records for k in r if pattern.fullmatch(k)}
  return sorted(found, key=lambda k: int(pattern.fullmatch(k).group(1)))


def curve(records: list[dict], key: str) -> Curve:
  """KEY over the steps of `records`; with replicas also its std and per-seed values.

  The std is KEY/std where recorded, else the sample std (ddof=1) of KEY/seed_S.
  A step logged twice keeps its last record.
  """
  rows = {r['step']: r for r in records if key in r and isinstance(r.get('step'), int)}
  if not rows:
    keys = sorted({k for r in records for k in r if k != 'step' and '/seed_' not in k})
    raise ConfigError(f'metric {show(key)} is not in metrics.jsonl; valid: {", ".join(keys)}')
  rows = [rows[s] for s in sorted(rows)]
  steps = np.asarray([r['step'] for r in rows])
  mean = np.asarray([r[key] for r in rows], np.float64)
  names = seed_keys(rows, key)
  seeds = (np.asarray([[r.get(k, np.nan) for r in rows] for k in names], np.float64)
           if names else None)
  if all(f'{key}/std' in r for r in rows):
    std = np.asarray([r[f'{key}/std'] for r in rows], np.float64)
  elif seeds is not None and len(seeds) > 1:
    std = seeds.std(axis=0, ddof=1)
  else:
    std = None
  return Curve(steps, mean, std, seeds)


def mean_of_runs(curves: list[Curve]) -> Curve:
  """Separate runs (one seed each) as one curve: their mean at the steps they share."""
  if len(curves) == 1:
    return curves[0]
  steps = curves[0].steps
  for c in curves[1:]:
    steps = np.intersect1d(steps, c.steps)
  seeds = np.stack([c.mean[np.searchsorted(c.steps, steps)] for c in curves])
  return Curve(steps, seeds.mean(axis=0), seeds.std(axis=0, ddof=1), seeds)


def seed_run_dirs(workdir: str) -> list[str]:
  """WORKDIR/seed_S for every S with a metrics.jsonl (a sweep point of --seed-runs)."""
  if not os.path.isdir(workdir):
    return []
  names = [n for n in os.listdir(workdir) if re.fullmatch(r'seed_\d+', n)
           and os.path.isfile(os.path.join(workdir, n, 'metrics.jsonl'))]
  return [os.path.join(workdir, n) for n in sorted(names, key=lambda n: int(n[5:]))]


def load_curve(workdir: str, key: str) -> Curve:
  """KEY of a workdir, or the mean of a directory of seed_S/ workdirs."""
  if not (fileio.as_path(workdir) / 'metrics.jsonl').is_file():
    runs = seed_run_dirs(workdir)
    if runs:
      return mean_of_runs([curve(read_metrics(r), key) for r in runs])
  return curve(read_metrics(workdir), key)


def band(c: Curve, kind: str):
  """(low, high) around the mean: ± std, or the replicas' range; None without replicas."""
  if kind == 'std' and c.std is not None:
    return c.mean - c.std, c.mean + c.std
  if kind == 'range' and c.seeds is not None and len(c.seeds) > 1:
    return np.nanmin(c.seeds, axis=0), np.nanmax(c.seeds, axis=0)
  return None


# ---------------------------------------------------------------------------
# Sweep results: data.


@dataclasses.dataclass
class Series:
  label: str
  x: list  # floats where every x value of the chart is a number, else strings
  mean: list[float]
  std: list[float]  # 0 where a point has one seed


def load_results(path: str) -> dict:
  """A sweep's results.json (`path` is the file or the sweep's --out directory)."""
  if os.path.isdir(path):
    path = os.path.join(path, 'results.json')
  if not os.path.isfile(path):
    raise ConfigError(f'{path!r} does not exist; pass a sweep directory or its results.json')
  try:
    results = fileio.read_json(path)
    points = results['points']
  except (ValueError, KeyError, TypeError) as e:
    raise ConfigError(f'{path!r} is not a sweep results.json ({type(e).__name__})') from None
  return {'points': points}


def config_name(point: dict) -> str:
  return os.path.splitext(os.path.basename(point['config']))[0]


def x_value(point: dict, x: str) -> str:
  if x == 'config':
    return config_name(point)
  if x in point['grid']:
    return str(point['grid'][x])
  if x in point['overrides']:
    return str(point['overrides'][x])
  raise ConfigError(f'--x {show(x)} is neither config nor a key of the sweep; valid: '
                    + ', '.join(['config', *point['grid']]))


def as_numbers(values: list[str]) -> list[float] | None:
  """The values as floats if every one is a number, else None."""
  try:
    return [float(v) for v in values]
  except ValueError:
    return None


def varying_keys(points: list[dict]) -> list[str]:
  """The grid keys that take more than one value over `points`."""
  keys = list(dict.fromkeys(k for p in points for k in p['grid']))
  return [k for k in keys if len({str(p['grid'].get(k)) for p in points}) > 1]


def series_label(point: dict, x: str, keys: list[str], several_configs: bool) -> str:
  """The config (if the chart has several and x is not config) and the other varying keys."""
  parts = [config_name(point)] if x != 'config' and several_configs else []
  parts += [f'{k}={point["grid"][k]}' for k in keys if k != x and k in point['grid']]
  return ', '.join(parts)


def default_x(points: list[dict]) -> str:
  keys = [k for p in points for k in p['grid']]
  return keys[0] if keys else 'config'


def results_series(points: list[dict], metric: str, x: str) -> list[Series]:
  """One series per combination of the keys other than x: the points' x, mean and std."""
  done = [p for p in points if metric in p.get('metrics', {})]
  if not done:
    valid = sorted({k for p in points for k in p.get('metrics', {})})
    raise ConfigError(f'no grid point has metric {show(metric)}'
                      + (f'; valid: {", ".join(valid)}' if valid else ' (no point finished)'))
  xs = [x_value(p, x) for p in done]
  numbers = as_numbers(xs)
  several, keys = len({p['config'] for p in done}) > 1, varying_keys(done)
  series = {}
  for i, p in enumerate(done):
    label = series_label(p, x, keys, several)
    s = series.setdefault(label, Series(label, [], [], []))
    stats = p['metrics'][metric]
    s.x.append(numbers[i] if numbers else xs[i])
    s.mean.append(stats['mean'])
    s.std.append(stats['std'] if stats['std'] is not None else 0.0)
  if numbers:
    for s in series.values():
      order = np.argsort(s.x, kind='stable')
      s.x, s.mean, s.std = ([v[i] for i in order] for v in (s.x, s.mean, s.std))
  return list(series.values())


# ---------------------------------------------------------------------------
# Drawing.


def new_figure(rows: int = 1, width: float = 6.4, height: float = 4.0):
  from matplotlib.backends.backend_agg import FigureCanvasAgg  # pylint: disable=g-import-not-at-top
  from matplotlib.figure import Figure  # pylint: disable=g-import-not-at-top
  fig = Figure(figsize=(width, height * rows), layout='constrained')
  FigureCanvasAgg(fig)
  return fig, fig.subplots(rows, 1, squeeze=False)[:, 0]


def curves_figure(curves: dict, metrics: list[str], band_kind: str = 'std',
                  logy: bool = False, title: str = ''):
  """curves: [(label, {metric: Curve})]; a panel per metric, a line (and band) per label."""
  fig, axes = new_figure(len(metrics))
  for ax, metric in zip(axes, metrics):
    for label, by_metric in curves:
      c = by_metric[metric]
      (line,) = ax.plot(c.steps, c.mean, label=label)
      lo_hi = band(c, band_kind)
      if lo_hi is not None:
        ax.fill_between(c.steps, *lo_hi, color=line.get_color(), alpha=0.2, linewidth=0)
    ax.set_ylabel(metric)
    ax.set_yscale('log' if logy else 'linear')
    ax.grid(alpha=0.3)
    ax.legend()
  axes[-1].set_xlabel('step')
  if title:
    fig.suptitle(title)
  return fig


def results_figure(series: list[Series], metric: str, x: str, kind: str = 'auto',
                   logx: bool = False, logy: bool = False, title: str = ''):
  """Mean ± std per grid point: lines over numeric x, else grouped bars."""
  numeric = all(isinstance(v, float) for s in series for v in s.x)
  kind = ('line' if numeric else 'bar') if kind == 'auto' else kind
  if kind == 'line' and not numeric:
    raise ConfigError(f'--kind line needs numeric values of {x}; use --kind bar')
  fig, (ax,) = new_figure()
  if kind == 'line':
    for s in series:
      ax.errorbar(np.asarray(s.x, np.float64), np.asarray(s.mean, np.float64),
                  yerr=np.asarray(s.std, np.float64), marker='o', capsize=3,
                  label=s.label or None)
    ax.set_xscale('log' if logx else 'linear')
  else:
    categories = list(dict.fromkeys(v for s in series for v in s.x))
    if numeric:
      categories.sort()
    width = 0.8 / len(series)
    for j, s in enumerate(series):
      pos = [categories.index(v) - 0.4 + width * (j + 0.5) for v in s.x]
      ax.bar(pos, s.mean, width, yerr=s.std, capsize=3, label=s.label or None)
    names = [f'{v:g}' if numeric else v for v in categories]
    long = sum(len(n) for n in names) > 40  # Would overlap: slant them.
    ax.set_xticks(range(len(categories)), names, rotation=30 if long else 0,
                  ha='right' if long else 'center')
  ax.set_xlabel(x)
  ax.set_ylabel(metric)
  ax.set_yscale('log' if logy else 'linear')
  ax.grid(alpha=0.3, axis='y')
  if any(s.label for s in series):
    ax.legend()
  if title:
    ax.set_title(title)
  return fig


def save(fig, out: str) -> None:
  directory = os.path.dirname(os.path.abspath(out))
  os.makedirs(directory, exist_ok=True)
  fig.savefig(out, format='png', dpi=120)
  print(f'wrote {out}')


# ---------------------------------------------------------------------------
# Command line.


def parse_args(argv: list[str]) -> argparse.Namespace:
  hint = 'see python -m cnn_vs_rnn.plot --help'
  parser = cli.parser_of('plot', __doc__, error_hint=hint,
                         formatter_class=argparse.RawDescriptionHelpFormatter,
                         epilog='\n'.join(__doc__.splitlines()[6:]))
  commands = parser.add_subparsers(
      dest='command', required=True,
      parser_class=functools.partial(cli.ArgumentParser, error_hint=hint))
  curves = commands.add_parser('curves', help='Learning curves of workdirs.')
  curves.add_argument('workdirs', nargs='+')
  curves.add_argument('--metric', action='append', default=[],
                      help='A metrics.jsonl key, e.g. train/loss (repeatable; '
                           'default eval/accuracy).')
  curves.add_argument('--label', action='append', default=[],
                      help='Legend names, one per workdir in order (default: their names).')
  curves.add_argument('--band', choices=('std', 'range', 'none'), default='std')
  results = commands.add_parser('results', help="A sweep's results.json.")
  results.add_argument('results', help='The sweep directory or its results.json.')
  results.add_argument('--metric', default='eval/accuracy')
  results.add_argument('--x', default='', help="A grid key or 'config' (default: the first "
                                                'grid key, else config).')
  results.add_argument('--kind', choices=('auto', 'bar', 'line'), default='auto')
  results.add_argument('--logx', action='store_true')
  for p in (curves, results):
    p.add_argument('--out', required=True, help='The PNG file to write.')
    p.add_argument('--logy', action='store_true')
    p.add_argument('--title', default='')
  return parser.parse_args(argv)


def plot_curves(args) -> None:
  if args.label and len(args.label) != len(args.workdirs):
    raise ConfigError(f'{len(args.label)} --label values for {len(args.workdirs)} workdirs; '
                      'give one per workdir or none')
  metrics = args.metric or ['eval/accuracy']
  labels = args.label or [os.path.basename(os.path.normpath(w)) for w in args.workdirs]
  curves = [(label, {m: load_curve(w, m) for m in metrics})
            for label, w in zip(labels, args.workdirs)]
  save(curves_figure(curves, metrics, args.band, args.logy, args.title), args.out)


def plot_results(args) -> None:
  points = load_results(args.results)['points']
  x = args.x or default_x(points)
  series = results_series(points, args.metric, x)
  save(results_figure(series, args.metric, x, args.kind, args.logx, args.logy, args.title),
       args.out)


def main(argv=None) -> int:
  argv = list(sys.argv[1:] if argv is None else argv)

  def body():
    args = parse_args(argv)
    (plot_curves if args.command == 'curves' else plot_results)(args)

  return run_command(body)


if __name__ == '__main__':
  errors.as_program()
  sys.exit(main())
