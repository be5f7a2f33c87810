"""`conv`: the one convolution op of the models, computed by the kernel `impl` names.

  conv(x [B, *S, C], kernel [*K, C, F], strides=, padding=, dilation=, impl=) -> [B, *S', F]

is `lax.conv_general_dilated` in flax's channels-last layout, with kernel
dilation, no input dilation and one feature group, whichever kernel computes
it (kernels/resolve.py): 'lax', 'canonical' (kernels/canonical.py) or
'im2col' (kernels/im2col.py). 'canonical' takes 1 to 3 spatial axes and
operands of one dtype; others go to lax.

`pad_channels=True` lets an XLA:CPU kernel run with the input and output
channels zero-padded up to multiples of 8 where that adds at most a quarter
to the multiply-adds (`padded_channels`): XLA:CPU's convolutions are much
slower at other widths. The extra channels add exact zeros and are sliced
off. The TCN's causal convolutions ask for it: mnist1d_tcn (15 channels,
padded to 16) 0.70x the train step; 31 and 60 channels 0.90x and 0.84x; 10
or 25 channels are left alone (padding them to 16 or 32 was slower:
experiments/speed).
"""

from __future__ import annotations

from typing import Sequence

from jax import lax
import jax.numpy as jnp

from cnn_vs_rnn.kernels import canonical, im2col
from cnn_vs_rnn.kernels.resolve import is_cpu_kernel, resolve_conv

CHANNEL_MULTIPLE = 8
MAX_PADDED_GROWTH = 1.25


def padded_channels(c_in: int, c_out: int, impl: str = 'auto') -> tuple[int, int]:
  """(c_in, c_out) rounded up to multiples of 8 for an XLA:CPU kernel where that
  adds at most 25% MACs; unchanged otherwise."""
  up = lambda c: -(-c // CHANNEL_MULTIPLE) * CHANNEL_MULTIPLE
  if not is_cpu_kernel(impl) or up(c_in) * up(c_out) > MAX_PADDED_GROWTH * c_in * c_out:
    return c_in, c_out
  return up(c_in), up(c_out)


def padding_pairs(padding, in_shape, kernel_shape, strides, dilation) -> tuple:
  """'SAME', 'VALID' or (lo, hi) pairs -> (lo, hi) pairs, as lax computes them."""
  if isinstance(padding, str):
    dilated = [(k - 1) * d + 1 for k, d in zip(kernel_shape, dilation)]
    return tuple(tuple(p) for p in lax.padtype_to_pads(in_shape, dilated, strides, padding))
  return tuple(tuple(int(v) for v in p) for p in padding)


def _kernel(impl: str, x, w):
  name = resolve_conv(impl)
  if name == 'im2col':
    return im2col.conv
  if name == 'canonical' and canonical.applies(x, w):
    return canonical.conv
  return canonical.lax_conv


def conv(x, kernel, *, strides: Sequence[int] | None = None, padding='VALID',
         dilation: Sequence[int] | None = None, impl: str = 'auto',
         pad_channels: bool = False):
  """The channels-last convolution of x [B, *S, C] with kernel [*K, C, F].

  `strides` and `dilation` (of the kernel) default to 1 on every spatial axis;
  `padding` is 'SAME', 'VALID' or one (lo, hi) pair per spatial axis; `impl`
  a conv_impl name (kernels/resolve.py).
  """
  n = x.ndim - 2
  strides = tuple(int(s) for s in (strides or (1,) * n))
  dilation = tuple(int(d) for d in (dilation or (1,) * n))
  pads = padding_pairs(padding, x.shape[1:n + 1], kernel.shape[:n], strides, dilation)
  c, f = kernel.shape[-2:]
  cp, fp = padded_channels(c, f, impl) if pad_channels else (c, f)
  if (cp, fp) != (c, f):
    x = jnp.pad(x, ((0, 0),) * (n + 1) + ((0, cp - c),))
    kernel = jnp.pad(kernel, ((0, 0),) * n + ((0, cp - c), (0, fp - f)))
  y = _kernel(impl, x, kernel)(x, kernel, strides, pads, dilation)
  return y[..., :f] if fp != f else y
