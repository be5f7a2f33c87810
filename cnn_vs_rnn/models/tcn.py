"""Temporal convolutional network (Bai, Kolter & Koltun 2018).

A stack of residual blocks, one per level. Level l has two dilated causal
convolutions with dilation 2**l (each padded on the left only, so the output
at step t sees inputs at steps <= t), each followed by ReLU and dropout; the
block adds its input (through a 1x1 convolution when the channel counts
differ) and applies ReLU:

  h   = dropout(relu(causal_conv_d(x)))
  h   = dropout(relu(causal_conv_d(h)))
  out = relu(h + (x or conv1x1(x)))

With optional weight normalisation (Salimans & Kingma 2016) every
convolution kernel is g * v / ||v|| per output channel (`nn.WeightNorm`).

The output at step t depends on exactly `receptive_field(kernel_size, levels)`
= 1 + 2 (k - 1) (2**L - 1) input steps, t - RF + 1 .. t. Because the net is
causal, padding past an example's length never changes its outputs at valid
steps, and the 'last' readout reads step length - 1.

On CPU, a convolution whose channel counts are not multiples of 8 runs with
its input and output channels zero-padded up to multiples of 8 when that adds
at most a quarter to its multiply-adds (`padded_channels`): XLA:CPU's
convolutions are much slower at such widths. The extra channels add exact
zeros and are sliced off; the parameters keep their shapes. mnist1d_tcn
(15 channels, padded to 16): 0.70x the train step; 31 and 60 channels 0.90x
and 0.84x; 10 or 25 channels are left alone (padding them to 16 or 32 was
slower: experiments/speed).

`conv_impl` computes the same convolutions, over the same parameters, as
`lax.conv_general_dilated` ('xla', the default: models/conv.py's `conv`) or as
one matmul over the k dilated taps ('im2col'; 'auto' is 'im2col' on CPU and
'xla' elsewhere). On the 2-core CPU im2col is faster only for narrow TCNs:
mnist1d_tcn (15 channels) 0.85x the train step, copy_tcn (10) 0.93x, but
forecast_tcn 1.17x, digits_tcn 1.35x, mnist5k_tcn_pixels 1.50x, adding_tcn
1.65x. Replicas vmapped over num_seeds gain most: mnist1d_tcn at 3 seeds
0.52x, because vmapping a convolution over its kernel makes a feature-grouped
convolution and vmapping im2col makes batched matmuls.
"""

from __future__ import annotations

from typing import Any, Sequence

import jax
import jax.numpy as jnp
import flax.linen as nn

from cnn_vs_rnn.models.cnn2d import CONV_IMPLS, check_choice, resolve_conv_impl
from cnn_vs_rnn.models.conv import BY_IMPL
from cnn_vs_rnn.models.registry import register
from cnn_vs_rnn.errors import ConfigError
from cnn_vs_rnn.models.heads import Readout
from cnn_vs_rnn.models.materialize import materialize
from cnn_vs_rnn.models.precision import cast


def receptive_field(kernel_size: int, num_levels: int) -> int:
  """Input steps one output step sees: two convolutions per level, dilation 2**l."""
  return 1 + 2 * (kernel_size - 1) * (2 ** num_levels - 1)


CHANNEL_MULTIPLE = 8
MAX_PADDED_GROWTH = 1.25


def padded_channels(c_in: int, c_out: int) -> tuple[int, int]:
  """(c_in, c_out) rounded up to multiples of 8 on CPU where that adds at most 25% MACs."""
  up = lambda c: -(-c // CHANNEL_MULTIPLE) * CHANNEL_MULTIPLE
  if (jax.default_backend() != 'cpu'
      or up(c_in) * up(c_out) > MAX_PADDED_GROWTH * c_in * c_out):
    return c_in, c_out
  return up(c_in), up(c_out)


class CausalConv(nn.Module):
  """A 1D convolution padded (k - 1) * dilation steps on the left only.

  The parameters of `nn.Conv` (kernel [k, C, F], bias [F]; names, shapes and
  initialisers), computed with the channels of `padded_channels`.
  """
  features: int
  kernel_size: int
  dilation: int = 1
  dtype: Any = None
  impl: str = 'xla'  # 'xla', 'im2col' or 'auto' (TCN.conv_impl)

  @nn.compact
  def __call__(self, x_BxTxC):
    k, d, c, f = self.kernel_size, self.dilation, x_BxTxC.shape[-1], self.features
    kernel = self.param('kernel', nn.initializers.lecun_normal(), (k, c, f))
    bias = self.param('bias', nn.initializers.zeros_init(), (f,))
    x_BxTxC, kernel, bias = nn.dtypes.promote_dtype(x_BxTxC, kernel, bias, dtype=self.dtype)
    cp, fp = padded_channels(c, f)
    conv_fn = BY_IMPL[resolve_conv_impl(self.impl)]
    y_BxTxF = conv_fn(
        jnp.pad(x_BxTxC, ((0, 0), (0, 0), (0, cp - c))),
        jnp.pad(kernel, ((0, 0), (0, cp - c), (0, fp - f))),
        window_strides=(1,), padding=[((k - 1) * d, 0)], rhs_dilation=(d,),
        dimension_numbers=('NWC', 'WIO', 'NWC'))
    return y_BxTxF[..., :f] + bias


def causal_conv(features: int, kernel_size: int, dilation: int, weight_norm: bool,
                name: str, dtype=None, impl: str = 'xla'):
  """A causal 1D convolution (`CausalConv`), weight-normalised if asked."""
  conv = CausalConv(features, kernel_size, dilation, dtype, impl, name=name)
  if weight_norm:
    # Normalises each output channel's kernel over (kernel, in-channels); the
    # per-channel scale g is a parameter of the wrapper, the bias is untouched.
    # The wrapper's own dtype stays None: the kernel is normalised in float32
    # and the convolution casts it to its computation dtype.
    return nn.WeightNorm(conv, feature_axes=-1, variable_filter={'kernel'},
                         name=f'{name}_wn')
  return conv


class TemporalBlock(nn.Module):
  """One residual level: [B, T, C] -> [B, T, features], causal."""
  features: int
  kernel_size: int
  dilation: int
  dropout: float = 0.0
  weight_norm: bool = True
  dtype: Any = None  # computation dtype (models/precision.py)
  conv_impl: str = 'xla'

  @nn.compact
  def __call__(self, x_BxTxC, train: bool = False):
    h = x_BxTxC
    for i in range(2):
      h = causal_conv(self.features, self.kernel_size, self.dilation,
                      self.weight_norm, name=f'conv{i}', dtype=self.dtype,
                      impl=self.conv_impl)(h)
      h = nn.relu(h)
      h = nn.Dropout(self.dropout, deterministic=not train)(h)
    res = x_BxTxC
    if x_BxTxC.shape[-1] != self.features:
      conv_fn = BY_IMPL[resolve_conv_impl(self.conv_impl)]
      res = nn.Conv(self.features, (1,), dtype=self.dtype, conv_general_dilated=conv_fn,
                    name='downsample')(res)
    # Written once and read by the next block and by the backward pass, not
    # recomputed inside each of their fusions (models/materialize.py).
    return materialize(nn.relu(h + res))


@register('tcn', widths=('channels',))
class TCN(nn.Module):
  """Causal dilated residual 1D CNN with a readout.

  `channels` has one entry per level (level l has dilation 2**l). `pool`
  'last' reads the final valid step; 'none' gives causal per-step outputs.
  """
  num_outputs: int
  channels: Sequence[int] = (25, 25, 25, 25)
  kernel_size: int = 7
  dropout: float = 0.0
  weight_norm: bool = True
  pool: str = 'last'
  conv_impl: str = 'xla'  # 'xla', 'im2col', 'auto' (see the module docstring)
  dtype: Any = None  # computation dtype (models/precision.py)

  def receptive_field(self) -> int:
    return receptive_field(self.kernel_size, len(self.channels))

  def levels_to_cover(self, length: int) -> int:
    """The fewest levels whose receptive field covers `length` steps."""
    levels = 1
    while receptive_field(self.kernel_size, levels) < length:
      levels += 1
    return levels

  def check_input(self, input_shape):
    check_choice('conv_impl', self.conv_impl, CONV_IMPLS)
    if len(input_shape) != 2:
      raise ConfigError(f'tcn takes sequences of shape (T, C), not {tuple(input_shape)}')
    if not self.channels or any(int(c) < 1 for c in self.channels):
      raise ConfigError(f'model.channels={tuple(self.channels)} must be a non-empty '
                        'list of positive channel counts, one per level')
    if self.kernel_size < 1:
      raise ConfigError(f'model.kernel_size={self.kernel_size} must be >= 1')
    if not 0.0 <= self.dropout < 1.0:
      raise ConfigError(f'model.dropout={self.dropout} must be in [0, 1)')

  @nn.compact
  def __call__(self, x_BxTxC, lengths=None, train: bool = False):
    h = cast(x_BxTxC, self.dtype)  # The residual path too runs in the computation dtype.
    for level, features in enumerate(self.channels):
      h = TemporalBlock(int(features), self.kernel_size, 2 ** level, self.dropout,
                        self.weight_norm, self.dtype, self.conv_impl,
                        name=f'level{level}')(h, train)
    return Readout(self.num_outputs, self.pool, self.dtype, name='head')(h, lengths)
