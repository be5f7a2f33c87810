"""Convolutional recurrent network (CRNN): a conv front end, then a recurrent net.

The front end is a stack of convolutions, each followed by ReLU and a max
pooling that downsamples by `pool_size`; its input rank picks its kind:

  sequences [B, T, C]            1D convolutions over time;
  spectrograms/images [B, T, F, C]  2D convolutions over (time, frequency) or
                                 (rows, columns), pooled on both axes; the
                                 pooled map is read as a sequence of T'
                                 steps of F' * C' features.

The recurrent net is the package's `RNN` (models/rnn.py: any cell,
optionally stacked and bidirectional, with its readout `pool`) over the
remaining T' = ceil(T / pool_size**len(features)) steps.

Convolutions are 'SAME' (stride 1) and poolings keep a partial last window
(ceil), so no step is dropped. With `lengths` (sequences or maps of
variable length along their first axis), steps past each example's end are
zeroed before every convolution and pooling, as the convolution's zero
padding would be for the example alone, and the lengths are divided by
`pool_size` (rounded up) at every pooling: padding never changes an output.
"""

from __future__ import annotations

from typing import Any, Sequence

import jax.numpy as jnp
import flax.linen as nn

from cnn_vs_rnn.errors import ConfigError
from cnn_vs_rnn.kernels import check_conv_impl
from cnn_vs_rnn.models.cnn2d import check_choice
from cnn_vs_rnn.models.conv import Conv
from cnn_vs_rnn.models.heads import time_mask
from cnn_vs_rnn.models.precision import cast
from cnn_vs_rnn.models.registry import register
from cnn_vs_rnn.models.rnn import CELLS, RNN


def mask_steps(h_BxTx, lengths_B):
  """h with every step t >= length (axis 1) set to zero; h itself without lengths."""
  if lengths_B is None:
    return h_BxTx
  mask = time_mask(lengths_B, h_BxTx.shape[1])
  return jnp.where(mask.reshape(mask.shape + (1,) * (h_BxTx.ndim - 2)), h_BxTx, 0)


def ceil_max_pool(h_BxTx, size: int):
  """Max over non-overlapping windows of `size` on every axis between batch and
  channels; a partial last window is padded with zeros.

  Only for non-negative inputs (after ReLU), where a zero never wins over the
  window's own values, so a padded window is the max of its valid entries.
  """
  if size == 1:
    return h_BxTx
  spatial = h_BxTx.shape[1:-1]
  pads = [(0, -(-s // size) * size - s) for s in spatial]
  h = jnp.pad(h_BxTx, [(0, 0)] + pads + [(0, 0)])
  shape = [h.shape[0]]
  for s in h.shape[1:-1]:
    shape += [s // size, size]
  h = h.reshape(shape + [h.shape[-1]])
  return jnp.max(h, axis=tuple(range(2, 2 * len(spatial) + 1, 2)))


def front_end_shape(input_shape, num_layers: int, pool_size: int, channels: int):
  """(T', features per step) that the front end hands to the recurrent net."""
  down = lambda s: s if pool_size == 1 else -(-s // pool_size ** num_layers)
  if len(input_shape) == 2:
    return down(input_shape[0]), channels
  return down(input_shape[0]), down(input_shape[1]) * channels


@register('crnn', widths=('features', 'hidden_size'))
class CRNN(nn.Module):
  """Conv front end (1D or 2D by input rank) that downsamples, then an RNN."""
  num_outputs: int
  features: Sequence[int] = (32, 32)   # one convolution (+ ReLU, max pool) per entry
  kernel_size: int = 3
  pool_size: int = 2                   # on every axis of the map, after every convolution
  cell: str = 'gru'                    # a cell of models/rnn.py: elman, lstm, gru
  hidden_size: int = 64
  num_layers: int = 1
  bidirectional: bool = False
  pool: str = 'last'                   # the RNN's readout (heads.POOLS)
  recurrence: str = 'scan'             # the RNN's loop: 'scan' or 'fused'
  conv_impl: str = 'auto'              # 2D convolutions (kernels/resolve.py)
  dtype: Any = None                    # computation dtype (models/precision.py)

  def rnn(self, **kwargs) -> RNN:
    return RNN(self.cell, self.num_outputs, hidden_size=self.hidden_size,
               num_layers=self.num_layers, bidirectional=self.bidirectional,
               pool=self.pool, recurrence=self.recurrence, dtype=self.dtype, **kwargs)

  def check_input(self, input_shape):
    if len(input_shape) not in (2, 3):
      raise ConfigError('crnn takes sequences (T, C) or spectrograms/images (T, F, C), '
                        f'not {tuple(input_shape)}')
    if not self.features:
      raise ConfigError('model.features must list at least one convolution width')
    check_choice('cell', self.cell, tuple(CELLS))
    check_conv_impl(self.conv_impl)
    steps = front_end_shape(input_shape, len(self.features), self.pool_size,
                            self.features[-1])
    self.rnn(parent=None).check_input(steps)

  @nn.compact
  def __call__(self, x, lengths=None, train: bool = False):
    lengths_B = None if lengths is None else jnp.asarray(lengths, jnp.int32)
    h = cast(x, self.dtype)
    k = self.kernel_size
    for i, f in enumerate(self.features):
      h = mask_steps(h, lengths_B)
      # 1D convolutions: the backend's own ('native'); 2D ones: conv_impl.
      impl = 'native' if h.ndim == 3 else self.conv_impl
      h = Conv(int(f), (k,) * (h.ndim - 2), padding='SAME', impl=impl, dtype=self.dtype,
               name=f'conv{i}')(h)
      h = ceil_max_pool(mask_steps(nn.relu(h), lengths_B), self.pool_size)
      if lengths_B is not None:
        lengths_B = -(-lengths_B // self.pool_size)
    if h.ndim == 4:  # [B, T', F', C'] -> T' steps of F' * C' features
      h = h.reshape(h.shape[0], h.shape[1], -1)
    return self.rnn(name='rnn')(h, lengths=lengths_B, train=train)
