"""CRNN, ConvLSTM, 3D CNN and CNN-LSTM; the moving_digits clips and the 'shuffled' view.

ConvLSTM against a NumPy unroll of its equations (gates from one 'SAME'
convolution over [x_t, h_{t-1}]); every parameter of every new model gets a
gradient; padding invariance of the models that take lengths (crnn over
sequences is also in test_padding.py, cnn_lstm over frames here); the clips'
invariants against the generator's own record of positions.
"""

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from cnn_vs_rnn import data, models
from cnn_vs_rnn.data import DataSpec, procedural
from cnn_vs_rnn.errors import ConfigError
from cnn_vs_rnn.models.video import ConvLSTMLayer
from conftest import jit_init

VIDEO = DataSpec(input_shape=(4, 8, 8, 1), task='classification', num_outputs=6)
SEQUENCE = DataSpec(input_shape=(12, 3), task='classification', num_outputs=6)
SPECTROGRAM = DataSpec(input_shape=(12, 10, 1), task='classification', num_outputs=6)


def sigmoid(x):
  return 1.0 / (1.0 + np.exp(-x))


def conv_same(x_BxHxWxC, k_KxKxCxF):
  """'SAME' cross-correlation (odd K), as lax.conv_general_dilated computes it."""
  K = k_KxKxCxF.shape[0]
  p = K // 2
  B, H, W, _ = x_BxHxWxC.shape
  xp = np.pad(x_BxHxWxC, ((0, 0), (p, p), (p, p), (0, 0)))
  out = np.zeros((B, H, W, k_KxKxCxF.shape[-1]))
  for i in range(K):
    for j in range(K):
      out += xp[:, i:i + H, j:j + W] @ k_KxKxCxF[i, j]
  return out


def numpy_convlstm(p, x_BxTxHxWxC, F):
  """Shi et al. (2015) without peepholes: [i f g o] = W * [x_t, h_{t-1}] + b."""
  W = np.concatenate([p['input']['kernel'], p['scan']['recurrent']['kernel']], axis=2)
  B, T, H, Wd, _ = x_BxTxHxWxC.shape
  c = h = np.zeros((B, H, Wd, F))
  outs = []
  for t in range(T):
    g = conv_same(np.concatenate([x_BxTxHxWxC[:, t], h], -1), W) + p['bias']
    i, f, u, o = (g[..., k * F:(k + 1) * F] for k in range(4))
    c = sigmoid(f) * c + sigmoid(i) * np.tanh(u)
    h = sigmoid(o) * np.tanh(c)
    outs.append(h)
  return np.stack(outs, 1), c, h


@pytest.mark.parametrize('impl', ['native', 'im2col'])
def test_convlstm_matches_numpy_equations(impl):
  # Three steps; the first output is one step from the zero state.
  T, F = 3, 3
  x = np.random.default_rng(0).normal(size=(2, T, 5, 6, 2)).astype(np.float32)
  layer = ConvLSTMLayer(F, kernel_size=3, conv_impl=impl)
  params = jax.jit(layer.init)(jax.random.key(0), x)['params']
  np.testing.assert_array_equal(params['bias'][F:2 * F], 1.0)  # forget gate
  rng = np.random.default_rng(1)
  params = jax.tree.map(lambda l: rng.normal(0, 0.5, l.shape).astype(np.float32), params)
  outs, (c, h) = jax.jit(layer.apply)({'params': params}, x)
  want_outs, want_c, want_h = numpy_convlstm(jax.tree.map(np.float64, params), x, F)
  for got, want in ((outs, want_outs), (c, want_c), (h, want_h)):
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('impl', ['native', 'im2col'])
def test_conv3d_is_flax_conv_values_and_gradients(impl):
  import flax.linen as nn
  from cnn_vs_rnn.models.video import Conv3D
  x = jax.random.normal(jax.random.key(1), (2, 4, 5, 6, 3))
  flax_conv = nn.Conv(4, (3, 3, 3), padding='SAME')
  variables = jit_init(flax_conv, jax.random.key(0), x)
  conv = Conv3D(4, 3, impl=impl)
  for a, b in zip(jax.tree.leaves(jit_init(conv, jax.random.key(0), x)), jax.tree.leaves(variables)):
    np.testing.assert_array_equal(a, b)  # the same parameters and initial values
  variables = jax.tree.map(lambda v: v + 0.1, variables)
  loss = lambda m: jax.jit(jax.value_and_grad(
      lambda v, x: jnp.sum(jnp.sin(m.apply(v, x))), argnums=(0, 1)))
  for a, b in zip(jax.tree.leaves(loss(conv)(variables, x)),
                  jax.tree.leaves(loss(flax_conv)(variables, x))):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


CASES = [
    (dict(name='crnn', features=(4, 5), hidden_size=4), SEQUENCE),
    (dict(name='crnn', features=(4,), hidden_size=4, cell='lstm', bidirectional=True,
          pool='mean'), SPECTROGRAM),
    (dict(name='convlstm', features=(4, 3)), VIDEO),
    (dict(name='convlstm', features=(4,), pool='flatten'), VIDEO),
    (dict(name='cnn3d', blocks=((4,), (5,)), dense=(6,)), VIDEO),
    (dict(name='cnn3d', blocks=((4, 4),), dense=(), time_pool_size=2, pool='mean'), VIDEO),
    (dict(name='cnn_lstm', blocks=((4,), (5,)), hidden_size=4), VIDEO),
    (dict(name='cnn_lstm', blocks=((4,),), hidden_size=4, frame_pool='max', cell='gru',
          pool='mean'), VIDEO),
]


@pytest.mark.parametrize('cfg,spec', CASES, ids=[str(c) for c, _ in CASES])
def test_output_shape_and_a_gradient_for_every_parameter(cfg, spec):
  model = models.build(ml_collections.ConfigDict(cfg), spec)
  x = jax.random.normal(jax.random.key(1), (3,) + spec.input_shape)
  w = jax.random.normal(jax.random.key(2), (3, spec.num_outputs))

  def loss(p):
    out = model.apply({'params': p}, x)
    return jnp.sum(w * out), out
  params = jax.jit(model.init)(jax.random.key(0), x)['params']
  grads, out = jax.jit(jax.grad(loss, has_aux=True))(params)
  assert out.shape == (3, spec.num_outputs)
  flat = jax.tree_util.tree_flatten_with_path(grads)[0]
  zero = [jax.tree_util.keystr(path) for path, g in flat if not np.any(np.asarray(g) != 0)]
  assert not zero, f'parameters without a gradient: {zero}'


@pytest.mark.parametrize('cfg,lengths', [
    (dict(name='cnn_lstm', blocks=((4,),), hidden_size=4, bidirectional=True, pool='mean'),
     [4, 2]),
    (dict(name='crnn', features=(4, 4), hidden_size=4, pool='max', kernel_size=5),
     [12, 5]),
])
def test_padding_never_changes_an_output(cfg, lengths):
  # cnn_lstm: frames past a clip's length; crnn: spectrogram rows (time) past its length.
  spec = VIDEO if cfg['name'] == 'cnn_lstm' else SPECTROGRAM
  model = models.build(ml_collections.ConfigDict(cfg), spec)
  rng = np.random.default_rng(0)
  x = rng.normal(size=(len(lengths),) + spec.input_shape).astype(np.float32)
  steps = np.arange(spec.input_shape[0]).reshape((1, -1) + (1,) * (len(spec.input_shape) - 1))
  valid = steps < np.reshape(lengths, (-1,) + (1,) * len(spec.input_shape))
  padded = np.where(valid, x, 100 * rng.normal(size=x.shape)).astype(np.float32)
  variables = jax.jit(model.init)(jax.random.key(0), x[:1])
  apply = jax.jit(model.apply)
  batched = apply(variables, padded, lengths=jnp.asarray(lengths))
  for i, n in enumerate(lengths):
    alone = apply(variables, x[i:i + 1, :n])
    np.testing.assert_allclose(batched[i], alone[0], rtol=1e-5, atol=1e-5)


def test_crnn_hands_the_rnn_the_downsampled_sequence():
  model = models.build(ml_collections.ConfigDict(
      dict(name='crnn', features=(4, 5), hidden_size=3, pool_size=2)), SPECTROGRAM)
  params = jax.eval_shape(model.init, jax.random.key(0),
                          jnp.zeros((1,) + SPECTROGRAM.input_shape))['params']
  # 12 x 10 -> 6 x 5 -> 3 x 3 (ceil): 3 steps of 3 * 5 features.
  assert params['rnn']['layer0_fwd']['input']['kernel'].shape == (15, 9)
  assert params['conv0']['kernel'].shape == (3, 3, 1, 4)


@pytest.mark.parametrize('cfg,spec,message', [
    (dict(name='convlstm'), SEQUENCE, r'convlstm takes video clips of shape \(T, H, W, C\)'),
    (dict(name='cnn_lstm'), SPECTROGRAM, 'cnn_lstm takes video clips'),
    (dict(name='crnn'), VIDEO, 'crnn takes sequences'),
    (dict(name='cnn3d', blocks=((2,),) * 4), VIDEO, 'the pooling after block 3'),
    (dict(name='convlstm', pool='last'), VIDEO, "unknown model.pool 'last'"),
    (dict(name='crnn', cell='rwkv'), SEQUENCE, "unknown model.cell 'rwkv'"),
    (dict(name='cnn_lstm', frame_pool='sum'), VIDEO, "unknown model.pool 'sum'"),
])
def test_bad_configs(cfg, spec, message):
  with pytest.raises(ConfigError, match=message):
    models.build(ml_collections.ConfigDict(cfg), spec)


# ---------------------------------------------------------------------------
# moving_digits


def test_bounce_reflects_at_both_walls():
  got = procedural.bounce(np.array([3, 1, 4]), np.array([2, -3, 0]), 6, high=5)
  np.testing.assert_array_equal(got, [[3, 5, 3, 1, 1, 3],   # 3 5 7->3 9->1 11->1 ...
                                      [1, 2, 5, 2, 1, 4],
                                      [4] * 6])


def test_clips_follow_their_positions_and_labels():
  pools = procedural.digit_image_pools(0.2, 0.1)
  images, labels = pools['validation']
  T, canvas, n = 9, 16, 64
  a = procedural.moving_digits_arrays(images, labels, n, T, canvas, 3, seed=0)
  assert a['x'].shape == (n, T, canvas, canvas, 1) and a['x'].dtype == np.uint8
  high = canvas - 8
  assert a['position'].min() >= 0 and a['position'].max() <= high  # on the canvas
  assert np.all((a['speed'] >= 1) & (a['speed'] <= 3))
  np.testing.assert_array_equal(a['y'], 4 * a['digit'] + a['direction'])
  np.testing.assert_array_equal(np.bincount(a['direction']), [n // 4] * 4)  # balanced
  steps = np.asarray(procedural.MOVING_DIGITS_DIRECTIONS)[a['direction']] * a['speed'][:, None]
  # Frame 0 -> 1 moves by direction x speed; every later step by at most the speed,
  # and only along the direction's axis.
  np.testing.assert_array_equal(a['position'][:, 1] - a['position'][:, 0], steps)
  moves = np.abs(np.diff(a['position'], axis=1))
  assert np.all(moves <= a['speed'][:, None, None])
  for axis in (0, 1):
    assert np.all(moves[steps[:, axis] == 0][..., axis] == 0)
  assert np.any(np.diff(a['position'], axis=1) * steps[:, None] < 0)  # bounces
  # Every frame is the clip's digit image, whole, at its position.
  np.testing.assert_array_equal(labels[a['image']], a['digit'])
  for i in range(n):
    image = images[a['image'][i]]
    for t in range(T):
      r, c = a['position'][i, t]
      np.testing.assert_array_equal(a['x'][i, t, r:r + 8, c:c + 8, 0], image)
      assert a['x'][i, t].sum() == image.sum()


def center_of_mass_TxN2(clips_NxTxHxWx1):
  mass = clips_NxTxHxWx1[..., 0]
  total = mass.sum((2, 3))
  rows = (mass.sum(3) * np.arange(mass.shape[2])).sum(2) / total
  cols = (mass.sum(2) * np.arange(mass.shape[3])).sum(2) / total
  return np.stack([rows, cols], -1)


def direction_from_frames(clips):
  """The direction class of the motion from frame 0 to frame 1 (-1: none)."""
  d = np.round(np.diff(center_of_mass_TxN2(clips)[:, :2], axis=1)[:, 0]).astype(int)
  names = {v: k for k, v in enumerate(procedural.MOVING_DIGITS_DIRECTIONS)}
  return np.array([names.get(tuple(np.sign(v)), -1) for v in d])


SMALL_CLIPS = dict(name='moving_digits', num_train=40, num_test=20, num_frames=5, canvas=14,
                   max_speed=2)


def test_moving_digits_dataset_shapes_labels_and_shuffled_view():
  dataset = data.load(ml_collections.ConfigDict(SMALL_CLIPS))
  assert dataset.spec == DataSpec(input_shape=(5, 14, 14, 1), task='classification',
                                  num_outputs=40)
  sizes = {name: len(s['targets']) for name, s in dataset.splits.items()}
  assert sizes == {'train': 36, 'validation': 4, 'test': 20}
  for split in dataset.splits.values():
    x, y = split['inputs'], split['targets']
    assert x.dtype == np.float32 and 0 <= x.min() and x.max() <= 1 and x.max() > 0.9
    # The whole digit on every frame; the label's direction is frame 0 -> 1's motion.
    mass = x.sum((2, 3, 4))
    np.testing.assert_allclose(mass, mass[:, :1].repeat(5, 1), rtol=1e-6)
    np.testing.assert_array_equal(direction_from_frames(x), y % 4)
  shuffled = data.load(ml_collections.ConfigDict(dict(SMALL_CLIPS, view='shuffled')))
  x, xs = dataset.split('train')['inputs'], shuffled.split('train')['inputs']
  key = lambda clips: np.sort(center_of_mass_TxN2(clips)[..., 0] * 100 +
                              center_of_mass_TxN2(clips)[..., 1], axis=1)
  np.testing.assert_allclose(key(xs), key(x))  # the same frames, each clip reordered
  orders = np.mean([not np.array_equal(a, b) for a, b in zip(x, xs)])
  assert orders > 0.9
  kept = np.mean(np.asarray(direction_from_frames(xs)) == shuffled.split('train')['targets'] % 4)
  assert kept < 0.6


def test_too_small_a_canvas_is_a_config_error():
  with pytest.raises(ConfigError, match='data.canvas=10 leaves the 8x8 digit 2 pixels'):
    data.load(ml_collections.ConfigDict(dict(SMALL_CLIPS, canvas=10, max_speed=3)))


def test_shuffled_view_needs_an_order_to_shuffle_per_example():
  from cnn_vs_rnn.data import transforms
  x = np.arange(2 * 6 * 2).reshape(2, 6, 2)
  fn, shape = transforms.view_fn('shuffled', (6, 2), permutation_seed=3)
  y = fn(x)
  assert shape == (6, 2)
  for a, b in zip(x, y):
    assert sorted(map(tuple, a)) == sorted(map(tuple, b))
  assert not np.array_equal(y[0] - y[0, :1], y[1] - y[1, :1])  # not one shared order
  np.testing.assert_array_equal(fn(x), y)  # the same order every time
  # A split read record by record has no fixed place for an example: refused.
  lazy = data.Dataset(DataSpec((6, 2), 'classification', 3),
                      {'train': lazy_split()})
  with pytest.raises(ConfigError, match="data.view='shuffled' draws one order per example"):
    transforms.apply_view(lazy, 'shuffled')


def lazy_split():
  import dataclasses

  @dataclasses.dataclass
  class Lazy:
    to_arrays: object = None
  return Lazy()
