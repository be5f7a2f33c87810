"""Model registry keyed by `config.model.name`, with one calling convention.

Every model is a Flax module built as `build(config.model, spec)` and called
as `model.apply(variables, inputs, lengths=None, train=False)`:
  inputs  [B, T, C] for sequences ([B, H, W, C] for images),
  lengths [B] int (optional) for variable-length sequences,
  returns [B, num_outputs], or [B, T, num_outputs] for per-step tasks.
The other keys of `config.model` are the module's fields.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import flax.linen as nn

from cnn_vs_rnn.errors import ConfigError, choose
from cnn_vs_rnn.models.cnn import CNN1D
from cnn_vs_rnn.models.heads import POOLS
from cnn_vs_rnn.models.rnn import RNN

MODELS = {
    'cnn1d': CNN1D,
    'elman': functools.partial(RNN, cell='elman'),
    'lstm': functools.partial(RNN, cell='lstm'),
    'gru': functools.partial(RNN, cell='gru'),
}

_NOT_FIELDS = {'name', 'parent'}


def field_names(factory) -> list[str]:
  cls = factory.func if isinstance(factory, functools.partial) else factory
  fixed = set(factory.keywords) if isinstance(factory, functools.partial) else set()
  return sorted(f.name for f in dataclasses.fields(cls)
                if f.name not in _NOT_FIELDS | fixed | {'num_outputs'})


def build(model_config, spec) -> nn.Module:
  """The model `config.model.name` with the config's fields, sized for `spec`."""
  factory = choose('model', model_config.name, MODELS)
  kwargs = {k: v for k, v in model_config.items() if k != 'name'}
  valid = field_names(factory)
  unknown = sorted(set(kwargs) - set(valid))
  if unknown:
    raise ConfigError(
        f'model {model_config.name!r} has no field(s) {", ".join(unknown)}; '
        f'valid: {", ".join(valid)}')
  if 'pool' in kwargs and kwargs['pool'] not in POOLS:
    raise ConfigError(f'unknown model.pool {kwargs["pool"]!r}; valid: {", ".join(POOLS)}')
  if spec.per_step:
    kwargs['pool'] = 'none'
  model = factory(num_outputs=spec.num_outputs, **kwargs)
  model.check_input(spec.input_shape)
  check_fits(model, model_config.name, spec)
  return model


def expected_output_shape(spec, batch: int) -> tuple[int, ...]:
  steps = (spec.input_shape[0],) if spec.per_step else ()
  return (batch,) + steps + (spec.num_outputs,)


def check_fits(model: nn.Module, name: str, spec) -> None:
  """Raises a ConfigError unless the model maps the data's shape to its outputs."""
  x = jax.ShapeDtypeStruct((2,) + tuple(spec.input_shape), jnp.float32)
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
