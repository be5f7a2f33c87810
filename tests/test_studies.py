"""Every study's pipeline (experiments/*/run.sh) end to end at a tiny size.

A study must never rot silently: its run.sh plans every sweep (--dry-run,
which checks every config key and grid value), and a reduced pipeline trains,
selects on validation and writes its tables, results.json and figures.
"""

import json
import os
import subprocess
import sys

from conftest import REPO

TINY = ['--set', 'num_train_steps=4', '--set', 'log_every_steps=2', '--set', 'eval_every_steps=2',
        '--set', 'checkpoint_every_steps=4', '--set', 'steps_per_loop=1',
        '--set', 'data.batch_size=8']


def run_study(name, runs, *args, **env):
  # One CPU device, as a study runs: no cross-device collective (see conftest.py).
  return subprocess.run(['bash', f'experiments/{name}/run.sh', str(runs), *args], cwd=REPO,
                        capture_output=True, text=True,
                        env={**os.environ, 'PYTHON': sys.executable, 'XLA_FLAGS': '', **env})


def test_grids_vs_sequences_plans_every_sweep(tmp_path):
  result = run_study('grids_vs_sequences', tmp_path / 'runs', '--dry-run',
                     STUDY_OUT=str(tmp_path / 'out'))
  assert result.returncode == 0, result.stderr[-2000:]
  counts = [l for l in result.stdout.splitlines() if l.endswith(' runs')]
  # MNIST-1D 6 x 2 views x 2 lrs, Elman 2x2; digits 2x2x2, 2x2x2, 3x2x2; adding 6x2; copy 5x2.
  assert [int(l.split()[0]) for l in counts] == [24, 4, 8, 8, 12, 12, 10]


def test_grids_vs_sequences_pipeline_at_a_tiny_size(tmp_path, mnist1d):
  del mnist1d  # Generated once into $TFDS_DATA_DIR.
  out = tmp_path / 'out'
  result = run_study('grids_vs_sequences', tmp_path / 'runs', *TINY,
                     ONLY='mnist1d_mlp|copy_mlp',
                     LRS='1e-2,3e-2', STUDY_OUT=str(out))
  assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
  with open(out / 'results.json') as f:
    results = json.load(f)
  views = {(r['family'], r['structure']) for r in results['structure']}
  assert views == {('mlp', 'intact'), ('mlp', 'destroyed')}
  for row in results['structure']:
    assert row['learning_rate'] in ('1e-2', '3e-2') and len(row['tried']) == 2
    best = max(t['val/accuracy'] for t in row['tried'])
    assert row['val_accuracy']['mean'] == best  # Chosen on validation.
    assert len(row['test_accuracy']['per_seed']) == 3
  (copy,) = results['long_range']
  assert copy['family'] == 'mlp' and copy['metric'] == 'test/loss'
  assert copy['receptive_field'] is None and len(copy['test']['per_seed']) == 3
  assert '| mlp |' in result.stdout and 'MNIST-1D' in result.stdout
  for png in ('accuracy.png', 'long_range.png'):
    with open(out / png, 'rb') as f:
      assert f.read(8) == b'\x89PNG\r\n\x1a\n'


def test_vanishing_exploding_plans_every_sweep(tmp_path):
  result = run_study('vanishing_exploding', tmp_path / 'runs', '--dry-run', NO_SUMMARY='1')
  assert result.returncode == 0, result.stderr[-2000:]
  counts = [l for l in result.stdout.splitlines() if l.endswith(' runs')]
  # plain 1 (5 replicas); clipping 2 x 5 seed runs, with Adam 5; IRNN 3 lrs x 5;
  # ReLU-normal 5, at half scale 5; layer norm 1; GRU and LSTM 2; LRU 2; TCN 1.
  assert [int(l.split()[-2]) for l in counts] == [1, 10, 5, 15, 5, 5, 1, 2, 2, 1]


def test_vanishing_exploding_pipeline_at_a_tiny_size(tmp_path):
  """Trains the plain net and the clipping pair (2 seeds, T = 20): the unclipped
  IRNN under SGD diverges at step 2, the guard stops it, the sweep goes on and
  the summary records it; then the untrained and trained probes and the figures."""
  out = tmp_path / 'out'
  result = run_study('vanishing_exploding', tmp_path / 'runs', *TINY,
                     '--set', 'data.seq_len=20', '--set', 'data.num_train=400',
                     '--set', 'data.eval_batch_size=20',
                     SEEDS='2', ONLY='plain|clipping', STUDY_OUT=str(out))
  assert result.returncode == 1, result.stdout[-2000:] + result.stderr[-2000:]  # It diverged.
  with open(out / 'results.json') as f:
    results = json.load(f)
  assert results['seq_len'] == 20
  assert len(results['spectra']) == 10 and len(results['grad_at_init']) == 7
  for row in results['spectra']:
    assert len(row['grad_norm']) == 20
  ortho = [r for r in results['spectra'] if r['init'] == 'orthogonal']
  assert all(abs(r['spectral_radius'] - 1.0) < 1e-4 for r in ortho)
  cures = {r['label']: r for r in results['cures']}
  plain = cures['tanh Elman (orthogonal)']
  assert plain['num_seeds'] == 2 and plain['diverged'] == 0 and plain['test_mse'] is not None
  exploded = cures['IRNN, SGD lr 1e-2, no clipping']
  assert exploded['diverged'] == 2 and exploded['test_mse'] is None
  assert all(s['status'] == 'diverged' and s['diverged_at'] == 2 for s in exploded['seeds'])
  assert cures['IRNN, SGD lr 1e-2, clipped at 1']['diverged'] == 0
  trained = {r['family']: r for r in results['grad_after_training']}
  assert len(trained['tanh Elman']['per_seed']) == 2
  assert '| IRNN, SGD lr 1e-2, no clipping |' in result.stdout and 'NaN@2' in result.stdout
  for png in ('spectra.png', 'grad_time.png', 'curves.png'):
    with open(out / png, 'rb') as f:
      assert f.read(8) == b'\x89PNG\r\n\x1a\n'
