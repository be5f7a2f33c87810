"""Next-frame prediction on moving_digits: the data, the 'pixel_regression' task, the
persistence baseline and the per-pixel heads of the video models.

The next frame is checked against an independent unrolled simulation of the
bounce (position += velocity, reflected at a wall by hand), not against the
generator's triangle-wave formula; the classification data against a digest
of its arrays taken before the next-frame variant existed.
"""

import functools
import hashlib
import os

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from cnn_vs_rnn import configlib, data, models, tasks, train
from cnn_vs_rnn.data import DataSpec, baselines, procedural
from cnn_vs_rnn.errors import ConfigError
from cnn_vs_rnn.models.video import ConvLSTMLayer, depth_to_space, space_to_depth
from conftest import CONFIG_DIR, tiny

SMALL_CLIPS = dict(name='moving_digits', num_train=40, num_test=20, num_frames=5, canvas=14,
                   max_speed=2)
# sha256 of the train, validation and test inputs and targets of SMALL_CLIPS,
# computed with the generator as it was before data.target existed.
SMALL_CLIPS_SHA256 = '0b59cfcd06804a4e09e06dc99f6df5df6beef1ff5e2e08631f95ec3c672c6a2c'


def load(**fields):
  return data.load(ml_collections.ConfigDict(fields))


def split_digest(dataset) -> str:
  h = hashlib.sha256()
  for name in ('train', 'validation', 'test'):
    for key in ('inputs', 'targets'):
      h.update(np.ascontiguousarray(dataset.split(name)[key]).tobytes())
  return h.hexdigest()


# ---------------------------------------------------------------------------
# Data


def simulate_positions(start_Nx2, step_Nx2, num_frames: int, high: int) -> np.ndarray:
  """[N, num_frames, 2]: one step at a time, position += velocity, reflected by hand."""
  pos, vel = np.array(start_Nx2, int), np.array(step_Nx2, int)
  out = [pos.copy()]
  for _ in range(num_frames - 1):
    pos = pos + vel
    over, under = pos > high, pos < 0
    pos = np.where(over, 2 * high - pos, np.where(under, -pos, pos))
    vel = np.where(over | under, -vel, vel)
    out.append(pos.copy())
  return np.stack(out, 1)


def paint(image_SxS, row: int, col: int, canvas: int) -> np.ndarray:
  frame = np.zeros((canvas, canvas, 1), np.float32)
  size = image_SxS.shape[0]
  frame[row:row + size, col:col + size, 0] = image_SxS / 16.0
  return frame


def test_simulation_agrees_with_a_hand_worked_bounce():
  # high 5: 3 -> 5 -> 7 reflected to 3 (moving back) -> 1 -> -1 reflected to 1 -> 3.
  got = simulate_positions([[3, 0]], [[2, 0]], 6, high=5)
  np.testing.assert_array_equal(got[0, :, 0], [3, 5, 3, 1, 1, 3])


def test_next_frame_targets_are_the_simulated_next_frame():
  T, canvas, speed = SMALL_CLIPS['num_frames'], SMALL_CLIPS['canvas'], SMALL_CLIPS['max_speed']
  dataset = load(**SMALL_CLIPS, target='next_frame')
  assert dataset.spec == DataSpec(input_shape=(T, canvas, canvas, 1), task='pixel_regression',
                                  num_outputs=1, output_shape=(canvas, canvas, 1))
  pools = procedural.digit_image_pools(0.2, 0.1)
  sizes = {'train': 36, 'validation': 4, 'test': 20}
  for seed, name in enumerate(('train', 'validation', 'test')):
    split = dataset.split(name)
    x, y = split['inputs'], split['targets']
    assert x.shape == (sizes[name], T, canvas, canvas, 1) and x.dtype == np.float32
    assert y.shape == (sizes[name], canvas, canvas, 1) and y.dtype == np.float32
    assert 0 <= y.min() and y.max() <= 1
    # The generator's record of each clip (T frames: the classification clips) gives the
    # digit image, the start and the velocity; the simulation gives frame T + 1's place.
    images, labels = pools[name]
    a = procedural.moving_digits_arrays(images, labels, sizes[name], T, canvas, speed,
                                        [seed, 13])
    np.testing.assert_array_equal(x, a['x'].astype(np.float32) / 16.0)
    step = np.asarray(procedural.MOVING_DIGITS_DIRECTIONS)[a['direction']] * a['speed'][:, None]
    pos = simulate_positions(a['position'][:, 0], step, T + 1, canvas - 8)
    np.testing.assert_array_equal(pos[:, :T], a['position'])
    for i in range(len(y)):
      want = paint(images[a['image'][i]], *pos[i, T], canvas)
      np.testing.assert_array_equal(y[i], want)


def test_classification_data_is_unchanged():
  labelled = load(**SMALL_CLIPS)
  assert labelled.spec == DataSpec(input_shape=(5, 14, 14, 1), task='classification',
                                   num_outputs=40)
  assert split_digest(labelled) == SMALL_CLIPS_SHA256
  assert split_digest(load(**SMALL_CLIPS, target='label')) == SMALL_CLIPS_SHA256
  # The next-frame variant's inputs are the same clips.
  nxt = load(**SMALL_CLIPS, target='next_frame')
  for name in ('train', 'validation', 'test'):
    np.testing.assert_array_equal(nxt.split(name)['inputs'], labelled.split(name)['inputs'])


def test_the_target_is_a_generation_parameter():
  args = (5, 14, 1, 2, 40, 20, 0.1)
  label = procedural.moving_digits_config(*args)
  nxt = procedural.moving_digits_config(*args, target='next_frame')
  assert procedural.generation_params(nxt)['target'] == 'next_frame'
  assert procedural.generation_params(label)['target'] == 'label'
  assert label.name != nxt.name and nxt.name.startswith('next_')
  assert procedural.config_hash(label) != procedural.config_hash(nxt)
  with pytest.raises(ConfigError, match="unknown data.target 'frames'"):
    load(**SMALL_CLIPS, target='frames')


# ---------------------------------------------------------------------------
# The task and its baselines


def test_pixel_regression_loss_and_metrics_match_numpy():
  rng = np.random.default_rng(0)
  preds = rng.normal(size=(5, 6, 7, 1)).astype(np.float32)
  targets = rng.random((5, 6, 7, 1)).astype(np.float32)
  weights = np.array([1, 1, 1, 1, 0], np.float32)  # the last row is padding
  task = tasks.get('pixel_regression')
  assert tasks.selection('pixel_regression') == ('mse', 'min')
  batch = {'targets': jnp.asarray(targets), 'weights': jnp.asarray(weights)}
  loss, sums = jax.jit(functools.partial(tasks.loss_and_sums, task))(jnp.asarray(preds), batch)
  err = preds[:4].astype(np.float64) - targets[:4]
  assert float(loss) == pytest.approx(np.mean(err ** 2), rel=1e-5)
  got = tasks.means(task, jax.device_get(sums))
  assert set(got) == {'loss', 'mse', 'mae'}
  assert got['mse'] == pytest.approx(np.mean(err ** 2), rel=1e-5)
  assert got['mae'] == pytest.approx(np.mean(np.abs(err)), rel=1e-5)


def test_persistence_and_mean_baselines_match_numpy():
  dataset = load(**SMALL_CLIPS, target='next_frame')
  train_t = dataset.split('train')['targets'].astype(np.float64)
  for split in ('validation', 'test'):
    x = dataset.split(split)['inputs'].astype(np.float64)
    t = dataset.split(split)['targets'].astype(np.float64)
    got = baselines.baseline_metrics(dataset, split)
    assert set(got) == {'baseline_mean_mse', 'baseline_persistence_mse'}
    assert got['baseline_persistence_mse'] == pytest.approx(np.mean((x[:, -1] - t) ** 2),
                                                            rel=1e-12)
    assert got['baseline_persistence_mse'] > 0  # the digits move
    assert got['baseline_mean_mse'] == pytest.approx(
        np.mean((train_t.mean(0) - t) ** 2), rel=1e-12)
  # A frame that does not change scores 0.
  frames = np.random.default_rng(0).random((3, 4, 5, 5, 1))
  assert baselines.next_frame_persistence_mse(frames, frames[:, -1]) == 0.0


# ---------------------------------------------------------------------------
# Per-pixel heads

FRAMES = DataSpec(input_shape=(4, 12, 12, 1), task='pixel_regression', num_outputs=1,
                  output_shape=(12, 12, 1))
PIXEL_MODELS = [
    dict(name='convlstm', features=(4,), head='pixels'),
    dict(name='convlstm', features=(4, 3), patch_size=3, head='pixels'),
    dict(name='cnn3d', blocks=((4,), (5,)), dense=(6,), pool='flatten', time_pool_size=2,
         head='pixels'),
    dict(name='cnn3d', blocks=((4,),), dense=(), pool='max', head='pixels'),
    dict(name='cnn_lstm', blocks=((4,), (5,)), hidden_size=4, head='pixels'),
]


@pytest.mark.parametrize('cfg', PIXEL_MODELS, ids=str)
def test_pixel_head_output_shape_and_a_gradient_for_every_parameter(cfg):
  model = models.build(ml_collections.ConfigDict(cfg), FRAMES)
  x = jax.random.normal(jax.random.key(1), (3,) + FRAMES.input_shape)
  w = jax.random.normal(jax.random.key(2), (3, 12, 12, 1))

  def loss(p):
    out = model.apply({'params': p}, x)
    return jnp.sum(w * out), out
  params = jax.jit(model.init)(jax.random.key(0), x)['params']
  grads, out = jax.jit(jax.grad(loss, has_aux=True))(params)
  assert out.shape == (3, 12, 12, 1)
  flat = jax.tree_util.tree_flatten_with_path(grads)[0]
  zero = [jax.tree_util.keystr(path) for path, g in flat if not np.any(np.asarray(g) != 0)]
  assert not zero, f'parameters without a gradient: {zero}'


def test_depth_to_space_inverts_space_to_depth():
  x = np.arange(2 * 3 * 6 * 9 * 2).reshape(2, 3, 6, 9, 2)
  cells = space_to_depth(x, 3)
  assert cells.shape == (2, 3, 2, 3, 18)
  for t in range(3):
    np.testing.assert_array_equal(depth_to_space(cells[:, t], 3), x[:, t])


def test_convlstm_pixel_head_reads_each_cell_of_the_final_state():
  # Pixel (r, c) is the output layer applied to the final h of cell (r // p, c // p),
  # its entry (r % p) * p + c % p: the cell's own patch, in space_to_depth's order.
  p, F = 3, 4
  model = models.build(ml_collections.ConfigDict(
      dict(name='convlstm', features=(F,), patch_size=p, head='pixels')), FRAMES)
  x = np.random.default_rng(0).random((2,) + FRAMES.input_shape).astype(np.float32)
  params = jax.jit(model.init)(jax.random.key(0), x)['params']
  out = np.asarray(jax.jit(model.apply)({'params': params}, x))
  _, (_, h) = ConvLSTMLayer(F).apply({'params': params['layer0']}, space_to_depth(x, p))
  h = np.asarray(h, np.float64)
  kernel, bias = (np.asarray(params['out'][k], np.float64) for k in ('kernel', 'bias'))
  for r in range(12):
    for c in range(12):
      j = (r % p) * p + c % p
      want = h[:, r // p, c // p] @ kernel[:, j] + bias[j]
      np.testing.assert_allclose(out[:, r, c, 0], want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize('cfg,message', [
    (dict(name='cnn3d', blocks=((4,),), pool_size=5, head='pixels'),
     "head='pixels' needs the frames' height and width"),
    (dict(name='convlstm', head='image'), "unknown model.head 'image'"),
    (dict(name='cnn_lstm', head='image'), "unknown model.head 'image'"),
    (dict(name='convlstm', features=(4,)), r'to outputs \(1,\), the task needs \(12, 12, 1\)'),
])
def test_bad_pixel_configs(cfg, message):
  with pytest.raises(ConfigError, match=message):
    models.build(ml_collections.ConfigDict(cfg), FRAMES)


@pytest.mark.parametrize('cfg', [
    dict(name='convlstm', head='pixels', patch_size=3),
    dict(name='cnn3d', head='pixels', pool='flatten'),
    dict(name='cnn_lstm', head='pixels'),
], ids=str)
def test_param_budget_sizes_the_pixel_heads(cfg):
  model = models.build(ml_collections.ConfigDict(dict(cfg, param_budget=20_000)), FRAMES)
  assert abs(models.param_count(model, FRAMES) - 20_000) <= 0.05 * 20_000


def test_a_next_frame_config_trains_and_logs_the_baselines(tmp_path):
  config = configlib.load_config_file(os.path.join(CONFIG_DIR, 'moving_digits_next_cnn3d.py'))
  config.data.num_frames, config.data.canvas = 4, 16
  final = train.train_and_evaluate(tiny(config, steps=3, every=3), str(tmp_path / 'run'))
  assert final['step'] == 3
  for key in ('eval/loss', 'eval/mse', 'eval/mae', 'eval/baseline_persistence_mse',
              'eval/baseline_mean_mse'):
    assert np.isfinite(final[key]), key
  assert final['eval/loss'] == pytest.approx(final['eval/mse'])
