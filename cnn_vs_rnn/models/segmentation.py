"""Dense per-pixel outputs: a small U-Net and a ReNet-style recurrent scanner.

Both map images [B, H, W, C] to logits [B, H, W, num_outputs] (the 'dense'
task, tasks.py), and are called as every model is:
`model.apply(variables, images, lengths=None, train=False)`.

  unet   Ronneberger et al. (2015), small: per level two 3x3 SAME convolutions
         (norm, ReLU), 2x2 max pooling between levels; back up, each level
         upsamples x2 (nearest neighbour, then a 3x3 convolution: the
         "up-convolution"), concatenates the skip connection of its level and
         applies two 3x3 convolutions; a 1x1 convolution gives the logits.
         `features` has one width per level; H and W must be divisible by
         2**(levels - 1). Convolutions are cnn2d.py's `Conv2D` (`conv_impl`),
         `norm` its norms ('batch' by default; 'layer', 'group', 'none').
  renet  ReNet (Visin et al. 2015), as in ReSeg (Visin et al. 2016): the image
         is cut into non-overlapping `patch_size` x `patch_size` patches
         (flattened: p*p*C features each); each layer sweeps a bidirectional
         RNN (`cell`, models/rnn.py's `Recurrence`) along every row of patches,
         concatenating both directions (2 * hidden_size), then along every
         column of the result. After the layers, every patch's features reach
         the whole image (the row sweep carries across a row, the column
         sweep across rows). A per-patch Dense gives p*p*num_outputs logits,
         put back in place: one logit vector per pixel (p = 1: per pixel).
"""

from __future__ import annotations

import functools
from typing import Any, Sequence

import jax.numpy as jnp
import flax.linen as nn

from cnn_vs_rnn.errors import ConfigError
from cnn_vs_rnn.kernels import check_conv_impl
from cnn_vs_rnn.models.cnn2d import (Conv2D, check_choice, check_common,
                                     check_image_input, make_norm, spatial_pool)
from cnn_vs_rnn.models.precision import cast
from cnn_vs_rnn.models.registry import register
from cnn_vs_rnn.models.rnn import CELLS, RECURRENCES, Recurrence


def upsample2(h_BxHxWxC):
  """Nearest-neighbour upsampling by 2 in H and W."""
  return jnp.repeat(jnp.repeat(h_BxHxWxC, 2, axis=1), 2, axis=2)


@register('unet', widths=('features',))
class UNet(nn.Module):
  """A small U-Net: [B, H, W, C] -> per-pixel logits [B, H, W, num_outputs]."""
  num_outputs: int
  features: Sequence[int] = (16, 32, 64)
  norm: str = 'batch'
  norm_groups: int = 4
  conv_impl: str = 'auto'           # kernels/resolve.py
  dtype: Any = None                 # computation dtype (models/precision.py)

  def check_input(self, input_shape):
    check_image_input('unet', input_shape)
    if not self.features:
      raise ConfigError('model.features must hold at least one level width')
    check_common(self.norm, self.features, self.norm_groups, 0.0)
    check_conv_impl(self.conv_impl)
    factor = 2 ** (len(self.features) - 1)
    if input_shape[0] % factor or input_shape[1] % factor:
      raise ConfigError(f'unet with {len(self.features)} levels needs H and W divisible '
                        f'by {factor}, not {tuple(input_shape[:2])}')

  def conv(self, h, features: int, kernel: int, name: str, train: bool):
    """Conv (no bias when normalised), norm, ReLU."""
    h = Conv2D(int(features), (kernel, kernel), padding='SAME', use_bias=self.norm == 'none',
               impl=self.conv_impl, dtype=self.dtype, name=name)(h)
    norm = make_norm(self.norm, train, self.norm_groups, f'{name}_norm', self.dtype)
    return nn.relu(norm(h) if norm else h)

  @nn.compact
  def __call__(self, x_BxHxWxC, lengths=None, train: bool = False):
    del lengths  # Fixed-size images.
    h = cast(x_BxHxWxC, self.dtype)
    skips = []
    for level, features in enumerate(self.features):
      if level:
        h = spatial_pool(h, 'max', 2)
      h = self.conv(h, features, 3, f'down{level}_conv0', train)
      h = self.conv(h, features, 3, f'down{level}_conv1', train)
      skips.append(h)
    for level in reversed(range(len(self.features) - 1)):
      features = self.features[level]
      h = self.conv(upsample2(h), features, 3, f'up{level}_upconv', train)
      h = jnp.concatenate([h, skips[level]], axis=-1)
      h = self.conv(h, features, 3, f'up{level}_conv0', train)
      h = self.conv(h, features, 3, f'up{level}_conv1', train)
    return Conv2D(self.num_outputs, (1, 1), impl=self.conv_impl, dtype=self.dtype,
                  name='out')(h)


def to_patches(x_BxHxWxC, p: int):
  """[B, H, W, C] -> [B, H/p, W/p, p*p*C] (each patch's pixels row by row)."""
  B, H, W, C = x_BxHxWxC.shape
  x = x_BxHxWxC.reshape(B, H // p, p, W // p, p, C).transpose(0, 1, 3, 2, 4, 5)
  return x.reshape(B, H // p, W // p, p * p * C)


def from_patches(x_BxGxGxPPK, p: int):
  """The inverse of to_patches: [B, H/p, W/p, p*p*K] -> [B, H, W, K]."""
  B, Gh, Gw, D = x_BxGxGxPPK.shape
  K = D // (p * p)
  x = x_BxGxGxPPK.reshape(B, Gh, Gw, p, p, K).transpose(0, 1, 3, 2, 4, 5)
  return x.reshape(B, Gh * p, Gw * p, K)


@register('renet', widths=('hidden_size',))
class ReNet(nn.Module):
  """ReNet: bidirectional RNN sweeps along rows, then columns; a per-pixel readout."""
  num_outputs: int
  hidden_size: int = 16             # per direction
  num_layers: int = 1               # each: a row sweep, then a column sweep
  cell: str = 'gru'                 # 'elman', 'lstm', 'gru'
  patch_size: int = 2
  recurrence: str = 'scan'          # 'scan' or 'fused' (models/rnn.py)
  dtype: Any = None                 # computation dtype (models/precision.py)

  def check_input(self, input_shape):
    check_image_input('renet', input_shape)
    check_choice('cell', self.cell, tuple(CELLS))
    check_choice('recurrence', self.recurrence, RECURRENCES)
    p = self.patch_size
    if input_shape[0] % p or input_shape[1] % p:
      raise ConfigError(f'renet with patch_size={p} needs H and W divisible by {p}, '
                        f'not {tuple(input_shape[:2])}')

  def sweep(self, h_BxRxLxD, name: str):
    """A bidirectional RNN along axis 2 of every row (axis 1): [B, R, L, 2 * hidden]."""
    B, R, L, D = h_BxRxLxD.shape
    seq = h_BxRxLxD.reshape(B * R, L, D)
    direction = functools.partial(Recurrence, self.cell, self.hidden_size,
                                  recurrence=self.recurrence, dtype=self.dtype)
    fwd, _ = direction(name=f'{name}_fwd')(seq)
    bwd, _ = direction(name=f'{name}_bwd')(jnp.flip(seq, axis=1))
    out = jnp.concatenate([fwd, jnp.flip(bwd, axis=1)], axis=-1)
    return out.reshape(B, R, L, out.shape[-1])

  @nn.compact
  def __call__(self, x_BxHxWxC, lengths=None, train: bool = False):
    del lengths, train  # Fixed-size images; no dropout or normalisation.
    p = self.patch_size
    h = to_patches(x_BxHxWxC, p)
    for layer in range(self.num_layers):
      h = self.sweep(h, f'layer{layer}_rows')                   # along each row
      h = self.sweep(h.transpose(0, 2, 1, 3), f'layer{layer}_cols')  # along each column
      h = h.transpose(0, 2, 1, 3)
    logits = nn.Dense(p * p * self.num_outputs, dtype=self.dtype, name='out')(h)
    return from_patches(logits, p)
