"""A grid of hyper-parameter points in one program (config.replicas), num_seeds replicas each."""

import json
import os

import numpy as np
import pytest

from cnn_vs_rnn import configlib, evaluate, optim, replicas, train
from cnn_vs_rnn.errors import ConfigError
from conftest import CONFIG_DIR, tiny
from test_seeds_loops import params_of, smooth_gru

# A replica of a grid against the single run with its seed and learning rate:
# float32 rounding only (the vmapped program against the un-vmapped one). The
# largest differences measured on CPU are in the test's comments.
RTOL, ATOL = 1e-4, 1e-5


def load(name):
  return configlib.load_config_file(os.path.join(CONFIG_DIR, name + '.py'))


def rows_of(workdir):
  return [json.loads(l) for l in open(os.path.join(workdir, 'metrics.jsonl'))]


def largest_difference(a, b) -> float:
  return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


def test_a_replica_reproduces_the_single_run_with_its_seed_and_learning_rate(tmp_path,
                                                                               mnist1d):
  config = smooth_gru(60, 30)
  config.seed, config.num_seeds = 3, 2
  config.replicas.learning_rate = (0.01, 0.03)
  grid = train.train_and_evaluate(config, str(tmp_path / 'grid'))
  grid_params = params_of(str(tmp_path / 'grid'), 60)
  assert all(a.shape[0] == 4 for a in grid_params)
  assert grid['learning_rates'] == [0.01, 0.03] and grid['seeds'] == [3, 4]
  worst = 0.0
  for k, (lr, seed) in enumerate([(0.01, 3), (0.01, 4), (0.03, 3), (0.03, 4)]):
    single = smooth_gru(60, 30)
    single.seed, single.optim.learning_rate = seed, lr
    workdir = str(tmp_path / f'lr{lr}_seed{seed}')
    final = train.train_and_evaluate(single, workdir)
    for a, b in zip(params_of(workdir, 60), grid_params):
      worst = max(worst, largest_difference(a[0], b[k]))
      np.testing.assert_allclose(b[k], a[0], rtol=RTOL, atol=ATOL)
    point = grid['points'][k // 2]
    assert point['learning_rate'] == lr
    for key in ('eval/loss', 'eval/accuracy'):
      assert point['per_seed'][key][k % 2] == pytest.approx(final[key], rel=1e-4, abs=1e-6)
      assert grid[f'{key}/lr_{lr!r}/seed_{seed}'] == point['per_seed'][key][k % 2]
  print(f'largest parameter difference, grid replica vs single run: {worst:.3g}')
  # The points differ: the same seeds train apart at other rates.
  kernel = next(a for a in grid_params if a.ndim > 2)
  assert not np.allclose(kernel[0], kernel[2])


def test_a_grid_with_warmup_and_cosine_under_adam_matches_single_runs(tmp_path, mnist1d):
  config = tiny(load('mnist1d_gru'), steps=8, every=4)
  config.optim.name, config.optim.schedule, config.optim.warmup_steps = 'adam', 'cosine', 3
  config.replicas.learning_rate = (1e-3, 4e-3)
  grid = train.train_and_evaluate(config, str(tmp_path / 'grid'))
  grid_params = params_of(str(tmp_path / 'grid'), 8)
  for k, lr in enumerate((1e-3, 4e-3)):
    single = config.copy_and_resolve_references()
    single.replicas.learning_rate, single.optim.learning_rate = (), lr
    workdir = str(tmp_path / f'lr{lr}')
    final = train.train_and_evaluate(single, workdir)
    for a, b in zip(params_of(workdir, 8), grid_params):
      np.testing.assert_allclose(b[k], a[0], rtol=RTOL, atol=ATOL)
    assert grid[f'eval/loss/lr_{lr!r}'] == pytest.approx(final['eval/loss'], rel=1e-4)
    # num_seeds=1: each point's value is its one replica's, with no std.
    assert grid['points'][k]['std']['eval/loss'] is None
  trains = [r for r in rows_of(str(tmp_path / 'grid')) if 'train/loss/lr_0.001' in r]
  schedule = optim.make_schedule(config.optim, 8, 4e-3)
  assert trains[0]['train/learning_rate/lr_0.004'] == pytest.approx(float(schedule(3)))
  assert 'train/loss' not in trains[0] and 'eval/loss' not in grid


def test_the_best_step_is_picked_per_point(tmp_path, mnist1d):
  config = tiny(load('mnist1d_cnn'), steps=8, every=2, batch_size=8)
  config.data.eval_split = 'validation'
  config.replicas.learning_rate = (0.05, 0.001)
  workdir = str(tmp_path / 'run')
  final = train.train_and_evaluate(config, workdir)
  evals = [r for r in rows_of(workdir) if 'eval/accuracy/lr_0.05' in r]
  for p, label in enumerate(('lr_0.05', 'lr_0.001')):
    key = f'eval/accuracy/{label}'
    best = max(evals, key=lambda r: (r[key], -r['step']))  # First of the ties.
    assert final['points'][p]['best_step'] == best['step']
    assert final[f'val/accuracy/{label}'] == pytest.approx(best[key])
    assert os.listdir(os.path.join(workdir, f'best_checkpoint_{label}')) == [str(best['step'])]
    again = evaluate.evaluate_workdir(workdir, 'test', best=True, point=p)
    assert again['step'] == best['step']
    assert final[f'test/accuracy/{label}'] == pytest.approx(again['eval/accuracy'])
  last = [r for r in rows_of(workdir) if 'best_step/lr_0.05' in r]
  assert len(last) == 1 and 'test/accuracy/lr_0.001' in last[0]
  newest = evaluate.evaluate_workdir(workdir, 'validation')
  assert newest['eval/accuracy/lr_0.001'] == pytest.approx(final['eval/accuracy/lr_0.001'])


def test_replica_order_is_point_major():
  config = configlib.base_config()
  config.seed, config.num_seeds = 7, 2
  config.replicas.learning_rate = (0.1, 0.2, 0.3)
  assert replicas.num_replicas(config) == 6
  assert replicas.replica_seeds(config) == [7, 8] * 3
  assert replicas.replica_learning_rates(config) == [0.1, 0.1, 0.2, 0.2, 0.3, 0.3]
  assert replicas.point_labels(config) == ['lr_0.1', 'lr_0.2', 'lr_0.3']
  config.replicas.learning_rate = ()
  assert replicas.replica_learning_rates(config) == [1e-3, 1e-3]
  assert replicas.point_labels(config) is None


@pytest.mark.parametrize('rates, fragment', [
    ((1e-3, -1.0), 'must hold finite numbers > 0, not -1.0'),
    ((1e-3, float('inf')), 'not inf'),
    ((0.0,), 'not 0.0'),
    ((1e-3, 1e-3), 'names a rate twice'),
    (0.001, 'must be a tuple of learning rates'),
])
def test_a_bad_grid_is_a_one_line_config_error(rates, fragment):
  config = load('mnist1d_cnn')
  config.replicas = configlib.base_config().replicas
  with config.replicas.unlocked():
    del config.replicas['learning_rate']
    config.replicas.learning_rate = rates
  with pytest.raises(ConfigError, match=fragment) as e:
    configlib.validate(config)
  assert '\n' not in str(e.value)
