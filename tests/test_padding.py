"""Padding never changes an output: every sequence model in the registry, every readout.

A padded batch (garbage past each sequence's end, with `lengths`) must give
each example the output of that example alone at its own length. The cases
come from `models.MODELS`, so a newly registered sequence model is covered.
"""

import dataclasses
import functools

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from cnn_vs_rnn import data, models
from cnn_vs_rnn.errors import ConfigError
from conftest import jit_init

T, C, K = 24, 3, 5
SPEC = data.DataSpec(input_shape=(T, C), task='classification', num_outputs=K,
                     variable_length=True)
SMALL = {
    'cnn1d': dict(features=(6, 6, 6)),
    'tcn': dict(channels=(6, 6, 6)),
    'elman': dict(hidden_size=6), 'lstm': dict(hidden_size=6), 'gru': dict(hidden_size=6),
    'lru': dict(d_model=6, d_state=8),
    'crnn': dict(features=(6, 6), hidden_size=6),
    'fcn': dict(features=(6, 6, 6)), 'resnet1d': dict(features=(6, 6, 6)),
}
VARIANTS = {
    'gru': [dict(bidirectional=True), dict(num_layers=2)],
    'lstm': [dict(bidirectional=True)],
    'cnn1d': [dict(strides=(1, 2, 1), kernel_sizes=(5, 5, 3))],
    'crnn': [dict(bidirectional=True, kernel_size=5, pool_size=3)],
}


def factory_fields(name):
  factory = models.MODELS[name]
  cls = factory.func if isinstance(factory, functools.partial) else factory
  return {f.name for f in dataclasses.fields(cls)}


def sequence_models():
  """Registered models that take [B, T, C] sequences of any length.

  Left out: models with `fixed_length` (the MLP: one weight per position; its
  masking of padded steps is tested in tests/test_models.py).
  """
  out = []
  for name in sorted(models.MODELS):
    factory = models.MODELS[name]
    if getattr(getattr(factory, 'func', factory), 'fixed_length', False):
      continue
    try:
      models.build(ml_collections.ConfigDict(dict(name=name, **SMALL.get(name, {}))), SPEC)
    except ConfigError:
      continue  # An image model.
    out.append(name)
  return out


CASES = [(name, pool, extra) for name in sequence_models()
         for pool in ('last', 'mean', 'max')
         for extra in [{}] + VARIANTS.get(name, [])
         if 'pool' in factory_fields(name)]


@pytest.mark.parametrize('name,pool,extra', CASES,
                         ids=[f'{n}-{p}-{i}' for i, (n, p, _) in enumerate(CASES)])
def test_padding_never_changes_an_output(name, pool, extra):
  cfg = ml_collections.ConfigDict(dict(name=name, pool=pool, **SMALL.get(name, {}), **extra))
  model = models.build(cfg, SPEC)
  rng = np.random.default_rng(0)
  lengths = np.array([T, 17, 11, 9])
  x = rng.standard_normal((len(lengths), T, C)).astype(np.float32)
  garbage = rng.standard_normal(x.shape).astype(np.float32) * 100
  padded = np.where(np.arange(T)[None, :, None] < lengths[:, None, None], x, garbage)
  variables = jit_init(model, jax.random.key(0), jnp.asarray(padded[:1]))
  apply = jax.jit(model.apply)  # One program per shape, not one dispatch per op.
  batch_out = apply(variables, jnp.asarray(padded), lengths=jnp.asarray(lengths))
  for i, n in enumerate(lengths):
    alone = apply(variables, jnp.asarray(x[i:i + 1, :n]))
    np.testing.assert_allclose(np.asarray(batch_out[i]), np.asarray(alone[0]),
                               rtol=1e-5, atol=1e-5, err_msg=f'example of length {n}')


def test_every_sequence_family_is_covered():
  assert {'cnn1d', 'tcn', 'elman', 'lstm', 'gru', 'lru', 'crnn', 'fcn',
          'resnet1d'} <= set(sequence_models())


@pytest.mark.parametrize('cfg,warning', [
    (dict(name='tcn', channels=(4, 4), kernel_size=3, pool='last'),
     'receptive field of 13 steps, shorter than the sequence length 24: the first 11 '
     'steps never reach an output (3 levels would cover it)'),
    (dict(name='cnn1d', pool='last'),  # 1 + 4 + 2*2 + 2*4 = 17 (kernels 5, 3, 3; strides 2).
     'receptive field of 17 steps'),
    (dict(name='tcn', channels=(4, 4), kernel_size=3, pool='mean'), None),
    (dict(name='tcn', channels=(4, 4, 4), kernel_size=3, pool='last'), None),
    (dict(name='gru', hidden_size=4), None),
])
def test_a_model_that_cannot_see_the_whole_sequence_warns(cfg, warning, capsys):
  models.build(ml_collections.ConfigDict(cfg), SPEC)
  err = capsys.readouterr().err
  if warning is None:
    assert 'receptive field' not in err
  else:
    assert warning in err and len(err.strip().splitlines()) == 1
