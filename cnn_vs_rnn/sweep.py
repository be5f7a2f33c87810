"""A grid of training runs and its summary: a study in one command.

  python -m cnn_vs_rnn.sweep --out DIR --configs configs/a.py[,configs/b.py...]
      [--grid KEY=V1,V2,...]... [--zip KEY=V1,V2,...]... [--set KEY=VALUE]...
      [--seeds N] [--seed-runs] [--metric KEY[,KEY...]] [--jobs N] [--dry-run]

Grid points: every config file x the cartesian product of the --grid axes x
the --zip axis (all --zip keys step together, so their lists have one
length). --set KEY=VALUE applies to every run. Values go to
`python -m cnn_vs_rnn.train` as --config.KEY=VALUE, which parses them by the
field's type. A list splits at the commas outside brackets, parentheses and
quotes: --grid 'model.features=(16,16),(32,32)' has two values. A value
wholly in quotes is the string inside them, so '' is the empty string:
--grid "data.view='',permuted,'permuted_image,rows'" has three values.

Seeds: --seeds N trains seeds seed .. seed + N - 1 as N replicas of one
program (config.num_seeds = N, the default); with --seed-runs, as N separate
runs (config.seed = seed + k) in DIR/NAME/seed_S.

Each grid point gets the directory DIR/NAME (NAME: the config's name, the grid
values, and a hash of all its overrides). A run whose final_metrics.json
exists is skipped; an unfinished one resumes from its checkpoints. Every run is
a subprocess with its output in WORKDIR/train.log and its wall time in
WORKDIR/sweep_run.json; a failed run is reported and the sweep goes on.

Writes DIR/results.json (a record per grid point: config, overrides, workdir,
num_params, every final metric's per-seed values, mean and std, and the wall
seconds of its runs' subprocesses, every attempt added up) and DIR/results.md
(mean ± std, sample std with ddof=1, a row per point).

Exit codes: 0 every run finished; 1 a run failed; 2 bad input (nothing runs);
130/143 stopped by SIGINT/SIGTERM (the run in flight checkpoints: rerun the
same command to resume).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import itertools
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time

import numpy as np

from cnn_vs_rnn import cli, errors, fileio
from cnn_vs_rnn.errors import ConfigError, run_command, show

KEY_RE = re.compile(r'[A-Za-z_]\w*(\.[A-Za-z_]\w*)*')
OPEN, CLOSE = '([{', ')]}'
# Keys of final_metrics.json that are not metrics.
NOT_METRICS = frozenset({'step', 'best_step', 'receptive_field', 'num_params', 'num_seeds',
                         'seeds', 'per_seed', 'mean', 'std'})
LOG, RECORD, FINAL = 'train.log', 'sweep_run.json', 'final_metrics.json'
STOPPED = (130, 143)  # Exit codes of a run stopped by SIGINT / SIGTERM.


# ---------------------------------------------------------------------------
# Parsing the grid.


def split_values(text: str) -> list[str]:
  """'1e-3,(16,16),"a,b"' -> ['1e-3', '(16,16)', '"a,b"']: commas outside brackets/quotes."""
  items, depth, quote, start = [], 0, None, 0
  for i, ch in enumerate(text):
    if quote:
      quote = None if ch == quote else quote
    elif ch in '\'"':
      quote = ch
    elif ch in OPEN:
      depth += 1
    elif ch in CLOSE:
      depth -= 1
      if depth < 0:
        raise ConfigError(f'unbalanced {ch!r}')
    elif ch == ',' and depth == 0:
      items.append(text[start:i])
      start = i + 1
  if quote or depth:
    raise ConfigError(f'unclosed {"quote" if quote else "bracket"}')
  items.append(text[start:])
  items = [item.strip() for item in items]
  if any(not item for item in items):
    raise ConfigError('empty value; write KEY=V1,V2,...')
  return items


def parse_assignment(text: str, flag: str) -> tuple[str, str]:
  """'KEY=VALUE' -> (KEY, VALUE)."""
  key, eq, value = text.partition('=')
  key, value = key.strip(), value.strip()
  if not eq or not KEY_RE.fullmatch(key) or not value:
    form, example = (('VALUE', '1e-3') if flag == '--set' else ('V1,V2,...', '1e-3,3e-3'))
    raise ConfigError(f'{flag} {show(text)} is malformed; write {flag} KEY={form}, e.g. '
                      f'{flag} optim.learning_rate={example}')
  return key, value


def parse_axis(text: str, flag: str) -> tuple[str, list[str]]:
  """'KEY=V1,V2' -> (KEY, [V1, V2])."""
  key, values = parse_assignment(text, flag)
  try:
    return key, split_values(values)
  except ConfigError as e:
    raise ConfigError(f'{flag} {show(text)}: {e}') from None


def grid_points(grid: list[tuple[str, list[str]]],
                zipped: list[tuple[str, list[str]]]) -> list[dict]:
  """The points {KEY: VALUE}: the product of the grid axes (the first varies slowest)
  and the zip axis (its keys step together)."""
  lengths = {len(values) for _, values in zipped}
  if len(lengths) > 1:
    raise ConfigError('--zip lists differ in length: ' + ', '.join(
        f'{k} has {len(v)}' for k, v in zipped) + '; zipped keys step together')
  axes = [[((k, v),) for v in values] for k, values in grid]
  if zipped:
    axes.append(list(zip(*[[(k, v) for v in values] for k, values in zipped])))
  return [dict(pair for group in combo for pair in group) for combo in itertools.product(*axes)]


def check_keys(config, keys, path: str) -> None:
  """Raises unless every dotted key names a field of `config` (a ConfigDict)."""
  for key in keys:
    node = config
    for part in key.split('.'):
      if not hasattr(node, 'keys') or part not in node.keys():
        raise ConfigError(f'unknown config key {key!r} in {path}')
      node = node[part]


# ---------------------------------------------------------------------------
# The plan: points, their runs and commands.


@dataclasses.dataclass
class Run:
  workdir: str
  argv: list[str]
  seeds: list[int]


@dataclasses.dataclass
class Point:
  name: str
  config: str
  grid: dict  # The grid and zip values of this point.
  overrides: dict  # Every --config.KEY=VALUE of its runs (but the seed of --seed-runs).
  workdir: str
  runs: list[Run]


def short_hash(config: str, overrides: dict) -> str:
  """8 hex digits of the config file and its overrides: one workdir per train config."""
  text = json.dumps({'config': os.path.normpath(config), 'overrides': overrides},
                    sort_keys=True)
  return hashlib.sha256(text.encode()).hexdigest()[:8]


def short_keys(keys) -> dict:
  """KEY -> its last component, or the whole key where two keys share one."""
  last = [k.rsplit('.', 1)[-1] for k in keys]
  return {k: (s if last.count(s) == 1 else k) for k, s in zip(keys, last)}


def point_name(config: str, grid: dict, overrides: dict, max_chars: int = 80) -> str:
  """'mnist1d_cnn_learning_rate=1e-3-1a2b3c4d': readable, then unique by the hash."""
  stem = os.path.splitext(os.path.basename(config))[0]
  names = short_keys(list(grid))
  readable = '_'.join([stem] + [f'{names[k]}={v}' for k, v in grid.items()])
  readable = re.sub(r'[\'"()\[\]{}]', '', readable)
  readable = re.sub(r'[^\w.=+-]+', '-', readable).strip('-')[:max_chars]
  return f'{readable}-{short_hash(config, overrides)}'


def unquote(value: str) -> str:
  """A value wholly in quotes is the string inside them: "'a,b'" -> 'a,b', "''" -> ''."""
  if len(value) >= 2 and value[0] == value[-1] and value[0] in '\'"':
    return value[1:-1]
  return value


def override_args(overrides: dict) -> list[str]:
  return [f'--config.{k}={unquote(v)}' for k, v in overrides.items()]


def train_argv(config: str, workdir: str, overrides: dict) -> list[str]:
  return [sys.executable, '-m', 'cnn_vs_rnn.train', '--config', config, '--workdir',
          workdir, *override_args(overrides)]


def base_seed(config, overrides: dict) -> int:
  value = overrides.get('seed', config.seed)
  try:
    return int(value)
  except ValueError:
    raise ConfigError(f'seed={show(value)} must be an integer') from None


def seed_run(config: str, point_dir: str, overrides: dict, seed: int) -> Run:
  """One of a --seed-runs point's runs: POINT_DIR/seed_S with config.seed = S."""
  workdir = os.path.join(point_dir, f'seed_{seed}')
  return Run(workdir, train_argv(config, workdir, {**overrides, 'seed': str(seed)}), [seed])


def plan_point(config_path: str, config, grid: dict, common: dict, out: str,
               num_seeds: int, seed_runs: bool) -> Point:
  """A grid point: one run of num_seeds replicas, or num_seeds runs of one seed."""
  overrides = {**common, **grid}
  seed = base_seed(config, overrides)
  seeds = list(range(seed, seed + num_seeds))
  if seed_runs:
    name = point_name(config_path, grid, overrides)
    workdir = os.path.join(out, name)
    runs = [seed_run(config_path, workdir, overrides, s) for s in seeds]
  else:
    overrides = {**overrides, 'num_seeds': str(num_seeds)}
    name = point_name(config_path, grid, overrides)
    workdir = os.path.join(out, name)
    runs = [Run(workdir, train_argv(config_path, workdir, overrides), seeds)]
  return Point(name, config_path, grid, overrides, workdir, runs)


def plan(args) -> list[Point]:
  """Every grid point of the command line, checked before anything runs."""
  configs = [c.strip() for c in args.configs.split(',') if c.strip()]
  if not configs:
    raise ConfigError('--configs is empty; pass files such as configs/mnist1d_cnn.py')
  twice = [c for c in configs if configs.count(c) > 1]
  if twice:
    raise ConfigError(f'--configs lists {twice[0]!r} more than once')
  if args.seeds < 1:
    raise ConfigError(f'--seeds={args.seeds} must be a positive integer')
  common = dict(parse_assignment(s, '--set') for s in args.set)
  grid = [parse_axis(g, '--grid') for g in args.grid]
  zipped = [parse_axis(z, '--zip') for z in args.zip]
  keys = list(common) + [k for k, _ in grid + zipped]
  repeated = sorted({k for k in keys if keys.count(k) > 1})
  if repeated:
    raise ConfigError(f'key {repeated[0]!r} is given more than once (--set, --grid, --zip)')
  if 'num_seeds' in keys:
    raise ConfigError('num_seeds is set by the sweep: use --seeds N')
  if os.path.exists(args.out) and not os.path.isdir(args.out):
    raise ConfigError(f'--out {args.out!r} is a file; pass a directory (new or of a sweep)')
  points = []
  for path in configs:
    config = cli.load_config_file(path, 'pass files such as configs/mnist1d_cnn.py')
    check_keys(config, keys, path)
    for values in grid_points(grid, zipped):
      points.append(plan_point(path, config, values, common, args.out, args.seeds,
                               args.seed_runs))
  return points


# ---------------------------------------------------------------------------
# Running.


def run_state(workdir: str) -> str:
  """'done' (final_metrics.json exists), 'resume' (a run started) or 'new'."""
  if os.path.exists(os.path.join(workdir, FINAL)):
    return 'done'
  return 'resume' if os.path.exists(os.path.join(workdir, 'config.json')) else 'new'


def read_json(path: str, default=None):
  try:
    with open(path) as f:
      return json.load(f)
  except (OSError, ValueError):
    return default


def child_env() -> dict:
  """The environment of a run: this process's, with this cnn_vs_rnn package first."""
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  path = os.environ.get('PYTHONPATH')
  return {**os.environ, 'PYTHONPATH': root + (os.pathsep + path if path else '')}


class CatchSignals:
  """While a run is in flight, SIGINT/SIGTERM only stop the sweep after it.

  Ctrl-C reaches the run too (same process group): it checkpoints and exits
  with 130, and the sweep then stops. A signal sent to the sweep alone lets
  the run finish first.
  """

  def __init__(self):
    self.signum = None
    self._previous = {}

  def __enter__(self):
    for s in (signal.SIGINT, signal.SIGTERM):
      self._previous[s] = signal.signal(s, self._catch)
    return self

  def _catch(self, signum, frame):
    del frame
    self.signum = self.signum or signum

  def __exit__(self, *exc):
    for s, handler in self._previous.items():
      signal.signal(s, handler)


def execute(run: Run) -> tuple[int, float]:
  """Runs (or resumes) one training run; (exit code, wall seconds). Appends to its log."""
  os.makedirs(run.workdir, exist_ok=True)
  previous = read_json(os.path.join(run.workdir, RECORD), {})
  with open(os.path.join(run.workdir, LOG), 'a') as log:
    log.write(f'# {time.strftime("%Y-%m-%d %H:%M:%S")} sweep: {shlex.join(run.argv)}\n')
    log.flush()
    start = time.perf_counter()
    process = subprocess.Popen(run.argv, stdout=log, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, env=child_env())
    code = process.wait()
    wall = time.perf_counter() - start
  record = {'command': run.argv, 'exit_code': code,
            'wall_s': previous.get('wall_s', 0.0) + wall,
            'attempts': previous.get('attempts', 0) + 1}
  fileio.write_json(os.path.join(run.workdir, RECORD), record, indent=2)
  return code, wall


def last_error(workdir: str) -> str:
  """The last 'error:' line of a run's log, else its last line."""
  try:
    with open(os.path.join(workdir, LOG), errors='replace') as f:
      lines = [l.strip() for l in f if l.strip()]
  except OSError:
    return ''
  errors = [l for l in lines if l.startswith('error:')]
  return (errors or lines or [''])[-1][:300]


# ---------------------------------------------------------------------------
# Summary.


def seed_stats(values) -> dict:
  """{'per_seed', 'mean', 'std'}: std is the sample std (ddof=1); None for one seed."""
  a = np.asarray(values, np.float64)
  return {'per_seed': [float(v) for v in a], 'mean': float(a.mean()),
          'std': float(a.std(ddof=1)) if len(a) > 1 else None}


def per_seed_values(final: dict) -> dict:
  """metric -> its per-seed values in one run's final_metrics.json."""
  if 'per_seed' in final:
    return {k: list(v) for k, v in final['per_seed'].items()}
  return {k: [v] for k, v in final.items()
          if k not in NOT_METRICS and isinstance(v, (int, float))}


def point_record(point: Point, codes: dict) -> dict:
  """The results.json record of a point, from its runs' final_metrics.json.

  `codes`: workdir -> exit code of the runs this invocation ran.
  """
  finals, seeds, runs, walls = [], [], [], []
  for run in point.runs:
    final = read_json(os.path.join(run.workdir, FINAL))
    record = read_json(os.path.join(run.workdir, RECORD), {})
    code = codes.get(run.workdir, 0 if final is not None else None)
    runs.append({'workdir': run.workdir, 'command': run.argv, 'exit_code': code,
                 'wall_s': record.get('wall_s'), 'log': os.path.join(run.workdir, LOG)})
    if final is not None:
      finals.append(final)
      seeds += final.get('seeds', run.seeds)
      walls.append(record.get('wall_s'))
  values = {}
  for final in finals:
    for k, v in per_seed_values(final).items():
      values.setdefault(k, []).extend(v)
  status = 'ok' if len(finals) == len(point.runs) else run_status(
      [r['exit_code'] for r in runs])
  return {
      'name': point.name, 'config': point.config, 'grid': point.grid,
      'overrides': point.overrides, 'workdir': point.workdir, 'status': status,
      'seeds': seeds, 'num_params': finals[0]['num_params'] if finals else None,
      'step': finals[0]['step'] if finals else None,
      'best_step': [f.get('best_step') for f in finals],
      'receptive_field': finals[0].get('receptive_field') if finals else None,
      'metrics': {k: seed_stats(v) for k, v in sorted(values.items())},
      'wall_s': sum(walls) if walls and None not in walls else None,
      'runs': runs}


def select_on_validation(points: list[dict], tuned: tuple[str, ...], metric: str,
                         mode: str) -> list[dict]:
  """The best point of each group of `points` that differ only in the `tuned` grid keys.

  Groups are (config, the grid values of every other key); within a group the
  point with the best mean `metric` (a validation metric, e.g. 'val/accuracy')
  over its seeds wins ('max' or 'min'). Points without the metric (failed or
  unfinished runs) never win; a group where no point has it is left out. Each
  winner is returned with `tried`: the tuned values and mean metric of its group.
  """
  if mode not in ('max', 'min'):
    raise ValueError(f'mode={mode!r}; valid: max, min')
  groups: dict = {}
  for p in points:
    key = (p['config'], tuple(sorted((k, v) for k, v in p['grid'].items() if k not in tuned)))
    groups.setdefault(key, []).append(p)
  chosen = []
  for group in groups.values():
    scored = [(p['metrics'][metric]['mean'], p) for p in group if metric in p['metrics']]
    if not scored:
      continue
    best = (max if mode == 'max' else min)(scored, key=lambda sp: sp[0])[1]
    tried = [{**{k: p['grid'].get(k) for k in tuned}, metric: m} for m, p in scored]
    chosen.append({**best, 'tried': tried})
  return chosen


def run_status(codes: list) -> str:
  """'failed' if a run failed, 'stopped' if one was stopped by a signal, else 'not run'."""
  if any(c not in (0, None, *STOPPED) for c in codes):
    return 'failed'
  return 'stopped' if any(c in STOPPED for c in codes) else 'not run'


def format_mean_std(stats: dict | None, digits: int = 3) -> str:
  """'0.932 ± 0.008' (fixed point; 3 significant digits outside [0.01, 10000))."""
  if stats is None:
    return '–'
  mean, std = stats['mean'], stats['std']
  spec = f'.{digits}f' if 1e-2 <= abs(mean) < 1e4 else f'.{digits}g'
  return format(mean, spec) + ('' if std is None else ' ± ' + format(std, spec))


def metric_keys(records: list[dict], wanted: list[str] | None) -> list[str]:
  if wanted:
    return wanted
  return sorted({k for r in records for k in r['metrics']})


def markdown_table(records: list[dict], metrics: list[str]) -> str:
  """A row per grid point: config, grid values, params, each metric's mean ± std,
  seeds, wall seconds (and the status where a run did not finish)."""
  grid_keys = list(dict.fromkeys(k for r in records for k in r['grid']))
  header = ['config', *grid_keys, 'params', *metrics, 'seeds', 'wall s']
  show_status = any(r['status'] != 'ok' for r in records)
  header += ['status'] if show_status else []
  lines = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
  for r in records:
    cells = [os.path.splitext(os.path.basename(r['config']))[0],
             *[str(r['grid'].get(k, '')) for k in grid_keys],
             f'{r["num_params"]:,}' if r['num_params'] is not None else '–',
             *[format_mean_std(r['metrics'].get(m)) for m in metrics],
             str(len(r['seeds'])),
             f'{r["wall_s"]:.0f}' if r['wall_s'] is not None else '–']
    cells += [status_cell(r)] if show_status else []
    lines.append('| ' + ' | '.join(cells) + ' |')
  return '\n'.join(lines) + '\n'


def status_cell(record: dict) -> str:
  codes = [r['exit_code'] for r in record['runs'] if r['exit_code'] not in (0, None)]
  return record['status'] + (f' (exit {codes[0]})' if codes else '')


def write_summary(out: str, records: list[dict], metrics: list[str], argv: list[str]) -> str:
  table = markdown_table(records, metric_keys(records, metrics))
  fileio.write_json(os.path.join(out, 'results.json'),
                    {'command': argv, 'points': records}, indent=2)
  fileio.write_text(os.path.join(out, 'results.md'), table)
  return table


# ---------------------------------------------------------------------------
# Command line.


def parse_args(argv: list[str]) -> argparse.Namespace:
  parser = cli.parser_of(
      'sweep', __doc__, error_hint='see python -m cnn_vs_rnn.sweep --help',
      formatter_class=argparse.RawDescriptionHelpFormatter,
      epilog='\n'.join(__doc__.splitlines()[5:]))
  parser.add_argument('--out', required=True, help='Directory of the runs and the summary.')
  parser.add_argument('--configs', required=True, help='Config files, comma-separated.')
  parser.add_argument('--grid', action='append', default=[], metavar='KEY=V1,V2',
                      help='An axis of the cartesian product (repeatable).')
  parser.add_argument('--zip', action='append', default=[], metavar='KEY=V1,V2',
                      help='Keys that step together: one more axis (repeatable).')
  parser.add_argument('--set', action='append', default=[], metavar='KEY=VALUE',
                      help='An override of every run (repeatable).')
  parser.add_argument('--seeds', type=int, default=1, metavar='N',
                      help='Seeds per grid point: seed .. seed + N - 1 (default 1).')
  parser.add_argument('--seed-runs', action='store_true',
                      help='Train the seeds as separate runs, not replicas of one program.')
  parser.add_argument('--metric', default='',
                      help='Final metrics in results.md, comma-separated (default: all).')
  parser.add_argument('--jobs', type=int, default=1, metavar='N',
                      help='Runs trained at once, each a subprocess (default 1).')
  parser.add_argument('--dry-run', action='store_true',
                      help="Print each run's state and command; run and write nothing.")
  return parser.parse_args(argv)


def run_one(i: int, run: Run, args, signals) -> int | None:
  """Runs (or resumes, or skips) the i-th run; its exit code (None: skipped)."""
  if signals.signum:  # Stopped: start nothing new.
    return None
  state = run_state(run.workdir)
  prefix = f'[{i}/{args.num_runs}] {os.path.relpath(run.workdir, args.out)}'
  if state == 'done':
    print(f'{prefix}: finished before, skipped', flush=True)
    return None
  print(f'{prefix}: {"resuming" if state == "resume" else "running"} '
        f'(log: {os.path.join(run.workdir, LOG)})', flush=True)
  code, wall = execute(run)
  if code == 0:
    print(f'{prefix}: done in {wall:.1f}s', flush=True)
  else:
    what = 'stopped' if code in STOPPED else 'FAILED'
    print(f'{prefix}: {what} (exit {code}): {last_error(run.workdir)}', file=sys.stderr,
          flush=True)
  if code in STOPPED:
    signals.signum = signals.signum or code - 128
  return code


def run_all(runs: list[Run], args, signals) -> dict:
  """Every run, `args.jobs` at a time; workdir -> exit code of those that ran. After a
  signal (or a run stopped by one) nothing new starts."""
  from concurrent import futures  # pylint: disable=g-import-not-at-top
  args.num_runs = len(runs)
  with futures.ThreadPoolExecutor(args.jobs) as pool:
    codes = list(pool.map(lambda ir: run_one(ir[0], ir[1], args, signals),
                          enumerate(runs, 1)))
  return {run.workdir: c for run, c in zip(runs, codes) if c is not None}


def sweep(argv: list[str]) -> int:
  """Runs the sweep of `argv`; its exit code (a ConfigError raises before anything runs)."""
  args = parse_args(argv)
  points = plan(args)
  runs = [run for point in points for run in point.runs]
  if args.dry_run:
    for run in runs:
      print(f'{run_state(run.workdir):6} {shlex.join(run.argv)}')
    print(f'{len(points)} grid points, {len(runs)} runs')
    return 0
  os.makedirs(args.out, exist_ok=True)
  if args.jobs < 1:
    raise ConfigError(f'--jobs={args.jobs} must be at least 1')
  with CatchSignals() as signals:
    codes = run_all(runs, args, signals)
  stopped = (128 + signals.signum if signals.signum else
             next((c for c in codes.values() if c in STOPPED), None))
  if stopped:
    print('sweep stopped by a signal; rerun the same command to resume', file=sys.stderr)
  records = [point_record(p, codes) for p in points]
  metrics = [m.strip() for m in args.metric.split(',') if m.strip()]
  print(write_summary(args.out, records, metrics, ['python', '-m', 'cnn_vs_rnn.sweep', *argv]),
        end='')
  failed = [r['name'] for r in records if r['status'] == 'failed']
  if failed:
    print(f'{len(failed)} of {len(records)} grid points failed: {", ".join(failed)}',
          file=sys.stderr)
  print(f'wrote {os.path.join(args.out, "results.json")} and results.md', flush=True)
  return stopped or (1 if failed else 0)


def main(argv=None) -> int:
  argv = list(sys.argv[1:] if argv is None else argv)
  code = []
  status = run_command(lambda: code.append(sweep(argv)))
  return status if status else code[0]


if __name__ == '__main__':
  errors.as_program()
  sys.exit(main())
