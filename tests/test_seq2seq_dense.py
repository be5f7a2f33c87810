"""Sequence-to-sequence and dense-prediction models, tasks and generated datasets.

The attention steps against NumPy, greedy decoding against an argmax-feeding
unroll, teacher forcing's shift, the seq2seq and dense metrics against hand
computations (mean IoU over batches), the datasets' invariants, and a
gradient for every parameter. Tiny sizes throughout.
"""

import datetime
import functools

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import pytest

from cnn_vs_rnn import data, models, tasks, train
from cnn_vs_rnn.data import DataSpec, shapes, transduction
from cnn_vs_rnn.errors import ConfigError
from cnn_vs_rnn.models.seq2seq import DecoderStep, shift_right
from conftest import jit_apply

V, S, T = 9, 6, 5
SEQ2SEQ = DataSpec(input_shape=(S,), task='seq2seq', num_outputs=V, vocab_size=V,
                   variable_length=True, output_shape=(T, V))
DENSE = DataSpec(input_shape=(8, 8, 1), task='dense', num_outputs=3, output_shape=(8, 8, 3))


def sigmoid(x):
  return 1.0 / (1.0 + np.exp(-x))


def softmax(x):
  e = np.exp(x - x.max(-1, keepdims=True))
  return e / e.sum(-1, keepdims=True)


def randomize(params, seed, scale=0.5):
  """N(0, scale) values in the shapes of `params` (arrays or ShapeDtypeStructs)."""
  leaves, treedef = jax.tree.flatten(params)
  rng = np.random.default_rng(seed)
  return jax.tree.unflatten(treedef, [rng.normal(0, scale, l.shape).astype(np.float32)
                                      for l in leaves])


def build(**cfg):
  return models.build(ml_collections.ConfigDict(cfg), SEQ2SEQ)


def source_batch(seed=0, lengths=(S, 4, 2)):
  rng = np.random.default_rng(seed)
  src = rng.integers(3, V, (len(lengths), S)).astype(np.int32)
  src = np.where(np.arange(S)[None] < np.asarray(lengths)[:, None], src, 0)
  tgt = rng.integers(3, V, (len(lengths), T)).astype(np.int32)
  return jnp.asarray(src), jnp.asarray(lengths, jnp.int32), jnp.asarray(tgt)


# ---------------------------------------------------------------------------
# One attention step against NumPy.


def numpy_gru(p, x, h, H):
  gx = x @ p['input']['kernel'] + p['input']['bias']
  gh = h @ p['cell']['recurrent']['kernel'] + p['cell']['recurrent']['bias']
  r = sigmoid(gx[:, :H] + gh[:, :H])
  z = sigmoid(gx[:, H:2 * H] + gh[:, H:2 * H])
  n = np.tanh(gx[:, 2 * H:] + r * gh[:, 2 * H:])
  return (1 - z) * n + z * h


@pytest.mark.parametrize('attention', ['additive', 'dot'])
def test_attention_step_matches_numpy(attention):
  B, H, E, A, D = 3, 4, 6, 5, 3
  rng = np.random.default_rng(0)
  values = rng.normal(size=(B, S, E)).astype(np.float32)
  keys = rng.normal(size=(B, S, A if attention == 'additive' else H)).astype(np.float32)
  valid = np.arange(S)[None] < np.array([S, 3, 1])[:, None]
  h0 = rng.normal(size=(B, H)).astype(np.float32)
  feed = rng.normal(size=(B, H)).astype(np.float32)
  token = np.array([3, 5, 8], np.int32)
  step = DecoderStep(V, 'gru', H, attention, A, D, greedy=False)
  carry = (jnp.asarray(h0), jnp.asarray(feed), jnp.zeros(B, jnp.int32))
  memory = (jnp.asarray(values), jnp.asarray(keys), jnp.asarray(valid))
  shapes = jax.eval_shape(step.init, jax.random.key(0), carry, jnp.asarray(token), memory)
  params = randomize(shapes['params'], 1, 0.7)
  (h1, out1, next1), (logits, weights) = jax.jit(step.apply)({'params': params}, carry,
                                                             jnp.asarray(token), memory)
  p = jax.tree.map(lambda a: np.asarray(a, np.float64), params)
  y = p['embed']['embedding'][token]
  if attention == 'additive':  # Bahdanau: scores from the previous state, context into the cell.
    energy = np.tanh(keys + (h0 @ p['attn_query']['kernel'])[:, None])
    a = softmax(np.where(valid, (energy @ p['attn_score']['kernel'])[..., 0], -np.inf))
    ctx = np.einsum('bs,bse->be', a, values)
    h = numpy_gru(p, np.concatenate([y, ctx], -1), h0, H)
  else:  # Luong: the previous output fed in, scores from the new state.
    h = numpy_gru(p, np.concatenate([y, feed], -1), h0, H)
    a = softmax(np.where(valid, np.einsum('bh,bsh->bs', h, keys), -np.inf))
    ctx = np.einsum('bs,bse->be', a, values)
  o = np.tanh(np.concatenate([h, ctx], -1) @ p['combine']['kernel'] + p['combine']['bias'])
  want = o @ p['out']['kernel'] + p['out']['bias']
  np.testing.assert_allclose(weights, a, rtol=1e-5, atol=1e-6)
  assert np.all(np.asarray(weights)[~valid] == 0)
  np.testing.assert_allclose(h1, h, rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(out1, o, rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(logits, want, rtol=1e-5, atol=1e-5)
  np.testing.assert_array_equal(next1, want.argmax(-1))


# ---------------------------------------------------------------------------
# Decoding.


def random_variables(model, src, seed=4):
  """N(0, 0.5) parameters, with a zero output bias: no token wins by its bias alone."""
  params = randomize(jax.eval_shape(model.init, jax.random.key(0), src)['params'], seed)
  out = params['backbone'] if 'backbone' in params else params
  out['decoder']['out']['bias'] *= 0
  return {'params': params}

MODELS = {
    'additive': dict(hidden_size=6, attention_size=5, decoder_embed_dim=4, embed_dim=4,
                     bidirectional=True),
    'dot_tcn_gru': dict(encoder='tcn', channels=(6, 6), hidden_size=6, attention='dot',
                        decoder_cell='gru', decoder_embed_dim=0),
    'none_gru': dict(encoder='gru', hidden_size=6, attention='none', decoder_embed_dim=4),
}


@pytest.mark.parametrize('name', ['additive', 'dot_tcn_gru'])
def test_greedy_decoding_equals_an_argmax_feeding_unroll(name):
  model = build(name='seq2seq', **MODELS[name])
  src, lengths, _ = source_batch()
  variables = random_variables(model, src)
  apply = jit_apply(model)
  greedy = np.asarray(apply(variables, src, lengths=lengths, train=False,
                            targets=jnp.zeros((3, T), jnp.int32)))
  # Teacher forcing on the tokens chosen so far gives the next step's logits.
  tokens = np.zeros((3, T), np.int32)
  for t in range(T):
    logits = np.asarray(apply(variables, src, lengths=lengths, train=True,
                              targets=jnp.asarray(tokens)))
    np.testing.assert_allclose(greedy[:, t], logits[:, t], rtol=1e-4, atol=1e-5)
    tokens[:, t] = logits[:, t].argmax(-1)
  np.testing.assert_array_equal(greedy.argmax(-1), tokens)
  assert any(len(set(row)) > 1 for row in tokens.tolist())  # The check is not vacuous.
  # Without targets (init, evaluate --save_predictions) it decodes the data's length.
  assert model.backbone.target_length == T


def test_teacher_forcing_reads_the_targets_shifted_right():
  model = build(name='seq2seq', **MODELS['additive'])
  src, lengths, tgt = source_batch(1)
  variables = random_variables(model, src)
  apply = jax.jit(functools.partial(model.apply, train=True))
  np.testing.assert_array_equal(shift_right(tgt)[:, 1:], tgt[:, :-1])
  np.testing.assert_array_equal(shift_right(tgt)[:, 0], 1)
  base = np.asarray(apply(variables, src, lengths, targets=tgt))
  for t in range(T - 1):
    changed = np.asarray(apply(variables, src, lengths, targets=tgt.at[:, t].set(
        np.where(np.asarray(tgt[:, t]) == 3, 4, 3))))
    np.testing.assert_array_equal(changed[:, :t + 1], base[:, :t + 1])
    assert not np.allclose(changed[:, t + 1], base[:, t + 1])


def test_attention_weights_are_sown_and_ignore_padding():
  model = build(name='seq2seq', **MODELS['additive'])
  src, lengths, tgt = source_batch(2)
  variables = random_variables(model, src)
  garbage = jnp.where(jnp.arange(S)[None] < lengths[:, None], src, 7)
  apply = jax.jit(functools.partial(model.apply, mutable=['intermediates']))
  out, state = apply(variables, src, lengths, targets=tgt)
  out_garbage, _ = apply(variables, garbage, lengths, targets=tgt)
  np.testing.assert_allclose(out, out_garbage, rtol=1e-6, atol=1e-6)
  (weights,) = state['intermediates']['backbone']['attention']
  assert weights.shape == (3, T, S)
  np.testing.assert_allclose(weights.sum(-1), 1.0, rtol=1e-5)
  padding = np.arange(S)[None, None] >= np.asarray(lengths)[:, None, None]
  assert np.all(np.asarray(weights)[np.broadcast_to(padding, weights.shape)] == 0)
  with pytest.raises(ConfigError, match="unknown model.attention 'luong'"):
    build(name='seq2seq', attention='luong')


# ---------------------------------------------------------------------------
# Metrics against hand computations.


def metrics_of(task, batches):
  total = None
  for logits, batch in batches:
    _, sums = jax.jit(functools.partial(tasks.loss_and_sums, task))(
        jnp.asarray(logits, jnp.float32), jax.tree.map(jnp.asarray, batch))
    total = sums if total is None else jax.tree.map(jnp.add, total, sums)
  return tasks.means(task, jax.device_get(total))


def test_exact_match_and_char_accuracy():
  targets = np.array([[3, 4, 2, 0], [5, 2, 0, 0], [3, 3, 3, 2], [4, 2, 0, 0]])
  mask = (targets != 0).astype(np.float32)
  pred = np.array([[3, 4, 2, 7],    # right, past EOS ignored
                   [5, 3, 0, 0],    # EOS missed: 1 of 2
                   [3, 3, 4, 2],    # one wrong: 3 of 4
                   [4, 2, 0, 0]])   # padding row (weight 0)
  logits = np.eye(V)[pred] * 5.0
  batch = {'targets': targets, 'target_mask': mask, 'weights': np.array([1, 1, 1, 0.0])}
  task = tasks.get('seq2seq')
  got = metrics_of(task, [(logits, batch)])
  assert got['exact_match'] == pytest.approx(1 / 3)
  assert got['char_accuracy'] == pytest.approx((3 + 1 + 3) / (3 + 2 + 4))
  assert set(got) == {'loss', 'char_accuracy', 'exact_match'}
  halves = [(logits[i], {k: v[i] for k, v in batch.items()}) for i in (slice(0, 1), slice(1, 4))]
  assert metrics_of(task, halves) == pytest.approx(got)
  assert tasks.selection('seq2seq') == ('exact_match', 'max')


def test_mean_iou_is_a_ratio_of_sums_over_batches():
  labels = np.array([[[0, 0, 1], [1, 1, 2]],
                     [[2, 2, 2], [0, 0, 0]]])
  pred = np.array([[[0, 1, 1], [1, 0, 2]],
                   [[2, 2, 0], [0, 0, 0]]])
  # Class 0: I = 1 + 3, U = 3 + 4; class 1: I = 2, U = 4; class 2: I = 1 + 2, U = 1 + 3.
  iou = [4 / 7, 2 / 4, 3 / 4]
  logits = np.eye(3)[pred] * 5.0
  batch = {'targets': labels, 'weights': np.ones(2)}
  task = tasks.get('dense')
  got = metrics_of(task, [(logits, batch)])
  assert got['pixel_accuracy'] == pytest.approx(9 / 12)
  for k in range(3):
    assert got[f'iou_{k}'] == pytest.approx(iou[k])
  assert got['mean_iou'] == pytest.approx(np.mean(iou))
  # Two batches of one image each: the same numbers, not the mean of per-batch IoUs.
  per_batch = [(logits[i:i + 1], {k: v[i:i + 1] for k, v in batch.items()}) for i in (0, 1)]
  assert metrics_of(task, per_batch) == pytest.approx(got)
  means_of_batches = np.mean([metrics_of(task, [b])['mean_iou'] for b in per_batch])
  assert abs(means_of_batches - got['mean_iou']) > 0.01
  # A class absent from labels and predictions is left out of the mean.
  only = metrics_of(task, [(np.eye(4)[pred] * 5.0, batch)])
  assert only['iou_3'] == 0.0 and only['mean_iou'] == pytest.approx(np.mean(iou))
  assert tasks.selection('dense') == ('mean_iou', 'max')


# ---------------------------------------------------------------------------
# Datasets.

SOURCE_FORMATS = {'iso': '%Y-%m-%d', 'us': '%m/%d/%Y', 'eu': '%d.%m.%Y', 'short': '%b %d, %Y',
                  'weekday': '%a, %d %b %Y', 'long': '%d %B %Y'}


def parse_date(text):
  """The date in any of the styles (the C locale's English names)."""
  for fmt in SOURCE_FORMATS.values():
    try:
      return datetime.datetime.strptime(text, fmt).date()
    except ValueError:
      pass
  raise AssertionError(f'{text!r} is in no date style')


@pytest.mark.parametrize('target_style', ['long', 'iso'])
def test_dates_parse_back_to_the_same_day(target_style):
  pairs = transduction.date_pairs(400, target_style, seed=0)
  assert len({s for s, _ in pairs}) == 400
  fmt = SOURCE_FORMATS[target_style]
  for source, target in pairs:
    day = parse_date(source)
    assert datetime.datetime.strptime(target, fmt).date() == day
    assert transduction.format_date(day, target_style) == target
    if source.startswith(transduction.WEEKDAYS):
      assert source[:3] == day.strftime('%a')
  assert transduction.format_date(datetime.date(2026, 11, 26), 'long') == '26 November 2026'


def test_reversed_strings_and_arithmetic_values():
  for source, target in transduction.reverse_pairs(300, 3, 12, seed=0):
    assert target == source[::-1] and 3 <= len(source) <= 12 and source.isalpha()
  pairs = transduction.arithmetic_pairs(300, 3, 99, seed=0)
  assert len({s for s, _ in pairs}) == 300
  for source, target in pairs:
    assert int(target) == eval(source)  # pylint: disable=eval-used
  assert transduction.evaluate_expression('12+7*3') == 33


def test_transduction_dataset_tokens(tmp_path):
  dataset = data.load(ml_collections.ConfigDict(dict(name='arithmetic', data_dir=str(tmp_path),
                                                     num_train=60, num_test=20)))
  spec = dataset.spec
  assert spec.input_shape == (8,) and spec.output_shape == (8, transduction.VOCAB_SIZE)
  sources = []
  for name in ('train', 'validation', 'test'):
    split = dataset.split(name)
    for x, n, y, m in zip(split['inputs'], split['lengths'], split['targets'],
                          split['target_mask']):
      source, target = transduction.decode(x), transduction.decode(y)
      assert len(source) == n and np.all(x[n:] == transduction.PAD)
      assert int(target) == eval(source)  # pylint: disable=eval-used
      assert y[len(target)] == transduction.EOS and m.sum() == len(target) + 1
      np.testing.assert_array_equal(np.flatnonzero(m), np.arange(len(target) + 1))
      sources.append(source)
  assert len(sources) == len(set(sources)) == 80  # No source in two splits.


def brute_force_labels(shape_list, size):
  """Labels by testing every pixel centre against each shape, in drawing order."""
  labels = np.zeros((size, size), int)
  for kind, cx, cy, r, _ in shape_list:
    for i in range(size):
      for j in range(size):
        x, y = j + 0.5, i + 0.5
        inside = {1: (x - cx) ** 2 + (y - cy) ** 2 <= r * r,
                  2: abs(x - cx) <= r and abs(y - cy) <= r,
                  3: cy - r <= y <= cy + r and abs(x - cx) <= (y - cy + r) / 2}[kind]
        if inside:
          labels[i, j] = kind
  return labels


def test_segmentation_labels_match_the_shapes_drawn():
  rng = np.random.default_rng(0)
  overlapping = 0
  for _ in range(12):
    image, labels, drawn = shapes.draw_shapes(rng, 16, 2, 4, 2.0, 5.0, noise_std=0.0)
    np.testing.assert_array_equal(labels, brute_force_labels(drawn, 16))
    # Each pixel shows the intensity of the last shape over it; background is 0.
    top = np.zeros((16, 16))
    for kind, cx, cy, r, intensity in drawn:
      top[shapes.shape_mask(kind, cx, cy, r, 16)] = intensity
    np.testing.assert_allclose(image[..., 0], top, rtol=1e-6)
    masks = [shapes.shape_mask(k, cx, cy, r, 16) for k, cx, cy, r, _ in drawn]
    overlapping += any((a & b).any() for i, a in enumerate(masks) for b in masks[i + 1:])
  assert overlapping >= 3
  # Areas near the closed forms: circle pi r^2, square 4 r^2, triangle 2 r^2.
  for kind, area in ((1, np.pi * 36), (2, 4 * 36), (3, 2 * 36)):
    assert shapes.shape_mask(kind, 16.0, 16.0, 6.0, 32).sum() == pytest.approx(area, rel=0.1)


# ---------------------------------------------------------------------------
# Training: every parameter gets a gradient.


@pytest.mark.parametrize('cfg,spec', [
    (dict(name='seq2seq', **MODELS['additive']), SEQ2SEQ),
    (dict(name='seq2seq', **MODELS['dot_tcn_gru']), SEQ2SEQ),
    (dict(name='seq2seq', **MODELS['none_gru']), SEQ2SEQ),
    (dict(name='unet', features=(3, 4), conv_impl='native'), DENSE),
    (dict(name='renet', hidden_size=3, patch_size=2), DENSE),
], ids=['seq2seq_additive', 'seq2seq_dot_tcn', 'seq2seq_none', 'unet', 'renet'])
def test_every_parameter_gets_a_gradient(cfg, spec):
  model = models.build(ml_collections.ConfigDict(cfg), spec)
  # Random parameters (no zero biases), batch-norm statistics of ones: one compilation.
  x = jax.ShapeDtypeStruct((1,) + spec.input_shape, spec.input_dtype)
  shapes = dict(jax.eval_shape(model.init, jax.random.key(0), x))
  params = randomize(shapes.pop('params'), 5)
  model_state = jax.tree.map(lambda s: jnp.ones(s.shape, s.dtype), shapes)
  state = train.TrainState.create(apply_fn=model.apply, params=params, tx=optax.sgd(0.1),
                                  model_state=model_state)
  rng = np.random.default_rng(0)
  if spec.task == 'seq2seq':
    src, lengths, tgt = source_batch(3)
    batch = {'inputs': src, 'lengths': lengths, 'targets': tgt,
             'target_mask': jnp.ones(tgt.shape), 'weights': jnp.ones(3)}
  else:
    batch = {'inputs': jnp.asarray(rng.normal(size=(2, 8, 8, 1)), jnp.float32),
             'targets': jnp.asarray(rng.integers(0, 3, (2, 8, 8))), 'weights': jnp.ones(2)}
  grad_fn = jax.jit(jax.grad(functools.partial(train.loss_fn, task=tasks.get(spec.task)),
                             has_aux=True))
  grads, _ = grad_fn(state.params, state, batch, jax.random.key(1))
  flat = jax.tree_util.tree_flatten_with_path(grads)[0]
  dead = [jax.tree_util.keystr(p) for p, g in flat if not np.any(np.asarray(g) != 0)]
  assert not dead, dead


def test_output_shapes_are_checked_against_the_data():
  with pytest.raises(ConfigError, match='does not fit|the task needs'):
    models.build(ml_collections.ConfigDict(dict(name='unet', features=(3, 4))),
                 DataSpec(input_shape=(8, 8, 1), task='classification', num_outputs=3))
  six = DataSpec(input_shape=(6, 6, 1), task='dense', num_outputs=3, output_shape=(6, 6, 3))
  with pytest.raises(ConfigError, match='divisible by 4'):
    models.build(ml_collections.ConfigDict(dict(name='unet', features=(3, 4, 5))), six)
  with pytest.raises(ConfigError, match='divisible by 4'):
    models.build(ml_collections.ConfigDict(dict(name='renet', patch_size=4)), six)
