"""config.dtype: every registered model computes in bfloat16 with float32 parameters.

The cases come from the registry `models.MODELS` (each model at its defaults,
made small where SMALL says how), plus VARIANTS for the paths a default does
not take; a newly registered model is covered without editing this file.
"""

import functools

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import pytest

from cnn_vs_rnn import configlib, models, tasks, train
from cnn_vs_rnn.data import DataSpec
from cnn_vs_rnn.errors import ConfigError
from cnn_vs_rnn.models import lru as lru_lib
from cnn_vs_rnn.models import rnn
from cnn_vs_rnn.models.lru import LRU
from cnn_vs_rnn.models.precision import DTYPES
from cnn_vs_rnn.models.rnn import Recurrence
from conftest import jit_init

SEQUENCES = DataSpec(input_shape=(12, 3), task='classification', num_outputs=4)
IMAGES = DataSpec(input_shape=(16, 16, 1), task='classification', num_outputs=4)
TOKENS = DataSpec(input_shape=(12,), task='classification', num_outputs=4, vocab_size=7)
VIDEO = DataSpec(input_shape=(3, 8, 8, 1), task='classification', num_outputs=4)
# Models whose outputs have a shape of their own (DataSpec.output_shape) get their task's data.
SPECS = {
    'seq2seq': DataSpec(input_shape=(6,), task='seq2seq', num_outputs=7, vocab_size=7,
                        output_shape=(4, 7)),
    'unet': DataSpec(input_shape=(8, 8, 1), task='dense', num_outputs=3,
                     output_shape=(8, 8, 3)),
}
SPECS['renet'] = SPECS['unet']

# Smaller than the defaults, for speed; a model not listed is built with its defaults.
SMALL = {
    'cnn1d': dict(features=(4, 4), kernel_sizes=(3, 3), strides=(1, 2)),
    'cnn2d': dict(blocks=((4,),), dense=(8,)),
    'vgg': dict(blocks=((4,), (4,)), dense=(8,)),
    'resnet': dict(stage_sizes=(1, 1), width=4),          # batch norm
    'tcn': dict(channels=(4, 5), kernel_size=3),           # weight norm, materialize
    'elman': dict(hidden_size=4),
    'lstm': dict(hidden_size=4),
    'gru': dict(hidden_size=4),
    'lru': dict(d_model=4, d_state=4),
    'crnn': dict(features=(4,), hidden_size=4),
    'convlstm': dict(features=(4,)),
    'cnn3d': dict(blocks=((4,),), dense=(8,)),
    'cnn_lstm': dict(blocks=((4,),), hidden_size=4),
    'seq2seq': dict(hidden_size=4, attention_size=4, decoder_embed_dim=3),
    'unet': dict(features=(4, 4), conv_impl='native'),
    'renet': dict(hidden_size=8),
    'fcn': dict(features=(4, 4), kernel_sizes=(3, 3)),        # batch norm, masked
    'resnet1d': dict(features=(4, 4), kernel_sizes=(3, 3)),
}

# Paths the registry's defaults do not take.
VARIANTS = [
    dict(name='elman', hidden_size=4, recurrence='fused', num_layers=2),
    dict(name='lstm', hidden_size=4, recurrence='fused', bidirectional=True, num_layers=2),
    dict(name='gru', hidden_size=4, recurrence='fused', bidirectional=True, pool='mean'),
    dict(name='gru', hidden_size=4, bidirectional=True, num_layers=2, pool='flatten'),
    dict(name='lru', d_model=4, d_state=4, scan_type='sequential', mlp='dense'),
    dict(name='tcn', channels=(4,), kernel_size=3, weight_norm=False, pool='mean'),
    dict(name='cnn2d', blocks=((4,),), dense=(8,), norm='batch'),
    dict(name='cnn2d', blocks=((4,),), dense=(8,), norm='group', norm_groups=2,
         batch_chunk=3),
    dict(name='resnet', stage_sizes=(1,), width=4, norm='layer', conv_impl='native'),
    dict(name='lstm', hidden_size=4, embed_dim=3, tokens=True),   # Embedded, nn.Embed
    dict(name='cnn1d', features=(4,), kernel_sizes=(3,), strides=(1,), pool='max',
         tokens=True),                                            # Embedded, one-hot
    dict(name='crnn', features=(4,), hidden_size=4, images=True),  # 2D front end
]

CASES = [dict(name=name, **SMALL.get(name, {})) for name in sorted(models.MODELS)] + VARIANTS


def case_id(case) -> str:
  return ','.join(f'{k}={v}' for k, v in case.items())


def build(case, dtype):
  """(model, spec): sequences, or images or video clips for a model that rejects
  them, or tokens (`tokens=True`), or images (`images=True`)."""
  cfg = dict(case)
  if cfg['name'] in SPECS:
    spec = SPECS[cfg['name']]
    return models.build(ml_collections.ConfigDict(cfg), spec, dtype), spec
  if cfg.pop('tokens', False):
    return models.build(ml_collections.ConfigDict(cfg), TOKENS, dtype), TOKENS
  specs = (IMAGES,) if cfg.pop('images', False) else (SEQUENCES, IMAGES, VIDEO)
  for spec in specs[:-1]:
    try:
      return models.build(ml_collections.ConfigDict(cfg), spec, dtype), spec
    except ConfigError:
      pass
  return models.build(ml_collections.ConfigDict(cfg), specs[-1], dtype), specs[-1]


def make_batch(spec, batch: int = 8, seed: int = 0) -> dict:
  rng = np.random.default_rng(seed)
  if spec.vocab_size:
    inputs = rng.integers(0, spec.vocab_size, (batch,) + spec.input_shape).astype(np.int32)
  else:
    inputs = rng.normal(size=(batch,) + spec.input_shape).astype(np.float32)
  target_shape = (batch,) + tuple(spec.output_shape[:-1])  # [B], or [B, T], [B, H, W]
  return {'inputs': jnp.asarray(inputs),
          'targets': jnp.asarray(rng.integers(0, spec.num_outputs, target_shape), jnp.int32),
          'weights': jnp.ones((batch,), jnp.float32)}


def make_state(model, spec, abstract=False, learning_rate=3e-2):
  """The train state (jitted, as train.build_run makes it), or only its shapes and dtypes."""
  init = functools.partial(train.create_train_state, model, optax.adam(learning_rate),
                           spec.input_shape, input_dtype=spec.input_dtype)
  return jax.eval_shape(init, jax.random.key(0)) if abstract else jax.jit(init)(jax.random.key(0))


def dtypes_of(tree) -> set:
  return {str(leaf.dtype) for leaf in jax.tree.leaves(tree)}


def subjaxprs(eqn):
  for value in eqn.params.values():
    for item in value if isinstance(value, (tuple, list)) else (value,):
      if isinstance(item, jax.extend.core.ClosedJaxpr):
        yield item.jaxpr
      elif isinstance(item, jax.extend.core.Jaxpr):
        yield item


def matmul_operand_dtypes(jaxpr) -> list:
  """(primitive, lhs dtype, rhs dtype) of every dot and convolution, loop bodies included."""
  out = []
  for eqn in jaxpr.eqns:
    if eqn.primitive.name in ('dot_general', 'conv_general_dilated'):
      out.append((eqn.primitive.name,) + tuple(str(v.aval.dtype) for v in eqn.invars[:2]))
    for sub in subjaxprs(eqn):
      out.extend(matmul_operand_dtypes(sub))
  return out


def apply_eval(model, variables, inputs):
  return jax.jit(lambda v, x: model.apply(v, x))(variables, inputs)


# ---------------------------------------------------------------------------
# Every model


@pytest.mark.parametrize('case', CASES, ids=case_id)
def test_bfloat16_outputs_with_float32_parameters(case):
  model, spec = build(case, 'bfloat16')
  state = make_state(model, spec, abstract=True)
  assert dtypes_of(state.params) == {'float32'}
  assert dtypes_of(state.model_state) <= {'float32'}  # batch-norm statistics
  assert dtypes_of(state.opt_state) <= {'float32', 'int32'}
  variables = {'params': state.params, **state.model_state}
  out = jax.eval_shape(lambda v, x: model.apply(v, x), variables, make_batch(spec)['inputs'])
  assert out.dtype == jnp.bfloat16


@pytest.mark.parametrize('case', CASES, ids=case_id)
def test_every_matmul_and_convolution_runs_in_bfloat16(case):
  # Forward and backward of the training loss, scan and custom-VJP bodies included.
  model, spec = build(case, 'bfloat16')
  state = make_state(model, spec, abstract=True)
  grad_fn = jax.value_and_grad(functools.partial(train.loss_fn, task=tasks.get(spec.task)),
                               has_aux=True)
  jaxpr = jax.make_jaxpr(grad_fn)(state.params, state, make_batch(spec), jax.random.key(1))
  found = matmul_operand_dtypes(jaxpr.jaxpr)
  assert found, 'no matmul or convolution found'
  not_bf16 = [f for f in found if f[1:] != ('bfloat16', 'bfloat16')]
  assert not not_bf16, f'{len(not_bf16)} of {len(found)} not in bfloat16: {not_bf16[:3]}'


@pytest.mark.parametrize('case', CASES, ids=case_id)
def test_bfloat16_train_steps_decrease_the_loss(case):
  model, spec = build(case, 'bfloat16')
  state = make_state(model, spec)
  batch = make_batch(spec)
  step = jax.jit(functools.partial(train.train_step, task=tasks.get(spec.task)))
  losses = []
  for _ in range(8):
    state, metrics = step(state, batch, jax.random.key(1))
    losses.append(float(metrics['loss']))
    assert metrics['loss'].dtype == jnp.float32
  assert np.all(np.isfinite(losses)), losses
  assert losses[-1] < 0.9 * losses[0], losses
  assert dtypes_of(state.params) == {'float32'}
  assert dtypes_of(state.model_state) <= {'float32'}


@pytest.mark.parametrize('case', CASES, ids=case_id)
def test_float32_is_the_inferred_function_and_bfloat16_is_close_to_it(case):
  inferred, spec = build(case, None)
  f32, _ = build(case, 'float32')
  bf16, _ = build(case, 'bfloat16')
  inputs = make_batch(spec)['inputs']
  variables = jax.jit(inferred.init)(jax.random.key(0), inputs)
  want = apply_eval(inferred, variables, inputs)
  np.testing.assert_array_equal(apply_eval(f32, variables, inputs), want)
  got = apply_eval(bf16, variables, inputs)
  assert want.dtype == jnp.float32 and got.dtype == jnp.bfloat16
  scale = float(np.max(np.abs(want)))
  np.testing.assert_allclose(np.asarray(got, np.float32), want, rtol=0.05, atol=0.05 * scale)


@pytest.mark.parametrize('cfg', [
    dict(name='gru', hidden_size=4, bidirectional=True, pool='mean'),
    dict(name='lstm', hidden_size=4, recurrence='fused', pool='last'),
    dict(name='lru', d_model=4, d_state=4, pool='mean'),
    dict(name='tcn', channels=(4, 4), kernel_size=3, pool='max'),
], ids=str)
def test_padding_does_not_change_bfloat16_results(cfg):
  spec = DataSpec(input_shape=(10, 3), task='classification', num_outputs=4,
                  variable_length=True)
  model = models.build(ml_collections.ConfigDict(cfg), spec, 'bfloat16')
  lengths = np.array([10, 3, 7])
  x = np.random.default_rng(1).normal(size=(3, 10, 3)).astype(np.float32)
  x_noise = np.where(np.arange(10)[None, :, None] < lengths[:, None, None], x, 99.0)
  variables = jit_init(model, jax.random.key(0), x)
  apply = jax.jit(model.apply)  # One program per shape, not one dispatch per op.
  batched = apply(variables, x_noise, lengths=jnp.asarray(lengths))
  assert batched.dtype == jnp.bfloat16
  for b, n in enumerate(lengths):
    alone = apply(variables, x[b:b + 1, :n])[0]
    np.testing.assert_allclose(np.asarray(batched[b], np.float32),
                               np.asarray(alone, np.float32), rtol=0.02, atol=0.02)


# ---------------------------------------------------------------------------
# Recurrences


@pytest.mark.parametrize('cfg', [dict(name='elman'), dict(name='lstm', num_layers=2),
                                 dict(name='gru', bidirectional=True)], ids=str)
def test_fused_and_scan_recurrences_agree_in_bfloat16(cfg):
  spec = DataSpec(input_shape=(9, 3), task='classification', num_outputs=4)
  x = jnp.asarray(np.random.default_rng(0).normal(size=(5, 9, 3)), jnp.float32)
  scan = models.build(ml_collections.ConfigDict(dict(cfg, hidden_size=6)), spec, 'bfloat16')
  fused = models.build(ml_collections.ConfigDict(dict(cfg, hidden_size=6, recurrence='fused')),
                       spec, 'bfloat16')
  variables = jit_init(scan, jax.random.key(0), x)
  loss = lambda m, v: jnp.sum(jnp.sin(m.apply(v, x).astype(jnp.float32)))
  grads = lambda m: jax.jit(jax.value_and_grad(functools.partial(loss, m)))(variables)
  want_value, want_grads = grads(scan)
  got_value, got_grads = grads(fused)
  np.testing.assert_allclose(got_value, want_value, rtol=0.05, atol=0.05)
  for a, b in zip(jax.tree.leaves(got_grads), jax.tree.leaves(want_grads)):
    assert a.dtype == b.dtype == jnp.float32
    np.testing.assert_allclose(a, b, rtol=0.05, atol=0.05 * float(np.max(np.abs(b))))


def gru_final_state(params, x_BxTxC, dtype):
  return jax.jit(Recurrence('gru', 4, dtype=dtype).apply)({'params': params}, x_BxTxC)[1]


def test_recurrent_states_are_carried_in_float32(monkeypatch):
  # A GRU whose update gate stays near 1 (bias 5: 1 - z ~ 0.007) moves its state
  # by under 1/256 of it per step: a bfloat16 state would round those updates away.
  x = jnp.ones((2, 400, 3), jnp.float32)
  params = jit_init(Recurrence('gru', 4), jax.random.key(0), x)['params']
  params['input']['bias'] = params['input']['bias'].at[4:8].set(5.0)
  want = np.asarray(gru_final_state(params, x, None))
  got = gru_final_state(params, x, jnp.bfloat16)
  assert want.dtype == np.float32 and got.dtype == jnp.float32
  close = lambda got: np.allclose(got, want, rtol=0.03, atol=0.03 * np.max(np.abs(want)))
  assert close(got)
  # The same computation with its state in bfloat16 is far off: the check can fail.
  monkeypatch.setattr(rnn, 'state_dtype', lambda dtype: dtype)
  assert not close(np.asarray(gru_final_state(params, x, jnp.bfloat16), np.float32))


def test_lru_recurrence_stays_complex64_in_bfloat16(monkeypatch):
  # |lambda| in [0.999, 0.9999]: bfloat16 would round it to 1 and never forget.
  assert float(jnp.asarray(0.999, jnp.bfloat16)) == 1.0
  T, H, N = 1024, 4, 8
  u = jax.random.normal(jax.random.key(0), (2, T, H))
  layer = LRU(N, r_min=0.999, r_max=0.9999, scan_type='sequential')
  variables = jit_init(layer, jax.random.key(1), u)
  want = np.asarray(jax.jit(layer.apply)(variables, u))
  bf16 = lambda: jax.jit(layer.clone(dtype=jnp.bfloat16).apply)(variables, u)
  close = lambda got: np.allclose(np.asarray(got, np.float32), want, rtol=0.05,
                                  atol=0.05 * np.max(np.abs(want)))
  assert want.dtype == np.float32 and bf16().dtype == jnp.bfloat16
  assert close(bf16())
  # The same with lambda rounded to bfloat16 is far off: the check can fail.
  exact = lru_lib.lru_lambda
  round_bf16 = lambda x: x.astype(jnp.bfloat16).astype(jnp.float32)
  monkeypatch.setattr(lru_lib, 'lru_lambda', lambda *a: jax.lax.complex(
      round_bf16(exact(*a).real), round_bf16(exact(*a).imag)))
  assert not close(bf16())


# ---------------------------------------------------------------------------
# Config


def test_base_config_dtype_defaults_to_float32():
  assert configlib.base_config().dtype == 'float32'
  assert tuple(DTYPES) == configlib.DTYPES


def test_unknown_dtype_is_a_config_error():
  config = configlib.base_config()
  config.dtype = 'float16'
  with pytest.raises(ConfigError, match=r"^unknown dtype 'float16'; valid: float32, bfloat16$"):
    configlib.validate(config)


def test_model_dtype_field_points_to_the_top_level_key():
  with pytest.raises(ConfigError, match='top-level config.dtype'):
    models.build(ml_collections.ConfigDict(dict(name='gru', dtype='bfloat16')), SEQUENCES)


def test_runs_recorded_before_the_dtype_key_resume_as_float32():
  new = configlib.base_config().to_dict()
  old = {k: v for k, v in new.items() if k != 'dtype'}
  assert configlib.differing_keys(old, new) == []
  assert configlib.differing_keys(old, dict(new, dtype='bfloat16')) == ['dtype']


def test_param_budget_sizing_does_not_depend_on_dtype():
  cfg = ml_collections.ConfigDict(dict(name='lru', param_budget=3000))
  a = models.build(cfg, SEQUENCES, 'float32')
  b = models.build(cfg, SEQUENCES, 'bfloat16')
  assert (a.d_model, a.d_state) == (b.d_model, b.d_state)
  assert models.param_count(a, SEQUENCES) == models.param_count(b, SEQUENCES)


def test_train_and_evaluate_in_bfloat16(tmp_path):
  config = configlib.base_config()
  config.dtype = 'bfloat16'
  config.num_train_steps = config.log_every_steps = 4
  config.eval_every_steps = config.checkpoint_every_steps = 4
  config.data.name = 'synthetic'
  config.data.shape = (10, 3)
  config.data.num_classes = 4
  config.data.num_examples = 32
  config.data.batch_size = 8
  config.model.name = 'gru'
  config.model.hidden_size = 4
  config.model.recurrence = 'fused'
  final = train.train_and_evaluate(config, str(tmp_path))
  assert np.isfinite(final['eval/loss'])
  run = train.build_run(config)
  assert dtypes_of(run.abstract_state.params) == {'float32'}
