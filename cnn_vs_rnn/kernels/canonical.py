"""`conv`: lax's convolution with a VJP whose convolutions stay Eigen kernels in loops on XLA:CPU.

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
1 to 3 spatial axes, any strides, explicit padding pairs and kernel dilation,
no input dilation and one feature group.
"""

from __future__ import annotations

import functools

import jax
from jax import lax


def channels_last(ndim: int) -> tuple[str, str, str]:
  """lax dimension numbers of a channels-last convolution over ndim - 2 spatial axes."""
  if not 3 <= ndim <= 5:
    raise ValueError(f'conv takes 1 to 3 spatial axes, not {ndim - 2}')
  spatial = 'DHW'[5 - ndim:]
  return f'N{spatial}C', f'{spatial}IO', f'N{spatial}C'


def lax_conv(x, w, strides, padding, dilation):
  """Plain `lax.conv_general_dilated`, channels-last, with autodiff's gradients."""
  return lax.conv_general_dilated(x, w, strides, padding, rhs_dilation=dilation,
                                  dimension_numbers=channels_last(x.ndim))


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3, 4))
def conv(x, w, strides, padding, dilation):
  """`lax_conv` (padding as (lo, hi) pairs) with the canonical-layout VJP below."""
  return lax_conv(x, w, strides, padding, dilation)


def _conv_fwd(x, w, strides, padding, dilation):
  return conv(x, w, strides, padding, dilation), (x, w)


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


conv.defvjp(_conv_fwd, _conv_bwd)


def applies(x, w) -> bool:
  """Whether `conv` takes these operands: 1 to 3 spatial axes and one dtype."""
  return 3 <= x.ndim <= 5 and x.dtype == w.dtype
