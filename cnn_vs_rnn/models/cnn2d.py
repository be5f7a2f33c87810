"""Convolutional networks over images ([B, H, W, C]).

  cnn2d   a plain stack: blocks of convolutions, a pooling after each block,
          hidden Dense layers, then the output layer. Its defaults are the
          PyTorch-examples MNIST CNN without dropout (torch_reference.py's
          `cnn_mnist` case): conv32 3x3 VALID, relu, conv64 3x3 VALID, relu,
          maxpool 2, flatten (12*12*64 = 9216), dense128, relu, dense10;
          1,199,882 parameters on 28x28x1 images and 10 classes.
  lenet   LeNet-5 (LeCun et al. 1998): conv6 5x5 (SAME, as 28x28 MNIST padded
          to 32x32), avgpool 2, conv16 5x5 VALID, avgpool 2, dense120, dense84,
          tanh; 61,706 parameters on 28x28x1 and 10 classes.
  vgg     the same stack with VGG defaults: blocks of 3x3 SAME convolutions,
          max-pool after each block, e.g. blocks=((32, 32), (64, 64)).
  resnet  a small pre-activation ResNet (He et al. 2016, "Identity mappings"):
          a 3x3 stem, `stage_sizes[i]` blocks of width `width * 2**i` per
          stage (the first block of every stage after the first strides 2),
          norm-act before every convolution, global average pool, Dense.

`conv_impl` picks the kernel that computes every convolution, over the same
parameters (kernels/resolve.py): 'auto' (the default) is im2col on CPU, where
XLA's convolutions are slow (about 3x on the cnn_mnist benchmark), and lax
elsewhere. `batch_chunk` > 0 runs the
convolutional blocks of cnn2d/vgg/lenet over chunks of that many examples
(`nn.scan` with rematerialisation), so that every intermediate stays in the
CPU cache; the result is the same function (see experiments/speed).

`norm` is 'batch' (running averages in the 'batch_stats' collection, used when
train=False; Flax momentum 0.9, i.e. PyTorch's 0.1), 'layer' (over H, W, C), 'group'
(`norm_groups` groups of channels) or 'none'; a normalised convolution has no
bias of its own. `dropout` applies after every pooling and hidden Dense layer
(resnet: before the output layer), with the 'dropout' RNG, only when training.

`dtype` is the computation dtype (models/precision.py): convolutions, Dense
layers and activations run in it; the norms compute their statistics in at
least float32 and batch norm keeps its running averages in float32.
"""

from __future__ import annotations

from typing import Any, Sequence

import jax.numpy as jnp
import flax.linen as nn

from cnn_vs_rnn.kernels import check_conv_impl
from cnn_vs_rnn.models.conv import Conv
from cnn_vs_rnn.models.registry import register
from cnn_vs_rnn.errors import ConfigError

NORMS = ('batch', 'layer', 'group', 'none')
ACTIVATIONS = {'relu': nn.relu, 'tanh': jnp.tanh, 'gelu': nn.gelu}
POOLINGS = ('max', 'avg', 'none')   # between blocks
READOUTS = ('flatten', 'mean', 'max')  # the `pool` field: feature map -> vector
BATCH_NORM_MOMENTUM = 0.9


# ---------------------------------------------------------------------------
# Shapes: pure functions used by check_input.


def conv_output_size(size: int, kernel: int, stride: int, padding: str) -> int:
  """Output size of one spatial axis of a convolution ('SAME' or 'VALID')."""
  if padding == 'SAME':
    return -(-size // stride)
  return (size - kernel) // stride + 1


def pool_output_size(size: int, window: int) -> int:
  """Output size of a VALID pooling with window = stride."""
  return size // window


def block_paddings(padding, num_blocks: int) -> tuple[str, ...]:
  """`padding` as one string per block ('SAME' for all, or a per-block tuple)."""
  if isinstance(padding, str):
    return (padding,) * num_blocks
  return tuple(padding)


def stack_output_hw(hw: tuple[int, int], blocks, kernel_size: int, paddings,
                    pool_size: int, pooling: str) -> tuple[int, int]:
  """Spatial size after a ConvStack2D's blocks; raises ConfigError when it vanishes."""
  h, w = hw
  for b, (widths, padding) in enumerate(zip(blocks, paddings)):
    for i, _ in enumerate(widths):
      h, w = (conv_output_size(s, kernel_size, 1, padding) for s in (h, w))
      if min(h, w) < 1:
        raise ConfigError(
            f'conv {i} of block {b} ({kernel_size}x{kernel_size} {padding}) leaves no '
            f'output: the input {hw[0]}x{hw[1]} is too small for blocks={_tuple(blocks)}')
    if pooling != 'none':
      h, w = (pool_output_size(s, pool_size) for s in (h, w))
      if min(h, w) < 1:
        raise ConfigError(
            f'the {pool_size}x{pool_size} pooling after block {b} leaves no output: '
            f'the input {hw[0]}x{hw[1]} is too small for blocks={_tuple(blocks)}')
  return h, w


def _tuple(nested):
  return tuple(tuple(x) if isinstance(x, (list, tuple)) else x for x in nested)


# ---------------------------------------------------------------------------
# Checks shared by every image model.


def check_image_input(name: str, input_shape) -> None:
  if len(input_shape) != 3:
    raise ConfigError(f'{name} takes images of shape (H, W, C), not {tuple(input_shape)}')


def check_choice(key: str, value, valid) -> None:
  if value not in valid:
    raise ConfigError(f'unknown model.{key} {value!r}; valid: {", ".join(valid)}')


def check_common(norm: str, widths: Sequence[int], norm_groups: int, dropout: float) -> None:
  check_choice('norm', norm, NORMS)
  if any(int(w) < 1 for w in widths):
    raise ConfigError(f'every layer width must be >= 1, got {tuple(widths)}')
  if norm == 'group':
    bad = sorted({int(w) for w in widths if norm_groups < 1 or int(w) % norm_groups})
    if bad:
      raise ConfigError(
          f'model.norm_groups={norm_groups} must divide every normalised width; '
          f'it does not divide {", ".join(map(str, bad))}')
  if not 0.0 <= dropout < 1.0:
    raise ConfigError(f'model.dropout={dropout} must be in [0, 1)')


def make_norm(norm: str, train: bool, norm_groups: int, name: str, dtype=None):
  """A normalisation layer for [B, H, W, C] features, or None for 'none'.

  `dtype` is its output's dtype; Flax computes the statistics in at least
  float32 and keeps batch norm's running averages in float32.
  """
  if norm == 'batch':
    return nn.BatchNorm(use_running_average=not train, momentum=BATCH_NORM_MOMENTUM,
                        dtype=dtype, name=name)
  if norm == 'layer':
    return nn.LayerNorm(reduction_axes=(-3, -2, -1), feature_axes=-1, dtype=dtype, name=name)
  if norm == 'group':
    return nn.GroupNorm(num_groups=norm_groups, dtype=dtype, name=name)
  return None


def readout_BxD(h_BxHxWxC, pool: str):
  """Feature map -> one vector per example."""
  if pool == 'flatten':
    return h_BxHxWxC.reshape(h_BxHxWxC.shape[0], -1)
  if pool == 'mean':
    return jnp.mean(h_BxHxWxC, axis=(1, 2))
  if pool == 'max':
    return jnp.max(h_BxHxWxC, axis=(1, 2))
  raise ValueError(f'unknown pool {pool!r}; valid: {", ".join(READOUTS)}')


def spatial_pool(h_BxHxWxC, pooling: str, size: int):
  """Non-overlapping VALID pooling (window = stride = `size`) as a reshape.

  The same numbers as `nn.max_pool`/`nn.avg_pool` with strides equal to the
  window; XLA's CPU reduce-window and its gradient (select-and-scatter) are
  several times slower than a reduction over the reshaped windows.
  """
  if pooling == 'none':
    return h_BxHxWxC
  b, h, w, c = h_BxHxWxC.shape
  ho, wo = h // size, w // size
  windows = h_BxHxWxC[:, :ho * size, :wo * size].reshape(b, ho, size, wo, size, c)
  if pooling == 'max':
    return jnp.max(windows, axis=(2, 4))
  return jnp.mean(windows, axis=(2, 4))


# Convolutions: `nn.Conv` for images (same parameters, names and initialisers),
# computed by the kernel `impl` names (kernels/conv.py).
Conv2D = Conv


# ---------------------------------------------------------------------------
# Models.


@register('cnn2d', widths=('blocks', 'dense'))
class ConvStack2D(nn.Module):
  """Blocks of (conv, norm, activation), a pooling after each block, Dense layers.

  The registered 'cnn2d' is this class; 'vgg' and 'lenet' change its defaults.
  """
  num_outputs: int
  blocks: Sequence[Sequence[int]] = ((32, 64),)
  kernel_size: int = 3
  padding: Any = 'VALID'            # 'SAME', 'VALID' or one per block
  pooling: str = 'max'              # after every block: 'max', 'avg', 'none'
  pool_size: int = 2
  pool: str = 'flatten'             # readout: 'flatten', 'mean', 'max'
  dense: Sequence[int] = (128,)     # hidden Dense layers before the output
  activation: str = 'relu'
  norm: str = 'none'
  norm_groups: int = 8
  dropout: float = 0.0
  conv_impl: str = 'auto'           # kernels/resolve.py: 'auto', 'native', 'lax', ...
  batch_chunk: int = 0              # > 0: the conv blocks run on chunks of this many examples
  dtype: Any = None                 # computation dtype (models/precision.py)

  registry_name = 'cnn2d'

  def check_input(self, input_shape):
    name = self.registry_name
    check_image_input(name, input_shape)
    if not self.blocks or any(not b for b in self.blocks):
      raise ConfigError(f'model.blocks={_tuple(self.blocks)} must be a non-empty list '
                        'of non-empty tuples of conv widths')
    paddings = block_paddings(self.padding, len(self.blocks))
    if len(paddings) != len(self.blocks):
      raise ConfigError(f'model.padding={self.padding!r} needs one entry per block '
                        f'({len(self.blocks)})')
    for p in paddings:
      check_choice('padding', p, ('SAME', 'VALID'))
    check_choice('pooling', self.pooling, POOLINGS)
    check_choice('pool', self.pool, READOUTS)
    check_choice('activation', self.activation, tuple(ACTIVATIONS))
    check_conv_impl(self.conv_impl)
    if self.batch_chunk < 0:
      raise ConfigError(f'model.batch_chunk={self.batch_chunk} must be >= 0 (0: the whole batch)')
    if self.batch_chunk and self.norm == 'batch':
      raise ConfigError(f'model.batch_chunk={self.batch_chunk} needs a per-example norm: '
                        "norm='batch' normalises over the whole batch; use 0, or norm "
                        "'layer', 'group' or 'none'")
    if self.kernel_size < 1 or self.pool_size < 1:
      raise ConfigError(f'model.kernel_size={self.kernel_size} and model.pool_size='
                        f'{self.pool_size} must be >= 1')
    widths = [w for b in self.blocks for w in b]
    check_common(self.norm, widths, self.norm_groups, self.dropout)
    if any(int(d) < 1 for d in self.dense):
      raise ConfigError(f'model.dense={tuple(self.dense)} must hold positive widths')
    stack_output_hw(tuple(input_shape[:2]), self.blocks, self.kernel_size, paddings,
                    self.pool_size, self.pooling)

  @nn.compact
  def __call__(self, x_BxHxWxC, lengths=None, train: bool = False):
    del lengths  # Fixed-size images.
    h = self.features(x_BxHxWxC, train)
    h = readout_BxD(h, self.pool)
    act = ACTIVATIONS[self.activation]
    for i, width in enumerate(self.dense):
      h = act(nn.Dense(int(width), dtype=self.dtype, name=f'dense{i}')(h))
      h = nn.Dropout(self.dropout, deterministic=not train)(h)
    return nn.Dense(self.num_outputs, dtype=self.dtype, name='out')(h)

  def features(self, x_BxHxWxC, train: bool):
    """The convolutional blocks, over the whole batch or `batch_chunk` examples at a time."""
    kwargs = dict(blocks=self.blocks, kernel_size=self.kernel_size,
                  paddings=block_paddings(self.padding, len(self.blocks)),
                  pooling=self.pooling, pool_size=self.pool_size,
                  activation=self.activation, norm=self.norm, norm_groups=self.norm_groups,
                  dropout=self.dropout, conv_impl=self.conv_impl, train=train,
                  dtype=self.dtype)
    if not self.batch_chunk:
      return ConvBlocks(**kwargs, name='features')(None, x_BxHxWxC)[1]
    b, chunk = x_BxHxWxC.shape[0], int(self.batch_chunk)
    n = -(-b // chunk)
    x = jnp.pad(x_BxHxWxC, ((0, n * chunk - b), (0, 0), (0, 0), (0, 0)))
    scan = nn.scan(nn.remat(ConvBlocks), variable_broadcast='params',
                   split_rngs={'params': False, 'dropout': True}, length=n)
    _, h = scan(**kwargs, name='features')(None, x.reshape(n, chunk, *x.shape[1:]))
    return h.reshape(n * chunk, *h.shape[2:])[:b]


class ConvBlocks(nn.Module):
  """A ConvStack2D's blocks: (conv, norm, activation) per width, then pooling, dropout.

  Called as (carry, x) -> (carry, features) so that `nn.scan` can map it over
  chunks of the batch; the carry is passed through.
  """
  blocks: Sequence[Sequence[int]]
  kernel_size: int
  paddings: Sequence[str]
  pooling: str
  pool_size: int
  activation: str
  norm: str
  norm_groups: int
  dropout: float
  conv_impl: str
  train: bool
  dtype: Any = None

  @nn.compact
  def __call__(self, carry, x_BxHxWxC):
    act = ACTIVATIONS[self.activation]
    h = x_BxHxWxC
    for b, (widths, padding) in enumerate(zip(self.blocks, self.paddings)):
      for i, width in enumerate(widths):
        h = Conv2D(int(width), (self.kernel_size, self.kernel_size), padding=padding,
                   use_bias=self.norm == 'none', impl=self.conv_impl, dtype=self.dtype,
                   name=f'block{b}_conv{i}')(h)
        norm = make_norm(self.norm, self.train, self.norm_groups, f'block{b}_norm{i}',
                         self.dtype)
        h = act(norm(h) if norm else h)
      h = spatial_pool(h, self.pooling, self.pool_size)
      h = nn.Dropout(self.dropout, deterministic=not self.train)(h)
    return carry, h


@register('vgg', widths=('blocks', 'dense'))
class VGG(ConvStack2D):
  """VGG-style: blocks of 3x3 SAME convolutions, max-pool 2 after each block."""
  blocks: Sequence[Sequence[int]] = ((32, 32), (64, 64))
  padding: Any = 'SAME'
  dense: Sequence[int] = (128,)

  registry_name = 'vgg'


@register('lenet', widths=('blocks', 'dense'))
class LeNet(ConvStack2D):
  """LeNet-5: conv6 5x5 SAME, avgpool, conv16 5x5 VALID, avgpool, 120, 84; tanh."""
  blocks: Sequence[Sequence[int]] = ((6,), (16,))
  kernel_size: int = 5
  padding: Any = ('SAME', 'VALID')
  pooling: str = 'avg'
  dense: Sequence[int] = (120, 84)
  activation: str = 'tanh'

  registry_name = 'lenet'


class PreActBlock(nn.Module):
  """norm-act-conv3x3(stride)-norm-act-conv3x3, plus the (projected) input."""
  features: int
  strides: int
  norm: str
  norm_groups: int
  conv_impl: str = 'auto'
  dtype: Any = None

  @nn.compact
  def __call__(self, x_BxHxWxC, train: bool):
    norm0 = make_norm(self.norm, train, self.norm_groups, 'norm0', self.dtype)
    pre = nn.relu(norm0(x_BxHxWxC) if norm0 else x_BxHxWxC)
    shortcut = x_BxHxWxC
    if self.strides != 1 or x_BxHxWxC.shape[-1] != self.features:
      shortcut = Conv2D(self.features, (1, 1), strides=self.strides, use_bias=False,
                        impl=self.conv_impl, dtype=self.dtype, name='shortcut')(pre)
    use_bias = self.norm == 'none'
    h = Conv2D(self.features, (3, 3), strides=self.strides, padding='SAME',
               use_bias=use_bias, impl=self.conv_impl, dtype=self.dtype, name='conv0')(pre)
    norm1 = make_norm(self.norm, train, self.norm_groups, 'norm1', self.dtype)
    h = nn.relu(norm1(h) if norm1 else h)
    h = Conv2D(self.features, (3, 3), padding='SAME', use_bias=use_bias,
               impl=self.conv_impl, dtype=self.dtype, name='conv1')(h)
    return h + shortcut


def resnet_widths(stage_sizes: Sequence[int], width: int,
                  stage_widths: Sequence[int] = ()) -> list[int]:
  """Channels per stage: `stage_widths` if given, else width * 2**stage."""
  if stage_widths:
    return [int(w) for w in stage_widths]
  return [width * 2 ** i for i in range(len(stage_sizes))]


@register('resnet', widths=('stage_widths',))
class PreActResNet(nn.Module):
  """Small pre-activation ResNet; (3, 3, 3) with width 16 is ResNet-20's layout."""
  num_outputs: int
  stage_sizes: Sequence[int] = (2, 2, 2)
  width: int = 16
  stage_widths: Sequence[int] = ()  # explicit channels per stage (overrides width)
  norm: str = 'batch'
  norm_groups: int = 8
  dropout: float = 0.0
  conv_impl: str = 'auto'           # kernels/resolve.py: 'auto', 'native', 'lax', ...
  dtype: Any = None                 # computation dtype (models/precision.py)

  registry_name = 'resnet'

  def sizing_widths(self) -> dict:
    """The widths models/sizing.py scales: one per stage."""
    return {'stage_widths': tuple(self.widths())}

  def widths(self) -> list[int]:
    return resnet_widths(self.stage_sizes, self.width, self.stage_widths)

  def check_input(self, input_shape):
    check_image_input('resnet', input_shape)
    if not self.stage_sizes or any(int(n) < 1 for n in self.stage_sizes):
      raise ConfigError(f'model.stage_sizes={tuple(self.stage_sizes)} must be a non-empty '
                        'list of positive block counts')
    if self.width < 1:
      raise ConfigError(f'model.width={self.width} must be >= 1')
    if self.stage_widths and len(self.stage_widths) != len(self.stage_sizes):
      raise ConfigError(f'model.stage_widths={tuple(self.stage_widths)} needs one width '
                        f'per stage of stage_sizes={tuple(self.stage_sizes)}')
    check_common(self.norm, self.widths(), self.norm_groups, self.dropout)
    check_conv_impl(self.conv_impl)
    if min(input_shape[:2]) < 1:  # SAME strided convolutions never empty a map.
      raise ConfigError(f'resnet needs images of at least 1x1, not {tuple(input_shape)}')

  @nn.compact
  def __call__(self, x_BxHxWxC, lengths=None, train: bool = False):
    del lengths
    widths = self.widths()
    h = Conv2D(widths[0], (3, 3), padding='SAME', use_bias=self.norm == 'none',
               impl=self.conv_impl, dtype=self.dtype, name='stem')(x_BxHxWxC)
    for s, (n, features) in enumerate(zip(self.stage_sizes, widths)):
      for i in range(int(n)):
        strides = 2 if s > 0 and i == 0 else 1
        h = PreActBlock(features, strides, self.norm, self.norm_groups, self.conv_impl,
                        self.dtype, name=f'stage{s}_block{i}')(h, train)
    norm = make_norm(self.norm, train, self.norm_groups, 'final_norm', self.dtype)
    h = nn.relu(norm(h) if norm else h)
    h = readout_BxD(h, 'mean')
    h = nn.Dropout(self.dropout, deterministic=not train)(h)
    return nn.Dense(self.num_outputs, dtype=self.dtype, name='out')(h)
