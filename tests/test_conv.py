"""models/conv.py: lax's convolution with a VJP whose convolutions XLA:CPU runs as Eigen kernels.

References: `lax.conv_general_dilated` and its autodiff gradients, and a
plain NumPy convolution written from the definition.
"""

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from cnn_vs_rnn.models.conv import channels_last, conv, im2col

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


def _ours(x, w, strides, padding, dilation):
  return conv(x, w, strides, padding, rhs_dilation=dilation,
              dimension_numbers=channels_last(x.ndim))


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
  y_ref, vjp_ref = jax.vjp(lambda x, w: _lax(x, w, *args), x, w)
  y, vjp = jax.vjp(lambda x, w: _ours(x, w, *args), x, w)
  np.testing.assert_allclose(y, y_ref, rtol=1e-5, atol=1e-5)
  g = jax.random.normal(jax.random.PRNGKey(2), y.shape)
  for got, want in zip(vjp(g), vjp_ref(g)):
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


def test_other_layouts_and_grouped_convolutions_are_lax_unchanged():
  x = jax.random.normal(jax.random.PRNGKey(0), (2, 4, 10))   # channels first: N C W
  w = jax.random.normal(jax.random.PRNGKey(1), (6, 2, 3))    # O I W, two groups
  kw = dict(window_strides=(1,), padding='SAME', feature_group_count=2)
  np.testing.assert_array_equal(conv(x, w, **kw), lax.conv_general_dilated(x, w, **kw))
  x_last = jnp.transpose(x, (0, 2, 1))
  w_last = jax.random.normal(jax.random.PRNGKey(2), (3, 4, 5))
  dil = dict(window_strides=(1,), padding=[(0, 0)], lhs_dilation=(2,),
             dimension_numbers=('NWC', 'WIO', 'NWC'))
  np.testing.assert_array_equal(conv(x_last, w_last, **dil),
                                lax.conv_general_dilated(x_last, w_last, **dil))


def test_vmapped_over_kernels_equals_each_kernel_alone():
  """The seed axis of num_seeds: a vmap over replicas' kernels and inputs."""
  xs = jax.random.normal(jax.random.PRNGKey(0), (3, 4, 20, 2))
  ws = jax.random.normal(jax.random.PRNGKey(1), (3, 3, 2, 5))
  loss = lambda w, x: jnp.sum(jnp.sin(_ours(x, w, (2,), 'SAME', (1,))))
  batched = jax.vmap(jax.grad(loss))(ws, xs)
  for k in range(3):
    np.testing.assert_allclose(batched[k], jax.grad(loss)(ws[k], xs[k]), rtol=1e-5, atol=1e-5)


def test_flax_conv_with_it_keeps_its_parameters_and_outputs():
  import flax.linen as nn
  x = jax.random.normal(jax.random.PRNGKey(0), (3, 16, 4))
  plain = nn.Conv(6, (3,), strides=(2,), padding=[(1, 1)])
  ours = nn.Conv(6, (3,), strides=(2,), padding=[(1, 1)], conv_general_dilated=conv)
  params = plain.init(jax.random.PRNGKey(1), x)
  assert (jax.tree.map(jnp.shape, ours.init(jax.random.PRNGKey(1), x))
          == jax.tree.map(jnp.shape, params))
  np.testing.assert_allclose(ours.apply(params, x), plain.apply(params, x), rtol=1e-6, atol=1e-6)
  g_ours = jax.grad(lambda p: jnp.sum(ours.apply(p, x) ** 2))(params)
  g_plain = jax.grad(lambda p: jnp.sum(plain.apply(p, x) ** 2))(params)
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5),
               g_ours, g_plain)


@pytest.mark.parametrize('x_shape,w_shape,strides,padding,dilation',
                         [c for c in CASES if len(c[0]) == 3])
def test_im2col_values_and_gradients_equal_lax_autodiff(x_shape, w_shape, strides, padding,
                                                         dilation):
  x = jax.random.normal(jax.random.PRNGKey(0), x_shape)
  w = jax.random.normal(jax.random.PRNGKey(1), w_shape)
  ref = lambda x, w: _lax(x, w, strides, padding, dilation)
  ours = lambda x, w: im2col(x, w, strides, padding, rhs_dilation=dilation,
                             dimension_numbers=channels_last(3))
  y_ref, vjp_ref = jax.vjp(ref, x, w)
  y, vjp = jax.vjp(ours, x, w)
  np.testing.assert_allclose(y, y_ref, rtol=1e-5, atol=1e-5)
  g = jax.random.normal(jax.random.PRNGKey(2), y.shape)
  for got, want in zip(vjp(g), vjp_ref(g)):
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
  # Over a seed axis of replicas' kernels: batched matmuls, each replica its own.
  ws = jnp.stack([w, 2 * w, -w])
  np.testing.assert_allclose(jax.vmap(lambda w: ours(x, w))(ws)[1], ref(x, 2 * w),
                             rtol=1e-5, atol=1e-5)


def test_im2col_hands_images_to_conv():
  x = jax.random.normal(jax.random.PRNGKey(0), (2, 5, 6, 3))
  w = jax.random.normal(jax.random.PRNGKey(1), (3, 3, 3, 4))
  args = ((1, 1), 'SAME')
  np.testing.assert_allclose(im2col(x, w, *args, dimension_numbers=channels_last(4)),
                             _lax(x, w, *args, (1, 1)), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('lengths', [None, (40, 23, 7)])
def test_cnn1d_conv_impls_are_one_function(lengths):
  from cnn_vs_rnn.models.cnn import CNN1D
  x = jax.random.normal(jax.random.PRNGKey(0), (3, 40, 2))
  kw = dict(lengths=None if lengths is None else jnp.asarray(lengths))
  xla = CNN1D(10, conv_impl='xla')
  col = CNN1D(10, conv_impl='im2col')
  params = xla.init(jax.random.PRNGKey(1), x, **kw)
  np.testing.assert_allclose(col.apply(params, x, **kw), xla.apply(params, x, **kw),
                             rtol=1e-5, atol=1e-5)
  grads = [jax.grad(lambda p: jnp.sum(m.apply(p, x, **kw) ** 2))(params) for m in (xla, col)]
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5), *grads)


@pytest.mark.parametrize('weight_norm', [False, True])
def test_tcn_conv_impls_are_one_function(weight_norm):
  from cnn_vs_rnn.models.tcn import TCN
  x = jax.random.normal(jax.random.PRNGKey(0), (3, 30, 2))
  models = [TCN(4, channels=(5, 6), kernel_size=3, weight_norm=weight_norm, conv_impl=impl)
            for impl in ('xla', 'im2col')]
  params = models[0].init(jax.random.PRNGKey(1), x)
  np.testing.assert_allclose(models[1].apply(params, x), models[0].apply(params, x),
                             rtol=1e-5, atol=1e-5)
  grads = [jax.grad(lambda p: jnp.sum(m.apply(p, x) ** 2))(params) for m in models]
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5), *grads)
