"""Offline datasets, views and task metrics against closed-form references."""

import dataclasses
import math
import os

import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from cnn_vs_rnn import configlib, data, tasks, train
from cnn_vs_rnn.data import offline, procedural, transforms
from cnn_vs_rnn.errors import ConfigError
from conftest import CONFIG_DIR, tiny


def test_adding_problem_targets_and_trivial_baseline():
  x, y = procedural.adding_problem_arrays(20_000, 50, seed=0)
  assert x.shape == (20_000, 50, 2) and y.shape == (20_000,)
  np.testing.assert_array_equal(x[..., 1].sum(1), 2.0)
  np.testing.assert_allclose(y, (x[..., 0] * x[..., 1]).sum(1), rtol=1e-6)
  # Predicting 1 (the mean) gives MSE Var(U1 + U2) = 1/6.
  assert np.mean((y - 1.0) ** 2) == pytest.approx(1 / 6, abs=0.005)


def test_copy_memory_layout_and_memoryless_baseline():
  T = 30
  x, y = procedural.copy_memory_arrays(500, T, seed=0)
  assert x.shape == y.shape == (500, T + 20)
  assert np.all((x[:, :10] >= 1) & (x[:, :10] <= 8))
  np.testing.assert_array_equal(x[:, 10:T + 9], 0)
  np.testing.assert_array_equal(x[:, T + 9:], 9)
  np.testing.assert_array_equal(y[:, :T + 10], 0)
  np.testing.assert_array_equal(y[:, -10:], x[:, :10])
  # The best predictor without memory: blank for sure, then uniform over 1..8.
  probs = np.zeros((T + 20, 10))
  probs[:T + 10, 0] = 1.0
  probs[T + 10:, 1:9] = 1 / 8
  logits = np.log(np.maximum(probs, 1e-30))[None].repeat(500, 0)
  batch = {'targets': jnp.asarray(y), 'weights': jnp.ones(500)}
  _, sums = tasks.loss_and_sums(tasks.get('per_step_classification'), jnp.asarray(logits), batch)
  loss = tasks.means(tasks.get('per_step_classification'), sums)['loss']
  assert loss == pytest.approx(10 * math.log(8) / (T + 20), rel=1e-5)


def test_mackey_glass_is_bounded_and_windows_are_consistent():
  series = procedural.mackey_glass(3000)
  assert 0.2 < series.min() < series.max() < 1.5
  assert series[1000:].std() > 0.1  # chaotic, not decayed to a fixed point
  x, y = procedural.forecast_windows(series, window=8, horizon=3)
  assert x.shape == (len(series) - 10, 8, 1) and y.shape == (len(series) - 10, 3)
  np.testing.assert_array_equal(x[1:, :-1, 0], x[:-1, 1:, 0])
  np.testing.assert_array_equal(y[:, 0], series[8:8 + len(y)])


def test_forecasting_metrics_per_horizon_step():
  rng = np.random.default_rng(0)
  preds, targets = rng.normal(size=(6, 4)), rng.normal(size=(6, 4))
  batch = {'targets': jnp.asarray(targets), 'weights': jnp.asarray([1, 1, 1, 1, 0, 0.0])}
  task = tasks.get('forecasting')
  out = tasks.means(task, tasks.loss_and_sums(task, jnp.asarray(preds), batch)[1])
  err = (preds - targets)[:4]
  assert out['mse'] == pytest.approx(np.mean(err ** 2), rel=1e-5)
  for h in range(4):
    assert out[f'mse_h{h + 1}'] == pytest.approx(np.mean(err[:, h] ** 2), rel=1e-5)
    assert out[f'mae_h{h + 1}'] == pytest.approx(np.mean(np.abs(err[:, h])), rel=1e-5)


def test_language_model_metrics():
  rng = np.random.default_rng(1)
  logits = rng.normal(size=(3, 5, 7))
  targets = rng.integers(0, 7, size=(3, 5))
  mask = np.ones((3, 5))
  mask[2, 3:] = 0
  batch = {'targets': jnp.asarray(targets), 'target_mask': jnp.asarray(mask),
           'weights': jnp.ones(3)}
  task = tasks.get('language_model')
  out = tasks.means(task, tasks.loss_and_sums(task, jnp.asarray(logits), batch)[1])
  logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
  nll = -np.take_along_axis(logp, targets[..., None], -1)[..., 0]
  want = (nll * mask).sum() / mask.sum()
  assert out['loss'] == pytest.approx(want, rel=1e-5)
  assert out['bits_per_char'] == pytest.approx(want / math.log(2), rel=1e-5)
  assert out['perplexity'] == pytest.approx(math.exp(want), rel=1e-5)


def test_lm_windows_shift_by_one():
  text = np.arange(23, dtype=np.uint8)
  w = offline.lm_windows(text, 5)
  assert w['inputs'].shape == (4, 5)
  np.testing.assert_array_equal(w['targets'][:, :-1], w['inputs'][:, 1:])
  np.testing.assert_array_equal(w['inputs'][1], np.arange(5, 10))
  with pytest.raises(ConfigError, match='longer than the text'):
    offline.lm_windows(text, 30)


def test_views_of_images():
  images = np.arange(2 * 4 * 3 * 2).reshape(2, 4, 3, 2).astype(np.float32)
  rows, shape = transforms.view_fn('rows', (4, 3, 2))
  assert shape == (4, 6) and rows(images).shape == (2, 4, 6)
  pixels, shape = transforms.view_fn('pixels', (4, 3, 2))
  assert shape == (12, 2)
  np.testing.assert_array_equal(pixels(images)[:, 5], images[:, 1, 2])
  perm_a, _ = transforms.view_fn('permuted', (4, 3, 2), permutation_seed=3)
  perm_b, _ = transforms.view_fn('permuted', (4, 3, 2), permutation_seed=3)
  np.testing.assert_array_equal(perm_a(images), perm_b(images))
  assert not np.array_equal(perm_a(images), pixels(images))
  np.testing.assert_array_equal(np.sort(perm_a(images)[0, :, 0]), np.sort(pixels(images)[0, :, 0]))
  with pytest.raises(ConfigError, match="unknown data.view 'columns'"):
    transforms.view_fn('columns', (4, 3, 2))


def test_chained_views_show_every_family_the_same_shuffled_pixels():
  images = np.random.default_rng(0).normal(size=(2, 4, 3, 2)).astype(np.float32)
  permuted, _ = transforms.view_fn('permuted', (4, 3, 2), permutation_seed=5)
  grid, shape = transforms.view_fn('permuted_image', (4, 3, 2), permutation_seed=5)
  assert shape == (4, 3, 2)
  np.testing.assert_array_equal(grid(images).reshape(2, 12, 2), permuted(images))
  rows, shape = transforms.view_fn('permuted_image,rows', (4, 3, 2), permutation_seed=5)
  assert shape == (4, 6)
  np.testing.assert_array_equal(rows(images).reshape(2, 12, 2), permuted(images))
  pixels, shape = transforms.view_fn('permuted_image,pixels', (4, 3, 2), permutation_seed=5)
  assert shape == (12, 2)
  np.testing.assert_array_equal(pixels(images), permuted(images))
  with pytest.raises(ConfigError, match="data.view='rows' needs images"):
    transforms.view_fn('rows,rows', (4, 3, 2))
  with pytest.raises(ConfigError, match="unknown data.view '' in 'rows,'"):
    transforms.view_fn('rows,', (4, 3, 2))


def load(**fields):
  return data.load(ml_collections.ConfigDict(fields))


def test_digits_and_permuted_mnist1d(mnist1d):
  digits = load(name='digits')
  assert digits.spec.input_shape == (8, 8, 1)
  train_x = digits.split('train')['inputs']
  assert len(train_x) == 1293 and len(digits.split('validation')['inputs']) == 144
  assert len(digits.split('test')['inputs']) == 360
  assert 0.0 <= train_x.min() and train_x.max() <= 1.0
  shuffled = load(name='mnist1d', view='permuted', permutation_seed=0)
  perm = np.random.default_rng(0).permutation(40)
  np.testing.assert_array_equal(shuffled.split('test')['inputs'],
                                mnist1d.split('test')['inputs'][:, perm])


def nearest_class_mean_accuracy(dataset):
  """Test accuracy of the nearest class mean of the time-averaged log-mel spectrum."""
  train_split, test_split = dataset.split('train'), dataset.split('test')
  feat = lambda s: s['inputs'].mean(1)
  means = np.stack([feat(train_split)[train_split['targets'] == k].mean(0) for k in range(10)])
  d = ((feat(test_split)[:, None] - means[None]) ** 2).sum(-1)
  return np.mean(d.argmin(1) == test_split['targets'])


def test_keywords_are_balanced_and_separable():
  kw = load(name='keywords', num_mels=40)
  frames = kw.spec.input_shape[0]
  assert kw.spec.input_shape == (frames, 40) and 90 <= frames <= 101
  train_and_validation = np.concatenate([kw.split(s)['targets'] for s in ('train', 'validation')])
  np.testing.assert_array_equal(np.bincount(train_and_validation), 300)
  np.testing.assert_array_equal(np.bincount(kw.split('test')['targets']), 60)
  # 'clean': the time-averaged spectrum alone is far above chance (0.1).
  clean = nearest_class_mean_accuracy(kw)
  assert clean > 0.3
  image = load(name='keywords', num_mels=40, as_image=True)
  assert image.spec.input_shape == (frames, 40, 1)
  # 'hard': other speakers, louder noise, a second word: the same labels,
  # different audio, and the time-averaged spectrum tells much less.
  hard = load(name='keywords', num_mels=40, style='hard')
  assert hard.spec == kw.spec
  np.testing.assert_array_equal(hard.split('train')['targets'], kw.split('train')['targets'])
  assert not np.allclose(hard.split('train')['inputs'], kw.split('train')['inputs'])
  assert nearest_class_mean_accuracy(hard) < clean - 0.1
  with pytest.raises(ConfigError, match="unknown data.style 'loud'; valid: clean, hard"):
    load(name='keywords', style='loud')


def test_hard_keyword_clips_hold_a_quieter_second_word():
  quiet = dataclasses.replace(procedural.KEYWORD_STYLES['hard'], snr_db=(200.0, 200.0))
  alone = dataclasses.replace(quiet, distractor_db=None)
  # Same rng draws up to the distractor: its energy is the difference.
  with_word = procedural.render_keyword(3, np.random.default_rng(5), style=quiet)
  base = procedural.render_keyword(3, np.random.default_rng(5), style=alone)
  extra = np.sum(with_word ** 2) - np.sum(base ** 2)
  assert 10 ** (-12 / 10) * 0.5 < extra / np.sum(base ** 2) < 10 ** (-3 / 10) * 2


@pytest.mark.parametrize('name', ['charlm_lstm', 'charlm_tcn'])
def test_sample_padding_does_not_change_next_token_logits(name, tmp_path):
  from cnn_vs_rnn import sample  # pylint: disable=g-import-not-at-top
  config = tiny(configlib.load_config_file(os.path.join(CONFIG_DIR, name + '.py')))
  config.data.seq_len = 16
  workdir = str(tmp_path / 'lm')
  train.train_and_evaluate(config, workdir)
  run, state, _ = sample.load_workdir(workdir)
  state = train.replica(state, 0)  # The run's one replica, as sample.main takes it.
  logits_fn = sample.next_token_logits_fn(state.apply_fn)
  variables = {'params': state.params, **state.model_state}
  tokens = np.array([[72, 105, 33, 10, 65, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]], np.int32)
  padded = logits_fn(variables, jnp.asarray(tokens), jnp.asarray(5))
  alone = state.apply_fn(variables, jnp.asarray(tokens[:, :5]))[0, -1]
  np.testing.assert_allclose(padded, alone, rtol=1e-5, atol=1e-5)
  text = sample.generate(run, state, b'Hi', 20, 0.0, seed=0)
  assert len(text) == 20 and text == sample.generate(run, state, b'Hi', 20, 0.0, seed=1)
  assert sample.main(['--workdir', workdir, '--prompt', 'x', '--length', '5']) == 0


def test_evaluate_reproduces_final_metrics(tmp_path, mnist1d):
  from cnn_vs_rnn import evaluate  # pylint: disable=g-import-not-at-top
  config = tiny(configlib.load_config_file(os.path.join(CONFIG_DIR, 'mnist1d_gru.py')))
  workdir = str(tmp_path / 'run')
  final = train.train_and_evaluate(config, workdir)
  got = evaluate.evaluate_workdir(workdir, config.data.eval_split)  # 'validation'
  assert got['step'] == final['step']
  assert got['eval/accuracy'] == final['eval/accuracy']
  assert got['eval/loss'] == pytest.approx(final['eval/loss'], rel=1e-6)
  assert evaluate.main(['--workdir', str(tmp_path / 'nothing')]) == 2


def test_padded_rows_never_reach_the_metrics():
  logits = jnp.array([[2.0, 0.0], [jnp.nan, jnp.nan]])
  batch = {'targets': jnp.array([0, 1]), 'weights': jnp.array([1.0, 0.0])}
  task = tasks.get('classification')
  loss, sums = tasks.loss_and_sums(task, logits, batch)
  assert np.isfinite(loss) and float(sums['count']) == 1.0
  assert float(sums['accuracy']) == 1.0
