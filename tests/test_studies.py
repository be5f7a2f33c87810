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
