"""Convolutional networks over sequences ([B, T, C])."""

from __future__ import annotations

from typing import Any, Sequence

import flax.linen as nn
import jax.numpy as jnp

from cnn_vs_rnn.kernels import check_conv_impl
from cnn_vs_rnn.models.conv import Conv
from cnn_vs_rnn.models.registry import register
from cnn_vs_rnn.errors import ConfigError
from cnn_vs_rnn.models.heads import Readout, time_mask
from cnn_vs_rnn.models.precision import cast


def conv_output_length(length: int, kernel: int, stride: int, padding: int) -> int:
  return (length + 2 * padding - kernel) // stride + 1


@register('cnn1d', widths=('features',))
class CNN1D(nn.Module):
  """A plain stack of 1D convolutions with ReLU, then a readout.

  The defaults are the MNIST-1D CNN of Greydanus (2020): three convolutions
  of 25 channels (kernels 5, 3, 3; stride 2; padding 1) and a linear layer
  on the flattened features: 5,210 parameters for 40 steps and 10 classes.

  `conv_impl` picks the kernel that computes the convolutions, over the same
  parameters (kernels/resolve.py); 'auto' is im2col on CPU, where it trains
  several replicas at once (num_seeds) faster, and lax elsewhere.
  """
  num_outputs: int
  features: Sequence[int] = (25, 25, 25)
  kernel_sizes: Sequence[int] = (5, 3, 3)
  strides: Sequence[int] = (2, 2, 2)
  padding: int = 1
  pool: str = 'flatten'
  conv_impl: str = 'auto'
  dtype: Any = None  # computation dtype (models/precision.py)

  def check_input(self, input_shape):
    check_conv_impl(self.conv_impl)
    if not (len(self.features) == len(self.kernel_sizes) == len(self.strides)):
      raise ConfigError(
          f'model.features={tuple(self.features)}, model.kernel_sizes='
          f'{tuple(self.kernel_sizes)} and model.strides={tuple(self.strides)} '
          'must have the same length')
    if len(input_shape) != 2:
      raise ConfigError(
          f'cnn1d takes sequences of shape (T, C), not {tuple(input_shape)}')
    length = input_shape[0]
    for i, (k, s) in enumerate(zip(self.kernel_sizes, self.strides)):
      new = conv_output_length(length, k, s, self.padding)
      if new < 1:
        raise ConfigError(
            f'cnn1d conv layer {i} (kernel {k}, stride {s}, padding '
            f'{self.padding}) gets length {length} and leaves no output; the '
            f'input length {input_shape[0]} is too short for '
            f'kernel_sizes={tuple(self.kernel_sizes)}, strides={tuple(self.strides)}')
      length = new

  def receptive_field(self) -> int:
    """Input steps that one output position of the last conv layer sees."""
    rf, jump = 1, 1
    for k, s in zip(self.kernel_sizes, self.strides):
      rf, jump = rf + (k - 1) * jump, jump * s
    return rf

  @nn.compact
  def __call__(self, x_BxTxC, lengths=None, train: bool = False):
    """With `lengths`, steps past each sequence's end are zeroed before every
    convolution (as its zero padding would be), so padding never changes an output."""
    del train  # No dropout or normalisation here.
    h = cast(x_BxTxC, self.dtype)
    lengths_B = None if lengths is None else jnp.asarray(lengths, jnp.int32)
    for i, (f, k, s) in enumerate(zip(self.features, self.kernel_sizes, self.strides)):
      if lengths_B is not None:
        h = jnp.where(time_mask(lengths_B, h.shape[1])[..., None], h, 0)
      h = Conv(f, (k,), strides=s, padding=[(self.padding, self.padding)],
               impl=self.conv_impl, dtype=self.dtype, name=f'conv{i}')(h)
      h = nn.relu(h)
      if lengths_B is not None:
        # At least one position: a sequence too short for the stack still reads
        # its first output (computed from its steps and zeros), never an empty pool.
        lengths_B = jnp.maximum((lengths_B + 2 * self.padding - k) // s + 1, 1)
    return Readout(self.num_outputs, self.pool, self.dtype, name='head')(h, lengths_B)
