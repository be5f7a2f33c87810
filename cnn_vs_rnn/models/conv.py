"""`conv`: `lax.conv_general_dilated` whose gradients stay fast inside loops on XLA:CPU.

XLA:CPU runs a convolution as an Eigen kernel only when its operands are laid
out batch-first, features-last, with the kernel as [*spatial, in, out]. The
pass that rewrites other convolutions into that form (transposes around the
convolution: ConvCanonicalization) visits only a program's entry computation,
so a convolution inside a `lax.scan` or `fori_loop` body keeps the dimension
order autodiff gave it. The two backward convolutions that autodiff makes of
a forward one are not in that order (the kernel gradient contracts the batch
axis; the input gradient reads the kernel as [*spatial, out, in]), and outside
the entry computation they run as XLA's generic loop nest: 15x slower for a
[100, 40, 25] input, which made a scan of K train steps (`steps_per_loop`)
slower than K separate steps for every CNN (experiments/speed).

`conv` computes the same forward convolution and has a hand-written VJP whose
two convolutions are written in the canonical order, with explicit transposes
of their operands. They run as Eigen kernels wherever the convolution sits.
The backward convolutions are the standard ones (Dumoulin & Visin 2016):

  input gradient:  the cotangent dilated by the strides, padded, correlated
                   with the spatially flipped kernel read as [*K, out, in];
  kernel gradient: the input with batch and feature axes swapped, correlated
                   with the cotangent as a kernel [*S_out, batch, out] dilated
                   by the strides, at window strides equal to the kernel's
                   dilation.

Inputs are channels-last ([B, *S, C], kernels [*K, C, F]: flax's layout) with
any strides, padding and kernel dilation, no input dilation and one feature
group. Anything else, and every backend but the CPU, goes to
`lax.conv_general_dilated` unchanged.
"""

from __future__ import annotations

import functools
from typing import Sequence

import jax
import jax.numpy as jnp
from jax import lax


def channels_last(ndim: int) -> tuple[str, str, str]:
  """lax dimension numbers of a channels-last convolution over ndim - 2 spatial axes."""
  if not 3 <= ndim <= 5:
    raise ValueError(f'conv takes 1 to 3 spatial axes, not {ndim - 2}')
  spatial = 'DHW'[5 - ndim:]
  return f'N{spatial}C', f'{spatial}IO', f'N{spatial}C'


def _pairs(padding, in_shape, kernel_shape, strides, dilation):
  if isinstance(padding, str):
    dilated = [(k - 1) * d + 1 for k, d in zip(kernel_shape, dilation)]
    return [tuple(p) for p in lax.padtype_to_pads(in_shape, dilated, strides, padding)]
  return [tuple(int(v) for v in p) for p in padding]


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3, 4))
def _conv(x, w, strides, padding, dilation):
  return lax.conv_general_dilated(x, w, strides, padding, rhs_dilation=dilation,
                                  dimension_numbers=channels_last(x.ndim))


def _conv_fwd(x, w, strides, padding, dilation):
  return _conv(x, w, strides, padding, dilation), (x, w)


def _conv_bwd(strides, padding, dilation, residuals, g):
  x, w = residuals
  n = x.ndim - 2
  dn = channels_last(x.ndim)
  spatial = tuple(range(1, n + 1))
  ks, s_in, s_out = w.shape[:n], x.shape[1:n + 1], g.shape[1:n + 1]
  # Input gradient: a full correlation of the stride-dilated cotangent with the
  # flipped kernel [*K, F, C]; the pads map output positions back onto x's.
  w_flip = lax.transpose(lax.rev(w, tuple(range(n))), (*range(n), n + 1, n))
  pads = []
  for k, d, (lo, _), si, so, st in zip(ks, dilation, padding, s_in, s_out, strides):
    before = (k - 1) * d - lo
    pads.append((before, si - ((so - 1) * st + 1) - before + (k - 1) * d))
  dx = lax.conv_general_dilated(g, w_flip, (1,) * n, pads, lhs_dilation=strides,
                                rhs_dilation=dilation, dimension_numbers=dn)
  # Kernel gradient: batch <-> feature, so that the contraction over the batch
  # and output positions is the canonical one; then [C, *K', F] -> [*K, C, F].
  x_t = lax.transpose(x, (x.ndim - 1, *spatial, 0))      # [C, *S_in, B]
  g_t = lax.transpose(g, (*spatial, 0, g.ndim - 1))       # [*S_out, B, F]
  dw = lax.conv_general_dilated(x_t, g_t, dilation, padding, rhs_dilation=strides,
                                dimension_numbers=dn)     # [C, *K', F], K' >= K
  dw = lax.slice(dw, (0,) * dw.ndim, (dw.shape[0], *ks, dw.shape[-1]))
  return dx.astype(x.dtype), lax.transpose(dw, (*spatial, 0, n + 1)).astype(w.dtype)


_conv.defvjp(_conv_fwd, _conv_bwd)


def conv(lhs, rhs, window_strides: Sequence[int], padding, lhs_dilation=None,
         rhs_dilation=None, dimension_numbers=None, feature_group_count: int = 1,
         batch_group_count: int = 1, precision=None, preferred_element_type=None):
  """`lax.conv_general_dilated` (same signature), with loop-safe gradients on CPU.

  Usable wherever flax takes a `conv_general_dilated` (nn.Conv's field of that
  name). Channels-last, undilated-input, single-group convolutions on the CPU
  take `_conv`; all others, and other backends, call lax directly.
  """
  n = lhs.ndim - 2
  if not (jax.default_backend() == 'cpu' and 1 <= n <= 3 and lhs.dtype == rhs.dtype
          and _plain(lhs.ndim, lhs_dilation, dimension_numbers, feature_group_count,
                     batch_group_count, precision, preferred_element_type)):
    return lax.conv_general_dilated(
        lhs, rhs, window_strides, padding, lhs_dilation, rhs_dilation, dimension_numbers,
        feature_group_count, batch_group_count, precision, preferred_element_type)
  dilation = tuple(rhs_dilation or (1,) * n)
  strides = tuple(int(s) for s in window_strides)
  pads = _pairs(padding, lhs.shape[1:n + 1], rhs.shape[:n], strides, dilation)
  return _conv(lhs, rhs, strides, tuple(pads), dilation)


def _plain(ndim: int, lhs_dilation, dimension_numbers, feature_group_count,
           batch_group_count, precision, preferred_element_type) -> bool:
  """A channels-last convolution with no input dilation, one group, default precision."""
  return (all(v == 1 for v in (lhs_dilation or (1,)))
          and feature_group_count == 1 and batch_group_count == 1
          and precision is None and preferred_element_type is None
          and _is_channels_last(dimension_numbers, ndim))


def _is_channels_last(dimension_numbers, ndim: int) -> bool:
  if dimension_numbers is None:
    return False  # lax's default is channels-first (NCH..., OIH...).
  want = lax.conv_dimension_numbers((1,) * ndim, (1,) * ndim, channels_last(ndim))
  got = lax.conv_dimension_numbers((1,) * ndim, (1,) * ndim, dimension_numbers)
  return got == want


def im2col(lhs, rhs, window_strides: Sequence[int], padding, lhs_dilation=None,
           rhs_dilation=None, dimension_numbers=None, feature_group_count: int = 1,
           batch_group_count: int = 1, precision=None, preferred_element_type=None):
  """A channels-last 1D convolution as one matmul: patches [..., T', K*C] @ kernel [K*C, F].

  The same signature as `conv`; other convolutions go to `conv`. Its gradients
  are matmuls, slices and pads, so vmapping it over replicas' kernels (the seed
  axis of num_seeds) gives batched matmuls instead of the feature-grouped
  convolution that vmapping a convolution over its kernel makes. On the 2-core
  CPU: mnist1d_cnn's train step at 8 seeds took 0.67x the time of `conv`'s.
  """
  if not (lhs.ndim == 3 and _plain(3, lhs_dilation, dimension_numbers, feature_group_count,
                                   batch_group_count, precision, preferred_element_type)):
    return conv(lhs, rhs, window_strides, padding, lhs_dilation, rhs_dilation,
                dimension_numbers, feature_group_count, batch_group_count, precision,
                preferred_element_type)
  k, c, f = rhs.shape
  (stride,), (dilation,) = tuple(window_strides), tuple(rhs_dilation or (1,))
  [(lo, hi)] = _pairs(padding, lhs.shape[1:2], (k,), (stride,), (dilation,))
  x = lax.pad(lhs, lax.full((), 0, lhs.dtype), ((0, 0, 0), (lo, hi, 0), (0, 0, 0)))
  t_out = (x.shape[1] - (k - 1) * dilation - 1) // stride + 1
  # Tap j of output step t reads x[t * stride + j * dilation]: one strided slice per tap.
  patches = jnp.concatenate(
      [lax.slice_in_dim(x, j * dilation, j * dilation + (t_out - 1) * stride + 1, stride, 1)
       for j in range(k)], axis=-1)                       # [B, T', K*C], kernel order
  return patches @ rhs.reshape(k * c, f)


# A resolved `conv_impl` (cnn2d.resolve_conv_impl) -> its convolution function.
BY_IMPL = {'xla': conv, 'im2col': im2col}
