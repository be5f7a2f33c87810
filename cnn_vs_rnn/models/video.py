"""Models for video clips [B, T, H, W, C]: ConvLSTM, 3D CNN, per-frame CNN + LSTM.

  convlstm  ConvLSTM (Shi et al. 2015), stacked: the LSTM's gates come from
            convolutions over [x_t, h_{t-1}] instead of matmuls, so the
            state h, c [B, H, W, F] keeps the frame's layout:
              [i f g o] = W_x * x_t + W_h * h_{t-1} + b     (* : 'SAME' conv)
              c_t = s(f) c_{t-1} + s(i) tanh(g);   h_t = s(o) tanh(c_t)
            (without the paper's peephole terms W_c . c). As in models/rnn.py,
            W_x * x_t of every frame is one convolution before the scan
            (`nn.scan` over frames), the forget-gate bias starts at 1, and
            the state is carried in at least float32. `patch_size` p > 1 first
            turns each frame into non-overlapping p x p patches, [H/p, W/p,
            p*p*C] (the paper's 4x4 patches of 64x64 Moving MNIST), which
            divides the cost of every convolution by about p*p. The last
            layer's final h is pooled over (H, W) (`pool`) and read out by a
            Dense layer; with head='pixels' the output layer is applied at
            every cell of the final h instead (a 1x1 convolution, as the
            paper's prediction layer, to p*p*num_outputs values, put back as
            the cell's p x p pixels).
  cnn3d     blocks of 3D convolutions over (time, height, width) with ReLU,
            a max pooling after each block (`pool_size` on H and W,
            `time_pool_size` on T), a readout over (T, H, W) (`pool`),
            hidden Dense layers, then the output layer. With head='pixels'
            the readout collapses only T (`pool`: 'flatten' stacks the
            remaining time steps' features, 'mean'/'max' pool them), and the
            Dense layers act at every cell of the pooled grid (1x1
            convolutions), the output layer giving f*f*num_outputs values
            per cell for its f x f pixels (f = pool_size ** blocks).
            `conv_impl` as for cnn2d (kernels/resolve.py; 'auto': im2col on
            CPU, one matmul over every output voxel's k x k x k patch).
  cnn_lstm  the 2D CNN of models/cnn2d.py (its `ConvBlocks`: blocks of
            conv, norm, activation, pooling) on every frame, each frame's
            map read out to a vector (`frame_pool`; 'flatten' keeps where
            things are, which motion needs), then the package's `RNN` over
            the frames (`cell`, default LSTM, and the RNN's readout `pool`).
            With `lengths` the RNN ignores frames past each clip's end. Its
            state is one vector per clip, so head='pixels' reads out all
            H*W*num_outputs values from it with the RNN's output layer (a
            fully connected decoder, as the LSTM frame predictor of
            Srivastava et al. 2015): no spatial prior on the output side.

head='pixels' gives per-pixel outputs [B, H, W, num_outputs] (the
'pixel_regression' task: next-frame prediction); the default 'vector' gives
[B, num_outputs].

Clips have a fixed number of frames: convlstm and cnn3d ignore `lengths`.
"""

from __future__ import annotations

from typing import Any, Sequence

import jax.numpy as jnp
import flax.linen as nn

from cnn_vs_rnn.errors import ConfigError
from cnn_vs_rnn.models.cnn2d import (ACTIVATIONS, READOUTS, ConvBlocks, Conv2D, ConvStack2D,
                                     block_paddings, check_choice, readout_BxD,
                                     stack_output_hw)
from cnn_vs_rnn import kernels
from cnn_vs_rnn.models.precision import cast, state_dtype
from cnn_vs_rnn.models.registry import register
from cnn_vs_rnn.models.rnn import CELLS, RNN, input_bias_init


HEADS = ('vector', 'pixels')  # the `head` field: [B, num_outputs] or [B, H, W, num_outputs]


def check_video_input(name: str, input_shape) -> None:
  if len(input_shape) != 4:
    raise ConfigError(f'{name} takes video clips of shape (T, H, W, C), '
                      f'not {tuple(input_shape)}')


def depth_to_space(h_BxHxWxPPC, p: int):
  """[B, H, W, p*p*C] -> [B, H*p, W*p, C]: each cell's values as its p x p pixels.

  The inverse of `space_to_depth` on one frame (the same order within a patch).
  """
  if p == 1:
    return h_BxHxWxPPC
  B, H, W, D = h_BxHxWxPPC.shape
  C = D // (p * p)
  x = h_BxHxWxPPC.reshape(B, H, W, p, p, C).transpose(0, 1, 3, 2, 4, 5)
  return x.reshape(B, H * p, W * p, C)


# ---------------------------------------------------------------------------
# ConvLSTM


class ConvLSTMCell(nn.Module):
  """One step: (c, h) [B, H, W, F] and the input's gate maps W_x * x_t + b [B, H, W, 4F]."""
  features: int
  kernel_size: int = 3
  conv_impl: str = 'auto'
  dtype: Any = None

  @nn.compact
  def __call__(self, carry, xproj_BxHxWx4F):
    c, h = carry
    k = self.kernel_size
    g = xproj_BxHxWx4F + Conv2D(4 * self.features, (k, k), padding='SAME', use_bias=False,
                                impl=self.conv_impl, dtype=self.dtype, name='recurrent')(h)
    i, f, u, o = jnp.split(g, 4, axis=-1)
    c_new = (nn.sigmoid(f) * c + nn.sigmoid(i) * jnp.tanh(u)).astype(c.dtype)
    h_new = (nn.sigmoid(o) * jnp.tanh(c_new)).astype(h.dtype)
    return (c_new, h_new), h_new


class ConvLSTMLayer(nn.Module):
  """[B, T, H, W, C] -> outputs h_t [B, T, H, W, F] and the final (c, h)."""
  features: int
  kernel_size: int = 3
  conv_impl: str = 'auto'
  dtype: Any = None

  @nn.compact
  def __call__(self, x_BxTxHxWxC):
    B, T, H, W, C = x_BxTxHxWxC.shape
    F, k = self.features, self.kernel_size
    # The input's part of the gates, every frame in one convolution.
    xproj = Conv2D(4 * F, (k, k), padding='SAME', use_bias=False, impl=self.conv_impl,
                   dtype=self.dtype, name='input')(x_BxTxHxWxC.reshape(B * T, H, W, C))
    bias = self.param('bias', input_bias_init('lstm', F), (4 * F,))
    xproj = (xproj + cast(bias, self.dtype)).reshape(B, T, H, W, 4 * F)
    scan = nn.scan(ConvLSTMCell, variable_broadcast='params', split_rngs={'params': False},
                   in_axes=1, out_axes=1)
    zeros = jnp.zeros((B, H, W, F), state_dtype(xproj.dtype))
    carry, outputs = scan(F, k, self.conv_impl, self.dtype, name='scan')((zeros, zeros), xproj)
    return outputs, carry


def space_to_depth(x_BxTxHxWxC, p: int):
  """Each frame as non-overlapping p x p patches: [B, T, H/p, W/p, p*p*C]."""
  if p == 1:
    return x_BxTxHxWxC
  B, T, H, W, C = x_BxTxHxWxC.shape
  x = x_BxTxHxWxC.reshape(B, T, H // p, p, W // p, p, C).transpose(0, 1, 2, 4, 3, 5, 6)
  return x.reshape(B, T, H // p, W // p, p * p * C)


@register('convlstm', widths=('features',))
class ConvLSTM(nn.Module):
  """Stacked ConvLSTM layers over the frames; the last layer's final h is read out."""
  num_outputs: int
  features: Sequence[int] = (16, 16)  # one ConvLSTM layer per entry
  kernel_size: int = 3
  patch_size: int = 1                 # frames -> p x p patches [H/p, W/p, p*p*C] first
  pool: str = 'max'                   # final h -> vector: 'flatten', 'mean', 'max'
  head: str = 'vector'                # 'pixels': outputs per pixel (`pool` unused)
  conv_impl: str = 'auto'             # kernels/resolve.py
  dtype: Any = None                   # computation dtype (models/precision.py)

  def check_input(self, input_shape):
    check_video_input('convlstm', input_shape)
    check_choice('head', self.head, HEADS)
    if not self.features:
      raise ConfigError('model.features must list at least one ConvLSTM layer width')
    if input_shape[1] % self.patch_size or input_shape[2] % self.patch_size:
      raise ConfigError(f'model.patch_size={self.patch_size} must divide the frames\' '
                        f'height and width {tuple(input_shape[1:3])}')
    check_choice('pool', self.pool, READOUTS)
    kernels.check_conv_impl(self.conv_impl)

  @nn.compact
  def __call__(self, x_BxTxHxWxC, lengths=None, train: bool = False):
    del lengths, train  # Fixed-length clips; no dropout or normalisation.
    h = space_to_depth(x_BxTxHxWxC, self.patch_size)
    for i, f in enumerate(self.features):
      h, (_, last) = ConvLSTMLayer(int(f), self.kernel_size, self.conv_impl, self.dtype,
                                   name=f'layer{i}')(h)
    if self.head == 'pixels':  # The output layer at every cell: a 1x1 convolution.
      p = self.patch_size
      out = nn.Dense(p * p * self.num_outputs, dtype=self.dtype, name='out')(last)
      return depth_to_space(out, p)
    return nn.Dense(self.num_outputs, dtype=self.dtype, name='out')(readout_BxD(last, self.pool))


# ---------------------------------------------------------------------------
# 3D CNN


class Conv3D(nn.Module):
  """`nn.Conv` over (T, H, W), 'SAME', stride 1 (same parameters), computed by `impl`."""
  features: int
  kernel_size: int = 3
  impl: str = 'auto'
  dtype: Any = None

  @nn.compact
  def __call__(self, x_BxTxHxWxC):
    kernel = self.param('kernel', nn.initializers.lecun_normal(),
                        (*(self.kernel_size,) * 3, x_BxTxHxWxC.shape[-1], self.features))
    bias = self.param('bias', nn.initializers.zeros_init(), (self.features,))
    x, kernel, bias = nn.dtypes.promote_dtype(x_BxTxHxWxC, kernel, bias, dtype=self.dtype)
    return kernels.conv(x, kernel, padding='SAME', impl=self.impl) + bias


def max_pool_3d(h_BxTxHxWxC, time_size: int, size: int):
  """Non-overlapping VALID max pooling, windows (time_size, size, size), as a reshape."""
  if time_size == size == 1:
    return h_BxTxHxWxC
  b, t, h, w, c = h_BxTxHxWxC.shape
  to, ho, wo = t // time_size, h // size, w // size
  x = h_BxTxHxWxC[:, :to * time_size, :ho * size, :wo * size]
  return jnp.max(x.reshape(b, to, time_size, ho, size, wo, size, c), axis=(2, 4, 6))


def readout_3d(h_BxTxHxWxC, pool: str):
  if pool == 'flatten':
    return h_BxTxHxWxC.reshape(h_BxTxHxWxC.shape[0], -1)
  return (jnp.mean if pool == 'mean' else jnp.max)(h_BxTxHxWxC, axis=(1, 2, 3))


def time_readout(h_BxTxHxWxC, pool: str):
  """[B, T, H, W, C] -> [B, H, W, D]: 'flatten' stacks the T steps' features
  (D = T*C, earliest first), 'mean' and 'max' pool over T (D = C)."""
  if pool == 'flatten':
    B, T, H, W, C = h_BxTxHxWxC.shape
    return h_BxTxHxWxC.transpose(0, 2, 3, 1, 4).reshape(B, H, W, T * C)
  return (jnp.mean if pool == 'mean' else jnp.max)(h_BxTxHxWxC, axis=1)


@register('cnn3d', widths=('blocks', 'dense'))
class CNN3D(nn.Module):
  """Blocks of 'SAME' 3D convolutions (k x k x k) with ReLU, max pooling, Dense layers."""
  num_outputs: int
  blocks: Sequence[Sequence[int]] = ((16,), (32,))
  kernel_size: int = 3
  pool_size: int = 2                # on H and W, after every block
  time_pool_size: int = 1           # on T, after every block
  pool: str = 'max'                 # readout over (T, H, W): 'flatten', 'mean', 'max'
  dense: Sequence[int] = (64,)      # hidden Dense layers before the output
  head: str = 'vector'              # 'pixels': outputs per pixel (`pool` over T only)
  activation: str = 'relu'
  dropout: float = 0.0              # after every hidden Dense layer, when training
  conv_impl: str = 'auto'           # kernels/resolve.py
  dtype: Any = None                 # computation dtype (models/precision.py)

  def pixels_per_cell(self) -> int:
    """f: each cell of the pooled grid stands for f x f pixels (head='pixels')."""
    return self.pool_size ** len(self.blocks)

  def check_input(self, input_shape):
    check_video_input('cnn3d', input_shape)
    kernels.check_conv_impl(self.conv_impl)
    if not self.blocks or any(not b for b in self.blocks):
      raise ConfigError('model.blocks must be a non-empty list of non-empty tuples of '
                        'conv widths')
    check_choice('pool', self.pool, READOUTS)
    check_choice('activation', self.activation, tuple(ACTIVATIONS))
    check_choice('head', self.head, HEADS)
    f = self.pixels_per_cell()
    if self.head == 'pixels' and (input_shape[1] % f or input_shape[2] % f):
      raise ConfigError(f"model.head='pixels' needs the frames' height and width "
                        f'{tuple(input_shape[1:3])} divisible by pool_size ** blocks = {f}')
    t, h, w = input_shape[:3]
    for b in range(len(self.blocks)):
      t, h, w = t // self.time_pool_size, h // self.pool_size, w // self.pool_size
      if min(t, h, w) < 1:
        raise ConfigError(
            f'the pooling after block {b} (time {self.time_pool_size}, space '
            f'{self.pool_size}) leaves no output: clips of {tuple(input_shape[:3])} are '
            f'too small for {len(self.blocks)} blocks')

  @nn.compact
  def __call__(self, x_BxTxHxWxC, lengths=None, train: bool = False):
    del lengths  # Fixed-length clips.
    act = ACTIVATIONS[self.activation]
    k = self.kernel_size
    h = x_BxTxHxWxC
    for b, widths in enumerate(self.blocks):
      for i, width in enumerate(widths):
        h = act(Conv3D(int(width), k, self.conv_impl, self.dtype,
                       name=f'block{b}_conv{i}')(h))
      h = max_pool_3d(h, self.time_pool_size, self.pool_size)
    pixels = self.head == 'pixels'
    # 'pixels': [B, H/f, W/f, D], and the Dense layers below act at every cell.
    h = time_readout(h, self.pool) if pixels else readout_3d(h, self.pool)
    for i, width in enumerate(self.dense):
      h = act(nn.Dense(int(width), dtype=self.dtype, name=f'dense{i}')(h))
      h = nn.Dropout(self.dropout, deterministic=not train)(h)
    if pixels:
      f = self.pixels_per_cell()
      return depth_to_space(nn.Dense(f * f * self.num_outputs, dtype=self.dtype,
                                     name='out')(h), f)
    return nn.Dense(self.num_outputs, dtype=self.dtype, name='out')(h)


# ---------------------------------------------------------------------------
# Per-frame 2D CNN, then a recurrent net over the frames


@register('cnn_lstm', widths=('blocks', 'hidden_size'))
class CNNLSTM(nn.Module):
  """cnn2d's conv blocks on every frame, a vector per frame, an RNN (LSTM) over frames."""
  num_outputs: int
  # The per-frame CNN (fields of cnn2d).
  blocks: Sequence[Sequence[int]] = ((16,), (32,))
  kernel_size: int = 3
  padding: Any = 'SAME'
  pooling: str = 'max'
  pool_size: int = 2
  frame_pool: str = 'flatten'       # each frame's map -> vector: 'flatten', 'mean', 'max'
  activation: str = 'relu'
  norm: str = 'none'
  norm_groups: int = 8
  dropout: float = 0.0
  conv_impl: str = 'auto'
  # The recurrent net over frames (fields of models/rnn.py's RNN).
  cell: str = 'lstm'
  hidden_size: int = 64
  num_layers: int = 1
  bidirectional: bool = False
  pool: str = 'last'
  head: str = 'vector'              # 'pixels': the RNN's output layer gives H*W*num_outputs
  dtype: Any = None                 # computation dtype (models/precision.py)

  def frame_cnn(self, **kwargs) -> ConvStack2D:
    """The cnn2d whose checks the per-frame CNN shares (its dense layers unused)."""
    return ConvStack2D(1, blocks=self.blocks, kernel_size=self.kernel_size,
                       padding=self.padding, pooling=self.pooling, pool_size=self.pool_size,
                       pool=self.frame_pool, dense=(), activation=self.activation,
                       norm=self.norm, norm_groups=self.norm_groups, dropout=self.dropout,
                       conv_impl=self.conv_impl, **kwargs)

  def rnn(self, num_outputs: int | None = None, **kwargs) -> RNN:
    return RNN(self.cell, num_outputs or self.num_outputs, hidden_size=self.hidden_size,
               num_layers=self.num_layers, bidirectional=self.bidirectional,
               pool=self.pool, dtype=self.dtype, **kwargs)

  def check_input(self, input_shape):
    check_video_input('cnn_lstm', input_shape)
    check_choice('cell', self.cell, tuple(CELLS))
    check_choice('head', self.head, HEADS)
    self.frame_cnn(parent=None).check_input(tuple(input_shape[1:]))
    h, w = stack_output_hw(tuple(input_shape[1:3]), self.blocks, self.kernel_size,
                           block_paddings(self.padding, len(self.blocks)), self.pool_size,
                           self.pooling)
    width = int(self.blocks[-1][-1])
    self.rnn(parent=None).check_input(
        (input_shape[0], h * w * width if self.frame_pool == 'flatten' else width))

  @nn.compact
  def __call__(self, x_BxTxHxWxC, lengths=None, train: bool = False):
    B, T = x_BxTxHxWxC.shape[:2]
    frames = x_BxTxHxWxC.reshape(B * T, *x_BxTxHxWxC.shape[2:])
    _, maps = ConvBlocks(
        blocks=self.blocks, kernel_size=self.kernel_size,
        paddings=block_paddings(self.padding, len(self.blocks)), pooling=self.pooling,
        pool_size=self.pool_size, activation=self.activation, norm=self.norm,
        norm_groups=self.norm_groups, dropout=self.dropout, conv_impl=self.conv_impl,
        train=train, dtype=self.dtype, name='frames')(None, frames)
    h_BxTxD = readout_BxD(maps, self.frame_pool).reshape(B, T, -1)
    if self.head == 'pixels':
      H, W = x_BxTxHxWxC.shape[2:4]
      out = self.rnn(H * W * self.num_outputs, name='rnn')(h_BxTxD, lengths=lengths,
                                                           train=train)
      return out.reshape(B, H, W, self.num_outputs)
    return self.rnn(name='rnn')(h_BxTxD, lengths=lengths, train=train)
