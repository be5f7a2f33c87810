"""experiments/use_cases/: its run.sh plans every section, and a tiny pipeline writes
its tables, results.json, the attention heatmap and the example masks."""

import importlib.util
import json
import os
import subprocess
import sys

from conftest import REPO

TINY = ['--set', 'num_train_steps=4', '--set', 'log_every_steps=2', '--set', 'eval_every_steps=2',
        '--set', 'checkpoint_every_steps=4', '--set', 'steps_per_loop=1',
        '--set', 'data.batch_size=8', '--set', 'data.num_train=64', '--set', 'data.num_test=24',
        '--set', 'data.eval_batch_size=24']
PNG = b'\x89PNG\r\n\x1a\n'


def run_study(runs, *args, **env):
  # One CPU device, as a study runs: no cross-device collective (see conftest.py).
  return subprocess.run(['bash', 'experiments/use_cases/run.sh', str(runs), *args], cwd=REPO,
                        capture_output=True, text=True,
                        env={**os.environ, 'PYTHON': sys.executable, 'XLA_FLAGS': '', **env})


def summarize_module():
  spec = importlib.util.spec_from_file_location(
      'use_cases_summarize', os.path.join(REPO, 'experiments', 'use_cases', 'summarize.py'))
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def planned(stdout):
  return [int(l.split()[0]) for l in stdout.splitlines() if l.endswith(' runs')]


def test_use_cases_plan_every_section(tmp_path):
  result = run_study(tmp_path / 'runs', '--dry-run', STUDY_OUT=str(tmp_path / 'out'))
  assert result.returncode == 0, result.stderr[-2000:]
  # video 3 x 2 lrs, translation 3 x 2, segmentation 2 x 2, keywords 3 x 2.
  assert planned(result.stdout) == [6, 6, 4, 6]


def test_one_part_plans_one_section_and_a_bad_part_is_refused(tmp_path):
  result = run_study(tmp_path / 'runs', '--dry-run', PART='segmentation')
  assert result.returncode == 0, result.stderr[-2000:]
  assert planned(result.stdout) == [4]
  assert 'shapes_unet' in result.stdout and 'keywords' not in result.stdout
  assert not (tmp_path / 'runs' / 'video').exists()
  bad = run_study(tmp_path / 'runs', '--dry-run', PART='speech')
  assert bad.returncode == 2 and 'PART=speech is not a section' in bad.stderr


def test_use_cases_pipeline_at_a_tiny_size(tmp_path):
  out, runs = tmp_path / 'out', tmp_path / 'runs'
  result = run_study(runs, *TINY, ONLY='dates_seq2seq_attention|shapes_renet',
                     LRS='1e-2,3e-2', STUDY_OUT=str(out))
  assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
  with open(out / 'results.json') as f:
    results = json.load(f)
  cases = results['use_cases']
  assert not cases['video']['rows'] and not cases['keywords']['rows']  # Not run: skipped.
  (att,) = cases['translation']['rows']
  (renet,) = cases['segmentation']['rows']
  assert att['family'] == 'attention' and renet['family'] == 'renet'
  for row, metric in ((att, 'val/exact_match'), (renet, 'val/mean_iou')):
    assert row['learning_rate'] in ('1e-2', '3e-2') and len(row['tried']) == 2
    assert row['validation']['mean'] == max(t[metric] for t in row['tried'])  # Chosen on val.
    assert len(next(iter(row['test'].values()))['per_seed']) == 3
    # Matched to the section's budget (100k, 20k) within param_budget's 5%.
  assert abs(att['num_params'] - 100_000) <= 5_000 and abs(renet['num_params'] - 20_000) <= 1_000
  assert cases['segmentation']['verdict']['best'] == 'ReNet'
  assert cases['segmentation']['verdict']['agreement'] == 'disagrees'  # The only one run: RNN.
  # Forecasting is carried over from experiments/config_results and, for sunspots, from
  # the protocol's comparison (experiments/compare/sunspots), each seed's value with it.
  labels = {(r['task'].split(',')[0], r['label']) for r in results['forecasting']['rows']}
  assert labels == {('Mackey-Glass', 'TCN'), ('Mackey-Glass', 'LSTM'), ('sunspots', 'TCN'),
                    ('sunspots', 'LSTM')}
  for row in results['forecasting']['rows']:
    if row['task'].startswith('sunspots'):
      assert row['source'].startswith('experiments/compare/sunspots (protocol: 5 seeds')
      assert len(row['test']['test/mse']['per_seed']) == 5
  assert '| U-Net |' not in result.stdout and '| ReNet | RNN |' in result.stdout
  for png in ('attention.png', 'masks.png', 'test_metrics.png'):
    with open(out / png, 'rb') as f:
      assert f.read(8) == PNG
  # Each section drew its figure into its own runs directory too (for runs made elsewhere).
  assert (runs / 'translation' / 'attention.png').exists()
  assert (runs / 'segmentation' / 'masks.png').exists()
  # The heatmap's weights: a distribution over the source characters of a test date.
  summarize = summarize_module()
  (workdir,) = summarize.selected_workdirs(str(runs), 'translation').values()
  att = summarize.attention_of(workdir, index=3)
  w = att['weights']
  assert w.shape == (min(len(att['output']) + 1, 18), len(att['source']))
  assert abs(w.sum(axis=1) - 1.0).max() < 1e-5  # Padding gets no weight.
  assert att['index'] == 3 and att['target']


def test_verdict_counts_a_tie_within_one_std():
  summarize = summarize_module()
  row = lambda label, side, mean, std: {'label': label, 'side': side,
                                        'test': {'m': {'mean': mean, 'std': std}}}
  rows = [row('a', 'CNN', 0.90, 0.01), row('b', 'RNN', 0.85, 0.01)]
  assert summarize.verdict(rows, 'm', 'max', 'CNN')['agreement'] == 'agrees'
  assert summarize.verdict(rows, 'm', 'max', 'RNN')['agreement'] == 'disagrees'
  rows[1] = row('b', 'RNN', 0.895, 0.01)
  tied = summarize.verdict(rows, 'm', 'max', 'RNN')
  assert tied['best'] == 'a' and tied['tied_with'] == ['b']
  assert tied['agreement'] == 'agrees (tied within one std)'
  low = summarize.verdict([row('a', 'CNN', 0.3, 0.05), row('b', 'RNN', 0.2, 0.01)],
                          'm', 'min', 'RNN')
  assert low['best'] == 'b' and low['agreement'] == 'agrees'  # Lower is better here.
  same = summarize.verdict([row('a', 'RNN', 0.90, 0.01), row('b', 'RNN', 0.895, 0.01),
                            row('c', 'CNN', 0.80, 0.01)], 'm', 'max', 'RNN')
  assert same['tied_with'] == ['b'] and same['agreement'] == 'agrees'  # A tie on one side.
  assert summarize.verdict([], 'm', 'max', 'RNN') is None


def test_summarize_skips_missing_sections_and_refuses_an_unknown_figure(tmp_path):
  summarize = summarize_module()
  assert summarize.main([str(tmp_path / 'none'), '--out', str(tmp_path / 'out')]) == 0
  with open(tmp_path / 'out' / 'results.json') as f:
    results = json.load(f)
  assert all(not c['rows'] for c in results['use_cases'].values())
  assert any('missing' in n for n in results['figures'])
  assert summarize.main([str(tmp_path / 'none'), '--figures', 'video']) == 2
  assert summarize.main([str(tmp_path / 'none'), '--figures', 'translation']) == 1


def test_the_heatmap_date_is_the_first_in_the_weekday_style():
  from cnn_vs_rnn.data import transduction
  summarize = summarize_module()
  sources = ['2026-11-26', 'Nov 26, 2026', 'Thu, 26 Nov 2026', 'Fri, 27 Nov 2026']
  split = {'inputs': [transduction.encode(s, 17) for s in sources]}
  assert summarize.date_example(split) == 2
  assert summarize.date_example({'inputs': split['inputs'][:2]}) == 0  # None: the first.
