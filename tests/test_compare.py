"""compare: the protocol's pieces against independent computations, its errors, a tiny run."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from scipy import stats

from cnn_vs_rnn import compare, families
from cnn_vs_rnn.data import DataSpec

SEQ = DataSpec(input_shape=(40, 1), task='classification', num_outputs=10)
IMG = DataSpec(input_shape=(8, 8, 1), task='classification', num_outputs=10)


def test_interval_is_the_t_interval_of_the_mean():
  x = [0.91, 0.88, 0.93, 0.90, 0.86]
  lo, hi = stats.t.interval(0.95, len(x) - 1, loc=np.mean(x), scale=stats.sem(x))
  got = compare.interval(x)
  np.testing.assert_allclose(got['ci95'], [lo, hi], rtol=1e-12)
  assert got['std'] == pytest.approx(np.std(x, ddof=1))


def test_difference_is_welchs_test_and_interval():
  a, b = [0.91, 0.88, 0.93, 0.90, 0.86], [0.80, 0.84, 0.79, 0.88, 0.83]
  want = stats.ttest_ind(a, b, equal_var=False)
  got = compare.difference(a, b)
  assert got['p_value'] == pytest.approx(want.pvalue, rel=1e-12)
  np.testing.assert_allclose(got['ci95'], list(want.confidence_interval(0.95)), rtol=1e-10)
  assert got['diff'] == pytest.approx(np.mean(a) - np.mean(b))


def test_rates_grow_past_the_edge_by_the_grids_ratio():
  assert compare.next_rate([1e-3, 3e-3, 1e-2], 1e-2) == pytest.approx(1e-2 * (1e-2 / 3e-3))
  assert compare.next_rate([1e-3, 3e-3, 1e-2], 1e-3) == pytest.approx(1e-3 / 3)
  assert compare.next_rate([1e-3, 3e-3, 1e-2], 3e-3) is None


def test_the_point_is_chosen_on_the_mean_validation_metric():
  rows = [{'learning_rate': 1e-3, 'val': [0.5, 0.9]}, {'learning_rate': 1e-2, 'val': [0.8, 0.7]}]
  assert compare.choose_point(rows, 'max')['learning_rate'] == 1e-2  # 0.75 > 0.7
  assert compare.choose_point(rows, 'min')['learning_rate'] == 1e-3
  tied = [{'learning_rate': 1e-3, 'val': [1.0, 1.0], 'val_loss': [0.2, 0.3]},
          {'learning_rate': 1e-2, 'val': [1.0, 1.0], 'val_loss': [0.1, 0.2]}]
  assert compare.choose_point(tied, 'max')['learning_rate'] == 1e-2  # Lower loss breaks it.


def row(family, values):
  return {'family': family, 'test': compare.interval(values)}


def test_verdict_is_a_tie_when_the_interval_of_the_difference_covers_zero():
  rows = compare.rank([row('a', [0.90, 0.91, 0.89]), row('b', [0.80, 0.81, 0.79])], 'max')
  assert compare.verdict(rows).startswith('a is best')
  rows = compare.rank([row('a', [0.90, 0.95, 0.85]), row('b', [0.89, 0.94, 0.86])], 'max')
  assert compare.verdict(rows).startswith('tie: a is best on the mean') and 'b' in rows[1]['family']
  rows = compare.rank([row('a', [0.3, 0.31, 0.29]), row('b', [0.2, 0.21, 0.19])], 'min')
  assert rows[0]['family'] == 'b'  # A loss: lower is better.


def test_a_chosen_step_in_the_last_quarter_is_reported_as_still_improving():
  assert compare.still_improving(1500, 1500) and compare.still_improving(1200, 1500)
  assert not compare.still_improving(1125, 1500)  # Exactly 3/4 of the run.
  assert not compare.still_improving(900, 1500)
  rows = compare.rank([row('a', [0.90, 0.91, 0.89]), row('b', [0.80, 0.81, 0.79])], 'max')
  for r, step in zip(rows, (1500, 600)):
    r.update(learning_rate=1e-2, rates_added=[], at_edge=False, num_params=5000,
             flops_per_example=None, ms_per_step=1.0, best_step=step,
             still_improving=compare.still_improving(step, 1500))
  args = compare.parse_args(['--data', 'mnist1d', '--steps', '1500', '--out', 'x'])
  report = compare.markdown(rows, 'accuracy', args, compare.verdict(rows))
  assert "- a: its chosen step (1500 of 1500) lies in the run's last 25%" in report
  assert '- b:' not in report


def test_families_fit_the_data():
  assert families.default_families(SEQ) == families.SEQUENCE_DEFAULT
  assert families.default_families(IMG) == families.IMAGE_DEFAULT
  families.check_families(['lstm', 'mlp'], SEQ)
  with pytest.raises(families.ConfigError, match="'cnn2d' takes images"):
    families.check_families(['cnn2d'], SEQ)
  with pytest.raises(families.ConfigError, match="unknown family 'cnn'"):
    families.check_families(['cnn'], SEQ)


@pytest.mark.parametrize('args,message', [
    (['--data', 'mnist1d', '--data-file', 'x.npz'], 'give one of --data NAME or --data-file'),
    (['--data', 'mnist1d', '--lrs', '1e-3,abc'], "--lrs='1e-3,abc': give comma-separated"),
    (['--data', 'mnist1d', '--lrs', '1e-3'], 'at least 2 distinct positive rates'),
    (['--data', 'mnist1d', '--seeds', '1'], '--seeds=1 must be at least 2'),
    (['--data', 'mnist1d', '--set', 'data'], '--set \'data\' is malformed'),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, args, message):
  assert compare.main(args + ['--out', str(tmp_path)]) == 2
  err = capsys.readouterr().err.strip()
  assert len(err.splitlines()) == 1 and message in err, err


def test_a_family_that_does_not_fit_the_data_is_refused(tmp_path, capsys, mnist1d):
  del mnist1d
  assert compare.main(['--data', 'mnist1d', '--families', 'cnn2d', '--out', str(tmp_path)]) == 2
  assert "'cnn2d' takes images" in capsys.readouterr().err


def test_a_tiny_comparison_tests_once_and_a_rerun_trains_nothing(tmp_path, mnist1d):
  del mnist1d
  out = tmp_path / 'cmp'
  argv = [sys.executable, '-m', 'cnn_vs_rnn.compare', '--data', 'mnist1d', '--families',
          'mlp,cnn1d', '--steps', '20', '--seeds', '2', '--lrs', '1e-3,1e-2',
          '--max-grow', '1', '--params', '2000', '--out', str(out)]
  # Each family a job of submitit's local executor (what --cluster slurm does on a cluster).
  done = subprocess.run(argv + ['--cluster', 'local'], capture_output=True, text=True,
                        check=False)
  assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
  results = json.loads((out / 'results.json').read_text())
  assert sorted(r['family'] for r in results['families']) == ['cnn1d', 'mlp']
  for r in results['families']:
    assert abs(r['num_params'] - 2000) <= 100  # param_budget's 5%
    assert len(r['test']['per_seed']) == 2
    tried = {t['learning_rate'] for t in r['tried']}
    assert {1e-3, 1e-2} <= tried
    # The runs evaluated validation only; test once, at the chosen point.
    for grid in sorted(os.listdir(out / r['family'])):
      if grid.startswith('grid_'):
        final = json.loads((out / r['family'] / grid / 'final_metrics.json').read_text())
        assert not any(k.startswith('test/') and 'baseline' not in k for k in final), grid
    test = json.loads((out / r['family'] / 'test.json').read_text())
    assert test['metrics']['split'] == 'test'
    assert r['learning_rate'] in tried
  assert (out / 'compare.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
  assert '**Verdict:**' in (out / 'results.md').read_text()
  records = {p: p.read_text() for p in out.glob('*/grid_*/sweep_run.json')}
  assert 'submitted mlp (job ' in done.stdout
  report = (out / 'results.md').read_text()
  again = subprocess.run(argv + ['--jobs', '2'], capture_output=True, text=True, check=False)
  assert again.returncode == 0, again.stderr[-2000:]
  assert {p: p.read_text() for p in out.glob('*/grid_*/sweep_run.json')} == records
  assert (out / 'results.md').read_text() == report
