"""Every study's pipeline (experiments/*/run.sh) end to end at a tiny size.

A study must never rot silently: its run.sh plans every sweep (--dry-run,
which checks every config key and grid value), and a reduced pipeline trains,
selects on validation and writes its tables, results.json and figures.
"""

import json
import os
import subprocess
import sys

from conftest import REPO, jit_init

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
  # MNIST-1D 6 x 2 views x 2 lrs, Elman 2x2; digits 2x2x2, 2x2x2, 4x2x2; adding 6x2; copy 5x2.
  assert [int(l.split()[0]) for l in counts] == [24, 4, 8, 8, 16, 12, 10]


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


def recurrence_context_summarize():
  """experiments/recurrence_context/summarize.py as a module (it is a script)."""
  import importlib.util  # pylint: disable=g-import-not-at-top
  path = os.path.join(REPO, 'experiments', 'recurrence_context', 'summarize.py')
  spec = importlib.util.spec_from_file_location('recurrence_context_summarize', path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def test_recurrence_context_plans_every_sweep(tmp_path):
  result = run_study('recurrence_context', tmp_path / 'runs', '--dry-run',
                     STUDY_OUT=str(tmp_path / 'out'))
  assert result.returncode == 0, result.stderr[-2000:]
  counts = [l for l in result.stdout.splitlines() if l.endswith(' runs')]
  # 4 character LMs, 4 families x 5 delays of copy memory at 2000 steps, 3 recurrences x
  # 4 delays at 8000: one run (3 replicas) each.
  assert [int(l.split()[-2]) for l in counts] == [1] * 36
  assert result.stdout.count('--config.data.seq_len=200') == 4
  assert result.stdout.count('--config.model.param_budget=100000') == 4
  assert result.stdout.count('--config.num_train_steps=2000') == 20
  assert result.stdout.count('--config.num_train_steps=8000') == 12
  assert result.stdout.count("'--config.model.channels=(128,128,128,128)'") == 1


def test_recurrence_context_hidden_states_are_what_the_head_reads():
  import jax  # pylint: disable=g-import-not-at-top
  import ml_collections  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  from cnn_vs_rnn import models  # pylint: disable=g-import-not-at-top
  from cnn_vs_rnn.data import DataSpec  # pylint: disable=g-import-not-at-top
  summarize = recurrence_context_summarize()
  spec = DataSpec(input_shape=(12,), task='language_model', num_outputs=256, per_step=True,
                  vocab_size=256)
  tokens = np.frombuffer(summarize.SENTENCE.encode(), np.uint8).astype(np.int32)
  for fields in (dict(name='lstm', hidden_size=6, num_layers=2), dict(name='elman', hidden_size=5),
                 dict(name='tcn', channels=(4, 5), kernel_size=3, dropout=0.1)):
    model = models.build(ml_collections.ConfigDict(dict(embed_dim=8, **fields)), spec)
    variables = jit_init(model, jax.random.key(0), tokens[None, :12])
    h = summarize.hidden_states(model, variables, tokens)
    width = fields.get('hidden_size') or fields['channels'][-1]
    assert h.shape == (len(tokens), width)
    head = variables['params']['backbone']['head']['out']
    logits = np.asarray(model.apply(variables, tokens[None], train=False))[0]
    np.testing.assert_allclose(h @ np.asarray(head['kernel']) + np.asarray(head['bias']),
                               logits, rtol=1e-4, atol=1e-4)
    proj, ratio = summarize.pca(h)
    assert proj.shape == (len(tokens), 2) and 0 < ratio[1] <= ratio[0] <= 1
  assert summarize.context(np.array([1.0, 0.5, 0.02, 0.0, 0.005]), 1e-2) == 3
  assert summarize.context(np.array([1.0, 0.5, 0.02, 0.0, 0.005]), 1e-3) == 5


def test_recurrence_context_pipeline_at_a_tiny_size(tmp_path):
  out = tmp_path / 'out'
  result = run_study('recurrence_context', tmp_path / 'runs', *TINY, FAMILIES='elman',
                     DELAYS='10', LONG_FAMILIES='elman', LONG_DELAYS='10', LM_BUDGET='20000', SUMMARY_ARGS='--batch-size 2',
                     STUDY_OUT=str(out))
  assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
  with open(out / 'results.json') as f:
    results = json.load(f)
  (lm,) = results['charlm']
  assert lm['family'] == 'elman' and abs(lm['num_params'] - 20000) <= 1000
  assert lm['seeds'] == [0, 1, 2] and len(lm['test_bits_per_char']['per_seed']) == 3
  for which in ('init', 'trained'):
    s = lm['sensitivity'][which]
    assert len(s['per_seed']) == 3 and len(s['normalised_mean']) == 128
    assert 1 <= s['context_0.001']['mean'] <= 128
    assert s['context_0.01']['mean'] <= s['context_0.001']['mean']
  t = lm['trajectory']
  assert len(t['pcs']) == len(results['sentence']) == 44
  for section in ('copy_memory', 'copy_memory_long'):  # 4 steps each here (TINY).
    (copy,) = results[section]
    assert copy['family'] == 'elman' and copy['delay'] == 10 and copy['steps'] == 4
    assert len(copy['recall_accuracy']['per_seed']) == 3
    assert 0 <= copy['recall_accuracy']['mean'] <= 1
  assert '| elman |' in result.stdout and 'T = 10' in result.stdout
  for png in ('trajectory.png', 'sensitivity.png', 'copy_memory.png'):
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
