"""cnn_vs_rnn/kernels: the convolution kernels ('lax', 'canonical', 'im2col'), the resolver,
channel padding, materialisation and the vmap-safe orthogonal init.

References: `lax.conv_general_dilated` and its autodiff gradients, a plain
NumPy convolution written from the definition, and jax's initialisers.
"""

import re

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest
from jax import lax

from cnn_vs_rnn import kernels, models
from cnn_vs_rnn.data import DataSpec
from cnn_vs_rnn.errors import ConfigError
from cnn_vs_rnn.kernels.canonical import channels_last
from conftest import jit_init, outputs_and_vjp

# (input shape, kernel shape, strides, padding, kernel dilation)
CASES = [
    ((6, 40, 1), (5, 1, 7), (2,), [(1, 1)], (1,)),          # mnist1d_cnn's first layer
    ((5, 41, 3), (4, 3, 4), (3,), [(1, 2)], (1,)),          # inputs past the last window
    ((4, 30, 3), (3, 3, 5), (1,), [(8, 0)], (4,)),          # a causal TCN convolution
    ((4, 30, 3), (3, 3, 5), (2,), 'SAME', (2,)),
    ((4, 12, 3), (3, 3, 5), (1,), [(5, 6)], (1,)),          # padding wider than the kernel
    ((3, 9, 11, 2), (3, 2, 2, 4), (2, 1), 'VALID', (1, 2)),
    ((3, 9, 11, 2), (3, 3, 2, 4), (1, 1), 'SAME', (1, 1)),
    ((2, 4, 6, 5, 3), (3, 3, 3, 3, 2), (1, 1, 1), 'SAME', (1, 1, 1)),
]


def _lax(x, w, strides, padding, dilation):
  return lax.conv_general_dilated(x, w, strides, padding, rhs_dilation=dilation,
                                  dimension_numbers=channels_last(x.ndim))


def _ours(x, w, strides, padding, dilation, impl='canonical'):
  return kernels.conv(x, w, strides=strides, padding=padding, dilation=dilation, impl=impl)


def _numpy_conv1d(x, w, stride, pad, dilation):
  """y[b, t, o] = sum_{k, c} x_pad[b, t * stride + k * dilation, c] w[k, c, o]."""
  xp = np.pad(x, ((0, 0), pad, (0, 0)))
  k = w.shape[0]
  t_out = (xp.shape[1] - (k - 1) * dilation - 1) // stride + 1
  y = np.zeros((x.shape[0], t_out, w.shape[2]))
  for t in range(t_out):
    for j in range(k):
      y[:, t] += xp[:, t * stride + j * dilation] @ w[j]
  return y


@pytest.mark.parametrize('x_shape,w_shape,strides,padding,dilation', CASES)
def test_values_and_gradients_equal_lax_autodiff(x_shape, w_shape, strides, padding, dilation):
  x = jax.random.normal(jax.random.PRNGKey(0), x_shape)
  w = jax.random.normal(jax.random.PRNGKey(1), w_shape)
  args = (strides, padding, dilation)
  ref = lambda x, w: _lax(x, w, *args)
  g = jax.random.normal(jax.random.PRNGKey(2), jax.eval_shape(ref, x, w).shape)
  y_ref, grads_ref = outputs_and_vjp(ref, x, w, g)
  y, grads = outputs_and_vjp(lambda x, w: _ours(x, w, *args), x, w, g)
  np.testing.assert_allclose(y, y_ref, rtol=1e-5, atol=1e-5)
  for got, want in zip(grads, grads_ref):
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_gradients_equal_numpy_finite_differences_of_the_definition():
  """An independent reference: d/dw of <g, conv(x, w)> is linear in w, so a central
  difference of the NumPy definition is exact up to float64 rounding."""
  rng = np.random.default_rng(0)
  x, w = rng.normal(size=(3, 17, 2)), rng.normal(size=(3, 2, 4))
  stride, pad, dil = 2, (4, 1), 2
  g = rng.normal(size=_numpy_conv1d(x, w, stride, pad, dil).shape)
  _, vjp = jax.vjp(lambda x, w: _ours(x, w, (stride,), [pad], (dil,)),
                   jnp.asarray(x, jnp.float32), jnp.asarray(w, jnp.float32))
  dx, dw = vjp(jnp.asarray(g, jnp.float32))
  for arr, grad in ((w, dw), (x, dx)):
    num = np.zeros_like(arr)
    for i in np.ndindex(arr.shape):
      e = np.zeros_like(arr)
      e[i] = 1.0
      plus = (x + e, w) if arr is x else (x, w + e)
      minus = (x - e, w) if arr is x else (x, w - e)
      num[i] = (np.sum(g * _numpy_conv1d(*plus, stride, pad, dil))
                - np.sum(g * _numpy_conv1d(*minus, stride, pad, dil))) / 2
    np.testing.assert_allclose(grad, num, rtol=1e-4, atol=1e-4)


def _dim_labels(compiled_text: str) -> list[str]:
  return re.findall(r'convolution\(.*?dim_labels=([^,\s]+)', compiled_text)


@pytest.mark.skipif(jax.default_backend() != 'cpu', reason='XLA:CPU layouts')
@pytest.mark.parametrize('x_shape,w_shape,strides,padding,dilation',
                         [CASES[0], CASES[2], CASES[6]])
def test_every_convolution_of_a_scanned_train_step_is_in_eigen_layout(
    x_shape, w_shape, strides, padding, dilation):
  """Inside a loop body XLA:CPU does not reorder convolutions; ours need no reordering."""
  x = jax.random.normal(jax.random.PRNGKey(0), x_shape)
  w = jax.random.normal(jax.random.PRNGKey(1), w_shape)

  def step(xw, _):
    grads = jax.grad(lambda xw: jnp.sum(_ours(*xw, strides, padding, dilation) ** 2))(xw)
    return jax.tree.map(lambda p, g: p - 1e-3 * g, xw, grads), None

  loop = jax.jit(lambda xw: lax.scan(step, xw, None, length=3)[0])
  labels = _dim_labels(loop.lower((x, w)).compile().as_text())
  n = len(x_shape) - 2
  sp = ''.join(str(i) for i in range(n))
  canonical = f'b{sp}f_{sp}io->b{sp}f'
  assert len(labels) == 3  # forward, input gradient, kernel gradient
  assert labels == [canonical] * 3, labels
  unrolled = jax.jit(lambda xw: step(step(step(xw, 0)[0], 0)[0], 0)[0])
  for got, want in zip(loop((x, w)), unrolled((x, w))):
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_lax_is_lax_unchanged_and_canonical_hands_what_it_cannot_take_to_lax():
  x = jax.random.normal(jax.random.PRNGKey(0), (2, 10, 4))
  w = jax.random.normal(jax.random.PRNGKey(1), (3, 4, 5))
  kw = dict(window_strides=(2,), padding=[(1, 2)], rhs_dilation=(2,),
            dimension_numbers=('NWC', 'WIO', 'NWC'))
  np.testing.assert_array_equal(_ours(x, w, (2,), [(1, 2)], (2,), impl='lax'),
                                lax.conv_general_dilated(x, w, **kw))
  # Operands of two dtypes: lax's own error, not one from inside the custom VJP.
  with pytest.raises(TypeError, match='requires arguments to have the same dtypes'):
    _ours(x.astype(jnp.bfloat16), w, (2,), [(1, 2)], (2,))


def test_vmapped_over_kernels_equals_each_kernel_alone():
  """The seed axis of num_seeds: a vmap over replicas' kernels and inputs."""
  xs = jax.random.normal(jax.random.PRNGKey(0), (3, 4, 20, 2))
  ws = jax.random.normal(jax.random.PRNGKey(1), (3, 3, 2, 5))
  loss = lambda w, x: jnp.sum(jnp.sin(_ours(x, w, (2,), 'SAME', (1,))))
  batched = jax.vmap(jax.grad(loss))(ws, xs)
  for k in range(3):
    np.testing.assert_allclose(batched[k], jax.grad(loss)(ws[k], xs[k]), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('impl', ['canonical', 'im2col', 'lax'])
def test_the_models_conv_layer_is_flax_conv_parameters_and_outputs(impl):
  import flax.linen as nn
  from cnn_vs_rnn.models.conv import Conv
  x = jax.random.normal(jax.random.PRNGKey(0), (3, 16, 4))
  plain = nn.Conv(6, (3,), strides=(2,), padding=[(1, 1)])
  ours = Conv(6, (3,), strides=2, padding=[(1, 1)], impl=impl)
  params = jit_init(plain, jax.random.PRNGKey(1), x)
  assert (jax.tree.map(jnp.shape, jit_init(ours, jax.random.PRNGKey(1), x))
          == jax.tree.map(jnp.shape, params))
  np.testing.assert_allclose(jax.jit(ours.apply)(params, x), jax.jit(plain.apply)(params, x),
                             rtol=1e-6, atol=1e-6)
  g_ours = jax.jit(jax.grad(lambda p: jnp.sum(ours.apply(p, x) ** 2)))(params)
  g_plain = jax.jit(jax.grad(lambda p: jnp.sum(plain.apply(p, x) ** 2)))(params)
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5),
               g_ours, g_plain)


@pytest.mark.parametrize('x_shape,w_shape,strides,padding,dilation', CASES)
def test_im2col_values_and_gradients_equal_lax_autodiff(x_shape, w_shape, strides, padding,
                                                         dilation):
  x = jax.random.normal(jax.random.PRNGKey(0), x_shape)
  w = jax.random.normal(jax.random.PRNGKey(1), w_shape)
  ref = lambda x, w: _lax(x, w, strides, padding, dilation)
  ours = lambda x, w: _ours(x, w, strides, padding, dilation, impl='im2col')
  g = jax.random.normal(jax.random.PRNGKey(2), jax.eval_shape(ref, x, w).shape)
  y_ref, grads_ref = outputs_and_vjp(ref, x, w, g)
  y, grads = outputs_and_vjp(ours, x, w, g)
  np.testing.assert_allclose(y, y_ref, rtol=1e-5, atol=1e-5)
  for got, want in zip(grads, grads_ref):
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
  # Over a seed axis of replicas' kernels: batched matmuls, each replica its own.
  ws = jnp.stack([w, 2 * w, -w])
  np.testing.assert_allclose(jax.jit(jax.vmap(lambda w: ours(x, w)))(ws)[1],
                             jax.jit(ref)(x, 2 * w), rtol=1e-5, atol=1e-5)


def test_im2col_computes_images_too():
  x = jax.random.normal(jax.random.PRNGKey(0), (2, 5, 6, 3))
  w = jax.random.normal(jax.random.PRNGKey(1), (3, 3, 3, 4))
  args = ((1, 1), 'SAME')
  np.testing.assert_allclose(_ours(x, w, *args, (1, 1), impl='im2col'),
                             _lax(x, w, *args, (1, 1)), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('lengths', [None, (40, 23, 7)])
def test_cnn1d_conv_impls_are_one_function(lengths):
  from cnn_vs_rnn.models.cnn import CNN1D
  x = jax.random.normal(jax.random.PRNGKey(0), (3, 40, 2))
  kw = dict(lengths=None if lengths is None else jnp.asarray(lengths))
  xla = CNN1D(10, conv_impl='canonical')
  col = CNN1D(10, conv_impl='im2col')
  params = jit_init(xla, jax.random.PRNGKey(1), x, **kw)
  np.testing.assert_allclose(jax.jit(col.apply)(params, x, **kw),
                             jax.jit(xla.apply)(params, x, **kw), rtol=1e-5, atol=1e-5)
  grads = [jax.jit(jax.grad(lambda p, m=m: jnp.sum(m.apply(p, x, **kw) ** 2)))(params)
           for m in (xla, col)]
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5), *grads)


@pytest.mark.parametrize('weight_norm', [False, True])
def test_tcn_conv_impls_are_one_function(weight_norm):
  from cnn_vs_rnn.models.tcn import TCN
  x = jax.random.normal(jax.random.PRNGKey(0), (3, 30, 2))
  models = [TCN(4, channels=(5, 6), kernel_size=3, weight_norm=weight_norm, conv_impl=impl)
            for impl in ('canonical', 'im2col')]
  params = jit_init(models[0], jax.random.PRNGKey(1), x)
  np.testing.assert_allclose(jax.jit(models[1].apply)(params, x),
                             jax.jit(models[0].apply)(params, x), rtol=1e-5, atol=1e-5)
  grads = [jax.jit(jax.grad(lambda p, m=m: jnp.sum(m.apply(p, x) ** 2)))(params)
           for m in models]
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5), *grads)


@pytest.mark.parametrize('shape', [(7, 7), (5, 20), (20, 5)])
@pytest.mark.parametrize('scale', [1.0, 0.5])
def test_orthogonal_init_is_jax_orthogonal_and_vmaps_one_matrix_at_a_time(shape, scale):
  """The same numbers as jax's orthogonal initialiser, alone and over a batch of keys,
  and under vmap no QR of a batch (jaxlib's batched CPU QR deadlocks a 2-thread pool)."""
  ours, theirs = kernels.orthogonal_init(scale), jax.nn.initializers.orthogonal(scale)
  key = jax.random.key(3)
  np.testing.assert_array_equal(ours(key, shape), theirs(key, shape))
  keys = jax.random.split(key, 3)
  got = jax.jit(jax.vmap(lambda k: ours(k, shape)))(keys)
  np.testing.assert_allclose(got, jax.vmap(lambda k: theirs(k, shape))(keys), atol=1e-6)
  w = np.asarray(got[1], np.float64)
  small = min(shape)
  gram = w @ w.T if shape[0] < shape[1] else w.T @ w
  np.testing.assert_allclose(gram, scale ** 2 * np.eye(small), atol=1e-5)

  def qr_operand_ranks(jaxpr):
    ranks = []
    for eqn in jaxpr.eqns:
      if 'qr' in eqn.primitive.name or 'geqrf' in eqn.primitive.name:
        ranks += [v.aval.ndim for v in eqn.invars]
      for sub in jax.extend.core.jaxprs_in_params(eqn.params):
        ranks += qr_operand_ranks(sub)
    return ranks

  ranks = qr_operand_ranks(jax.make_jaxpr(jax.vmap(lambda k: ours(k, shape)))(keys).jaxpr)
  assert ranks and set(ranks) == {2}, ranks
  theirs_ranks = qr_operand_ranks(
      jax.make_jaxpr(jax.vmap(lambda k: theirs(k, shape)))(keys).jaxpr)
  assert 3 in theirs_ranks  # What the test guards against: jax's batches the QR.



@pytest.mark.skipif(jax.default_backend() != 'cpu', reason="'auto' is lax elsewhere")
def test_padded_channels_only_where_they_add_at_most_a_quarter():
  padded_channels = kernels.padded_channels  # impl 'auto': on CPU, an XLA:CPU kernel
  assert padded_channels(15, 15) == (16, 16)
  assert padded_channels(31, 30) == (32, 32)
  assert padded_channels(60, 60) == (64, 64)
  assert padded_channels(24, 24) == (24, 24)   # already multiples of 8
  assert padded_channels(10, 10) == (10, 10)   # 16 x 16 is 2.56x the MACs
  assert padded_channels(25, 25) == (25, 25)   # 32 x 32 is 1.64x
  assert padded_channels(1, 15) == (1, 15)     # 8 x 16 is 8.5x



@pytest.mark.parametrize('channels', [7, 16, 25])
def test_materialize_is_the_exact_identity_with_identity_gradient(channels):
  MIN_CHANNELS, materialize = kernels.MIN_CHANNELS, kernels.materialize
  x = jnp.asarray(np.random.default_rng(0).normal(size=(3, 5, channels)) * 1e3, jnp.float32)
  x = x.at[0, 0, 0].set(1e-30).at[0, 0, 1].set(-0.0)
  np.testing.assert_array_equal(jax.jit(materialize)(x), x)
  ct = jnp.asarray(np.random.default_rng(1).normal(size=x.shape), jnp.float32)
  np.testing.assert_array_equal(jax.vjp(materialize, x)[1](ct)[0], ct)
  # On CPU: the contraction from MIN_CHANNELS channels on, nothing below.
  dots = str(jax.make_jaxpr(materialize)(x)).count('dot_general')
  assert dots == (channels >= MIN_CHANNELS)

def _conv2d(impl):
  return lambda x, w, strides, padding: kernels.conv(x, w, strides=strides, padding=padding,
                                                     impl=impl)


@pytest.mark.parametrize('kernel,strides,padding', [
    ((3, 3), (1, 1), 'VALID'), ((3, 3), (1, 1), 'SAME'), ((3, 3), (2, 2), 'SAME'),
    ((1, 1), (2, 2), 'SAME'), ((5, 3), (1, 2), 'VALID'), ((4, 4), (1, 1), 'SAME'),
], ids=str)
def test_im2col_conv2d_equals_lax_conv_values_and_gradients(kernel, strides, padding):
  rng = np.random.default_rng(0)
  x = jnp.asarray(rng.normal(size=(3, 9, 10, 4)), jnp.float32)
  w = jnp.asarray(rng.normal(size=kernel + (4, 5)), jnp.float32)
  shape = jax.eval_shape(lambda x, w: _conv2d('lax')(x, w, strides, padding), x, w).shape
  ct = jnp.asarray(rng.normal(size=shape), jnp.float32)
  (ref, want_grads), (got, got_grads) = [
      outputs_and_vjp(lambda x, w, f=f: f(x, w, strides, padding), x, w, ct)
      for f in (_conv2d('lax'), _conv2d('im2col'))]
  assert got.shape == ref.shape
  np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4)
  for want, have in zip(want_grads, got_grads):
    np.testing.assert_allclose(have, want, rtol=1e-4, atol=1e-3)


def test_im2col_conv2d_against_a_numpy_loop():
  rng = np.random.default_rng(1)
  x, w = rng.normal(size=(2, 5, 6, 3)), rng.normal(size=(3, 2, 3, 4))
  want = np.zeros((2, 3, 5, 4))
  for i in range(3):
    for j in range(5):
      want[:, i, j] = np.einsum('bhwc,hwcf->bf', x[:, i:i + 3, j:j + 2], w)
  got = _conv2d('im2col')(jnp.asarray(x, jnp.float32), jnp.asarray(w, jnp.float32),
                          (1, 1), 'VALID')
  np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------------------
# The resolver: config names -> the kernel that runs, once, at models.build.


def test_conv_impls_resolve_per_backend():
  want = {'auto': ('im2col', 'lax'), 'native': ('canonical', 'lax'),
          'lax': ('lax', 'lax'), 'canonical': ('canonical', 'canonical'),
          'im2col': ('im2col', 'im2col')}
  for impl, (cpu, gpu) in want.items():
    assert kernels.resolve_conv(impl, 'cpu') == cpu
    assert kernels.resolve_conv(impl, 'gpu') == gpu
    assert kernels.resolve_conv(cpu) == cpu  # a resolved name stays what it is
  with pytest.raises(ConfigError, match=r"^unknown model.conv_impl 'fft'; valid: auto, "
                                        r'canonical, im2col, lax, native$'):
    kernels.resolve_conv('fft')


@pytest.mark.parametrize('name,impl,want', [
    ('cnn1d', None, 'auto'), ('tcn', None, 'native'), ('tcn', 'auto', 'auto'),
    ('tcn', 'lax', 'lax')])
def test_build_resolves_conv_impl_once(name, impl, want):
  """The built model holds the kernel that runs: its modules never ask the backend."""
  spec = DataSpec(input_shape=(40, 1), task='classification', num_outputs=10)
  cfg = dict(name=name) if impl is None else dict(name=name, conv_impl=impl)
  model = models.build(ml_collections.ConfigDict(cfg), spec)
  assert model.conv_impl == kernels.resolve_conv(want)
  assert model.conv_impl in kernels.KERNELS


# ---------------------------------------------------------------------------
# The fused recurrence: the cells' equations (models/rnn.py) under a plain lax.scan.


def _reference_step(cell, w_h, b_h, activation):
  """One step of `cell` written from its equations, differentiated by autodiff."""
  sig = jax.nn.sigmoid

  def step(carry, xp):
    if cell == 'elman':
      act = jnp.tanh if activation == 'tanh' else jax.nn.relu
      h = act(xp + carry @ w_h + b_h)
      return h, h
    if cell == 'lstm':
      c, h = carry
      i, f, u, o = jnp.split(xp + h @ w_h + b_h, 4, axis=-1)
      c = sig(f) * c + sig(i) * jnp.tanh(u)
      h = sig(o) * jnp.tanh(c)
      return (c, h), h
    xr, xz, xn = jnp.split(xp, 3, axis=-1)
    hr, hz, hn = jnp.split(carry @ w_h + b_h, 3, axis=-1)
    r, z = sig(xr + hr), sig(xz + hz)
    n = jnp.tanh(xn + r * hn)
    h = (1.0 - z) * n + z * carry
    return h, h
  return step


def _reference_recurrence(cell, params, x_TxBxC, activation):
  w_x, b_x, w_h, b_h = params
  h0 = jnp.zeros((x_TxBxC.shape[1], w_h.shape[0]), x_TxBxC.dtype)
  carry = (h0, h0) if cell == 'lstm' else h0
  return lax.scan(_reference_step(cell, w_h, b_h, activation), carry, x_TxBxC @ w_x + b_x)[1]


@pytest.mark.parametrize('cell,activation', [('elman', 'tanh'), ('elman', 'relu'),
                                             ('lstm', 'tanh'), ('gru', 'tanh')])
def test_fused_recurrence_equals_autodiff_of_the_equations(cell, activation):
  T, B, C, H = 6, 3, 4, 5
  gates = {'elman': 1, 'lstm': 4, 'gru': 3}[cell]
  keys = jax.random.split(jax.random.key(0), 5)
  G = gates * H
  params = (jax.random.normal(keys[0], (C, G)), jax.random.normal(keys[1], (G,)),
            jax.random.normal(keys[2], (H, G)) / 2, jax.random.normal(keys[3], (G,)))
  x = jax.random.normal(keys[4], (T, B, C))
  loss = lambda f: lambda p, x: jnp.sum(jnp.sin(f(p, x)))
  fused = lambda p, x: kernels.recurrence(cell, p, x, activation)
  ref = lambda p, x: _reference_recurrence(cell, p, x, activation)
  np.testing.assert_allclose(jax.jit(fused)(params, x), jax.jit(ref)(params, x),
                             rtol=1e-5, atol=1e-5)
  got = jax.jit(jax.grad(loss(fused), argnums=(0, 1)))(params, x)
  want = jax.jit(jax.grad(loss(ref), argnums=(0, 1)))(params, x)
  for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want)):
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)
