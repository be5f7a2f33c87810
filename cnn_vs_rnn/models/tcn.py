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

`conv_impl` picks the kernel that computes the convolutions, over the same
parameters (kernels/resolve.py): 'native' (the default) is the canonical
kernel on CPU and lax elsewhere; 'auto' is im2col on CPU. On the 2-core CPU
im2col is faster only for narrow TCNs: mnist1d_tcn (15 channels) 0.85x the
train step, copy_tcn (10) 0.93x, but forecast_tcn 1.17x, digits_tcn 1.35x,
mnist5k_tcn_pixels 1.50x, adding_tcn 1.65x. Replicas vmapped over num_seeds
gain most: mnist1d_tcn at 3 seeds 0.52x, because vmapping a convolution over
its kernel makes a feature-grouped convolution and vmapping im2col makes
batched matmuls. The causal convolutions let a CPU kernel pad their channels
(kernels/conv.py), and each block's output is materialised
(kernels/materialize.py).
"""

from __future__ import annotations

from typing import Any, Sequence

import flax.linen as nn

from cnn_vs_rnn import kernels
from cnn_vs_rnn.models.conv import Conv
from cnn_vs_rnn.models.registry import register
from cnn_vs_rnn.errors import ConfigError
from cnn_vs_rnn.models.heads import Readout
from cnn_vs_rnn.models.precision import cast


def receptive_field(kernel_size: int, num_levels: int) -> int:
  """Input steps one output step sees: two convolutions per level, dilation 2**l."""
  return 1 + 2 * (kernel_size - 1) * (2 ** num_levels - 1)


class CausalConv(nn.Module):
  """A 1D convolution padded (k - 1) * dilation steps on the left only.

  The parameters of `nn.Conv` (kernel [k, C, F], bias [F]; names, shapes and
  initialisers).
  """
  features: int
  kernel_size: int
  dilation: int = 1
  dtype: Any = None
  impl: str = 'native'  # TCN.conv_impl

  @nn.compact
  def __call__(self, x_BxTxC):
    k, d = self.kernel_size, self.dilation
    kernel = self.param('kernel', nn.initializers.lecun_normal(),
                        (k, x_BxTxC.shape[-1], self.features))
    bias = self.param('bias', nn.initializers.zeros_init(), (self.features,))
    x_BxTxC, kernel, bias = nn.dtypes.promote_dtype(x_BxTxC, kernel, bias, dtype=self.dtype)
    return kernels.conv(x_BxTxC, kernel, padding=[((k - 1) * d, 0)], dilation=(d,),
                        impl=self.impl, pad_channels=True) + bias


def causal_conv(features: int, kernel_size: int, dilation: int, weight_norm: bool,
                name: str, dtype=None, impl: str = 'native'):
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
  conv_impl: str = 'native'

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
      res = Conv(self.features, (1,), impl=self.conv_impl, dtype=self.dtype,
                 name='downsample')(res)
    # Written once and read by the next block and by the backward pass, not
    # recomputed inside each of their fusions (kernels/materialize.py).
    return kernels.materialize(nn.relu(h + res), self.conv_impl)


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
  conv_impl: str = 'native'  # kernels/resolve.py (see the module docstring)
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
    kernels.check_conv_impl(self.conv_impl)
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
