"""Runs the unfinished runs of several sweeps at once, then writes each sweep's summary.

  python experiments/vanishing_exploding/pool.py PLAN --gpu-jobs G [--cpu-jobs C]

PLAN has one sweep per line: its lane ('vmap' or 'seeds') and its
`python -m cnn_vs_rnn.sweep` arguments, shell-quoted. Each run is
`cnn_vs_rnn.sweep.execute`, as the sweep runs it (its log in WORKDIR/train.log,
its exit code and wall time in WORKDIR/sweep_run.json), and each sweep's
results.json and results.md are the sweep's own (`point_record`,
`write_summary`), so the directories are the same as those of sequential
sweeps and rerunning either skips what finished.

G workers run on the default JAX platform (the GPU of a GPU machine) and take
any run, 'vmap' runs first; C workers run with JAX_PLATFORMS=cpu and one
thread each and take 'seeds' runs only (single-seed Elman runs, which a CPU
core trains about as fast as a GPU does). Exit codes: 0 every run finished,
1 a run failed (a diverged run is one), 2 bad input.
"""

from __future__ import annotations

import argparse
import os
import queue
import shlex
import sys
import threading

from cnn_vs_rnn import configlib, data, sweep

LANES = ('vmap', 'seeds')
CPU_ENV = ('JAX_PLATFORMS=cpu', 'XLA_FLAGS=--xla_cpu_multi_thread_eigen=false',
           'OMP_NUM_THREADS=1')


def read_plan(path: str) -> list[tuple[str, list[str]]]:
  plan = []
  with open(path) as f:
    for line in f:
      if line.strip():
        lane, *argv = shlex.split(line)
        if lane not in LANES:
          raise SystemExit(f'{path}: unknown lane {lane!r}; valid: {", ".join(LANES)}')
        plan.append((lane, argv))
  return plan


def _typed(old, value: str):
  if isinstance(old, bool):
    return value.lower() in ('1', 'true')
  return type(old)(sweep.unquote(value)) if isinstance(old, (int, float, str)) else value


def prepare_data(points) -> None:
  """Generates each distinct dataset once, before runs in parallel would race to
  write the same cache directory."""
  seen = set()
  for point in points:
    config = configlib.load_config_file(point.config)
    for key, value in point.overrides.items():
      if key.startswith('data.') and key[5:] in config.data:
        config.data[key[5:]] = _typed(config.data[key[5:]], value)
    key = repr(sorted(config.data.items()))
    if key not in seen:
      seen.add(key)
      data.load(config.data)


def main() -> int:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('plan')
  parser.add_argument('--gpu-jobs', type=int, default=1)
  parser.add_argument('--cpu-jobs', type=int, default=0)
  args = parser.parse_args()
  sweeps = []
  for lane, argv in read_plan(args.plan):
    sweep_args = sweep.parse_args(argv)
    sweeps.append((lane, argv, sweep_args, sweep.plan(sweep_args)))
  prepare_data([p for *_, points in sweeps for p in points])
  todo = {lane: queue.Queue() for lane in LANES}
  for lane, _, _, points in sweeps:
    for point in points:
      for run in point.runs:
        if sweep.run_state(run.workdir) != 'done':
          todo[lane].put(run)
  if args.gpu_jobs < 1 and not todo['vmap'].empty():
    raise SystemExit("--gpu-jobs must be >= 1: only those workers take 'vmap' runs")
  codes, lock, signals = {}, threading.Lock(), sweep.CatchSignals()

  def work(lanes, env_prefix):
    while not signals.signum:  # After SIGINT/SIGTERM the runs in flight stop; no new ones.
      run = None
      for lane in lanes:
        try:
          run = todo[lane].get_nowait()
          break
        except queue.Empty:
          continue
      if run is None:
        return
      argv = ['env', *env_prefix, *run.argv] if env_prefix else run.argv
      code, wall = sweep.execute(sweep.Run(run.workdir, argv, run.seeds))
      with lock:
        codes[run.workdir] = code
        name = os.path.relpath(run.workdir)
        print(f'{name}: exit {code} in {wall:.0f}s'
              + (f': {sweep.last_error(run.workdir)}' if code else ''), flush=True)

  workers = [threading.Thread(target=work, args=(('vmap', 'seeds'), ()))
             for _ in range(args.gpu_jobs)]
  workers += [threading.Thread(target=work, args=(('seeds',), CPU_ENV))
              for _ in range(args.cpu_jobs)]
  with signals:  # The runs in flight checkpoint and exit; the summaries are still written.
    for w in workers:
      w.start()
    for w in workers:
      w.join()
  failed = False
  for _, argv, sweep_args, points in sweeps:
    records = [sweep.point_record(p, codes) for p in points]
    metrics = [m.strip() for m in sweep_args.metric.split(',') if m.strip()]
    os.makedirs(sweep_args.out, exist_ok=True)
    print(sweep.write_summary(sweep_args.out, records, metrics,
                              ['python', '-m', 'cnn_vs_rnn.sweep', *argv]), end='')
    failed |= any(r['status'] != 'ok' for r in records)
  if signals.signum:
    print('stopped by a signal; rerun the same command to resume', file=sys.stderr)
    return 128 + signals.signum
  return 1 if failed else 0


if __name__ == '__main__':
  sys.exit(main())
