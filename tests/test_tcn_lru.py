"""TCN causality and receptive field; LRU against its equations and scan types."""

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from cnn_vs_rnn import models
from cnn_vs_rnn.data import DataSpec
from cnn_vs_rnn.errors import ConfigError
from cnn_vs_rnn.models import lru as lru_lib
from cnn_vs_rnn.models.lru import LRU, LRUNet, linear_recurrence_TxN
from cnn_vs_rnn.models.tcn import TCN, receptive_field
from conftest import check_model_grads_float64, check_vjp, jit_apply, jit_init, outputs_and_vjp

SPEC = DataSpec(input_shape=(40, 1), task='classification', num_outputs=10)


def input_grad_BxTxC(model, variables, x_BxTxC):
  """d sum(outputs) / d inputs."""
  return jax.jit(jax.grad(lambda x: jnp.sum(model.apply(variables, x))))(x_BxTxC)


# ---------------------------------------------------------------------------
# TCN


@pytest.mark.parametrize('weight_norm', [True, False])
def test_tcn_is_causal(weight_norm):
  B, T, C = 4, 12, 3
  model = TCN(2, channels=(5, 6), kernel_size=3, weight_norm=weight_norm, pool='none')
  x = jax.random.normal(jax.random.key(1), (B, T, C))
  variables = jit_init(model, jax.random.key(0), x)
  assert jax.eval_shape(model.apply, variables, x).shape == (B, T, 2)
  # d out[b, t, :] / d x[b', s, :], summed over channels: [B, T, B, T].
  jac = jax.jit(jax.jacrev(lambda x: model.apply(variables, x)))(x)
  dep_TxT = np.abs(np.asarray(jac)).sum(axis=(0, 2, 3, 5))
  for t in range(T):
    assert np.all(dep_TxT[t, t + 1:] == 0), f'output {t} depends on later inputs'
    assert dep_TxT[t, t] != 0


@pytest.mark.parametrize('kernel_size,levels', [(2, 3), (3, 2), (5, 1)])
def test_tcn_receptive_field_matches_gradient_probe(kernel_size, levels):
  rf = receptive_field(kernel_size, levels)
  assert rf == 1 + 2 * (kernel_size - 1) * (2 ** levels - 1)
  model = TCN(3, channels=(8,) * levels, kernel_size=kernel_size)
  assert model.receptive_field() == rf
  B, T, C = 8, rf + 6, 2
  x = jax.random.normal(jax.random.key(1), (B, T, C))
  variables = jit_init(model, jax.random.key(0), x)
  # Summed over a batch and channels so that no dead ReLU hides a step.
  g_T = np.abs(np.asarray(input_grad_BxTxC(model, variables, x))).sum((0, 2))
  seen = np.flatnonzero(g_T)
  np.testing.assert_array_equal(seen, np.arange(T - rf, T))


def test_tcn_weight_norm_is_invariant_to_kernel_scale():
  model = TCN(3, channels=(4, 4), kernel_size=3, weight_norm=True)
  x = jax.random.normal(jax.random.key(1), (4, 9, 2))
  variables = jit_init(model, jax.random.key(0), x)
  scaled = jax.tree_util.tree_map_with_path(
      lambda path, v: v * 3.0 if 'conv' in jax.tree_util.keystr(path)
      and jax.tree_util.keystr(path).endswith("['kernel']") else v, variables)
  apply = jit_apply(model)
  np.testing.assert_allclose(apply(scaled, x), apply(variables, x), rtol=1e-5, atol=1e-5)
  assert not np.allclose(jit_apply(TCN(3, channels=(4, 4), kernel_size=3, weight_norm=False))
                         (scaled, x), apply(variables, x))


def test_tcn_dropout_only_when_training():
  model = TCN(3, channels=(6,), kernel_size=3, dropout=0.5)
  x = jax.random.normal(jax.random.key(1), (4, 9, 2))
  variables = jit_init(model, jax.random.key(0), x)
  apply = jit_apply(model)
  eval_a = apply(variables, x)
  np.testing.assert_array_equal(eval_a, apply(variables, x, train=False))
  train_a = apply(variables, x, train=True, rngs={'dropout': jax.random.key(1)})
  train_b = apply(variables, x, train=True, rngs={'dropout': jax.random.key(2)})
  assert not np.allclose(train_a, eval_a)
  assert not np.allclose(train_a, train_b)


def test_tcn_padding_does_not_change_results():
  rng = np.random.default_rng(2)
  B, T = 4, 10
  model = TCN(3, channels=(5, 5), kernel_size=3, pool='last')
  lengths = np.array([T, 3, 7, 1])
  x = rng.normal(size=(B, T, 2)).astype(np.float32)
  x_noise = np.where(np.arange(T)[None, :, None] < lengths[:, None, None], x, 99.0)
  variables = jit_init(model, jax.random.key(0), x)
  for pool in ('last', 'mean', 'max'):
    m = TCN(3, channels=(5, 5), kernel_size=3, pool=pool)
    batched = jit_apply(m)(variables, x_noise, lengths=jnp.asarray(lengths))
    for b in range(B):
      alone = jit_apply(m)(variables, x[b:b + 1, :lengths[b]])
      np.testing.assert_allclose(batched[b], alone[0], rtol=1e-5, atol=1e-5)



@pytest.mark.parametrize('c,f,k,d', [(15, 15, 3, 2), (31, 30, 5, 8), (10, 10, 3, 1),
                                     (1, 15, 3, 4)])
def test_causal_conv_is_flax_conv_values_and_gradients(c, f, k, d):
  from cnn_vs_rnn.models.tcn import CausalConv
  import flax.linen as nn
  x = jax.random.normal(jax.random.key(1), (4, 40, c))
  flax_conv = nn.Conv(f, (k,), kernel_dilation=(d,), padding=[((k - 1) * d, 0)])
  conv = CausalConv(f, k, d)
  variables = jit_init(flax_conv, jax.random.key(0), x)
  # The same parameters: names, shapes and initial values.
  for a, b in zip(jax.tree.leaves(jit_init(conv, jax.random.key(0), x)), jax.tree.leaves(variables)):
    np.testing.assert_array_equal(a, b)
  variables = jax.tree.map(lambda v: v + 0.1, variables)  # Non-zero biases.
  loss = lambda m: lambda v, x: jnp.sum(jnp.sin(m.apply(v, x)))
  want = jax.jit(jax.value_and_grad(loss(flax_conv), argnums=(0, 1)))(variables, x)
  got = jax.jit(jax.value_and_grad(loss(conv), argnums=(0, 1)))(variables, x)
  for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want)):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------------------
# LRU


def random_lru_params(N, H, seed):
  """Random parameters in the LRU's layout (|lambda| < 1 by construction)."""
  rng = np.random.default_rng(seed)
  f = lambda *s: rng.normal(size=s).astype(np.float32)
  return {'nu_log': np.log(rng.uniform(0.05, 1.0, N)).astype(np.float32),
          'theta_log': np.log(rng.uniform(0.1, 3.0, N)).astype(np.float32),
          'gamma_log': (0.3 * f(N)), 'B_re': f(N, H), 'B_im': f(N, H),
          'C_re': f(H, N), 'C_im': f(H, N), 'D': f(H)}


def numpy_lru(p, u_BxTxH):
  """The LRU's equations, one complex step at a time, in float64/complex128."""
  p = {k: np.asarray(v, np.float64) for k, v in p.items()}
  lam = np.exp(-np.exp(p['nu_log']) + 1j * np.exp(p['theta_log']))
  gamma = np.exp(p['gamma_log'])
  Bm = p['B_re'] + 1j * p['B_im']
  Cm = p['C_re'] + 1j * p['C_im']
  B_, T, H = u_BxTxH.shape
  y = np.zeros((B_, T, H))
  for b in range(B_):
    x = np.zeros(len(lam), complex)
    for t in range(T):
      u = u_BxTxH[b, t].astype(np.float64)
      x = lam * x + gamma * (Bm @ u)
      y[b, t] = (Cm @ x).real + p['D'] * u
  return y


@pytest.mark.parametrize('scan_type', lru_lib.SCAN_TYPES)
def test_lru_matches_numpy_recurrence(scan_type):
  N, H, T = 5, 3, 9
  layer = LRU(N, scan_type=scan_type)
  u = np.random.default_rng(0).normal(size=(4, T, H)).astype(np.float32)
  params = jax.tree.map(jnp.shape, jit_init(layer, jax.random.key(0), u)['params'])
  p = random_lru_params(N, H, seed=1)
  assert jax.tree.map(np.shape, p) == params
  got = jit_apply(layer)({'params': p}, u)
  np.testing.assert_allclose(got, numpy_lru(p, u), rtol=1e-4, atol=1e-4)


def test_lru_init_ring_and_normalisation():
  N, H = 256, 4
  layer = LRU(N, r_min=0.4, r_max=0.9, max_phase=np.pi / 2)
  p = jit_init(layer, jax.random.key(0), jnp.zeros((1, 3, H)))['params']
  lam = np.asarray(lru_lib.lru_lambda(p['nu_log'], p['theta_log']))
  assert np.all((np.abs(lam) >= 0.4 - 1e-5) & (np.abs(lam) <= 0.9 + 1e-5))
  assert np.all((np.angle(lam) >= 0) & (np.angle(lam) <= np.pi / 2 + 1e-5))
  np.testing.assert_allclose(np.exp(p['gamma_log']), np.sqrt(1 - np.abs(lam) ** 2),
                             rtol=1e-5)


@pytest.mark.parametrize('T', [1, 7, 64, 257])
@pytest.mark.parametrize('dtype,tol', [(jnp.float32, 1e-5), (jnp.bfloat16, 2e-2)])
def test_associative_scan_equals_sequential(T, dtype, tol):
  N = 16
  key_lam, key_b = jax.random.split(jax.random.key(T))
  p = jit_init(LRU(N, r_min=0.5, r_max=0.999), key_lam, jnp.zeros((1, 1, 1)))['params']
  lam_N = lru_lib.lru_lambda(p['nu_log'], p['theta_log'])
  bu = jax.random.normal(key_b, (2, T, N)).astype(dtype)
  bu_TxN = jax.lax.complex(bu[0].astype(jnp.float32), bu[1].astype(jnp.float32))
  recurrence = jax.jit(linear_recurrence_TxN, static_argnames='scan_type')
  assoc = recurrence(lam_N, bu_TxN, scan_type='associative')
  seq = recurrence(lam_N, bu_TxN, scan_type='sequential')
  assert assoc.dtype == seq.dtype == jnp.complex64
  np.testing.assert_allclose(assoc, seq, rtol=tol, atol=tol)


@pytest.mark.parametrize('dtype,tol', [(jnp.float32, 1e-4), (jnp.bfloat16, 5e-2)])
def test_lru_model_scan_types_agree(dtype, tol):
  u = jax.random.normal(jax.random.key(0), (4, 65, 3)).astype(dtype)
  net = LRUNet(5, d_model=8, d_state=16, num_layers=2, r_min=0.5, r_max=0.999,
               pool='none')
  variables = jit_init(net, jax.random.key(0), u)
  a = jit_apply(net)(variables, u)
  s = jit_apply(net.clone(scan_type='sequential'))(variables, u)
  assert a.dtype == jnp.float32
  np.testing.assert_allclose(a, s, rtol=tol, atol=tol)


@pytest.mark.parametrize('pool', ['last', 'mean', 'max', 'none'])
def test_lru_padding_does_not_change_results(pool):
  rng = np.random.default_rng(3)
  B, T, C = 4, 11, 2
  model = LRUNet(4, d_model=8, d_state=6, num_layers=2, pool=pool)
  lengths = np.array([T, 3, 8, 1])
  x = rng.normal(size=(B, T, C)).astype(np.float32)
  x_noise = np.where(np.arange(T)[None, :, None] < lengths[:, None, None], x, 99.0)
  variables = jit_init(model, jax.random.key(0), x)
  apply = jit_apply(model)
  batched = apply(variables, x_noise, lengths=jnp.asarray(lengths))
  for b in range(B):
    want = apply(variables, x[b:b + 1, :lengths[b]])[0]
    got = batched[b, :lengths[b]] if pool == 'none' else batched[b]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_lru_dropout_only_when_training():
  model = LRUNet(3, d_model=8, d_state=4, num_layers=1, dropout=0.5)
  x = jax.random.normal(jax.random.key(1), (4, 6, 2))
  variables = jit_init(model, jax.random.key(0), x)
  apply = jit_apply(model)
  eval_out = apply(variables, x)
  np.testing.assert_array_equal(eval_out, apply(variables, x))
  train_out = apply(variables, x, train=True, rngs={'dropout': jax.random.key(1)})
  assert not np.allclose(train_out, eval_out)


# ---------------------------------------------------------------------------
# Both


def test_tcn_gradients_match_finite_differences():
  # In float64 with random (nonzero) biases: at init the zero biases put some
  # ReLU inputs exactly at the kink, and in float32 a finite-difference step
  # large enough to beat rounding often crosses one; neither is a real error.
  with jax.enable_x64(True):
    model = TCN(3, channels=(3, 4), kernel_size=2, weight_norm=True)
    check_model_grads_float64(model, jax.random.normal(jax.random.key(1), (4, 5, 2),
                                                       jnp.float64))


def test_lru_gradients_match_finite_differences():
  # The LRU computes in float32/complex64 whatever the input dtype.
  model = LRUNet(3, d_model=4, d_state=3, num_layers=2, r_min=0.5, r_max=0.95)
  x = jax.random.normal(jax.random.key(1), (4, 6, 2))
  params = jit_init(model, jax.random.key(0), x)['params']
  f = jax.jit(lambda p, x: model.apply({'params': p}, x))
  check_vjp(f, (params, x), atol=1e-2, rtol=1e-2, eps=1e-3)


@pytest.mark.parametrize('cfg', [
    dict(name='tcn', channels=(15, 15, 15, 15), kernel_size=3),
    dict(name='tcn', channels=(8, 8), kernel_size=5, weight_norm=False, pool='mean'),
    dict(name='lru', d_model=16, d_state=16, num_layers=2),
    dict(name='lru', d_model=8, d_state=8, num_layers=1, scan_type='sequential',
         mlp='dense'),
])
def test_registry_builds_from_config_dict(cfg):
  model = models.build(ml_collections.ConfigDict(cfg), SPEC)
  params = jit_init(model, jax.random.key(0), jnp.zeros((4, 40, 1)))['params']
  assert models.count_params(params) > 0
  assert jax.eval_shape(model.apply, {'params': params}, jnp.zeros((4, 40, 1))).shape == (4, 10)


def test_registry_per_step_spec_gives_per_step_outputs():
  spec = DataSpec(input_shape=(12, 2), task='classification', num_outputs=5,
                  per_step=True)
  for cfg in (dict(name='tcn', channels=(4,), kernel_size=3),
              dict(name='lru', d_model=4, d_state=4, num_layers=1)):
    model = models.build(ml_collections.ConfigDict(cfg), spec)
    params = jit_init(model, jax.random.key(0), jnp.zeros((4, 12, 2)))
    assert jax.eval_shape(model.apply, params, jnp.zeros((4, 12, 2))).shape == (4, 12, 5)


@pytest.mark.parametrize('cfg,message', [
    (dict(name='lru', scan_type='parallel'), "unknown model.scan_type 'parallel'"),
    (dict(name='lru', r_min=0.9, r_max=0.5), 'r_min'),
    (dict(name='tcn', channels=()), 'model.channels'),
    (dict(name='tcn', dilations=(1, 2)), "model 'tcn' has no field(s) dilations"),
    (dict(name='tcn', conv_impl='fft'),
     "unknown model.conv_impl 'fft'; valid: auto, canonical, im2col, lax, native"),
    (dict(name='cnn1d', conv_impl='winograd'), "unknown model.conv_impl 'winograd'"),
])
def test_bad_configs(cfg, message):
  with pytest.raises(ConfigError, match=message.replace('(', r'\(').replace(')', r'\)')):
    models.build(ml_collections.ConfigDict(cfg), SPEC)


def test_image_inputs_are_rejected():
  spec = DataSpec(input_shape=(8, 8, 1), task='classification', num_outputs=10)
  for name in ('tcn', 'lru'):
    with pytest.raises(ConfigError, match='takes sequences'):
      models.build(ml_collections.ConfigDict(dict(name=name)), spec)





@pytest.mark.parametrize('scan_type', lru_lib.SCAN_TYPES)
@pytest.mark.parametrize('T', [1, 2, 9, 40])
def test_lru_recurrence_custom_vjp_equals_autodiff_of_the_scan(scan_type, T):
  # The hand-written backward pass against JAX's differentiation of the same scan.
  p = random_lru_params(6, 1, seed=T)
  lambda_N = lru_lib.lru_lambda(p['nu_log'], p['theta_log'])
  re, im, ct_re, ct_im = jax.random.normal(jax.random.key(T), (4, 3, T, 6))
  bu_BxTxN, dx_BxTxN = jax.lax.complex(re, im), jax.lax.complex(ct_re, ct_im)
  plain = lambda lam, bu: lru_lib._recurrence_BxTxN(lam, bu, scan_type)
  custom = lambda lam, bu: lru_lib.linear_recurrence_BxTxN(lam, bu, scan_type)
  want_x, want_ct = outputs_and_vjp(plain, lambda_N, bu_BxTxN, dx_BxTxN)
  got_x, got_ct = outputs_and_vjp(custom, lambda_N, bu_BxTxN, dx_BxTxN)
  np.testing.assert_array_equal(got_x, want_x)
  for got, want in zip(got_ct, want_ct):
    assert got.dtype == want.dtype == jnp.complex64
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * float(np.max(np.abs(want))))
  # Through a real loss, as training uses it.
  loss = lambda f: lambda lam, bu: jnp.sum(jnp.sin(f(lam, bu).real) * f(lam, bu).imag)
  grads = lambda f: jax.jit(jax.grad(loss(f), argnums=(0, 1)))(lambda_N, bu_BxTxN)
  for got, want in zip(grads(custom), grads(plain)):
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * float(np.max(np.abs(want))))
