"""The FCN and ResNet of the time-series classification review (Fawaz et al. 2019).

"Deep learning for time series classification: a review" (after Wang, Yan &
Oates 2017) compares these two 1D CNNs over the UCR/UEA archives; both read
sequences [B, T, C], keep the length (stride 1, 'same' padding) and end in a
global average pooling over time and a Dense layer (the softmax is the
task's loss):

  fcn       three blocks conv -> batch norm -> ReLU with `features` (128, 256,
            128) filters and `kernel_sizes` (8, 5, 3). 264,450 parameters on
            GunPoint (150 steps, 1 channel, 2 classes).
  resnet1d  three residual blocks of `features` (64, 128, 128) filters; a
            block is conv -> BN -> ReLU -> conv -> BN -> ReLU -> conv -> BN
            with `kernel_sizes` (8, 5, 3), plus a shortcut (a 1x1 conv and BN
            where the width changes, else BN alone, as in the review's code),
            then ReLU. 503,106 parameters on GunPoint.

And the hybrid that Karim et al. (2018, "LSTM fully convolutional networks
for time series classification") put beside the FCN:

  lstm_fcn  the FCN branch above (GAP of its last block) concatenated with
            an LSTM branch of `hidden_size` (8) cells, then a Dense layer.
            The LSTM reads the input after their "dimension shuffle": a
            [T, C] series becomes C steps of T values each (a univariate
            series is one step of T values), and its final state goes
            through dropout (`dropout`, 0.8, as theirs). 269,586 parameters
            on GunPoint. Because the shuffle puts time on the feature axis,
            the model is built for one length (`fixed_length`, as the MLP):
            shorter series come padded, with `lengths`, and their padded
            steps are zeroed before both branches.

Where they differ from the review's Keras code: a convolution followed by
batch norm has no bias (the norm's shift replaces it); kernels start from
lecun_normal, as every convolution here does, not glorot_uniform; batch norm
uses the project's momentum 0.9 (models/cnn2d.py) and Flax's epsilon 1e-5.
The counts above are trainable parameters (Keras also counts the running
means and variances).

With `lengths`, steps past each sequence's end are zeroed before every
convolution (as the 'same' padding of the sequence alone would be), left out
of the batch-norm statistics (flax's BatchNorm `mask`) and out of the
pooling, so padding never changes an output. `pool` is any readout of
models/heads.py; 'mean' is the review's GAP. `param_budget` scales
`features` (models/sizing.py). Every convolution goes through the kernels
seam (`conv_impl`, kernels/resolve.py).
"""

from __future__ import annotations

from typing import Any, ClassVar, Sequence

import flax.linen as nn
import jax.numpy as jnp

from cnn_vs_rnn.errors import ConfigError
from cnn_vs_rnn.kernels import check_conv_impl
from cnn_vs_rnn.models.cnn2d import BATCH_NORM_MOMENTUM
from cnn_vs_rnn.models.conv import Conv
from cnn_vs_rnn.models.heads import POOLS, Readout, pool_sequence, time_mask
from cnn_vs_rnn.models.precision import cast
from cnn_vs_rnn.models.registry import register
from cnn_vs_rnn.models.rnn import Recurrence


def check_sequence_input(name: str, input_shape, features, pool: str | None,
                         conv_impl: str) -> None:
  """ConfigErrors for shapes and fields shared by fcn, resnet1d and lstm_fcn (no pool)."""
  check_conv_impl(conv_impl)
  if len(input_shape) != 2:
    raise ConfigError(f'{name} takes sequences of shape (T, C), not {tuple(input_shape)}')
  if not features:
    raise ConfigError(f'model.features={tuple(features)} must name at least one width')
  if pool is not None and pool not in POOLS:
    raise ConfigError(f'unknown model.pool {pool!r}; valid: {", ".join(POOLS)}')


def check_kernel_sizes(features, kernel_sizes) -> None:
  """A ConfigError unless there is one kernel size per width (fcn, lstm_fcn)."""
  if len(features) != len(kernel_sizes):
    raise ConfigError(f'model.features={tuple(features)} and model.kernel_sizes='
                      f'{tuple(kernel_sizes)} must have the same length')


def masked(h_BxTxC, mask_BxTx1):
  """h with the steps past each sequence's end zeroed (no mask: unchanged)."""
  return h_BxTxC if mask_BxTx1 is None else jnp.where(mask_BxTx1, h_BxTxC, 0)


class ConvNorm(nn.Module):
  """conv ('same', stride 1, no bias) -> batch norm over the valid steps."""
  features: int
  kernel_size: int
  conv_impl: str = 'auto'
  dtype: Any = None

  @nn.compact
  def __call__(self, h_BxTxC, mask_BxTx1, train: bool):
    h = Conv(self.features, (self.kernel_size,), padding='SAME', use_bias=False,
             impl=self.conv_impl, dtype=self.dtype, name='conv')(masked(h_BxTxC, mask_BxTx1))
    return nn.BatchNorm(use_running_average=not train, momentum=BATCH_NORM_MOMENTUM,
                        dtype=self.dtype, name='norm')(h, mask=mask_BxTx1)


def fcn_blocks(h_BxTxC, mask_BxTx1, train: bool, features, kernel_sizes, conv_impl, dtype):
  """The FCN's (conv -> BN -> ReLU) per width, as submodules block0, block1, ... of the
  calling module (call it from a compact method)."""
  for i, (f, k) in enumerate(zip(features, kernel_sizes)):
    h_BxTxC = nn.relu(ConvNorm(int(f), int(k), conv_impl, dtype, name=f'block{i}')(
        h_BxTxC, mask_BxTx1, train))
  return h_BxTxC


def step_mask(lengths, T: int):
  """[B, T, 1] bool, True at valid steps; None without lengths."""
  if lengths is None:
    return None, None
  lengths_B = jnp.asarray(lengths, jnp.int32)
  return lengths_B, time_mask(lengths_B, T)[..., None]


@register('fcn', widths=('features',))
class FCN(nn.Module):
  """Fully convolutional network: (conv -> BN -> ReLU) per width, GAP, Dense."""
  num_outputs: int
  features: Sequence[int] = (128, 256, 128)
  kernel_sizes: Sequence[int] = (8, 5, 3)
  pool: str = 'mean'
  conv_impl: str = 'auto'
  dtype: Any = None  # computation dtype (models/precision.py)

  def check_input(self, input_shape):
    check_sequence_input('fcn', input_shape, self.features, self.pool, self.conv_impl)
    check_kernel_sizes(self.features, self.kernel_sizes)

  def receptive_field(self) -> int:
    return 1 + sum(int(k) - 1 for k in self.kernel_sizes)

  @nn.compact
  def __call__(self, x_BxTxC, lengths=None, train: bool = False):
    h = cast(x_BxTxC, self.dtype)
    lengths_B, mask = step_mask(lengths, h.shape[1])
    h = fcn_blocks(h, mask, train, self.features, self.kernel_sizes, self.conv_impl, self.dtype)
    return Readout(self.num_outputs, self.pool, self.dtype, name='head')(h, lengths_B)


class ResidualBlock(nn.Module):
  """Three ConvNorms (ReLU between them) plus the shortcut, then ReLU."""
  features: int
  kernel_sizes: Sequence[int]
  conv_impl: str = 'auto'
  dtype: Any = None

  @nn.compact
  def __call__(self, x_BxTxC, mask_BxTx1, train: bool):
    h = x_BxTxC
    for i, k in enumerate(self.kernel_sizes):
      h = ConvNorm(self.features, int(k), self.conv_impl, self.dtype, name=f'conv{i}')(
          h, mask_BxTx1, train)
      if i < len(self.kernel_sizes) - 1:
        h = nn.relu(h)
    if x_BxTxC.shape[-1] != self.features:
      shortcut = ConvNorm(self.features, 1, self.conv_impl, self.dtype, name='shortcut')(
          x_BxTxC, mask_BxTx1, train)
    else:
      shortcut = nn.BatchNorm(use_running_average=not train, momentum=BATCH_NORM_MOMENTUM,
                              dtype=self.dtype, name='shortcut_norm')(x_BxTxC, mask=mask_BxTx1)
    return nn.relu(h + shortcut)


@register('resnet1d', widths=('features',))
class ResNet1D(nn.Module):
  """Residual blocks of three convolutions each (one block per width), GAP, Dense."""
  num_outputs: int
  features: Sequence[int] = (64, 128, 128)
  kernel_sizes: Sequence[int] = (8, 5, 3)  # the convolutions of every block
  pool: str = 'mean'
  conv_impl: str = 'auto'
  dtype: Any = None  # computation dtype (models/precision.py)

  def check_input(self, input_shape):
    check_sequence_input('resnet1d', input_shape, self.features, self.pool, self.conv_impl)
    if not self.kernel_sizes:
      raise ConfigError('model.kernel_sizes=() must name the kernel of at least one '
                        'convolution per block')

  def receptive_field(self) -> int:
    return 1 + len(self.features) * sum(int(k) - 1 for k in self.kernel_sizes)

  @nn.compact
  def __call__(self, x_BxTxC, lengths=None, train: bool = False):
    h = cast(x_BxTxC, self.dtype)
    lengths_B, mask = step_mask(lengths, h.shape[1])
    for i, f in enumerate(self.features):
      h = ResidualBlock(int(f), tuple(self.kernel_sizes), self.conv_impl, self.dtype,
                        name=f'block{i}')(h, mask, train)
    return Readout(self.num_outputs, self.pool, self.dtype, name='head')(h, lengths_B)


@register('lstm_fcn', widths=('features', 'hidden_size'))
class LSTMFCN(nn.Module):
  """The FCN's pooled features beside an LSTM over the shuffled input, then Dense."""
  # The shuffle makes every time step an LSTM input feature: one length only.
  fixed_length: ClassVar[bool] = True

  num_outputs: int
  features: Sequence[int] = (128, 256, 128)
  kernel_sizes: Sequence[int] = (8, 5, 3)
  hidden_size: int = 8
  dropout: float = 0.8
  conv_impl: str = 'auto'
  dtype: Any = None  # computation dtype (models/precision.py)

  def check_input(self, input_shape):
    check_sequence_input('lstm_fcn', input_shape, self.features, None, self.conv_impl)
    check_kernel_sizes(self.features, self.kernel_sizes)
    if not 0.0 <= self.dropout < 1.0:
      raise ConfigError(f'model.dropout={self.dropout} must be in [0, 1)')

  @nn.compact
  def __call__(self, x_BxTxC, lengths=None, train: bool = False):
    h = cast(x_BxTxC, self.dtype)
    lengths_B, mask = step_mask(lengths, h.shape[1])
    conv = fcn_blocks(h, mask, train, self.features, self.kernel_sizes, self.conv_impl,
                      self.dtype)
    pooled_BxF = pool_sequence(conv, 'mean', lengths_B)
    shuffled_BxCxT = jnp.swapaxes(masked(h, mask), 1, 2)
    _, last_BxH = Recurrence('lstm', self.hidden_size, dtype=self.dtype, name='lstm')(
        shuffled_BxCxT)
    last_BxH = nn.Dropout(self.dropout, deterministic=not train)(last_BxH)
    features = jnp.concatenate([last_BxH.astype(pooled_BxF.dtype), pooled_BxF], axis=-1)
    return nn.Dense(self.num_outputs, dtype=self.dtype, name='out')(features)
