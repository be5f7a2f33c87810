"""Which family for my data: every family at one parameter budget, tuned alike, tested once.

  python -m cnn_vs_rnn.compare (--data NAME [--set data.KEY=VALUE]... | --data-file PATH)
      [--families cnn1d,lstm,...] [--params N] [--lrs 1e-3,3e-3,1e-2,3e-2] [--seeds 5]
      [--steps N] [--max-grow 2] [--jobs N | --cluster slurm|local] --out DIR

The protocol, the same for every family:
- Equal parameters: each family's widths are scaled to `--params`
  (model.param_budget, within 5%; models/sizing.py).
- Equal tuning: the same learning-rate grid and seeds, trained as the replicas
  of one compiled program per family (config.replicas.learning_rate x
  num_seeds), Adam with a constant rate and gradient clipping at 1
  (families.shared), `--steps` steps, evaluated on validation every tenth of them.
- Selection on validation: each grid point's best step is picked by the mean
  validation metric of its seeds; the point with the best mean picks the rate
  (equal means, as when a small validation split saturates, go to the lower
  mean validation loss).
  Where that rate is at an edge of the grid, the grid grows by one rate on that
  side (the grid's own ratio), up to `--max-grow` times, and the report says so.
- The budget, checked: a family whose chosen step lies in the last quarter of
  its run (`LATE`) was still improving there. The report names it, and its
  rank holds at this budget only (experiments/PROTOCOL.md).
- Test once: the runs evaluate validation only (config.report_test=False); the
  chosen point's best step is then evaluated on test, once, and recorded.
- Statistics over seeds: mean, sample std, a 95% t interval; each family's
  difference to the best family with a 95% interval and the p-value of
  Welch's two-sided t-test (unequal variances; the seeds of two families share
  the data order but not the initialisation, so the test treats them as
  independent samples). The verdict is a tie when the interval of the
  difference to the runner-up covers zero.
- Cost: parameters, and from one benchmark of the train step (num_seeds=1,
  this machine) FLOPs per example (XLA's count of the train step / batch) and
  the median step time.

Runs live in DIR/FAMILY/grid_RATES (the first grid, then one per growth,
each named by its rates), each a `python -m cnn_vs_rnn.train` subprocess with its log in
train.log (sweep.execute). A rerun of the same command skips what is done and
resumes what is not; Ctrl-C stops after the run in flight checkpoints.
Writes DIR/results.json, DIR/results.md and DIR/compare.png, and prints the report.
Exit codes: 0 done; 1 a run failed; 2 bad input; 130/143 stopped by a signal.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time

import numpy as np

from cnn_vs_rnn import cli, errors, families, fileio, sweep
from cnn_vs_rnn.errors import ConfigError, RunError

FAMILIES_FILE = os.path.abspath(families.__file__)
DEFAULT_LRS = '1e-3,3e-3,1e-2,3e-2'
# The budget rule: validation must not have improved over the run's last quarter.
LATE = 0.25


def parse_args(argv):
  parser = cli.parser_of('compare', __doc__, error_hint='see python -m cnn_vs_rnn.compare --help')
  parser.add_argument('--data', help='a registered dataset (config.data.name)')
  parser.add_argument('--data-file', help="the user's own .npz or .csv (data.name='arrays')")
  parser.add_argument('--set', action='append', default=[], metavar='KEY=VALUE',
                      help='a config field for every run (data.* options, ...)')
  parser.add_argument('--families', help='comma-separated; default: every family that fits')
  parser.add_argument('--params', type=int, default=5000, help='the parameter budget')
  parser.add_argument('--lrs', default=DEFAULT_LRS, help='the learning-rate grid')
  parser.add_argument('--seeds', type=int, default=5, help='seeds per grid point')
  parser.add_argument('--steps', type=int, default=3000, help='training steps per run')
  parser.add_argument('--max-grow', type=int, default=2,
                      help='times a grid may grow at an edge')
  parser.add_argument('--jobs', type=int, default=1,
                      help='families trained at once (each a subprocess)')
  parser.add_argument('--cluster', choices=('slurm', 'local'),
                      help="each family as a submitit job: 'slurm', or 'local' (submitit's "
                      'local executor); the runs and the report go to --out, which the jobs '
                      'must see')
  parser.add_argument('--slurm-partition', default='', help='the partition of --cluster slurm')
  parser.add_argument('--timeout-min', type=int, default=240, help="a job's time limit")
  parser.add_argument('--out', required=True, help='where the runs and the report go')
  return parser.parse_args(argv)


def check_args(args) -> list[float]:
  """The learning-rate grid, sorted; ConfigErrors for bad values."""
  if (args.data is None) == (args.data_file is None):
    raise ConfigError('give one of --data NAME or --data-file PATH')
  for flag, value, least in (('--params', args.params, 1), ('--seeds', args.seeds, 2),
                             ('--steps', args.steps, 10), ('--max-grow', args.max_grow, 0),
                             ('--jobs', args.jobs, 1)):
    if value < least:
      raise ConfigError(f'{flag}={value} must be at least {least}')
  try:
    lrs = sorted(float(v) for v in args.lrs.split(','))
  except ValueError:
    raise ConfigError(f'--lrs={args.lrs!r}: give comma-separated numbers, e.g. '
                      f'{DEFAULT_LRS}') from None
  if len(lrs) < 2 or lrs[0] <= 0 or len(set(lrs)) < len(lrs):
    raise ConfigError(f'--lrs={args.lrs!r}: give at least 2 distinct positive rates')
  return lrs


def data_overrides(args) -> dict:
  """config key -> value string of the data and every --set."""
  out = ({'data.name': 'arrays', 'data.path': args.data_file} if args.data_file
         else {'data.name': args.data})
  for item in args.set:
    key, value = sweep.parse_assignment(item, '--set')
    out[key] = value
  return out


def dataset_name(args) -> str:
  return 'arrays' if args.data_file else args.data


def data_label(args) -> str:
  """The data as the report names it: 'ucr (dataset=GunPoint)', 'mnist1d', a file's path."""
  if args.data_file:
    return args.data_file
  options = [f'{k[len("data."):]}={v}' for k, v in data_overrides(args).items()
             if k.startswith('data.') and k != 'data.name']
  return args.data + (f' ({", ".join(options)})' if options else '')


def family_argv(program: str, family: str, args, overrides: dict) -> list[str]:
  """The command line of `program` (train, benchmark) for one family."""
  config = f'{FAMILIES_FILE}:{family},{dataset_name(args)}'
  return ([sys.executable, '-m', f'cnn_vs_rnn.{program}', '--config', config]
          + sweep.override_args(overrides))


def run_overrides(args, lrs: list[float]) -> dict:
  """The protocol's fields of a grid run (data.* and --set included)."""
  every = max(args.steps // 10, 1)
  return {**data_overrides(args), 'model.param_budget': str(args.params),
          'num_seeds': str(args.seeds), 'num_train_steps': str(args.steps),
          'replicas.learning_rate': '(' + ','.join(repr(lr) for lr in lrs) + ',)',
          'eval_every_steps': str(every), 'log_every_steps': str(every),
          'checkpoint_every_steps': str(every), 'report_test': 'False'}


# ---------------------------------------------------------------------------
# One family: the grid, its growth at the edges, the test of the chosen point.


def point_rows(workdir: str, metric: str) -> list[dict]:
  """Each grid point of a finished run: rate, its seeds' validation values, best step."""
  final = sweep.read_json(os.path.join(workdir, sweep.FINAL))
  if not final or 'points' not in final:
    raise RunError(f'{workdir}: no per-point results in {sweep.FINAL}')
  return [{'learning_rate': p['learning_rate'], 'point': i, 'workdir': workdir,
           'val': p['per_seed'][f'val/{metric}'], 'val_loss': p['per_seed']['val/loss'],
           'best_step': p['best_step'], 'num_params': final['num_params']}
          for i, p in enumerate(final['points'])]


def still_improving(best_step: int, steps: int) -> bool:
  """Whether the chosen step lies in the run's last `LATE` fraction: the validation
  metric was still improving, so more steps could change the ranking."""
  return best_step > (1.0 - LATE) * steps


def choose_point(rows: list[dict], mode: str) -> dict:
  """The row with the best mean validation metric ('max' or 'min'); among equal ones
  (a small validation split saturates: every rate at accuracy 1.0), the lowest mean
  validation loss."""
  sign = -1.0 if mode == 'max' else 1.0
  return min(rows, key=lambda r: (sign * float(np.mean(r['val'])),
                                  float(np.mean(r.get('val_loss', [0.0])))))


def next_rate(rates: list[float], chosen: float) -> float | None:
  """One rate beyond the grid's edge where `chosen` sits on it, else None."""
  rates = sorted(rates)
  if len(rates) < 2 or rates[0] < chosen < rates[-1]:
    return None
  ratio = rates[1] / rates[0] if chosen == rates[0] else rates[-1] / rates[-2]
  return rates[0] / ratio if chosen == rates[0] else rates[-1] * ratio


def run_or_skip(workdir: str, argv: list[str], signals) -> None:
  """Trains (or resumes) one run unless it is done; stops on a signal, raises if it fails."""
  if sweep.run_state(workdir) == 'done':
    return
  code, _ = sweep.execute(sweep.Run(workdir, argv + ['--workdir', workdir], []))
  if code in sweep.STOPPED or signals.signum:
    raise KeyboardInterrupt(code)
  if code:
    raise RunError(f'{workdir}: training failed (exit {code}): {sweep.last_error(workdir)}')


def tune(family: str, args, lrs: list[float], metric: str, mode: str, signals,
         progress) -> tuple[dict, list[dict], list[float]]:
  """(chosen row, every row, the rates added at the edges) of one family."""
  rows, added, grid = [], [], list(lrs)
  for g in range(args.max_grow + 1):
    # Named by its rates, so a rerun that chooses differently never reads another grid.
    workdir = os.path.join(args.out, family, 'grid_' + '_'.join(f'{lr:g}' for lr in grid))
    progress.start(family, g)
    run_or_skip(workdir, family_argv('train', family, args, run_overrides(args, grid)), signals)
    rows += point_rows(workdir, metric)
    chosen = choose_point(rows, mode)
    beyond = next_rate([r['learning_rate'] for r in rows], chosen['learning_rate'])
    if beyond is None or g == args.max_grow:
      return chosen, rows, added
    grid = [beyond]
    added.append(beyond)
  raise AssertionError('unreachable')


def test_once(family: str, chosen: dict, args) -> dict:
  """The chosen point's best step on test: evaluated once, then read from test.json."""
  path = os.path.join(args.out, family, 'test.json')
  record = sweep.read_json(path)
  if record and record.get('workdir') == chosen['workdir'] and record.get(
      'point') == chosen['point']:
    return record['metrics']
  argv = [sys.executable, '-m', 'cnn_vs_rnn.evaluate', '--workdir', chosen['workdir'],
          '--best', '--point', str(chosen['point']), '--split', 'test']
  metrics = last_json_line(argv, f'{family}: the test evaluation')
  fileio.write_json(path, {'workdir': chosen['workdir'], 'point': chosen['point'],
                           'metrics': metrics}, indent=2)
  return metrics


def last_json_line(argv: list[str], what: str) -> dict:
  import subprocess  # pylint: disable=g-import-not-at-top
  done = subprocess.run(argv, capture_output=True, text=True, env=sweep.child_env(),
                        check=False)
  lines = [l for l in done.stdout.splitlines() if l.startswith('{')]
  if done.returncode or not lines:
    tail = (done.stderr.strip().splitlines() or [''])[-1]
    raise RunError(f'{what} failed (exit {done.returncode}): {tail}')
  return json.loads(lines[-1])


def cost(family: str, args) -> dict:
  """Parameters, FLOPs per example and the median train-step time (benchmark.json)."""
  path = os.path.join(args.out, family, 'benchmark.json')
  record = sweep.read_json(path)
  if record is None:
    over = {**data_overrides(args), 'model.param_budget': str(args.params)}
    record = last_json_line(family_argv('benchmark', family, args, over) + ['--steps', '20'],
                            f'{family}: the benchmark')
    fileio.write_json(path, record, indent=2)
  flops = record.get('flops_per_step')
  return {'num_params': record['num_params'],
          'flops_per_example': None if flops is None else flops / record['batch_size'],
          'ms_per_step': record['ms_per_step_median']}


def per_seed_test(metrics: dict, metric: str, seeds: int) -> list[float]:
  """The chosen point's per-seed test values from evaluate's JSON line."""
  key = f'eval/{metric}'
  values = [metrics[f'{key}/seed_{s}'] for s in range(seeds) if f'{key}/seed_{s}' in metrics]
  if len(values) != seeds:
    raise RunError(f'the test evaluation gave {len(values)} of {seeds} seeds for {key}')
  return values


# ---------------------------------------------------------------------------
# Statistics and the report.


def interval(values) -> dict:
  """sweep.seed_stats (per seed, mean, sample std) and a 95% t interval of the mean."""
  from scipy import stats  # pylint: disable=g-import-not-at-top
  out = sweep.seed_stats(values)
  n, mean = len(out['per_seed']), out['mean']
  half = stats.t.ppf(0.975, n - 1) * out['std'] / math.sqrt(n)
  return {**out, 'ci95': [mean - half, mean + half]}


def difference(a, b) -> dict:
  """mean(a) - mean(b) with Welch's 95% interval and two-sided p-value."""
  from scipy import stats  # pylint: disable=g-import-not-at-top
  a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
  va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
  diff, se = float(a.mean() - b.mean()), math.sqrt(va + vb)
  if se == 0:
    return {'diff': diff, 'ci95': [diff, diff], 'p_value': 1.0 if diff == 0 else 0.0}
  df = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
  half = stats.t.ppf(0.975, df) * se
  p = float(stats.ttest_ind(a, b, equal_var=False).pvalue)
  return {'diff': diff, 'ci95': [diff - half, diff + half], 'p_value': p}


def rank(rows: list[dict], mode: str) -> list[dict]:
  """Rows best first, each with its difference to the best."""
  rows = sorted(rows, key=lambda r: r['test']['mean'], reverse=(mode == 'max'))
  best = rows[0]['test']['per_seed']
  for row in rows:
    row['vs_best'] = None if row is rows[0] else difference(row['test']['per_seed'], best)
  return rows


def verdict(rows: list[dict]) -> str:
  """The best family, or a tie with every family whose difference interval covers 0."""
  tied = [r['family'] for r in rows[1:]
          if r['vs_best']['ci95'][0] <= 0 <= r['vs_best']['ci95'][1]]
  if len(rows) == 1:
    return f'only {rows[0]["family"]} was compared'
  if tied:
    return (f'tie: {rows[0]["family"]} is best on the mean, but the 95% interval of the '
            f'difference covers 0 for {", ".join(tied)}')
  return (f'{rows[0]["family"]} is best: every other family is worse, with 95% intervals '
          'of the difference that exclude 0')


def fmt(x, digits: int = 3) -> str:
  return '–' if x is None else f'{x:.{digits}f}'


def markdown(rows: list[dict], metric: str, args, summary: str) -> str:
  head = (f'# compare: test/{metric} on {data_label(args)}\n\n'
          f'{len(rows)} families at {args.params:,} parameters, {args.seeds} seeds per rate, '
          f'{args.steps} steps; rate and step chosen on validation, test evaluated once. '
          "Differences: Welch's t-test.\n\n"
          f'| family | rate | test {metric} mean ± std | 95% CI | vs best | 95% CI | p | '
          'params | FLOPs/example | ms/step |\n|---|---|---|---|---|---|---|---|---|---|\n')
  lines = []
  for r in rows:
    t, d = r['test'], r['vs_best']
    grown = ' (grid grown)' if r['rates_added'] else ''
    lines.append(
        f"| {r['family']} | {r['learning_rate']:g}{grown} | {fmt(t['mean'])} ± {fmt(t['std'])} "
        f"| [{fmt(t['ci95'][0])}, {fmt(t['ci95'][1])}] | "
        + ('– | – | –' if d is None else
           f"{d['diff']:+.3f} | [{d['ci95'][0]:+.3f}, {d['ci95'][1]:+.3f}] | {d['p_value']:.3g}")
        + f" | {r['num_params']:,} | "
        + ('–' if r['flops_per_example'] is None else f"{r['flops_per_example']:.3g}")
        + f" | {r['ms_per_step']:.1f} |")
  notes = [f"- {r['family']}: the best rate was at the grid's edge; grew by "
           + ', '.join(f'{lr:g}' for lr in r['rates_added']) for r in rows if r['rates_added']]
  notes += [f"- {r['family']}: its rate is still at an edge after {args.max_grow} growths; "
            'the optimum may lie beyond it' for r in rows if r['at_edge']]
  notes += [f"- {r['family']}: its chosen step ({r['best_step']} of {args.steps}) lies in the "
            f"run's last {LATE:.0%}: still improving, so its rank holds at this budget only"
            for r in rows if r.get('still_improving')]
  return head + '\n'.join(lines) + '\n\n' + '\n'.join(notes + [f'**Verdict:** {summary}']) + '\n'


def plot(rows: list[dict], metric: str, path: str) -> None:
  """Each family's per-seed test values, its mean and 95% interval."""
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use('Agg')
  from matplotlib import pyplot as plt  # pylint: disable=g-import-not-at-top
  fig, ax = plt.subplots(figsize=(1.2 * len(rows) + 2, 3.5))
  for i, r in enumerate(rows):
    t = r['test']
    ax.plot([i] * len(t['per_seed']), t['per_seed'], 'o', color='0.6', ms=4)
    ax.errorbar([i], [t['mean']], yerr=[[t['mean'] - t['ci95'][0]], [t['ci95'][1] - t['mean']]],
                fmt='s', color='C0', capsize=4)
  ax.set_xticks(range(len(rows)), [r['family'] for r in rows])
  ax.set_ylabel(f'test {metric}')
  ax.set_title(f'mean and 95% interval over seeds (grey: each seed)', fontsize=9)
  fig.tight_layout()
  fig.savefig(path, dpi=120)
  plt.close(fig)


class Progress:
  """One line per run started: the run, time so far and an ETA from the runs so far."""

  def __init__(self, total: int):
    self.total, self.done, self.start_s = total, 0, time.perf_counter()

  def start(self, family: str, grid: int) -> None:  # Called from --jobs threads too.
    elapsed = time.perf_counter() - self.start_s
    eta = (f', about {elapsed / self.done * (self.total - self.done) / 60:.1f} min left'
           if self.done else '')
    print(f'[{self.done + 1}/{self.total}] {family} (grid {grid}): {elapsed / 60:.1f} min '
          f'so far{eta}', flush=True)

  def finish(self) -> None:
    self.done += 1


def task_of(args, names) -> tuple[object, str, str]:
  """(data spec, selection metric, 'max' or 'min') of the data, as the runs load it."""
  from cnn_vs_rnn import data, tasks  # pylint: disable=g-import-not-at-top
  config = cli.config_of(family_argv('train', names[0], args, data_overrides(args))[2:])
  spec = data.load(config.data).spec
  metric, mode = tasks.selection(spec.task)
  return spec, metric, mode


def family_row(family: str, args, lrs, metric, mode, signals, progress) -> dict:
  chosen, rows, added = tune(family, args, lrs, metric, mode, signals, progress)
  progress.finish()
  test = test_once(family, chosen, args)
  return {'family': family, 'learning_rate': chosen['learning_rate'],
          'best_step': chosen['best_step'], 'rates_added': added,
          'still_improving': still_improving(chosen['best_step'], args.steps),
          'at_edge': next_rate([r['learning_rate'] for r in rows],
                               chosen['learning_rate']) is not None,
          'validation': interval(chosen['val']),
          'tried': [{'learning_rate': r['learning_rate'], 'val_mean': float(np.mean(r['val']))}
                    for r in rows],
          'test': interval(per_seed_test(test, metric, args.seeds)),
          **cost(family, args)}


def every_family(names, args, lrs, metric, mode, signals, progress) -> list[dict]:
  """family_row of each family, `args.jobs` at a time (threads, each waiting on its
  family's subprocesses); the first failure or stop is raised once the others end."""
  from concurrent import futures  # pylint: disable=g-import-not-at-top
  if args.cluster:
    return on_cluster(names, args, lrs, metric, mode)
  if args.jobs == 1:
    return [family_row(f, args, lrs, metric, mode, signals, progress) for f in names]
  with futures.ThreadPoolExecutor(args.jobs) as pool:
    jobs = [pool.submit(family_row, f, args, lrs, metric, mode, signals, progress)
            for f in names]
    futures.wait(jobs)
  return [job.result() for job in jobs]


def family_job(family: str, args, lrs, metric: str, mode: str) -> dict:
  """family_row as a cluster job runs it: with its own progress lines and signals."""
  with sweep.CatchSignals() as signals:
    return family_row(family, args, lrs, metric, mode, signals, Progress(1))


def on_cluster(names, args, lrs, metric, mode) -> list[dict]:
  """One submitit job per family (submitit: the cluster engine; its logs in
  OUT/submitit); the rows once every job has ended."""
  try:
    import submitit  # pylint: disable=g-import-not-at-top
  except ImportError:
    raise ConfigError('--cluster needs submitit: pip install "cnn_vs_rnn[cluster]"') from None
  executor = submitit.AutoExecutor(folder=os.path.join(args.out, 'submitit'),
                                   cluster=args.cluster)
  executor.update_parameters(timeout_min=args.timeout_min, name='cnn_vs_rnn.compare')
  if args.cluster == 'slurm' and args.slurm_partition:
    executor.update_parameters(slurm_partition=args.slurm_partition)
  jobs = [executor.submit(family_job, f, args, lrs, metric, mode) for f in names]
  print('submitted ' + ', '.join(f'{f} (job {j.job_id})' for f, j in zip(names, jobs)),
        flush=True)
  return [job.result() for job in jobs]


def compare(argv) -> int:
  args = parse_args(argv)
  lrs = check_args(args)
  names = tuple(args.families.split(',')) if args.families else None
  spec, metric, mode = task_of(args, names or ('mlp',))
  names = names or families.default_families(spec)
  families.check_families(names, spec)
  progress = Progress(len(names))
  with sweep.CatchSignals() as signals:
    try:
      rows = every_family(names, args, lrs, metric, mode, signals, progress)
    except KeyboardInterrupt as stop:
      code = stop.args[0] if stop.args else 130
      print(f'stopped; rerun the same command to resume (exit {code})', flush=True)
      return code
  rows = rank(rows, mode)
  summary = verdict(rows)
  report = markdown(rows, metric, args, summary)
  fileio.write_json(os.path.join(args.out, 'results.json'),
                    {'command': ['python', '-m', 'cnn_vs_rnn.compare'] + list(argv),
                     'metric': f'test/{metric}', 'mode': mode, 'test': "Welch's t-test",
                     'families': rows, 'verdict': summary}, indent=2)
  with open(os.path.join(args.out, 'results.md'), 'w') as f:
    f.write(report)
  plot(rows, metric, os.path.join(args.out, 'compare.png'))
  print(report, flush=True)
  return 0


def main(argv=None) -> int:
  argv = sys.argv[1:] if argv is None else argv
  return errors.run_command(lambda: compare(argv))


if __name__ == '__main__':
  errors.as_program()
  sys.exit(main())
