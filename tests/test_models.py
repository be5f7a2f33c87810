"""Models against plain NumPy unrolls of their equations, and registry checks."""

import jax
import jax.test_util
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from cnn_vs_rnn import models
from cnn_vs_rnn.data import DataSpec
from cnn_vs_rnn.errors import ConfigError
from cnn_vs_rnn.models.rnn import RNN, Recurrence
from conftest import check_model_grads_float64, check_vjp, jit_init

B, T, C, H = 3, 7, 4, 5


def sigmoid(x):
  return 1.0 / (1.0 + np.exp(-x))


def numpy_unroll(cell, p, x_BxTxC, lengths_B):
  """Step-by-step NumPy reference; steps past an example's length are skipped."""
  Wx, bx = p['input']['kernel'], p['input']['bias']
  Wh, bh = p['scan']['cell']['recurrent']['kernel'], p['scan']['cell']['recurrent']['bias']
  h = np.zeros((x_BxTxC.shape[0], H))
  c = np.zeros_like(h)
  outs = np.zeros((x_BxTxC.shape[0], x_BxTxC.shape[1], H))
  for t in range(x_BxTxC.shape[1]):
    x = x_BxTxC[:, t]
    if cell == 'gru':
      gx, gh = x @ Wx + bx, h @ Wh + bh
      r = sigmoid(gx[:, :H] + gh[:, :H])
      z = sigmoid(gx[:, H:2 * H] + gh[:, H:2 * H])
      n = np.tanh(gx[:, 2 * H:] + r * gh[:, 2 * H:])
      h_new, c_new = (1 - z) * n + z * h, c
    elif cell == 'lstm':
      g = x @ Wx + bx + h @ Wh + bh
      i, f, u, o = (g[:, k * H:(k + 1) * H] for k in range(4))
      c_new = sigmoid(f) * c + sigmoid(i) * np.tanh(u)
      h_new = sigmoid(o) * np.tanh(c_new)
    else:  # elman, tanh
      h_new, c_new = np.tanh(x @ Wx + bx + h @ Wh + bh), c
    valid = (t < lengths_B)[:, None]
    h, c = np.where(valid, h_new, h), np.where(valid, c_new, c)
    outs[:, t] = np.where(valid, h, 0.0)
  return outs, h


def random_params(params, seed):
  leaves, treedef = jax.tree.flatten(params)
  rng = np.random.default_rng(seed)
  return jax.tree.unflatten(treedef, [rng.normal(0, 0.5, l.shape).astype(np.float32)
                                      for l in leaves])


@pytest.mark.parametrize('cell', ['elman', 'lstm', 'gru'])
def test_cell_matches_numpy_equations(cell):
  rng = np.random.default_rng(0)
  x = rng.normal(size=(B, T, C)).astype(np.float32)
  lengths = np.array([T, 4, 1])
  layer = Recurrence(cell, H)
  params = jit_init(layer, jax.random.key(0), x, jnp.asarray(lengths))['params']
  params = random_params(params, 1)
  out, last = layer.apply({'params': params}, x, jnp.asarray(lengths))
  ref_out, ref_last = numpy_unroll(cell, jax.tree.map(np.float64, params), x, lengths)
  np.testing.assert_allclose(out, ref_out, rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(last, ref_last, rtol=1e-5, atol=1e-5)


def test_lstm_forget_bias_starts_at_one():
  params = jit_init(Recurrence('lstm', H), jax.random.key(0), jnp.zeros((1, 2, C)),
                                      jnp.array([2]))['params']
  np.testing.assert_array_equal(params['input']['bias'][H:2 * H], 1.0)
  np.testing.assert_array_equal(params['input']['bias'][:H], 0.0)


def test_irnn_init_is_identity():
  model = RNN('elman', 10, hidden_size=H, activation='relu', irnn_init=True)
  params = jit_init(model, jax.random.key(0), jnp.zeros((1, 2, C)))['params']
  np.testing.assert_array_equal(
      params['layer0_fwd']['scan']['cell']['recurrent']['kernel'], np.eye(H))


@pytest.mark.parametrize('init,scale', [('orthogonal', 0.5), ('identity', 2.0),
                                        ('normal', 1.0), ('normal', 2.0)])
def test_elman_recurrent_inits_and_their_spectral_radius(init, scale):
  """scale * (orthogonal | identity | N(0, 1/H)): spectral radius about `scale`."""
  hidden = 256
  model = RNN('elman', 10, hidden_size=hidden, recurrent_init=init, recurrent_init_scale=scale)
  params = jit_init(model, jax.random.key(0), jnp.zeros((1, 2, C)))['params']
  w = np.asarray(params['layer0_fwd']['scan']['cell']['recurrent']['kernel'], np.float64)
  radius = np.abs(np.linalg.eigvals(w)).max()
  if init == 'normal':
    assert abs(w.std() * np.sqrt(hidden) - scale) < 0.02 * scale
    assert abs(radius - scale) < 0.1 * scale  # The circular law, at H = 256.
  else:
    np.testing.assert_allclose(w.T @ w, scale ** 2 * np.eye(hidden), atol=1e-5)
    np.testing.assert_allclose(radius, scale, rtol=1e-5)
    if init == 'identity':
      np.testing.assert_array_equal(w, scale * np.eye(hidden, dtype=np.float32))


def test_elman_layer_norm_normalises_the_pre_activation():
  model = RNN('elman', 3, hidden_size=H, layer_norm=True, pool='none')
  x = jnp.asarray(np.random.default_rng(0).normal(size=(B, T, C)), jnp.float32)
  variables = jit_init(model, jax.random.key(0), x)
  cell = variables['params']['layer0_fwd']['scan']['cell']
  assert set(cell) == {'recurrent', 'norm'}
  p = jax.tree.map(np.float64, variables['params']['layer0_fwd'])
  h, want = np.zeros((B, H)), []
  for t in range(T):
    pre = (np.asarray(x[:, t], np.float64) @ p['input']['kernel'] + p['input']['bias']
           + h @ cell['recurrent']['kernel'] + cell['recurrent']['bias'])
    pre = (pre - pre.mean(-1, keepdims=True)) / np.sqrt(pre.var(-1, keepdims=True) + 1e-6)
    h = np.tanh(pre * cell['norm']['scale'] + cell['norm']['bias'])
    want.append(h)
  got = jax.jit(Recurrence('elman', H, (('layer_norm', True),)).apply)(
      {'params': variables['params']['layer0_fwd']}, x)[0]
  np.testing.assert_allclose(got, np.stack(want, 1), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize('kwargs', [
    dict(cell='gru', recurrent_init='normal'), dict(cell='lstm', layer_norm=True),
    dict(cell='elman', recurrent_init='uniform'),
    dict(cell='elman', irnn_init=True, recurrent_init='normal'),
    dict(cell='elman', layer_norm=True, recurrence='fused')], ids=str)
def test_bad_elman_init_options_are_config_errors(kwargs):
  with pytest.raises(ConfigError):
    RNN(num_outputs=2, **kwargs).check_input((T, C))



@pytest.mark.parametrize('cell', ['lstm', 'gru'])
def test_padding_does_not_change_results(cell):
  rng = np.random.default_rng(2)
  model = RNN(cell, 6, hidden_size=H, num_layers=2, bidirectional=True, pool='mean')
  lengths = np.array([T, 3, 5])
  x = rng.normal(size=(B, T, C)).astype(np.float32)
  x_noise = np.where(np.arange(T)[None, :, None] < lengths[:, None, None], x, 99.0)
  params = jit_init(model, jax.random.key(0), x)
  apply = jax.jit(model.apply)
  batched = apply(params, x_noise, lengths=jnp.asarray(lengths))
  for b in range(B):
    alone = apply(params, x[b:b + 1, :lengths[b]])
    np.testing.assert_allclose(batched[b], alone[0], rtol=1e-5, atol=1e-5)


def test_bidirectional_is_forward_plus_reversed_backward():
  rng = np.random.default_rng(3)
  x = rng.normal(size=(B, T, C)).astype(np.float32)
  lengths = np.array([T, 2, 5])
  model = RNN('gru', 6, hidden_size=H, bidirectional=True, pool='none')
  variables = jit_init(model, jax.random.key(0), x)
  p = jax.tree.map(np.float64, variables['params'])
  fwd, _ = numpy_unroll('gru', p['layer0_fwd'], x, lengths)
  bwd = np.zeros_like(fwd)
  for b in range(B):
    L = lengths[b]
    rev, _ = numpy_unroll('gru', p['layer0_bwd'], x[b:b + 1, :L][:, ::-1], np.array([L]))
    bwd[b, :L] = rev[0, ::-1]
  feats = np.concatenate([fwd, bwd], -1)
  want = feats @ p['head']['out']['kernel'] + p['head']['out']['bias']
  got = jax.jit(model.apply)(variables, x, lengths=jnp.asarray(lengths))
  mask = (np.arange(T)[None, :] < lengths[:, None])[..., None]
  np.testing.assert_allclose(np.where(mask, got, 0), np.where(mask, want, 0),
                             rtol=1e-5, atol=1e-5)


SPEC = DataSpec(input_shape=(40, 1), task='classification', num_outputs=10)


@pytest.mark.parametrize('cfg,count', [
    # The MNIST-1D reference models' published sizes (Greydanus 2020).
    (dict(name='cnn1d'), 5210),
    (dict(name='gru', hidden_size=6, bidirectional=True, pool='flatten'), 5134),
    (dict(name='mlp', features=(100, 100)), 15210),  # Greydanus's MLP.
])
def test_reference_parameter_counts(cfg, count):
  model = models.build(ml_collections.ConfigDict(cfg), SPEC)
  params = jit_init(model, jax.random.key(0), jnp.zeros((1, 40, 1)))['params']
  assert models.count_params(params) == count


@pytest.mark.parametrize('cfg,message', [
    (dict(name='transformer'),
     "unknown model 'transformer'; valid: " + ', '.join(sorted(models.MODELS))),
    (dict(name='gru', kernel_sizes=(3,)), "model 'gru' has no field(s) kernel_sizes"),
    (dict(name='cnn1d', strides=(8, 8, 8), padding=0), 'leaves no output'),
    (dict(name='gru', pool='median'), "unknown model.pool 'median'"),
    (dict(name='lstm', recurrence='cudnn'),
     "unknown model.recurrence 'cudnn'; valid: scan, fused"),
    (dict(name='gru', recurrence='fused', remat=True),
     "model.remat applies to recurrence='scan'"),
])
def test_bad_model_configs(cfg, message):
  with pytest.raises(ConfigError, match=message.replace('(', r'\(').replace(')', r'\)')):
    models.build(ml_collections.ConfigDict(cfg), SPEC)


def test_the_finite_difference_check_catches_a_gradient_one_percent_off():
  @jax.custom_vjp
  def sin(x):
    return jnp.sin(x)
  sin.defvjp(lambda x: (jnp.sin(x), x), lambda x, g: (1.01 * jnp.cos(x) * g,))
  with jax.enable_x64(True):
    x = jnp.linspace(0.0, 1.0, 5, dtype=jnp.float64)
    check_vjp(jnp.sin, (x,))
    with pytest.raises(AssertionError, match='cotangent projection'):
      check_vjp(sin, (x,))


@pytest.mark.parametrize('cfg,shape', [
    (dict(name='elman', hidden_size=3), (5, 2)),
    (dict(name='lstm', hidden_size=3, num_layers=2), (5, 2)),
    (dict(name='gru', hidden_size=3, bidirectional=True, pool='mean'), (5, 2)),
    (dict(name='elman', hidden_size=3, recurrence='fused', num_layers=2), (5, 2)),
    (dict(name='elman', hidden_size=3, recurrence='fused', activation='relu'), (5, 2)),
    (dict(name='lstm', hidden_size=3, recurrence='fused', num_layers=2), (5, 2)),
    (dict(name='gru', hidden_size=3, recurrence='fused', bidirectional=True, pool='mean'),
     (5, 2)),
    (dict(name='cnn1d', features=(3, 4), kernel_sizes=(3, 3), strides=(1, 2)), (8, 2)),
    (dict(name='cnn2d', blocks=((3,),), dense=(4,), norm='layer'), (6, 6, 1)),
    (dict(name='resnet', stage_sizes=(1, 1), width=2, norm='group', norm_groups=2),
     (4, 4, 1)),
])
def test_gradients_match_finite_differences(cfg, shape):
  # float64 and random non-zero parameters, so that finite differences are
  # exact enough and no ReLU input sits on its kink.
  with jax.enable_x64(True):
    spec = DataSpec(input_shape=shape, task='classification', num_outputs=3)
    model = models.build(ml_collections.ConfigDict(cfg), spec)
    check_model_grads_float64(model, jax.random.normal(jax.random.key(1), (2,) + shape,
                                                       jnp.float64))


# ---------------------------------------------------------------------------
# The 'fused' recurrence (kernels.recurrence, kernels/fused_rnn.py): the 'scan' path's function.


def loss_and_grads(model, variables, x):
  """sum(sin(outputs)) and its gradients in (variables, x), as one compiled program."""
  loss = lambda v, x: jnp.sum(jnp.sin(model.apply(v, x)))
  return jax.jit(jax.value_and_grad(loss, argnums=(0, 1)))(variables, x)


@pytest.mark.parametrize('cfg', [
    dict(name='elman'), dict(name='elman', activation='relu', irnn_init=True),
    dict(name='elman', activation='relu', recurrent_init='normal', recurrent_init_scale=0.5),
    dict(name='lstm'), dict(name='gru'),
    dict(name='lstm', num_layers=2, bidirectional=True, pool='mean'),
    dict(name='gru', num_layers=2, pool='max'),
], ids=str)
def test_fused_recurrence_equals_scan_values_and_gradients(cfg):
  spec = DataSpec(input_shape=(9, 3), task='classification', num_outputs=4)
  x = jnp.asarray(np.random.default_rng(0).normal(size=(5, 9, 3)), jnp.float32)
  scan = models.build(ml_collections.ConfigDict(dict(cfg, hidden_size=6)), spec)
  fused = models.build(ml_collections.ConfigDict(dict(cfg, hidden_size=6,
                                                      recurrence='fused')), spec)
  variables = jax.jit(scan.init)(jax.random.key(0), x)
  # Same parameter names, shapes and initial values.
  fused_variables = jax.jit(fused.init)(jax.random.key(0), x)
  assert jax.tree.structure(fused_variables) == jax.tree.structure(variables)
  for a, b in zip(jax.tree.leaves(fused_variables), jax.tree.leaves(variables)):
    np.testing.assert_array_equal(a, b)
  variables = jax.tree.map(lambda l: l * 3.0, variables)  # Larger weights: saturating gates.
  want = loss_and_grads(scan, variables, x)
  got = loss_and_grads(fused, variables, x)
  np.testing.assert_allclose(got[0], want[0], rtol=1e-5, atol=1e-5)
  for a, b in zip(jax.tree.leaves(got[1]), jax.tree.leaves(want[1])):
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize('cell', ['elman', 'lstm', 'gru'])
def test_fused_recurrence_matches_numpy_equations(cell):
  rng = np.random.default_rng(2)
  x = rng.normal(size=(B, T, C)).astype(np.float32)
  layer = Recurrence(cell, H, recurrence='fused')
  params = random_params(jit_init(layer, jax.random.key(0), x)['params'], 3)
  out, last = layer.apply({'params': params}, x)
  ref_out, ref_last = numpy_unroll(cell, jax.tree.map(np.float64, params), x, np.full(B, T))
  np.testing.assert_allclose(out, ref_out, rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(last, ref_last, rtol=1e-5, atol=1e-5)


def test_fused_recurrence_with_lengths_takes_the_masked_scan():
  rng = np.random.default_rng(4)
  x = rng.normal(size=(B, T, C)).astype(np.float32)
  lengths = jnp.asarray([T, 4, 1])
  scan, fused = Recurrence('gru', H), Recurrence('gru', H, recurrence='fused')
  params = random_params(jit_init(scan, jax.random.key(0), x, lengths)['params'], 5)
  for a, b in zip(fused.apply({'params': params}, x, lengths),
                  scan.apply({'params': params}, x, lengths)):
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


def test_mlp_matches_numpy_and_ignores_padding():
  spec = DataSpec(input_shape=(6, 2), task='classification', num_outputs=3)
  model = models.build(ml_collections.ConfigDict(dict(name='mlp', features=(5, 4))), spec)
  x = np.random.default_rng(1).normal(size=(2, 6, 2)).astype(np.float32)
  p = random_params(jit_init(model, jax.random.key(0), jnp.zeros((1, 6, 2)))['params'], 2)
  relu = lambda a: np.maximum(a, 0)
  h = relu(x.reshape(2, 12) @ p['dense0']['kernel'] + p['dense0']['bias'])
  h = relu(h @ p['dense1']['kernel'] + p['dense1']['bias'])
  want = h @ p['out']['kernel'] + p['out']['bias']
  np.testing.assert_allclose(model.apply({'params': p}, x), want, rtol=1e-5, atol=1e-5)
  lengths = np.array([4, 6])
  noisy = x.copy()
  noisy[0, 4:] = 99.0  # Padding past the first example's length.
  np.testing.assert_allclose(model.apply({'params': p}, noisy, lengths=lengths),
                             model.apply({'params': p}, x, lengths=lengths), rtol=1e-6)


def test_mlp_per_step_outputs_see_the_whole_input():
  spec = DataSpec(input_shape=(5, 3), task='per_step_classification', num_outputs=4,
                  per_step=True)
  model = models.build(ml_collections.ConfigDict(dict(name='mlp', features=(8,))), spec)
  x = np.random.default_rng(0).normal(size=(2, 5, 3)).astype(np.float32)
  params = jit_init(model, jax.random.key(0), x)['params']
  out = model.apply({'params': params}, x)
  assert out.shape == (2, 5, 4)
  later = x.copy()
  later[:, -1] += 1.0  # The last input step moves the first output step too: no causality.
  assert not np.allclose(model.apply({'params': params}, later)[:, 0], out[:, 0])
