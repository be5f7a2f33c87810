"""The review's FCN and ResNet (models/fcn.py) against a NumPy forward pass of their equations.

Fawaz et al. 2019: FCN = three (conv -> batch norm -> ReLU) blocks of 128,
256, 128 filters with kernels 8, 5, 3, then global average pooling and a
Dense layer; ResNet = three residual blocks of three such convolutions,
64, 128, 128 filters. The reference below computes them with explicit
'same'-padded correlations, so a wrong padding side, a missing block or a
misplaced ReLU changes its numbers.
"""

import functools

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from cnn_vs_rnn import models
from cnn_vs_rnn.data import DataSpec
from cnn_vs_rnn.errors import ConfigError
from conftest import check_vjp, jit_apply, jit_init

EPS = 1e-5  # Flax BatchNorm's epsilon.


def build(name, spec, **fields):
  return models.build(ml_collections.ConfigDict(dict(name=name, **fields)), spec)


def conv_same(x_TxC, w_KxCxF):
  """'same' correlation, stride 1: pad (K - 1) // 2 before and K // 2 after, as lax does."""
  K = w_KxCxF.shape[0]
  T = x_TxC.shape[0]
  padded = np.pad(x_TxC, (((K - 1) // 2, K // 2), (0, 0)))
  return sum(padded[k:k + T] @ w_KxCxF[k] for k in range(K))


def batch_norm(h, p, s):
  return (h - s['mean']) / np.sqrt(s['var'] + EPS) * p['scale'] + p['bias']


def conv_norm(x, p, s):
  return batch_norm(conv_same(x, np.asarray(p['conv']['kernel'])), p['norm'], s['norm'])


def fcn_reference(x_TxC, params, stats, n_blocks):
  h = x_TxC
  for i in range(n_blocks):
    h = np.maximum(conv_norm(h, params[f'block{i}'], stats[f'block{i}']), 0)
  return h.mean(0) @ params['head']['out']['kernel'] + params['head']['out']['bias']


def resnet_reference(x_TxC, params, stats, n_blocks, n_convs=3):
  h = x_TxC
  for b in range(n_blocks):
    p, s = params[f'block{b}'], stats[f'block{b}']
    y = h
    for i in range(n_convs):
      y = conv_norm(y, p[f'conv{i}'], s[f'conv{i}'])
      y = np.maximum(y, 0) if i < n_convs - 1 else y
    short = (conv_norm(h, p['shortcut'], s['shortcut']) if 'shortcut' in p
             else batch_norm(h, p['shortcut_norm'], s['shortcut_norm']))
    h = np.maximum(y + short, 0)
  return h.mean(0) @ params['head']['out']['kernel'] + params['head']['out']['bias']


def random_variables(model, x, seed=1):
  """init's variables with every parameter and running statistic drawn at random."""
  variables = jit_init(model, jax.random.key(0), jnp.asarray(x))
  rng = np.random.default_rng(seed)
  draw = lambda path, v: (rng.uniform(0.5, 1.5, v.shape) if path[-1].key in ('var', 'scale')
                          else rng.normal(0, 0.3, v.shape)).astype(np.float32)
  return jax.tree_util.tree_map_with_path(draw, jax.device_get(variables))


@pytest.mark.parametrize('name,fields,reference', [
    ('fcn', dict(features=(6, 10, 4), kernel_sizes=(8, 5, 3)), fcn_reference),
    ('resnet1d', dict(features=(5, 7, 7), kernel_sizes=(8, 5, 3)), resnet_reference),
])
def test_forward_pass_is_the_reviews_equations(name, fields, reference):
  spec = DataSpec(input_shape=(19, 2), task='classification', num_outputs=3)
  model = build(name, spec, **fields)
  x = np.random.default_rng(0).normal(size=(4, 19, 2)).astype(np.float32)
  variables = random_variables(model, x)
  out = np.asarray(jax.jit(functools.partial(model.apply, train=False))(variables, jnp.asarray(x)))
  assert out.shape == (4, 3)
  for i in range(4):
    want = reference(x[i].astype(np.float64), variables['params'], variables['batch_stats'],
                     len(fields['features']))
    np.testing.assert_allclose(out[i], want, rtol=2e-4, atol=2e-4)


def test_default_sizes_are_the_reviews():
  """Trainable parameters from the layer sizes: bias-free convs, BN scale and shift, Dense."""
  spec = DataSpec(input_shape=(150, 1), task='classification', num_outputs=2)  # GunPoint
  conv = lambda k, c, f: k * c * f + 2 * f  # kernel + BN scale and bias
  fcn = conv(8, 1, 128) + conv(5, 128, 256) + conv(3, 256, 128) + 128 * 2 + 2
  block = lambda c, f: (conv(8, c, f) + conv(5, f, f) + conv(3, f, f)
                        + (conv(1, c, f) if c != f else 2 * f))
  resnet = block(1, 64) + block(64, 128) + block(128, 128) + 128 * 2 + 2
  assert models.param_count(build('fcn', spec), spec) == fcn == 264_450
  assert models.param_count(build('resnet1d', spec), spec) == resnet == 503_106


@pytest.mark.parametrize('name', ['fcn', 'resnet1d'])
@pytest.mark.parametrize('shape,classes', [((7, 12), 9), ((3, 6), 4)])
def test_output_shapes(name, shape, classes):
  spec = DataSpec(input_shape=shape, task='classification', num_outputs=classes)
  model = build(name, spec, features=(4, 6, 4))
  x = jnp.ones((5,) + shape)
  variables = jit_init(model, jax.random.key(0), x)
  assert jax.jit(model.apply)(variables, x).shape == (5, classes)
  out, _ = jax.jit(functools.partial(model.apply, train=True, mutable=['batch_stats']))(
      variables, x)
  assert out.shape == (5, classes)


@pytest.mark.parametrize('name', ['fcn', 'resnet1d'])
def test_padding_changes_neither_training_outputs_nor_batch_statistics(name):
  """In training, batch norm normalises over the valid steps of the batch only."""
  T, C = 16, 2
  spec = DataSpec(input_shape=(T, C), task='classification', num_outputs=3,
                  variable_length=True)
  model = build(name, spec, features=(4, 6, 6))
  rng = np.random.default_rng(0)
  lengths = np.array([16, 9, 5, 12])
  x = rng.normal(size=(4, T, C)).astype(np.float32)
  valid = np.arange(T)[None, :, None] < lengths[:, None, None]
  variables = jit_init(model, jax.random.key(0), jnp.asarray(x))
  apply = jax.jit(functools.partial(model.apply, train=True, mutable=['batch_stats']))
  results = []
  for scale in (0.0, 100.0):
    padded = np.where(valid, x, rng.normal(size=x.shape) * scale).astype(np.float32)
    results.append(apply(variables, jnp.asarray(padded), lengths=jnp.asarray(lengths)))
  (out_a, stats_a), (out_b, stats_b) = results
  np.testing.assert_allclose(out_a, out_b, rtol=1e-5, atol=1e-5)
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6),
               stats_a, stats_b)


@pytest.mark.parametrize('name', ['fcn', 'resnet1d'])
def test_every_parameter_gets_a_gradient(name):
  spec = DataSpec(input_shape=(12, 2), task='classification', num_outputs=3)
  model = build(name, spec, features=(4, 5, 5))
  x = jnp.asarray(np.random.default_rng(0).normal(size=(6, 12, 2)), jnp.float32)
  labels = jnp.array([0, 1, 2, 0, 1, 2])
  variables = jit_init(model, jax.random.key(0), x)

  def loss(params):
    logits, _ = model.apply({**variables, 'params': params}, x, train=True,
                            mutable=['batch_stats'])
    return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), labels[:, None], 1))

  grads = jax.jit(jax.grad(loss))(variables['params'])
  flat = jax.tree_util.tree_flatten_with_path(grads)[0]
  assert len(flat) == len(jax.tree.leaves(variables['params']))
  for path, g in flat:
    assert float(jnp.abs(g).max()) > 0, jax.tree_util.keystr(path)


@pytest.mark.parametrize('name', ['fcn', 'resnet1d'])
def test_gradients_match_finite_differences(name):
  spec = DataSpec(input_shape=(9, 2), task='classification', num_outputs=2)
  model = build(name, spec, features=(3, 4, 4), kernel_sizes=(4, 3, 2))
  with jax.enable_x64(True):
    x = jnp.asarray(np.random.default_rng(0).normal(size=(3, 9, 2)))
    variables = jax.tree.map(lambda v: jnp.asarray(v, jnp.float64),
                             random_variables(model, x))
    f = jax.jit(lambda p, x: model.apply({**variables, 'params': p}, x, train=False))
    assert f(variables['params'], x).dtype == jnp.float64
    check_vjp(f, (variables['params'], x), eps=1e-6)


@pytest.mark.parametrize('fields,message', [
    (dict(name='fcn', features=(4, 4), kernel_sizes=(3,)),
     'model.features=(4, 4) and model.kernel_sizes=(3,) must have the same length'),
    (dict(name='fcn', pool='sum'), "unknown model.pool 'sum'"),
    (dict(name='resnet1d', kernel_sizes=()), 'model.kernel_sizes=() must name'),
])
def test_bad_fields_are_one_config_error(fields, message):
  spec = DataSpec(input_shape=(12, 1), task='classification', num_outputs=2)
  with pytest.raises(ConfigError, match=message.replace('(', r'\(').replace(')', r'\)')):
    models.build(ml_collections.ConfigDict(fields), spec)


def test_images_are_refused():
  spec = DataSpec(input_shape=(8, 8, 1), task='classification', num_outputs=2)
  with pytest.raises(ConfigError, match=r'fcn takes sequences of shape \(T, C\)'):
    build('fcn', spec)


# ---------------------------------------------------------------------------
# LSTM-FCN (Karim et al. 2018): the FCN beside an LSTM over the shuffled input.


def sigmoid(z):
  return 1 / (1 + np.exp(-z))


def lstm_final_h(x_SxD, p):
  """An LSTM's final state over the S rows of x (gates i, f, u, o; zero initial state)."""
  Wx, bx = p['input']['kernel'], p['input']['bias']
  Wh, bh = p['scan']['cell']['recurrent']['kernel'], p['scan']['cell']['recurrent']['bias']
  H = Wh.shape[0]
  h, c = np.zeros(H), np.zeros(H)
  for x in x_SxD:
    g = x @ Wx + bx + h @ Wh + bh
    i, f, u, o = (g[k * H:(k + 1) * H] for k in range(4))
    c = sigmoid(f) * c + sigmoid(i) * np.tanh(u)
    h = sigmoid(o) * np.tanh(c)
  return h


def lstm_fcn_reference(x_TxC, params, stats, n_blocks):
  h = x_TxC
  for i in range(n_blocks):
    h = np.maximum(conv_norm(h, params[f'block{i}'], stats[f'block{i}']), 0)
  last = lstm_final_h(x_TxC.T, params['lstm'])  # The shuffle: C steps of T values each.
  return np.concatenate([last, h.mean(0)]) @ params['out']['kernel'] + params['out']['bias']


def test_lstm_fcn_is_the_papers_equations():
  spec = DataSpec(input_shape=(11, 3), task='classification', num_outputs=4)
  model = build('lstm_fcn', spec, features=(5, 6, 4), hidden_size=3)
  x = np.random.default_rng(2).normal(size=(4, 11, 3)).astype(np.float32)
  variables = random_variables(model, x)
  out = np.asarray(jax.jit(functools.partial(model.apply, train=False))(variables, x))
  for i in range(4):
    want = lstm_fcn_reference(x[i].astype(np.float64), variables['params'],
                              variables['batch_stats'], 3)
    np.testing.assert_allclose(out[i], want, rtol=2e-4, atol=2e-4)


def test_lstm_fcn_size_on_gunpoint():
  """The FCN's blocks, an LSTM reading 150 values per step (8 cells), Dense of 128 + 8."""
  spec = DataSpec(input_shape=(150, 1), task='classification', num_outputs=2)
  conv = lambda k, c, f: k * c * f + 2 * f
  blocks = conv(8, 1, 128) + conv(5, 128, 256) + conv(3, 256, 128)
  lstm = 150 * 32 + 32 + 8 * 32 + 32  # input kernel and bias, recurrent kernel and bias
  assert models.param_count(build('lstm_fcn', spec), spec) == blocks + lstm + 136 * 2 + 2


def test_lstm_fcn_padding_is_zeros_and_dropout_only_in_training():
  T, C = 12, 2
  spec = DataSpec(input_shape=(T, C), task='classification', num_outputs=3,
                  variable_length=True)
  model = build('lstm_fcn', spec, features=(4, 5, 4), hidden_size=4, dropout=0.5)
  rng = np.random.default_rng(0)
  lengths = np.array([12, 7, 3])
  valid = np.arange(T)[None, :, None] < lengths[:, None, None]
  x = np.where(valid, rng.normal(size=(3, T, C)), 0.0).astype(np.float32)
  garbage = np.where(valid, x, 50.0 * rng.normal(size=x.shape)).astype(np.float32)
  variables = random_variables(model, x)
  apply = jit_apply(model)
  # Built for T steps: padded steps are zeroed, whatever they held.
  np.testing.assert_allclose(apply(variables, garbage, lengths=jnp.asarray(lengths)),
                             apply(variables, x, lengths=jnp.asarray(lengths)),
                             rtol=1e-5, atol=1e-5)
  train = jax.jit(functools.partial(model.apply, train=True, mutable=['batch_stats']))
  # Batch statistics are the same in both calls; only the dropout mask differs.
  one, two = (train(variables, x, rngs={'dropout': jax.random.key(k)})[0] for k in (1, 2))
  assert not np.allclose(one, two)
  np.testing.assert_array_equal(apply(variables, x), apply(variables, x, train=False))


def test_lstm_fcn_gradients_match_finite_differences():
  spec = DataSpec(input_shape=(7, 2), task='classification', num_outputs=2)
  model = build('lstm_fcn', spec, features=(3, 4, 3), kernel_sizes=(4, 3, 2), hidden_size=2)
  with jax.enable_x64(True):
    x = jnp.asarray(np.random.default_rng(0).normal(size=(3, 7, 2)))
    variables = jax.tree.map(lambda v: jnp.asarray(v, jnp.float64), random_variables(model, x))
    f = jax.jit(lambda p, x: model.apply({**variables, 'params': p}, x, train=False))
    check_vjp(f, (variables['params'], x), eps=1e-6)
