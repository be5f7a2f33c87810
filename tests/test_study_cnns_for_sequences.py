"""experiments/cnns_for_sequences: every sweep planned, and the pipeline at a tiny size."""

import json

from test_studies import TINY, run_study

SMALL_DATA = ['--set', 'data.num_train=64', '--set', 'data.num_test=32',
              '--set', 'data.eval_batch_size=16']


def test_plans_every_sweep(tmp_path):
  result = run_study('cnns_for_sequences', tmp_path / 'runs', '--dry-run',
                     STUDY_OUT=str(tmp_path / 'out'))
  assert result.returncode == 0, result.stderr[-2000:]
  assert not (tmp_path / 'out').exists()  # A plan writes no summary.
  counts = [int(l.split()[0]) for l in result.stdout.splitlines() if l.endswith(' runs')]
  # adding T=200: a sweep per family of 2 lrs; T=400: a run per recurrence at its
  # T=200 lr; copy 100 and 200: 4 x 2; receptive field: 5 TCNs; charlm, keywords,
  # forecast, sunspots: 4 x 2.
  assert counts == [2, 2, 2, 2, 1, 1, 1, 8, 8, 5, 8, 8, 8, 8]


def test_tcn_depth_follows_the_sequence_length(tmp_path):
  result = run_study('cnns_for_sequences', tmp_path / 'runs', '--dry-run', PART='rf',
                     LEVELS='3 7')
  assert result.returncode == 0, result.stderr[-2000:]
  assert '--config.model.channels=(24,24,24)' in result.stdout
  assert '--config.model.channels=(24,24,24,24,24,24,24)' in result.stdout


def test_pipeline_at_a_tiny_size(tmp_path):
  runs, out = tmp_path / 'runs', tmp_path / 'out'
  for part in ('adding200', 'rf'):
    result = run_study('cnns_for_sequences', runs, *TINY, *SMALL_DATA, PART=part,
                       ONLY='adding_tcn', LEVELS='3', LRS='1e-3,3e-3')
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
  result = run_study('cnns_for_sequences', runs, PART='none', SUMMARIZE='1',
                     STUDY_OUT=str(out))
  assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
  with open(out / 'results.json') as f:
    results = json.load(f)
  rows = {r['family']: r for r in results['tasks'] if r['task'] == 'adding200'}
  assert set(rows) == {'tcn'}
  tried = rows['tcn']['tried']  # The lr chosen on validation, test reported at that lr.
  assert len(tried) == 2
  assert rows['tcn']['validation']['mean'] == min(t['val/mse'] for t in tried)
  assert rows['tcn']['receptive_field'] == 373
  levels = [(r['levels'], r['receptive_field']) for r in results['receptive_field']]
  assert levels == [(3, 85)]
  # T=400 trains at the lr validation chose at T=200, not at the first of LRS.
  assert results['receptive_field'][0]['learning_rate'] == rows['tcn']['learning_rate']
  assert 'keywords' in results['not_run'] and 'adding200' not in results['not_run']
  assert (out / 'receptive_field.png').exists() and (out / 'tasks.png').exists()
