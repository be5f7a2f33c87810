"""Cost of one train step against sequence length and batch size, family by family.

  python experiments/cost/run.py [--out DIR] [--lengths 64,128,...,4096] [--batch 32]
      [--batches 8,16,...,256] [--batch-seq-len 256] [--families lstm_scan,...]
      [--steps 10] [--warmup 2] [--param-budget 100000] [--channels 1]
      [--max-seconds-per-point 300] [--timeout-factor 3] [--jobs 1]
      [--torch-python /tmp/torchref/bin/python] [--torch-reference PATH]

Every point is one `python -m cnn_vs_rnn.benchmark` subprocess (one JSON
line) on experiments/cost/config.py:FAMILY: one fixed batch of B random
(T, channels) sequences and 10 random labels ('synthetic'), the model sized
to --param-budget parameters, Adam, float32. The length sweep runs every
--lengths at batch --batch; the batch sweep every --batches at length
--batch-seq-len (a point in both is run once). The TCN gets the fewest
levels whose receptive field covers T (TCN.levels_to_cover, kernel 7), its
channels then sized to the budget.

A family's points run from small to large, one family after another
(--jobs N: N families side by side, which spoils the timings; for checking
the pipeline only). Once one point of a sweep fails or takes longer than
--max-seconds-per-point (wall time of the subprocess, compilation included),
the family's larger points of that sweep are recorded as 'skipped'; a point
still running after --timeout-factor times that limit is killed and
recorded as 'timeout'.

With --torch-python, ../shared/peers/torch_reference.py (PyTorch eager, in
its own virtual environment) runs its lstm_pixel, gru_seq and tcn_seq cases
(families torch_lstm, torch_gru, torch_tcn) with --seq-len T --batch B at the
same points. Its widths are fixed (LSTM/GRU H=128, TCN 8 levels x 25
channels); the rows record its parameter count. If that Python cannot import
torch, one row says so and the JAX points go on.

Output in --out: results.jsonl (one row per point as it finishes; appended),
results.json (the settings and the latest row of every point). Resumable:
points with an 'ok' row in results.jsonl are not run again (skipped, failed
and timed-out ones are). Timings mean something only on a quiet machine with
one point at a time; summarize.py makes the plots and tables.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import importlib.util
import json
import math
import os
import platform
import shlex
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
CONFIG = os.path.join('experiments', 'cost', 'config.py')
DEFAULT_TORCH_REFERENCE = os.path.join(os.path.dirname(REPO), 'shared', 'peers',
                                       'torch_reference.py')
DEFAULT_FAMILIES = 'lstm_scan,lstm_fused,gru,tcn,lru_assoc,lru_seq,cnn1d'
TORCH_CASES = {'torch_lstm': 'lstm_pixel', 'torch_gru': 'gru_seq', 'torch_tcn': 'tcn_seq'}
TCN_START_CHANNELS = 25  # the reference's width; param_budget rescales it


def load_cost_config():
  spec = importlib.util.spec_from_file_location('_cost_config', os.path.join(HERE, 'config.py'))
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


# ---------------------------------------------------------------------------
# Sequential depth: how many stages must run one after another in the forward
# pass, from the model classes' own fields (a conv layer, a TCN level, a scan
# step, a level of the associative scan's tree each count as one stage).


def _field_default(factory, name: str):
  import dataclasses  # pylint: disable=g-import-not-at-top
  cls = getattr(factory, 'func', factory)
  preset = getattr(factory, 'keywords', {})
  if name in preset:
    return preset[name]
  return next(f.default for f in dataclasses.fields(cls) if f.name == name)


def tcn_levels(seq_len: int, kernel_size: int) -> int:
  from cnn_vs_rnn.models.tcn import TCN  # pylint: disable=g-import-not-at-top
  return TCN(num_outputs=1, kernel_size=kernel_size).levels_to_cover(seq_len)


def depth_of(family: str, seq_len: int, fields: dict, torch_cases: dict | None = None) -> dict:
  """{'depth': stages, 'depth_formula': how it grows, 'levels': TCN levels or None}."""
  from cnn_vs_rnn import models  # pylint: disable=g-import-not-at-top
  if family in TORCH_CASES:
    if family == 'torch_tcn':
      levels = (torch_cases or {}).get(TORCH_CASES[family], {}).get('LEVELS')
      return {'depth': levels, 'depth_formula': f'levels (fixed at {levels})', 'levels': levels}
    return {'depth': seq_len, 'depth_formula': 'T', 'levels': None}
  model_name, preset = load_cost_config().FAMILIES[family]
  fields = {**preset, **fields}
  factory = models.MODELS[model_name]
  get = lambda k: fields.get(k, _field_default(factory, k))
  if model_name in ('lstm', 'gru', 'elman'):
    layers = get('num_layers')
    return {'depth': layers * seq_len, 'depth_formula': f'{layers} x T' if layers > 1 else 'T',
            'levels': None}
  if model_name == 'tcn':
    levels = len(get('channels'))
    return {'depth': levels,
            'depth_formula': f'levels: ceil(log2((T-1) / (2(k-1)) + 1)), k={get("kernel_size")}',
            'levels': levels}
  if model_name == 'lru':
    layers = get('num_layers')
    if get('scan_type') == 'associative':
      return {'depth': layers * math.ceil(math.log2(max(seq_len, 2))),
              'depth_formula': f'{layers} x ceil(log2 T)', 'levels': None}
    return {'depth': layers * seq_len, 'depth_formula': f'{layers} x T', 'levels': None}
  if model_name == 'cnn1d':
    layers = len(get('features'))
    return {'depth': layers, 'depth_formula': f'{layers} conv layers (constant)',
            'levels': None}
  return {'depth': None, 'depth_formula': 'unknown', 'levels': None}


# ---------------------------------------------------------------------------
# One point.


def jax_command(family: str, seq_len: int, batch: int, args) -> tuple[list[str], dict]:
  fields = {}
  argv = [sys.executable, '-m', 'cnn_vs_rnn.benchmark', '--config', f'{CONFIG}:{family}',
          f'--config.data.shape=({seq_len}, {args.channels})',
          f'--config.data.batch_size={batch}', f'--config.data.num_examples={batch}',
          f'--config.model.param_budget={args.param_budget}',
          f'--steps={args.steps}', f'--warmup={args.warmup}']
  model_name, preset = load_cost_config().FAMILIES[family]
  if model_name == 'tcn':
    fields['channels'] = (TCN_START_CHANNELS,) * tcn_levels(seq_len, preset['kernel_size'])
    argv.append(f'--config.model.channels={fields["channels"]!r}')
  return argv, fields


def torch_command(family: str, seq_len: int, batch: int, args) -> list[str]:
  return [args.torch_python, args.torch_reference, '--case', TORCH_CASES[family],
          '--seq-len', str(seq_len), '--batch', str(batch), '--steps', str(args.steps),
          '--warmup', str(args.warmup)]


def subprocess_env() -> dict:
  env = dict(os.environ)
  env['PYTHONPATH'] = REPO + (os.pathsep + env['PYTHONPATH'] if env.get('PYTHONPATH') else '')
  return env


def last_json_line(text: str) -> dict | None:
  for line in reversed(text.strip().splitlines()):
    if line.startswith('{'):
      try:
        return json.loads(line)
      except json.JSONDecodeError:
        return None
  return None


def run_point(family: str, seq_len: int, batch: int, args) -> dict:
  framework = 'torch' if family in TORCH_CASES else 'jax'
  if framework == 'torch':
    argv, fields = torch_command(family, seq_len, batch, args), {}
  else:
    argv, fields = jax_command(family, seq_len, batch, args)
  row = {'framework': framework, 'family': family, 'seq_len': seq_len, 'batch_size': batch,
         'param_budget': args.param_budget if framework == 'jax' else None,
         'command': shlex.join(argv),
         **depth_of(family, seq_len, fields, load_torch_cases(args.torch_reference))}
  timeout = args.max_seconds_per_point * args.timeout_factor
  start = time.perf_counter()
  try:
    out = subprocess.run(argv, cwd=REPO, env=subprocess_env(), capture_output=True,
                         text=True, timeout=timeout)
  except subprocess.TimeoutExpired:
    return {**row, 'status': 'timeout', 'wall_s': time.perf_counter() - start,
            'reason': f'killed after {timeout:.0f} s'}
  row['wall_s'] = time.perf_counter() - start
  result = last_json_line(out.stdout) if out.returncode == 0 else None
  if result is None:
    tail = (out.stderr or out.stdout).strip().splitlines()[-5:]
    return {**row, 'status': 'failed', 'returncode': out.returncode,
            'reason': ' | '.join(tail)[-1500:]}
  if framework == 'torch':  # Its own key names, mapped onto the benchmark's.
    result = {**result, 'num_params': result.get('params'),
              'ms_per_step_min': result.get('ms_min'), 'ms_per_step_max': result.get('ms_max'),
              'torch_case': load_torch_cases(args.torch_reference).get(TORCH_CASES[family])}
  return {**row, 'status': 'ok', **result}


# ---------------------------------------------------------------------------
# The sweeps.


_TORCH_CASES: dict = {}


def load_torch_cases(path: str = DEFAULT_TORCH_REFERENCE) -> dict:
  """torch_reference.py's CASES (its widths), read from the file (torch not needed)."""
  if path not in _TORCH_CASES:
    cases = {}
    if path and os.path.exists(path):
      spec = importlib.util.spec_from_file_location('_torch_reference', path)
      module = importlib.util.module_from_spec(spec)
      spec.loader.exec_module(module)
      cases = dict(module.CASES)
    _TORCH_CASES[path] = cases
  return _TORCH_CASES[path]


def torch_available(args) -> tuple[bool, str]:
  if not args.torch_python:
    return False, 'no --torch-python given'
  if not os.path.exists(args.torch_reference):
    return False, f'{args.torch_reference} does not exist'
  try:
    out = subprocess.run([args.torch_python, '-c', 'import torch, numpy; print(torch.__version__)'],
                         capture_output=True, text=True, timeout=300)
  except (OSError, subprocess.TimeoutExpired) as e:
    return False, f'{args.torch_python}: {e}'
  if out.returncode:
    return False, (out.stderr.strip().splitlines() or ['import torch failed'])[-1]
  return True, 'torch ' + out.stdout.strip()


def key_of(row: dict) -> tuple:
  return (row['framework'], row['family'], row.get('seq_len'), row.get('batch_size'),
          row.get('param_budget'))


def read_rows(path: str) -> list[dict]:
  rows = []
  if os.path.exists(path):
    with open(path) as f:
      for line in f:
        line = line.strip()
        if line:
          try:
            rows.append(json.loads(line))
          except json.JSONDecodeError:  # A line cut off by a kill: run that point again.
            pass
  return rows


def latest(rows: list[dict]) -> list[dict]:
  by_key = {}
  for row in rows:
    by_key[key_of(row)] = row
  return list(by_key.values())


def sweeps(args, families: list[str]) -> list[tuple[str, str, list[tuple[int, int]]]]:
  """(sweep name, family, [(T, B), ...] small to large) for every sweep and family."""
  out = []
  for family in families:
    if args.lengths:
      out.append(('length', family, [(t, args.batch) for t in args.lengths]))
    if args.batches:
      out.append(('batch', family, [(args.batch_seq_len, b) for b in args.batches]))
  return out


def schedule(all_sweeps):
  """Every point, by size (T * B): each family's points then run small to large."""
  todo = []
  for sweep, family, points in all_sweeps:
    for rank, (t, b) in enumerate(points):
      todo.append((t * b, rank, sweep, family, t, b))
  return sorted(todo, key=lambda p: (p[0], p[1], p[2]))


def ints(text: str) -> list[int]:
  return [int(x) for x in text.split(',') if x.strip()]


def parse_args(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--out', default=os.path.join('runs', 'cost'))
  parser.add_argument('--lengths', type=ints, default=ints('64,128,256,512,1024,2048,4096'))
  parser.add_argument('--batch', type=int, default=32, help='batch size of the length sweep')
  parser.add_argument('--batches', type=ints, default=ints('8,16,32,64,128,256'))
  parser.add_argument('--batch-seq-len', type=int, default=256,
                      help='sequence length of the batch sweep')
  parser.add_argument('--families', default=DEFAULT_FAMILIES,
                      help='comma-separated names from experiments/cost/config.py FAMILIES '
                      '(and torch_lstm, torch_gru, torch_tcn with --torch-python)')
  parser.add_argument('--steps', type=int, default=10)
  parser.add_argument('--warmup', type=int, default=2)
  parser.add_argument('--param-budget', type=int, default=100_000)
  parser.add_argument('--channels', type=int, default=1, help='input channels per step')
  parser.add_argument('--max-seconds-per-point', type=float, default=300.0)
  parser.add_argument('--timeout-factor', type=float, default=3.0)
  parser.add_argument('--jobs', type=int, default=1,
                      help='families run side by side (> 1 only to check the pipeline: '
                      'the timings then interfere)')
  parser.add_argument('--torch-python', default='')
  parser.add_argument('--torch-reference', default=DEFAULT_TORCH_REFERENCE)
  args = parser.parse_args(argv)
  known = set(load_cost_config().FAMILIES) | set(TORCH_CASES)
  args.families = [f for f in args.families.split(',') if f]
  bad = [f for f in args.families if f not in known]
  if bad:
    parser.error(f'unknown families {bad}; valid: {", ".join(sorted(known))}')
  if any(x < 1 for x in args.lengths + args.batches +
         [args.batch, args.batch_seq_len, args.jobs, args.steps]) or args.warmup < 0:
    parser.error('lengths, batch sizes, --jobs and --steps must be >= 1, --warmup >= 0')
  args.lengths, args.batches = sorted(set(args.lengths)), sorted(set(args.batches))
  return args


def write_json(path: str, settings: dict, rows: list[dict]) -> None:
  tmp = path + '.tmp'
  with open(tmp, 'w') as f:
    json.dump({'settings': settings, 'rows': latest(rows)}, f, indent=1)
  os.replace(tmp, path)


def main(argv=None) -> int:
  args = parse_args(argv)
  os.makedirs(args.out, exist_ok=True)
  jsonl, jsonf = (os.path.join(args.out, 'results.jsonl'),
                  os.path.join(args.out, 'results.json'))
  rows = read_rows(jsonl)
  done = {key_of(r): r for r in rows if r.get('status') == 'ok'}
  settings = {k: v for k, v in vars(args).items()}
  settings.update({'host': platform.node(), 'python': sys.executable,
                   'cost_config': CONFIG})

  lock = threading.Lock()

  def record(row):
    with lock:
      _record(row)

  def _record(row):
    rows.append(row)
    with open(jsonl, 'a') as f:
      f.write(json.dumps(row) + '\n')
    write_json(jsonf, settings, rows)
    shown = {k: row.get(k) for k in ('family', 'seq_len', 'batch_size', 'status',
                                     'ms_per_step_median', 'compile_s', 'num_params', 'wall_s')}
    print(json.dumps(shown), flush=True)

  families = [f for f in args.families if f not in TORCH_CASES]
  torch_families = [f for f in args.families if f in TORCH_CASES]
  if args.torch_python and not torch_families:
    torch_families = list(TORCH_CASES)
  if torch_families:
    ok, why = torch_available(args)
    settings['torch'] = why
    if ok:
      families += torch_families
    else:
      print(f'torch reference not run: {why}', file=sys.stderr, flush=True)
      record({'framework': 'torch', 'family': None, 'seq_len': None, 'batch_size': None,
              'param_budget': None, 'status': 'unavailable', 'reason': why})

  def run_family(family: str, points: list) -> None:
    """One family's points, small to large, with the skip rule per sweep."""
    over = set()  # sweeps of this family whose limit was passed
    ran = {}      # key -> row of this invocation (a point shared by two sweeps runs once)
    for sweep, t, b in points:
      framework = 'torch' if family in TORCH_CASES else 'jax'
      key = (framework, family, t, b, args.param_budget if framework == 'jax' else None)
      row = ran.get(key) or done.get(key)
      if row is None and sweep in over:
        record({'framework': framework, 'family': family, 'seq_len': t, 'batch_size': b,
                'param_budget': key[-1], 'status': 'skipped',
                'reason': f'a smaller point of the {sweep} sweep failed or took longer '
                          f'than {args.max_seconds_per_point:.0f} s'})
        continue
      if row is None:
        row = run_point(family, t, b, args)
        ran[key] = row
        record(row)
      if row.get('status') != 'ok' or (row.get('wall_s') or 0) > args.max_seconds_per_point:
        over.add(sweep)

  by_family = {}
  for _, _, sweep, family, t, b in schedule(sweeps(args, families)):
    by_family.setdefault(family, []).append((sweep, t, b))
  if args.jobs > 1:
    print(f'--jobs={args.jobs}: points run side by side, so their timings are not '
          'comparable; for the pipeline only', file=sys.stderr, flush=True)
  # The package is imported here, before the worker threads: two threads that
  # import it at once can each get the other's half-initialised module
  # (ImportError: "partially initialized module 'cnn_vs_rnn.models.registry'").
  importlib.import_module('cnn_vs_rnn.models')
  with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
    for future in [pool.submit(run_family, f, p) for f, p in by_family.items()]:
      future.result()
  write_json(jsonf, settings, rows)
  bad = [r for r in latest(rows) if r.get('status') in ('failed', 'timeout')]
  print(f'{len(latest(rows))} points in {jsonf}; {len(bad)} failed or timed out', flush=True)
  return 1 if bad else 0


if __name__ == '__main__':
  sys.exit(main())
