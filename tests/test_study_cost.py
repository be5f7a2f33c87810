"""Smoke test of the cost study (experiments/cost): run.py at two tiny lengths, then summarize.py.

Four benchmark subprocesses (gru and tcn at T = 16 and 32, batch 4, one
timed step), two at a time; the timings mean nothing here, only the pipeline.
"""

import json
import math
import os
import subprocess
import sys

from conftest import REPO

RUN = os.path.join(REPO, 'experiments', 'cost', 'run.py')
SUMMARIZE = os.path.join(REPO, 'experiments', 'cost', 'summarize.py')
FIELDS = ('ms_per_step_median', 'compile_s', 'peak_memory_bytes', 'matmul_flops_per_step',
          'num_params', 'depth', 'model_widths', 'wall_s', 'command')


def env():
  out = dict(os.environ)
  out.pop('XLA_FLAGS', None)  # One CPU device per point, not the suite's four.
  out['PYTHONPATH'] = REPO + os.pathsep + out.get('PYTHONPATH', '')
  return out


def run(*argv, check=True):
  proc = subprocess.run([sys.executable, *argv], cwd=REPO, env=env(), capture_output=True,
                        text=True, timeout=300)
  if check:
    assert proc.returncode == 0, proc.stderr[-3000:]
  return proc


def test_cost_study_runs_resumes_and_summarizes(tmp_path):
  out = str(tmp_path / 'cost')
  common = ['--out', out, '--families', 'gru,tcn', '--batch', '4', '--batches', '4',
            '--batch-seq-len', '32', '--steps', '1', '--warmup', '0',
            '--param-budget', '20000', '--torch-python', str(tmp_path / 'no_torch' / 'python')]
  run(RUN, '--lengths', '16,32', '--jobs', '2', *common)
  with open(os.path.join(out, 'results.json')) as f:
    results = json.load(f)
  rows = {(r['family'], r['seq_len'], r['batch_size']): r for r in results['rows']}
  assert results['settings']['lengths'] == [16, 32]
  torch_row = rows.pop((None, None, None))
  assert torch_row['status'] == 'unavailable'  # recorded, and the JAX points went on
  assert set(rows) == {(f, t, 4) for f in ('gru', 'tcn') for t in (16, 32)}
  for (family, t, _), r in rows.items():
    assert r['status'] == 'ok', r
    assert all(r.get(k) is not None for k in FIELDS), {k: r.get(k) for k in FIELDS}
    assert r['ms_per_step_median'] > 0 and r['peak_memory_bytes'] > 0
    assert abs(r['num_params'] - 20000) <= 1000 and r['input_shape'] == [t, 1]
    assert r['timed_steps'] == 1 and r['num_devices'] == 1
  assert rows[('gru', 32, 4)]['depth'] == 32
  assert rows[('gru', 32, 4)]['matmul_flops_per_step'] > rows[('gru', 16, 4)]['matmul_flops_per_step']
  # The TCN's levels cover T (kernel 7: 2 levels see 37 steps) and are its depth.
  assert rows[('tcn', 32, 4)]['levels'] == rows[('tcn', 32, 4)]['depth'] == 2
  assert len(rows[('tcn', 32, 4)]['model_widths']['channels']) == 2
  assert rows[('tcn', 32, 4)]['receptive_field'] >= 32

  # Resume: nothing is run again; a longer T after points over the time limit is skipped.
  proc = run(RUN, '--lengths', '16,32,64', '--max-seconds-per-point', '0.5', *common)
  assert '"status": "ok"' not in proc.stdout
  with open(os.path.join(out, 'results.json')) as f:
    rows = {(r['family'], r['seq_len']): r for r in json.load(f)['rows']}
  assert rows[('gru', 64)]['status'] == rows[('tcn', 64)]['status'] == 'skipped'
  assert rows[('gru', 32)]['status'] == 'ok'

  summary_dir = str(tmp_path / 'summary')
  proc = run(SUMMARIZE, out, '--out', summary_dir)
  assert '| gru |' in proc.stdout and '| tcn |' in proc.stdout
  for name in ('cost_vs_length.png', 'cost_vs_batch.png', 'summary.md', 'summary.json'):
    assert os.path.getsize(os.path.join(summary_dir, name)) > 0, name
  with open(os.path.join(summary_dir, 'summary.json')) as f:
    summary = json.load(f)
  for family in ('gru', 'tcn'):
    entry = summary['families'][family]['length']
    assert entry['x'] == [16, 32] and entry['skipped'] == [64]
    for name in ('time', 'memory', 'FLOPs'):
      assert math.isfinite(entry['exponents'][name]['exponent']), (family, name)
  assert abs(summary['families']['gru']['length']['exponents']['depth']['exponent'] - 1) < 1e-9
