"""Model registry keyed by `config.model.name`, with one calling convention.

Every model is a Flax module built as `build(config.model, spec)` and called
as `model.apply(variables, inputs, lengths=None, train=False)`:
  inputs  [B, T, C] for sequences ([B, H, W, C] for images),
  lengths [B] int (optional) for variable-length sequences,
  returns [B, num_outputs], or [B, T, num_outputs] for per-step tasks.
The other keys of `config.model` are the module's fields, except
`embed_dim`: for token inputs (a dataset with a vocabulary) the model is
wrapped in `Embedded`, which feeds it learned embeddings of that size, or
one-hot vectors when `embed_dim` is 0.

`build(..., dtype='bfloat16')` (the top-level `config.dtype`) sets every
module's computation dtype; parameters stay float32 (models/precision.py).
`build` also resolves a model's `conv_impl` to the kernel that runs on this
backend, once (kernels/resolve.py): modules compute with the kernels of
cnn_vs_rnn/kernels and never ask which backend runs.
"""

from __future__ import annotations

import dataclasses
import functools
import sys
from typing import Any

import jax
import jax.numpy as jnp
import flax.linen as nn

from cnn_vs_rnn import kernels
from cnn_vs_rnn.errors import ConfigError, choose, show
from cnn_vs_rnn.models.cnn import CNN1D
from cnn_vs_rnn.models.cnn2d import ConvStack2D, LeNet, PreActResNet, VGG
from cnn_vs_rnn.models.crnn import CRNN
from cnn_vs_rnn.models.fcn import FCN, ResNet1D
from cnn_vs_rnn.models import precision, sizing
from cnn_vs_rnn.models.heads import POOLS
from cnn_vs_rnn.models.lru import LRUNet
from cnn_vs_rnn.models.mlp import MLP
from cnn_vs_rnn.models.rnn import RNN
from cnn_vs_rnn.models.tcn import TCN
from cnn_vs_rnn.models import segmentation, seq2seq  # pylint: disable=unused-import  (they register)
from cnn_vs_rnn.models.video import CNN3D, CNNLSTM, ConvLSTM

from cnn_vs_rnn.models.registry import MODELS, register  # pylint: disable=g-bad-import-order

# The LRU is defined with the other families and registered here.
register('lru', widths=('d_model', 'd_state'))(LRUNet)

# 'dtype' is set by build() from the top-level config.dtype, not by config.model;
# 'target_length' from the data (DataSpec.output_shape[0]), for models that decode.
_NOT_FIELDS = {'name', 'parent', 'dtype', 'target_length'}


def _has_field(factory, name: str) -> bool:
  cls = factory.func if isinstance(factory, functools.partial) else factory
  return any(f.name == name for f in dataclasses.fields(cls))


def field_names(factory) -> list[str]:
  cls = factory.func if isinstance(factory, functools.partial) else factory
  fixed = set(factory.keywords) if isinstance(factory, functools.partial) else set()
  return sorted(f.name for f in dataclasses.fields(cls)
                if f.name not in _NOT_FIELDS | fixed | {'num_outputs'})


_NOT_MODULE_KEYS = ('name', 'embed_dim', 'param_budget')


def build(model_config, spec, dtype: str | None = None) -> nn.Module:
  """The model `config.model.name` with the config's fields, sized for `spec`.

  With `config.model.param_budget > 0`, the family's width fields are
  scaled together to land within 5% of that many parameters (models/sizing.py).
  `dtype` ('float32', 'bfloat16'; None: inferred from the inputs) is the
  computation dtype of every layer; parameters are float32 in any case.
  """
  name = model_config.name
  factory = choose('model', name, MODELS)
  kwargs = {k: v for k, v in model_config.items() if k not in _NOT_MODULE_KEYS}
  valid = field_names(factory)
  unknown = sorted(set(kwargs) - set(valid))
  if unknown:
    hint = '; the computation dtype is the top-level config.dtype' if 'dtype' in unknown else ''
    raise ConfigError(f'model {name!r} has no field(s) {", ".join(unknown)}; '
                      f'valid: {", ".join(valid)}{hint}')
  kwargs = resolve_kernels(factory, kwargs)
  check_sizes(name, {**kwargs, 'embed_dim': model_config.get('embed_dim', 0),
                      'param_budget': model_config.get('param_budget', 0)})
  if 'pool' in kwargs and kwargs['pool'] not in POOLS:
    raise ConfigError(f'unknown model.pool {kwargs["pool"]!r}; valid: {", ".join(POOLS)}')
  if spec.per_step:
    kwargs['pool'] = 'none'
  embed_dim = model_config.get('embed_dim', 0)
  budget = model_config.get('param_budget', 0)
  if budget:  # Parameter counts do not depend on the computation dtype.
    defaults = factory(num_outputs=spec.num_outputs, **kwargs)
    widths = (defaults.sizing_widths() if hasattr(defaults, 'sizing_widths') else
              {f: getattr(defaults, f) for f in sizing.WIDTH_FIELDS.get(name, ())})
    multiple = kwargs.get('norm_groups', 1) if kwargs.get('norm') == 'group' else 1
    count = lambda w: param_count(_make(factory, {**kwargs, **w}, spec, embed_dim), spec)
    kwargs.update(sizing.fit_widths(name, widths, count, budget, multiple))
  model = _make(factory, kwargs, spec, embed_dim, precision.compute_dtype(dtype))
  backbone = model.backbone if isinstance(model, Embedded) else model
  if hasattr(backbone, 'check_input'):  # Optional: check_fits below checks the shapes.
    backbone.check_input(tuple(spec.input_shape) + ((embed_dim or spec.vocab_size,)
                                                    if spec.vocab_size else ()))
  check_fits(model, name, spec)
  warn_if_blind(backbone, name, spec)
  return model


def resolve_kernels(factory, kwargs: dict) -> dict:
  """`kwargs` with the model's `conv_impl` (the config's, else the field's default)
  resolved to the kernel that runs on this backend: 'lax', 'canonical' or 'im2col'."""
  cls = factory.func if isinstance(factory, functools.partial) else factory
  field = {f.name: f for f in dataclasses.fields(cls)}.get('conv_impl')
  if field is None:
    return kwargs
  return {**kwargs, 'conv_impl': kernels.resolve_conv(kwargs.get('conv_impl', field.default))}


def receptive_field(model: nn.Module) -> int | None:
  """Input steps one output of a convolutional sequence model sees (None: no such limit)."""
  backbone = model.backbone if isinstance(model, Embedded) else model
  rf = getattr(backbone, 'receptive_field', None)
  return int(rf()) if rf is not None else None


def warn_if_blind(backbone: nn.Module, name: str, spec) -> None:
  """One warning line when a conv model's outputs cannot see the whole sequence.

  Only for the 'last' and per-step ('none') readouts: 'mean', 'max' and
  'flatten' pool over every position, so together they see every step.
  """
  rf = receptive_field(backbone)
  length = spec.input_shape[0]
  if rf is None or getattr(backbone, 'pool', None) not in ('last', 'none') or rf >= length:
    return
  cover = getattr(backbone, 'levels_to_cover', None)
  hint = (f'{cover(length)} levels would cover it' if cover is not None else
          'more layers, larger kernels or strides would widen it')
  print(f'warning: model {name!r} has a receptive field of {rf} steps, shorter than the '
        f'sequence length {length}: the first {length - rf} steps never reach an output '
        f'({hint})', file=sys.stderr, flush=True)


# Integer fields that may be 0 (every other integer of a model must be >= 1).
ZERO_ALLOWED = frozenset({'padding', 'batch_chunk', 'embed_dim', 'param_budget',
                          'decoder_embed_dim'})


def check_sizes(name: str, fields: dict) -> None:
  """Widths, depths, kernel sizes and strides (every integer field) must be positive."""
  def ints(value):
    if isinstance(value, (tuple, list)):
      return [i for v in value for i in ints(v)]
    return [value] if isinstance(value, int) and not isinstance(value, bool) else []
  for key, value in fields.items():
    low = 0 if key in ZERO_ALLOWED else 1
    bad = [i for i in ints(value) if i < low]
    if bad:
      raise ConfigError(f'model.{key}={show(value)} must hold integers >= {low} '
                        f'(model {name!r} got {bad[0]})')
    if key == 'dropout' and isinstance(value, (int, float)) and not 0 <= value < 1:
      raise ConfigError(f'model.dropout={show(value)} must be in [0, 1)')


def _make(factory, kwargs: dict, spec, embed_dim: int, dtype=None) -> nn.Module:
  if _has_field(factory, 'dtype'):  # A model without a dtype field computes as it likes.
    kwargs = {**kwargs, 'dtype': dtype}
  if spec.output_shape and _has_field(factory, 'target_length'):
    kwargs = {**kwargs, 'target_length': spec.output_shape[0]}  # steps to decode
  model = factory(num_outputs=spec.num_outputs, **kwargs)
  return Embedded(spec.vocab_size, embed_dim, model, dtype) if spec.vocab_size else model


def param_count(model: nn.Module, spec) -> int:
  """Parameters of `model` on inputs of `spec`, from shapes only (nothing is allocated)."""
  x = jax.ShapeDtypeStruct((1,) + tuple(spec.input_shape), spec.input_dtype)
  shapes = jax.eval_shape(lambda x: model.init(jax.random.key(0), x), x)
  return count_params(shapes['params'])


class Embedded(nn.Module):
  """Token ids [B, T] -> embeddings [B, T, D] (one-hot if embed_dim is 0) -> backbone."""
  vocab_size: int
  embed_dim: int
  backbone: nn.Module
  dtype: Any = None  # computation dtype of the embeddings (models/precision.py)

  @nn.compact
  def __call__(self, tokens_BxT, lengths=None, train: bool = False, **kwargs):
    """`kwargs` (tasks.model_inputs, e.g. a seq2seq model's targets) go to the backbone."""
    if self.embed_dim:
      x_BxTxD = nn.Embed(self.vocab_size, self.embed_dim, dtype=self.dtype,
                         name='embed')(tokens_BxT)
    else:
      x_BxTxD = jax.nn.one_hot(tokens_BxT, self.vocab_size, dtype=self.dtype or jnp.float32)
    return self.backbone(x_BxTxD, lengths=lengths, train=train, **kwargs)


def expected_output_shape(spec, batch: int) -> tuple[int, ...]:
  if spec.output_shape:
    return (batch,) + tuple(spec.output_shape)
  steps = (spec.input_shape[0],) if spec.per_step else ()
  return (batch,) + steps + (spec.num_outputs,)


def check_fits(model: nn.Module, name: str, spec) -> None:
  """Raises a ConfigError unless the model maps the data's shape to its outputs."""
  x = jax.ShapeDtypeStruct((2,) + tuple(spec.input_shape), spec.input_dtype)
  try:
    out = jax.eval_shape(
        lambda x: model.init_with_output(jax.random.key(0), x)[0], x)
  except (TypeError, ValueError) as e:
    if isinstance(e, ConfigError):
      raise
    msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    raise ConfigError(f'model {name!r} does not fit data of shape '
                      f'{tuple(spec.input_shape)}: {msg}') from None
  want = expected_output_shape(spec, 2)
  if out.shape != want:
    raise ConfigError(f'model {name!r} maps data of shape {tuple(spec.input_shape)} '
                      f'to outputs {out.shape[1:]}, the task needs {want[1:]}')


def count_params(params) -> int:
  return sum(x.size for x in jax.tree.leaves(params))


def summary(params) -> str:
  """One line per parameter array, then the total."""
  flat = jax.tree_util.tree_flatten_with_path(params)[0]
  lines = []
  for path, leaf in flat:
    name = '/'.join(str(getattr(p, 'key', p)) for p in path)
    lines.append(f'  {name:<48} {str(tuple(leaf.shape)):<16} {leaf.size:>10,}')
  lines.append(f'  {"total":<48} {"":<16} {count_params(params):>10,}')
  return '\n'.join(lines)
