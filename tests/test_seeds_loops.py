"""Seeds in one program (config.num_seeds) and steps on the device (config.steps_per_loop)."""

import json
import os
import shutil

import jax
import numpy as np
import pytest

from cnn_vs_rnn import configlib, train
from cnn_vs_rnn.data.pipeline import SeedIterators, TrainIterator, stack_padded
from cnn_vs_rnn.errors import ConfigError, NonFiniteLossError
from conftest import CONFIG_DIR, tiny
from test_train import checkpoint_arrays


def load(name):
  return configlib.load_config_file(os.path.join(CONFIG_DIR, name + '.py'))


def smooth_gru(steps, every):
  """MNIST-1D's GRU trained by plain SGD: smooth, so rounding does not grow chaotically.

  With ReLU, max pooling and Adam at lr 1e-2 (the CNN config), a 1e-7
  difference after one step grows to 1e-1 in the parameters after 1000
  steps, whatever its source; this setup keeps trajectories comparable.
  """
  return plain_sgd(tiny(load("mnist1d_gru"), steps=steps, every=every, batch_size=32))


def plain_sgd(config):
  """`config` trained by SGD at a constant 0.01, no weight decay."""
  config.optim.name, config.optim.learning_rate = 'sgd', 0.01
  config.optim.schedule, config.optim.weight_decay = 'constant', 0.0
  return config


def params_of(workdir, step):
  return checkpoint_arrays(workdir, step)


def test_next_boundary_stops_at_every_log_eval_and_checkpoint_step():
  config = tiny(load('mnist1d_cnn'), steps=25, every=10)
  config.eval_every_steps, config.checkpoint_every_steps = 4, 25
  stops, step = [], 0
  while step < config.num_train_steps:
    step = train.next_boundary(step, config)
    stops.append(step)
  assert stops == [4, 8, 10, 12, 16, 20, 24, 25]


def test_steps_per_loop_50_equals_one_step_per_call_after_1000_steps(tmp_path, mnist1d):
  finals, params, lines = [], [], []
  for k in (1, 50):
    config = smooth_gru(1000, 500)
    config.log_every_steps = 100
    config.steps_per_loop = k
    workdir = str(tmp_path / f'k{k}')
    finals.append(train.train_and_evaluate(config, workdir))
    params.append(params_of(workdir, 1000))
    lines.append([json.loads(l) for l in open(os.path.join(workdir, 'metrics.jsonl'))])
  for a, b in zip(*params):
    np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)
  assert finals[1]['eval/accuracy'] == pytest.approx(finals[0]['eval/accuracy'], abs=2e-3)
  assert [r['step'] for r in lines[1]] == [r['step'] for r in lines[0]]
  for a, b in zip(*lines):
    for key in a:
      assert b[key] == pytest.approx(a[key], rel=1e-4, abs=1e-6), (a['step'], key)


def test_a_loop_shortens_itself_to_log_steps_that_k_does_not_divide(tmp_path, mnist1d):
  params = []
  for k in (1, 7):  # log every 10: calls of 7 and 3 steps.
    config = tiny(load('mnist1d_cnn'), steps=20, every=10)
    config.steps_per_loop = k
    workdir = str(tmp_path / f'k{k}')
    train.train_and_evaluate(config, workdir)
    params.append(params_of(workdir, 20))
    rows = [json.loads(l) for l in open(os.path.join(workdir, 'metrics.jsonl'))]
    assert [r['step'] for r in rows if 'train/loss' in r] == [10, 20]
  for a, b in zip(*params):
    np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-5)


def test_replica_k_reproduces_the_run_with_seed_plus_k(tmp_path, mnist1d):
  config = smooth_gru(200, 100)
  config.seed, config.num_seeds = 5, 3
  config.steps_per_loop = 10
  joint = train.train_and_evaluate(config, str(tmp_path / 'joint'))
  assert joint['num_seeds'] == 3 and joint['seeds'] == [5, 6, 7]
  joint_params = params_of(str(tmp_path / "joint"), 200)
  assert all(a.shape[0] == 3 for a in joint_params)
  for k in range(3):
    single = smooth_gru(200, 100)
    single.seed = 5 + k
    workdir = str(tmp_path / f'seed{5 + k}')
    final = train.train_and_evaluate(single, workdir)
    for a, b in zip(params_of(workdir, 200), joint_params):  # A replica axis of one.
      np.testing.assert_allclose(b[k], a[0], rtol=1e-4, atol=1e-5)
    for key in ('eval/loss', 'eval/accuracy'):
      assert joint['per_seed'][key][k] == pytest.approx(final[key], rel=1e-4, abs=1e-6)
  assert joint['num_params'] == final['num_params']
  for key in ('eval/loss', 'eval/accuracy'):
    values = np.asarray(joint['per_seed'][key])
    assert joint[key] == joint['mean'][key] == pytest.approx(values.mean())
    assert joint['std'][key] == pytest.approx(values.std(ddof=1))
  # The replicas differ: own initialisation and own data order.
  kernel = next(a for a in joint_params if a.ndim > 2)  # Not the optimizer's step count.
  assert not np.allclose(kernel[0], kernel[1])


def test_metrics_jsonl_has_mean_std_and_per_seed_values(tmp_path, mnist1d):
  config = tiny(load('mnist1d_cnn'), steps=4, every=2)
  config.num_seeds = 2
  workdir = str(tmp_path / 'run')
  final = train.train_and_evaluate(config, workdir)
  rows = [json.loads(l) for l in open(os.path.join(workdir, 'metrics.jsonl'))]
  evals = [r for r in rows if 'eval/accuracy' in r]
  assert set(evals[-1]) == {'step', 'eval/baseline_majority_accuracy'} | {
      f'eval/{m}{s}' for m in ('loss', 'accuracy') for s in ('', '/std', '/seed_0', '/seed_1')}
  last = evals[-1]
  assert last['eval/loss'] == pytest.approx(
      (last['eval/loss/seed_0'] + last['eval/loss/seed_1']) / 2)
  assert final['per_seed']['eval/loss'] == [last['eval/loss/seed_0'], last['eval/loss/seed_1']]
  trains = [r for r in rows if 'train/loss' in r]
  assert {'train/loss/std', 'train/loss/seed_1', 'train/learning_rate'} <= set(trains[0])


def test_seed_axis_on_four_devices_equals_one_device(tmp_path, mnist1d):
  """Under SGD: 4 devices add each gradient's batch shards in another order than 1
  (max abs difference 7e-8 after 6 steps, measured); Adam at lr 1e-2 would grow
  that to 7e-6 where a gradient is near zero, as it grows any rounding."""
  params = []
  for devices in (jax.devices()[:1], jax.devices()):
    config = plain_sgd(tiny(load('mnist1d_cnn'), steps=6, every=3))
    config.num_seeds, config.steps_per_loop = 2, 3
    workdir = str(tmp_path / f'd{len(devices)}')
    train.train_and_evaluate(config, workdir, devices=devices)
    params.append(params_of(workdir, 6))
  for a, b in zip(*params):
    np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize('resident', [True, False])
def test_resumed_seeded_run_is_bitwise_identical(tmp_path, mnist1d, resident):
  config = tiny(load('mnist1d_cnn'), steps=8, every=4)
  config.num_seeds, config.steps_per_loop = 2, 4
  config.data.device_resident = resident
  full = str(tmp_path / 'full')
  final = train.train_and_evaluate(config, full)
  cut = str(tmp_path / 'cut')
  shutil.copytree(full, cut)
  shutil.rmtree(os.path.join(cut, 'checkpoints', '8'))
  os.remove(os.path.join(cut, 'final_metrics.json'))
  assert train.train_and_evaluate(config, cut) == final
  for a, b in zip(params_of(full, 8), params_of(cut, 8)):
    np.testing.assert_array_equal(a, b)
  assert (open(os.path.join(full, 'metrics.jsonl')).read() ==
          open(os.path.join(cut, 'metrics.jsonl')).read())


def test_non_finite_replica_names_its_step_and_seed(tmp_path, mnist1d):
  config = tiny(load('mnist1d_cnn'), steps=20, every=10)
  config.optim.learning_rate = 1e30
  config.num_seeds, config.steps_per_loop = 2, 5
  with pytest.raises(NonFiniteLossError, match=r'non-finite loss at step \d+ .*seed [01]'):
    train.train_and_evaluate(config, str(tmp_path / 'run'))


def test_seed_iterators_follow_each_seeds_own_stream(mnist1d):
  split = mnist1d.split('train')
  joint = SeedIterators(split, 32, [3, 4])
  singles = [TrainIterator(split, 32, s) for s in (3, 4)]
  for _ in range(3):
    idx = joint.next_global_indices()
    for k, it in enumerate(singles):
      np.testing.assert_array_equal(idx[k], it.next_global_indices())
  state = joint.get_state()
  other = SeedIterators(split, 32, [3, 4])
  other.set_state(state)
  assert other.position == joint.position == 96
  with pytest.raises(ConfigError, match='num_seeds=3'):
    SeedIterators(split, 32, [3, 4, 5]).set_state(state)


def test_stack_padded_pads_every_array_to_the_largest():
  a = {'inputs': np.ones((2, 3), np.int32), 'lengths': np.array([3, 1])}
  b = {'inputs': np.ones((2, 5), np.int32), 'lengths': np.array([5, 2])}
  out = stack_padded([a, b])
  assert out['inputs'].shape == (2, 2, 5)
  np.testing.assert_array_equal(out['inputs'][0, :, 3:], 0)
  np.testing.assert_array_equal(out['lengths'], [[3, 1], [5, 2]])


def test_old_run_records_without_the_new_keys_still_resume():
  old = load('mnist1d_cnn').to_dict()
  del old['num_seeds'], old['steps_per_loop']
  assert configlib.differing_keys(old, load('mnist1d_cnn').to_dict()) == []
  new = load('mnist1d_cnn')
  new.num_seeds = 2
  assert configlib.differing_keys(old, new.to_dict()) == ['num_seeds']
