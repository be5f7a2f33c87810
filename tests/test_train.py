"""The train loop: parameter updates, sharding, evaluation, resume, failures."""

import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp
import pytest

from cnn_vs_rnn import configlib, models, optim, parallel, tasks, train
from cnn_vs_rnn.data.pipeline import TrainIterator, eval_batches
from cnn_vs_rnn.errors import NonFiniteLossError
from conftest import CONFIG_DIR, REPO, tiny


def load(name):
  return configlib.load_config_file(os.path.join(CONFIG_DIR, name + '.py'))


def state_and_batch(config, dataset, mesh, batch_size=8):
  model = models.build(config.model, dataset.spec)
  tx = optim.make_optimizer(config.optim, config.num_train_steps)
  state = jax.jit(functools.partial(train.create_train_state, model, tx,
                                    dataset.spec.input_shape),
                  out_shardings=parallel.replicated(mesh))(jax.random.key(0))
  batch = next(TrainIterator(dataset.split('train'), batch_size, seed=0))
  return state, batch


def checkpoint_arrays(workdir, step):
  path = os.path.join(workdir, 'checkpoints', str(step), 'state')
  return jax.tree.leaves(ocp.PyTreeCheckpointer().restore(path))


def test_a_new_state_has_the_types_of_a_restored_one(mnist1d):
  # A weakly typed step (flax's default 0) would change the state's type at the
  # first restore, and every program that takes the state would compile again.
  config = load('mnist1d_cnn')
  model = models.build(config.model, mnist1d.spec)
  tx = optim.make_optimizer(config.optim, config.num_train_steps)
  init = functools.partial(train.create_train_state, model, tx, mnist1d.spec.input_shape)
  for state in (jax.eval_shape(init, jax.random.key(0)), init(jax.random.key(0))):
    assert state.step.dtype == jnp.int32
    assert not any(getattr(leaf, 'weak_type', False) for leaf in jax.tree.leaves(state))


@pytest.mark.parametrize('name', ['mnist1d_cnn', 'mnist1d_gru'])
def test_every_parameter_changes_after_one_step(name, mnist1d):
  config = load(name)
  mesh = parallel.make_mesh()
  state, batch = state_and_batch(config, mnist1d, mesh)
  before = jax.tree.map(np.asarray, state.params)
  step = jax.jit(functools.partial(train.train_step, task=tasks.get('classification')))
  new_state, metrics = step(state, parallel.shard_batch(batch, mesh), jax.random.key(1))
  assert int(new_state.step) == 1 and np.isfinite(metrics['loss'])
  flat = jax.tree_util.tree_flatten_with_path(before)[0]
  after = jax.tree.leaves(new_state.params)
  for (path, old), new in zip(flat, after):
    assert not np.array_equal(old, np.asarray(new)), f'{jax.tree_util.keystr(path)} unchanged'


@pytest.mark.parametrize('name', ['mnist1d_cnn', 'mnist1d_gru'])
def test_four_devices_give_the_same_loss_and_gradients_as_one(name, mnist1d):
  assert len(jax.devices()) == 4
  config = load(name)
  task = tasks.get('classification')
  results = []
  for devices in (jax.devices()[:1], jax.devices()):
    mesh = parallel.make_mesh(devices)
    state, batch = state_and_batch(config, mnist1d, mesh)
    batch = parallel.shard_batch(batch, mesh)
    assert len(batch['inputs'].sharding.device_set) == len(devices)
    grad_fn = jax.jit(jax.value_and_grad(functools.partial(train.loss_fn, task=task),
                                         has_aux=True),
                      in_shardings=(parallel.replicated(mesh), parallel.replicated(mesh),
                                    parallel.batch_sharded(mesh), parallel.replicated(mesh)))
    (loss, _), grads = grad_fn(state.params, state, batch, jax.random.key(0))
    results.append((float(loss), jax.tree.map(np.asarray, grads)))
  (loss1, g1), (loss4, g4) = results
  np.testing.assert_allclose(loss4, loss1, rtol=1e-6)
  for a, b in zip(jax.tree.leaves(g1), jax.tree.leaves(g4)):
    np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)


def test_evaluation_counts_every_example_once(mnist1d):
  config = load('mnist1d_cnn')
  mesh = parallel.make_mesh()
  state, _ = state_and_batch(config, mnist1d, mesh)
  task = tasks.get('classification')
  step = jax.jit(functools.partial(train.eval_step, task=task))
  split = mnist1d.split('test')
  # 1000 examples in batches of 48: 20 full batches and 40 padded rows.
  replicas = jax.tree.map(lambda x: x[None], state)  # A replica axis of one.
  counted = train.evaluate(train.jit_eval_step(task, mesh), replicas, split, 48, mesh, task)
  logits = state.apply_fn({'params': state.params}, jnp.asarray(split['inputs']))
  want_acc = float(np.mean(np.argmax(logits, -1) == split['targets']))
  assert counted['accuracy'] == pytest.approx(want_acc, abs=1e-6)
  sums = None
  for batch in eval_batches(split, 48):
    s = step(state, parallel.shard_batch(batch, mesh))
    sums = s if sums is None else jax.tree.map(jnp.add, sums, s)
  assert float(sums['count']) == 1000


def test_resumed_run_equals_uninterrupted(tmp_path, mnist1d):
  config = tiny(load('mnist1d_gru'), steps=6, every=2)
  full = str(tmp_path / 'full')
  final = train.train_and_evaluate(config, full)
  # An interruption after the step-2 checkpoint: steps 4 and 6 never happened.
  cut = str(tmp_path / 'cut')
  shutil.copytree(full, cut)
  for step in (4, 6):
    shutil.rmtree(os.path.join(cut, 'checkpoints', str(step)))
  os.remove(os.path.join(cut, 'final_metrics.json'))
  resumed = train.train_and_evaluate(config, cut)
  assert resumed == final
  for a, b in zip(checkpoint_arrays(full, 6), checkpoint_arrays(cut, 6)):
    np.testing.assert_array_equal(a, b)
  data = [json.load(open(os.path.join(w, 'checkpoints', '6', 'data', 'metadata')))
          for w in (full, cut)]
  assert data[0] == data[1] and data[0]['position'] == 6 * config.data.batch_size
  lines = [open(os.path.join(w, 'metrics.jsonl')).read() for w in (full, cut)]
  strip = lambda s: [{k: v for k, v in json.loads(l).items()} for l in s.splitlines()]
  assert [r['step'] for r in strip(lines[1])] == [r['step'] for r in strip(lines[0])]


def test_outputs_in_the_workdir(tmp_path, mnist1d):
  config = tiny(load('mnist1d_cnn'), steps=4, every=2)
  workdir = str(tmp_path / 'run')
  final = train.train_and_evaluate(config, workdir)
  assert set(os.listdir(workdir)) >= {'config.json', 'metrics.jsonl', 'tensorboard',
                                      'final_metrics.json', 'checkpoints'}
  record = json.load(open(os.path.join(workdir, 'config.json')))
  assert record['config']['model']['name'] == 'cnn1d'
  assert {'jax', 'flax', 'optax', 'orbax-checkpoint'} <= set(record['versions'])
  assert final == json.load(open(os.path.join(workdir, 'final_metrics.json')))
  metrics = {'loss', 'accuracy'}
  assert set(final) == ({'step', 'best_step', 'num_params', 'receptive_field',
                         'eval/baseline_majority_accuracy', 'test/baseline_majority_accuracy'}
                        | {f'{s}/{m}' for s in ('eval', 'val', 'test') for m in metrics})
  assert os.listdir(os.path.join(workdir, 'best_checkpoint')) == [str(final['best_step'])]
  assert final['num_params'] == 5210 and final['step'] == 4
  rows = [json.loads(l) for l in open(os.path.join(workdir, 'metrics.jsonl'))]
  assert [r['step'] for r in rows if 'train/loss' in r] == [2, 4]
  assert [r['step'] for r in rows if 'eval/accuracy' in r] == [2, 4]
  assert sorted(os.listdir(os.path.join(workdir, 'checkpoints'))) == ['2', '4']
  assert os.listdir(os.path.join(workdir, 'tensorboard'))


def test_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path, mnist1d):
  config = tiny(load('mnist1d_cnn'), steps=20, every=1)
  config.optim.learning_rate = 1e30
  workdir = str(tmp_path / 'run')
  with pytest.raises(NonFiniteLossError) as e:
    train.train_and_evaluate(config, workdir)
  assert f'non-finite loss at step {e.value.step}' in str(e.value)
  steps = sorted(int(s) for s in os.listdir(os.path.join(workdir, 'checkpoints')))
  assert steps and max(steps) < e.value.step
  for leaf in checkpoint_arrays(workdir, max(steps)):
    assert np.all(np.isfinite(leaf))


def test_corrupt_newest_checkpoint_falls_back_to_the_previous(tmp_path, mnist1d, capsys):
  config = tiny(load('mnist1d_cnn'), steps=4, every=2)
  ref = str(tmp_path / 'ref')
  final = train.train_and_evaluate(config, ref)
  workdir = str(tmp_path / 'run')
  shutil.copytree(ref, workdir)
  state_dir = os.path.join(workdir, 'checkpoints', '4', 'state')
  for root, _, files in os.walk(state_dir):
    for f in files:
      with open(os.path.join(root, f), 'wb') as fh:
        fh.write(b'garbage')
  assert train.train_and_evaluate(config, workdir) == final
  err = capsys.readouterr().err
  assert 'checkpoint at step 4 is unreadable' in err
  assert os.path.isdir(os.path.join(workdir, 'corrupt_checkpoints', '4'))
  for a, b in zip(checkpoint_arrays(ref, 4), checkpoint_arrays(workdir, 4)):
    np.testing.assert_array_equal(a, b)


def _cli(workdir, *overrides):
  return [sys.executable, '-m', 'cnn_vs_rnn.train', '--config',
          os.path.join(CONFIG_DIR, 'mnist1d_cnn.py'), '--workdir', workdir,
          '--config.data.batch_size=8', '--config.data.eval_batch_size=200',
          '--config.log_every_steps=50', '--config.eval_every_steps=100000',
          '--config.checkpoint_every_steps=50', *overrides]


def test_sigkill_then_resume_is_bitwise_identical(tmp_path, mnist1d):
  steps = '--config.num_train_steps=1500'
  killed = str(tmp_path / 'killed')
  proc = subprocess.Popen(_cli(killed, steps), cwd=REPO, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)
  ckpts = os.path.join(killed, 'checkpoints')
  deadline = time.time() + 120
  while time.time() < deadline and proc.poll() is None:
    if os.path.isdir(ckpts) and any(s.isdigit() for s in os.listdir(ckpts)):
      break
    time.sleep(0.02)
  time.sleep(0.3)  # Into the middle of later steps (and maybe of a save).
  proc.send_signal(signal.SIGKILL)
  assert proc.wait() == -signal.SIGKILL, 'the run ended before it could be killed'
  resumed = subprocess.run(_cli(killed, steps), cwd=REPO, capture_output=True, text=True)
  assert resumed.returncode == 0, resumed.stderr
  assert 'Resuming from step' in resumed.stdout
  ref = str(tmp_path / 'ref')
  subprocess.run(_cli(ref, steps), cwd=REPO, check=True, capture_output=True)
  for a, b in zip(checkpoint_arrays(ref, 1500), checkpoint_arrays(killed, 1500)):
    np.testing.assert_array_equal(a, b)
  assert (json.load(open(os.path.join(ref, 'final_metrics.json'))) ==
          json.load(open(os.path.join(killed, 'final_metrics.json'))))


def test_device_resident_data_trains_exactly_like_host_batches(tmp_path, mnist1d):
  finals, arrays = [], []
  for resident in (True, False):
    config = tiny(load('mnist1d_cnn'), steps=4, every=4)
    config.data.device_resident = resident
    workdir = str(tmp_path / f'resident_{resident}')
    finals.append(train.train_and_evaluate(config, workdir))
    arrays.append(checkpoint_arrays(workdir, 4))
  assert finals[0] == finals[1]
  for a, b in zip(*arrays):
    np.testing.assert_array_equal(a, b)
