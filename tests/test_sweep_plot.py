"""cnn_vs_rnn.sweep and cnn_vs_rnn.plot: tiny sweeps end to end, and the plots' numbers."""

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from conftest import CONFIG_DIR, REPO
from cnn_vs_rnn import plot, sweep
from cnn_vs_rnn.errors import ConfigError

CNN = os.path.join(CONFIG_DIR, 'mnist1d_cnn.py')
TINY = ['--set', 'num_train_steps=10', '--set', 'data.batch_size=8',
        '--set', 'data.eval_batch_size=200', '--set', 'log_every_steps=5',
        '--set', 'eval_every_steps=5', '--set', 'checkpoint_every_steps=10']
GRID = ['--configs', CNN, '--grid', 'optim.learning_rate=1e-2,3e-3', '--seeds', '2', *TINY]
PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'


def run_module(module, *args):
  return subprocess.run([sys.executable, '-m', module, *args], cwd=REPO,
                        capture_output=True, text=True)


def read_json(path):
  with open(path) as f:
    return json.load(f)


def assert_png(path):
  from matplotlib import image  # pylint: disable=g-import-not-at-top
  with open(path, 'rb') as f:
    assert f.read(8) == PNG_SIGNATURE
  assert os.path.getsize(path) > 1000
  height, width = image.imread(path).shape[:2]  # Decodes the whole image.
  assert height > 100 and width > 100


def table_rows(markdown):
  """The body rows of a markdown table as dicts of header -> cell."""
  lines = [l for l in markdown.strip().splitlines() if l.startswith('|')]
  header = [c.strip() for c in lines[0].strip('|').split('|')]
  return [dict(zip(header, (c.strip() for c in l.strip('|').split('|')))) for l in lines[2:]]


@pytest.fixture(scope='module')
def grid_sweep(tmp_path_factory, mnist1d):
  """2 learning rates x 2 seeds (num_seeds=2) of the MNIST-1D CNN, 10 steps of batch 8;
  the two runs at once (--jobs 2)."""
  del mnist1d  # Generated once; the runs read it through $TFDS_DATA_DIR.
  out = str(tmp_path_factory.mktemp('sweep'))
  result = run_module('cnn_vs_rnn.sweep', '--out', out, '--jobs', '2', *GRID)
  assert result.returncode == 0, result.stdout + result.stderr
  return out, read_json(os.path.join(out, 'results.json'))


def test_results_equal_each_runs_final_metrics(grid_sweep):
  out, results = grid_sweep
  points = results['points']
  assert [p['grid'] for p in points] == [{'optim.learning_rate': '1e-2'},
                                         {'optim.learning_rate': '3e-3'}]
  assert len({p['workdir'] for p in points}) == 2
  for p, lr in zip(points, (1e-2, 3e-3)):
    assert os.path.dirname(p['workdir']) == out
    assert re.fullmatch(r'mnist1d_cnn_learning_rate=\S+-[0-9a-f]{8}', p['name'])
    final = read_json(os.path.join(p['workdir'], 'final_metrics.json'))
    assert p['status'] == 'ok' and p['seeds'] == final['seeds'] == [0, 1]
    assert p['num_params'] == final['num_params'] == 5210
    assert sorted(p['metrics']) == sorted(final['per_seed']) == [
        f'{s}/{m}' for s in ('eval', 'test', 'val') for m in ('accuracy', 'loss')]
    for key, stats in p['metrics'].items():
      assert stats['per_seed'] == final['per_seed'][key]
      assert stats['mean'] == pytest.approx(final['mean'][key], rel=1e-12)
      assert stats['std'] == pytest.approx(final['std'][key], rel=1e-12)
    # The overrides reached the run: one program of 2 replicas at this learning rate.
    config = read_json(os.path.join(p['workdir'], 'config.json'))['config']
    assert config['optim']['learning_rate'] == lr and config['num_seeds'] == 2
    assert config['num_train_steps'] == 10 and config['data']['batch_size'] == 8
    assert 0 < p['wall_s'] < 300
    with open(os.path.join(p['workdir'], 'train.log')) as f:
      assert 'final metrics' in f.read()


def test_markdown_table_is_numpy_mean_and_sample_std(grid_sweep):
  out, results = grid_sweep
  with open(os.path.join(out, 'results.md')) as f:
    rows = table_rows(f.read())
  assert [r['optim.learning_rate'] for r in rows] == ['1e-2', '3e-3']
  for row, p in zip(rows, results['points']):
    final = read_json(os.path.join(p['workdir'], 'final_metrics.json'))
    for key in ('eval/accuracy', 'eval/loss'):
      values = np.asarray(final['per_seed'][key])
      assert row[key] == f'{values.mean():.3f} ± {values.std(ddof=1):.3f}'
    assert row['params'] == '5,210' and row['seeds'] == '2'
    assert row['config'] == 'mnist1d_cnn'


def test_second_invocation_skips_finished_runs(grid_sweep):
  out, results = grid_sweep
  watched = [os.path.join(p['workdir'], name) for p in results['points']
             for name in ('final_metrics.json', 'metrics.jsonl', 'train.log', 'sweep_run.json')]
  before = {path: os.stat(path).st_mtime_ns for path in watched}
  again = run_module('cnn_vs_rnn.sweep', '--out', out, *GRID)
  assert again.returncode == 0, again.stderr
  assert again.stdout.count('finished before, skipped') == 2
  assert 'running' not in again.stdout and 'resuming' not in again.stdout
  assert {path: os.stat(path).st_mtime_ns for path in watched} == before
  for p in results['points']:
    assert read_json(os.path.join(p['workdir'], 'sweep_run.json'))['attempts'] == 1
  assert read_json(os.path.join(out, 'results.json'))['points'] == results['points']


def test_dry_run_shows_states_and_writes_nothing(grid_sweep, tmp_path):
  out, _ = grid_sweep
  listing = sorted(os.listdir(out))
  result = run_module('cnn_vs_rnn.sweep', '--out', out, *GRID[:3],
                      'optim.learning_rate=1e-2,3e-3,1e-3', *GRID[4:], '--dry-run')
  assert result.returncode == 0, result.stderr
  states = [line.split()[0] for line in result.stdout.splitlines()[:3]]
  assert states == ['done', 'done', 'new']
  assert '--config.optim.learning_rate=1e-3 ' in result.stdout
  assert '--config.num_seeds=2' in result.stdout
  assert sorted(os.listdir(out)) == listing


def test_seed_runs_crash_and_resume(tmp_path, mnist1d):
  """Separate seed runs; a crashing grid point is reported and the sweep goes on; a
  workdir without final_metrics.json resumes from its checkpoint on the next call."""
  del mnist1d
  out = str(tmp_path / 'sweep')
  argv = ['--out', out, '--configs', CNN, '--seeds', '2', '--seed-runs',
          '--metric', 'eval/accuracy', *TINY]
  first = run_module('cnn_vs_rnn.sweep', '--grid', 'optim.learning_rate=-1,1e-2', *argv)
  assert first.returncode == 1, first.stdout + first.stderr
  assert 'FAILED (exit 2): error: optim.learning_rate=-1' in first.stderr
  bad, good = read_json(os.path.join(out, 'results.json'))['points']
  assert bad['status'] == 'failed' and bad['metrics'] == {}
  assert [r['exit_code'] for r in bad['runs']] == [2, 2]
  assert good['status'] == 'ok' and good['seeds'] == [0, 1]
  runs = [os.path.join(good['workdir'], f'seed_{s}') for s in (0, 1)]
  finals = [read_json(os.path.join(r, 'final_metrics.json')) for r in runs]
  assert [read_json(os.path.join(r, 'config.json'))['config']['seed'] for r in runs] == [0, 1]
  accs = [f['eval/accuracy'] for f in finals]
  stats = good['metrics']['eval/accuracy']
  assert stats['per_seed'] == accs
  assert stats['mean'] == pytest.approx(np.mean(accs), rel=1e-12)
  assert stats['std'] == pytest.approx(np.std(accs, ddof=1), rel=1e-12)
  with open(os.path.join(out, 'results.md')) as f:
    row = table_rows(f.read())[1]
  assert row['eval/accuracy'] == f'{np.mean(accs):.3f} ± {np.std(accs, ddof=1):.3f}'
  # The point directory of seed runs plots as the mean of its runs.
  c = plot.load_curve(good['workdir'], 'eval/accuracy')
  per_run = [plot.curve(plot.read_metrics(r), 'eval/accuracy').mean for r in runs]
  np.testing.assert_array_equal(c.steps, [5, 10])
  np.testing.assert_allclose(c.mean, np.mean(per_run, axis=0), rtol=1e-12)

  os.remove(os.path.join(runs[1], 'final_metrics.json'))  # As if killed before the end.
  kept = os.stat(os.path.join(runs[0], 'metrics.jsonl')).st_mtime_ns
  # A point keeps its workdir when the grid's other values change.
  second = run_module('cnn_vs_rnn.sweep', '--grid', 'optim.learning_rate=1e-2', *argv)
  assert second.returncode == 0, second.stdout + second.stderr
  assert 'skipped' in second.stdout.split('[1/2] ')[1].splitlines()[0]
  assert 'resuming' in second.stdout.split('[2/2] ')[1].splitlines()[0]
  assert read_json(os.path.join(out, 'results.json'))['points'][0]['workdir'] == good['workdir']
  assert os.stat(os.path.join(runs[0], 'metrics.jsonl')).st_mtime_ns == kept
  with open(os.path.join(runs[1], 'train.log')) as f:
    log = f.read()
  assert log.count('# ') >= 2 and 'Resuming from step 10' in log
  assert read_json(os.path.join(runs[1], 'final_metrics.json')) == finals[1]
  assert read_json(os.path.join(runs[1], 'sweep_run.json'))['attempts'] == 2


@pytest.mark.parametrize('args,fragment', [
    (['--configs', 'configs/nope.py'], "config file 'configs/nope.py' does not exist"),
    (['--configs', CNN, '--grid', 'optim.learning_rate'], '--grid ' + repr('optim.learning_rate')
     + ' is malformed'),
    (['--configs', CNN, '--grid', 'model.features=(8,8),(16,16'], 'unclosed bracket'),
    (['--configs', CNN, '--grid', 'optim.lr=1e-3,3e-3'], "unknown config key 'optim.lr'"),
    (['--configs', CNN, '--zip', 'seed=0,1', '--zip', 'optim.learning_rate=1e-3'],
     '--zip lists differ in length'),
    (['--configs', CNN, '--set', 'num_seeds=3'], 'use --seeds N'),
    (['--configs', CNN, '--seeds', '0'], '--seeds=0 must be a positive integer'),
    (['--configs', CNN, '--unknown'], 'unrecognized arguments: --unknown'),
])
def test_bad_input_is_one_line_and_exit_2(args, fragment, tmp_path):
  out = tmp_path / 'out'
  result = run_module('cnn_vs_rnn.sweep', '--out', str(out), *args)
  assert result.returncode == 2, result.stdout + result.stderr
  lines = result.stderr.strip().splitlines()
  assert len(lines) == 1 and lines[0].startswith('error: ') and fragment in lines[0], lines
  assert not out.exists()


def test_grid_points_product_zip_and_value_splitting():
  assert sweep.split_values('1e-3, (8,8) ,"a,b",[1,(2,3)]') == [
      '1e-3', '(8,8)', '"a,b"', '[1,(2,3)]']
  points = sweep.grid_points([('a', ['1', '2']), ('b', ['x', 'y'])],
                             [('c', ['3', '4']), ('d', ['5', '6'])])
  assert [''.join(p.values()) for p in points] == [
      '1x35', '1x46', '1y35', '1y46', '2x35', '2x46', '2y35', '2y46']
  assert sweep.grid_points([], []) == [{}]
  with pytest.raises(ConfigError, match='unbalanced'):
    sweep.split_values('1),(2')


def test_point_status_from_exit_codes():
  assert sweep.run_status([2, 130]) == 'failed'
  assert sweep.run_status([0, 143]) == 'stopped'
  assert sweep.run_status([None, None]) == 'not run'


def test_workdir_names_are_readable_and_unique():
  name = sweep.point_name('configs/mnist1d_gru.py', {'model.hidden_size': '(8,8)'},
                          {'model.hidden_size': '(8,8)', 'num_seeds': '3'})
  assert re.fullmatch(r'mnist1d_gru_hidden_size=8-8-[0-9a-f]{8}', name)
  other = sweep.point_name('configs/mnist1d_gru.py', {'model.hidden_size': '(8,8)'},
                           {'model.hidden_size': '(8,8)', 'num_seeds': '2'})
  assert other != name and other[:-8] == name[:-8]
  # Keys sharing a last component keep their full names.
  assert sweep.short_keys(['optim.b1', 'model.b1', 'seed']) == {
      'optim.b1': 'optim.b1', 'model.b1': 'model.b1', 'seed': 'seed'}


# ---------------------------------------------------------------------------
# Plots.

HANDMADE_METRICS = [
    {'step': 5, 'train/loss': 2.0, 'train/loss/std': 0.2, 'train/loss/seed_0': 1.8,
     'train/loss/seed_1': 2.2},
    {'step': 5, 'eval/accuracy': 0.3, 'eval/accuracy/seed_0': 0.2,
     'eval/accuracy/seed_1': 0.4},
    {'step': 10, 'train/loss': 1.0, 'train/loss/std': 0.1, 'train/loss/seed_0': 0.9,
     'train/loss/seed_1': 1.1},
    {'step': 10, 'eval/accuracy': 0.55, 'eval/accuracy/seed_0': 0.5,
     'eval/accuracy/seed_1': 0.6},
]


def write_metrics(workdir, records, garbage=True):
  os.makedirs(workdir, exist_ok=True)
  with open(os.path.join(workdir, 'metrics.jsonl'), 'w') as f:
    for r in records:
      f.write(json.dumps(r) + '\n')
    if garbage:
      f.write('{"step": 15, "train/lo')  # A line cut off by a crash.


def test_curves_from_a_handmade_metrics_jsonl(tmp_path):
  write_metrics(tmp_path / 'run', HANDMADE_METRICS)
  records = plot.read_metrics(str(tmp_path / 'run'))
  loss = plot.curve(records, 'train/loss')
  np.testing.assert_array_equal(loss.steps, [5, 10])
  np.testing.assert_array_equal(loss.mean, [2.0, 1.0])
  np.testing.assert_array_equal(loss.std, [0.2, 0.1])  # Recorded /std wins.
  np.testing.assert_array_equal(loss.seeds, [[1.8, 0.9], [2.2, 1.1]])
  acc = plot.curve(records, 'eval/accuracy')  # No /std: the seeds' sample std.
  np.testing.assert_allclose(acc.std, [np.std([0.2, 0.4], ddof=1), np.std([0.5, 0.6], ddof=1)])
  lo, hi = plot.band(acc, 'range')
  np.testing.assert_allclose(lo, [0.2, 0.5])
  np.testing.assert_allclose(hi, [0.4, 0.6])
  np.testing.assert_allclose(plot.band(loss, 'std')[1], [2.2, 1.1])
  single = plot.curve([{'step': 1, 'eval/accuracy': 0.5}], 'eval/accuracy')
  assert single.std is None and plot.band(single, 'std') is None
  with pytest.raises(ConfigError, match="metric 'eval/acc' .* valid: eval/accuracy, "):
    plot.curve(records, 'eval/acc')


def test_curves_figure_draws_the_curves(tmp_path):
  write_metrics(tmp_path / 'a', HANDMADE_METRICS)
  write_metrics(tmp_path / 'b', [{'step': s, 'train/loss': 3.0 / s} for s in (1, 2, 4)])
  curves = [(name, {'train/loss': plot.load_curve(str(tmp_path / name), 'train/loss')})
            for name in ('a', 'b')]
  fig = plot.curves_figure(curves, ['train/loss'], logy=True)
  (ax,) = fig.axes
  assert [l.get_label() for l in ax.lines] == ['a', 'b']
  np.testing.assert_array_equal(ax.lines[0].get_ydata(), [2.0, 1.0])
  np.testing.assert_array_equal(ax.lines[1].get_xdata(), [1, 2, 4])
  assert len(ax.collections) == 1  # A band for the run with seeds only.
  band = ax.collections[0].get_paths()[0].vertices
  assert band[:, 1].min() == pytest.approx(0.9) and band[:, 1].max() == pytest.approx(2.2)
  assert ax.get_yscale() == 'log'
  plot.save(fig, str(tmp_path / 'curves.png'))
  assert_png(tmp_path / 'curves.png')


def handmade_point(config, lr, values, status='ok'):
  stats = sweep.seed_stats(values) if values else None
  return {'name': f'{config}-{lr}', 'config': f'configs/{config}.py',
          'grid': {'optim.learning_rate': lr}, 'overrides': {'optim.learning_rate': lr},
          'status': status, 'metrics': {'eval/accuracy': stats} if stats else {}}


def test_results_series_and_figure_from_a_handmade_results_json(tmp_path):
  points = [handmade_point('mnist1d_cnn', '3e-3', [0.5, 0.7]),
            handmade_point('mnist1d_cnn', '1e-3', [0.4, 0.5, 0.9]),
            handmade_point('mnist1d_gru', '3e-3', [0.8]),
            handmade_point('mnist1d_gru', '1e-3', [], status='failed')]
  (tmp_path / 'results.json').write_text(json.dumps({'points': points}))
  loaded = plot.load_results(str(tmp_path))['points']
  assert plot.default_x(loaded) == 'optim.learning_rate'

  cnn, gru = plot.results_series(loaded, 'eval/accuracy', 'optim.learning_rate')
  assert (cnn.label, cnn.x, gru.label, gru.x) == (
      'mnist1d_cnn', [1e-3, 3e-3], 'mnist1d_gru', [3e-3])  # Sorted by x; failed left out.
  assert cnn.mean == pytest.approx([0.6, 0.6])
  assert cnn.std == pytest.approx([np.std([0.4, 0.5, 0.9], ddof=1), np.std([0.5, 0.7], ddof=1)])
  assert gru.std == [0.0]  # One seed: no error bar.

  fig = plot.results_figure([cnn, gru], 'eval/accuracy', 'optim.learning_rate', logx=True)
  ax = fig.axes[0]
  assert ax.get_xscale() == 'log'
  np.testing.assert_allclose(ax.lines[0].get_ydata(), [0.6, 0.6])  # Each series' line.
  caps = ax.containers[0].lines[2][0].get_segments()  # The error bars of the first series.
  np.testing.assert_allclose([s[:, 1] for s in caps],
                             [[0.6 - s, 0.6 + s] for s in cnn.std])

  by_lr = plot.results_series(loaded, 'eval/accuracy', 'config')
  assert [s.label for s in by_lr] == ['optim.learning_rate=3e-3', 'optim.learning_rate=1e-3']
  fig = plot.results_figure(by_lr, 'eval/accuracy', 'config')
  bars = [c for c in fig.axes[0].containers if hasattr(c, 'patches')]
  heights = [[b.get_height() for b in c.patches] for c in bars]
  centres = [[b.get_x() + b.get_width() / 2 for b in c.patches] for c in bars]
  assert heights[0] == pytest.approx([0.6, 0.8]) and heights[1] == pytest.approx([0.6])
  assert centres[0] == pytest.approx([-0.2, 0.8]) and centres[1] == pytest.approx([0.2])
  assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ['mnist1d_cnn', 'mnist1d_gru']
  with pytest.raises(ConfigError, match='--kind line needs numeric'):
    plot.results_figure(by_lr, 'eval/accuracy', 'config', kind='line')
  with pytest.raises(ConfigError, match="no grid point has metric 'eval/mse'"):
    plot.results_series(loaded, 'eval/mse', 'config')


def test_plot_commands_write_pngs_of_the_sweep(grid_sweep, tmp_path):
  out, results = grid_sweep
  workdirs = [p['workdir'] for p in results['points']]
  curves = run_module('cnn_vs_rnn.plot', 'curves', *workdirs, '--metric', 'eval/accuracy',
                      '--metric', 'train/loss', '--label', 'lr 1e-2', '--label', 'lr 3e-3',
                      '--out', str(tmp_path / 'curves.png'))
  assert curves.returncode == 0, curves.stderr
  assert_png(tmp_path / 'curves.png')
  bars = run_module('cnn_vs_rnn.plot', 'results', out, '--kind', 'bar',
                    '--out', str(tmp_path / 'sub' / 'results.png'))
  assert bars.returncode == 0, bars.stderr
  assert_png(tmp_path / 'sub' / 'results.png')
  (series,) = plot.results_series(results['points'], 'eval/accuracy', 'optim.learning_rate')
  assert series.mean == [p['metrics']['eval/accuracy']['mean'] for p in reversed(
      results['points'])]  # Sorted by learning rate: 3e-3 first.
  bad = run_module('cnn_vs_rnn.plot', 'curves', out, '--out', str(tmp_path / 'x.png'))
  assert bad.returncode == 2 and 'holds no metrics.jsonl' in bad.stderr
  assert not (tmp_path / 'x.png').exists()


def test_a_value_in_quotes_is_the_string_inside_them():
  key, values = sweep.parse_axis("data.view='',permuted,'permuted_image,rows'", '--grid')
  assert (key, values) == ('data.view', ["''", 'permuted', "'permuted_image,rows'"])
  assert sweep.override_args({'data.view': values[0]}) == ['--config.data.view=']
  assert sweep.override_args({'data.view': values[2]}) == [
      '--config.data.view=permuted_image,rows']
  assert sweep.override_args({'model.features': '(8,8)'}) == ['--config.model.features=(8,8)']
  assert sweep.override_args({'data.view': '""'}) == ['--config.data.view=']
  assert sweep.override_args({'data.view': 'permuted'}) == ['--config.data.view=permuted']


def test_selection_on_validation_picks_per_group_and_ignores_test():
  def point(config, view, lr, val, test):
    return {'config': config, 'grid': {'data.view': view, 'optim.learning_rate': lr},
            'metrics': {'val/accuracy': {'mean': val}, 'test/accuracy': {'mean': test}}}
  points = [point('a.py', 'x', '1e-3', 0.8, 0.99), point('a.py', 'x', '1e-2', 0.9, 0.1),
            point('a.py', 'y', '1e-3', 0.7, 0.5), point('b.py', 'x', '1e-3', 0.6, 0.6),
            {'config': 'b.py', 'grid': {'data.view': 'x', 'optim.learning_rate': '1e-2'},
             'metrics': {}}]  # A failed run: never chosen.
  chosen = sweep.select_on_validation(points, ('optim.learning_rate',), 'val/accuracy', 'max')
  picked = {(c['config'], c['grid']['data.view']): c['grid']['optim.learning_rate']
            for c in chosen}
  assert picked == {('a.py', 'x'): '1e-2', ('a.py', 'y'): '1e-3', ('b.py', 'x'): '1e-3'}
  a_x = [c for c in chosen if c['config'] == 'a.py' and c['grid']['data.view'] == 'x'][0]
  assert a_x['tried'] == [{'optim.learning_rate': '1e-3', 'val/accuracy': 0.8},
                          {'optim.learning_rate': '1e-2', 'val/accuracy': 0.9}]
  lowest = sweep.select_on_validation(points, ('optim.learning_rate',), 'val/accuracy', 'min')
  assert {c['grid']['optim.learning_rate'] for c in lowest if c['config'] == 'a.py'} == {'1e-3'}


def test_jobs_below_one_is_one_line_and_exit_2(tmp_path, capsys):
  assert sweep.main(['--out', str(tmp_path), '--jobs', '0', *GRID]) == 2
  err = capsys.readouterr().err.strip()
  assert err.splitlines() == [err] and '--jobs=0 must be at least 1' in err
