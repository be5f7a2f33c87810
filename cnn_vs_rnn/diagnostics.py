"""Probes of how gradients and context flow through a model: pure functions of
(model, variables, batch), used by `python -m cnn_vs_rnn.diagnose`, by the
train loop (`config.diagnostics_every_steps`), by studies and by tests.

`variables` is `{'params': ..., **model_state}` (a bare params tree is also
taken); `batch` is a dict with `inputs` [B, T, C] ([B, T] tokens, or images
[B, H, W, C]), optionally `lengths`, `targets` and `weights`. Models run with
train=False. Token inputs are embedded first (the model's `Embedded`
wrapper), and every input gradient below is taken with respect to the
embedded (or one-hot) vectors.

Probes and their definitions (L is the task's mean loss over the batch):

  grad_through_time   recurrent families (elman, lstm, gru, lru): the norm of
      dL/dh_t at every step t, the total derivative through all later steps,
      with h_t the whole recurrent state of every layer and direction (the
      LSTM's (c_t, h_t), the LRU's complex x_t as real and imaginary parts);
      the norm is taken over the batch and the state's units together.
      Mechanism: each recurrent step adds a zero `perturbation` (Flax
      `Module.perturb`, collection 'perturbations') to the state it passes
      on (models/rnn.py `_MaskedStep`; for the LRU, to B u_t, which is the
      same as adding it to x_t), and the gradient with respect to that zero
      is dL/dh_t. The perturbation exists only when the caller passes the
      collection, so training is unaffected. The 'fused' recurrence is
      evaluated as 'scan' (the same function and parameters). A bidirectional
      net's backward direction is reported in the original time order. With
      lengths, a padded step passes its state on unchanged, so its gradient is
      that of the final state it carries (the summary that training logs reads
      each example's own valid steps).
      Other families (seq2seq, renet and unet too): the norm of dL/dx_t,
      the gradient with respect to the input at step t (for images, row t),
      over the batch and channels; the task's `model_inputs` (a seq2seq
      model's targets) are passed as in training.
  jacobian_spectrum   recurrent families only: the singular values of the
      step Jacobian dh_t/dh_{t-1} of each layer and direction at every step of
      the batch's trajectory, from the family's cell step function (the cell
      module applied to h_{t-1} and the step's input projection; for the LRU
      the map x -> lambda x + B u_t, whose singular values are |lambda|). For
      a backward direction it is dh_t/dh_{t+1}, in the original time order.
      Every step is taken, padding included (lengths are not applied).
  receptive_field     cnn1d, tcn and cnn2d (also vgg, lenet): for one unit per
      layer (the last step for the causal TCN, the middle position, or the
      centre pixel, otherwise), the input positions where the gradient of
      that unit (all its channels, summed over the batch) is non-zero, next
      to the analytic receptive field and the interval it covers. Dead ReLUs
      and max pooling can only shrink the measured footprint.
  sensitivity         sequence models (not seq2seq): S(k), the norm of the Jacobian of the
      output at the last (valid) step with respect to the input at step
      last - k, averaged over the batch; for pooled readouts ('mean', 'max',
      'flatten') the output is the pooled one. `effective_context` is 1 +
      the largest k with S(k) > rel_tol * max S.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
import flax.linen as nn

from cnn_vs_rnn import tasks as tasks_lib
from cnn_vs_rnn.errors import ConfigError
from cnn_vs_rnn.models import Embedded
from cnn_vs_rnn.models import tcn as tcn_lib
from cnn_vs_rnn.models.cnn import CNN1D
from cnn_vs_rnn.models.cnn2d import ConvStack2D, block_paddings
from cnn_vs_rnn.models.lru import LRUNet, lru_lambda
from cnn_vs_rnn.models.rnn import CELLS, PERTURBATIONS, RNN, initial_carry
from cnn_vs_rnn.models.seq2seq import Seq2Seq
from cnn_vs_rnn.models.precision import state_dtype
from cnn_vs_rnn.models.tcn import TCN

PROBES = ('grad_through_time', 'jacobian_spectrum', 'receptive_field', 'sensitivity')


# ---------------------------------------------------------------------------
# Families and plumbing.


def backbone_of(model: nn.Module) -> nn.Module:
  return model.backbone if isinstance(model, Embedded) else model


def is_recurrent(model: nn.Module) -> bool:
  return isinstance(backbone_of(model), (RNN, LRUNet))


def is_convolutional(model: nn.Module) -> bool:
  return isinstance(backbone_of(model), (CNN1D, TCN, ConvStack2D))


def applicable(probe: str, model: nn.Module, input_ndim: int) -> str | None:
  """None if `probe` applies to `model` (inputs of `input_ndim` axes, batch
  included, after embedding), else the families it applies to."""
  if probe == 'jacobian_spectrum' and not is_recurrent(model):
    return 'recurrent families (elman, lstm, gru, lru)'
  if probe == 'receptive_field' and not is_convolutional(model):
    return 'convolutional families (cnn1d, tcn, cnn2d, vgg, lenet)'
  if probe == 'sensitivity' and (input_ndim != 3 or isinstance(backbone_of(model), Seq2Seq)):
    return 'sequence models with one output per example or per input step (not seq2seq)'
  return None


def check_applicable(probe: str, model: nn.Module, name: str, input_ndim: int = 3) -> None:
  if probe not in PROBES:
    raise ConfigError(f'unknown probe {probe!r}; valid: {", ".join(PROBES)}')
  families = applicable(probe, model, input_ndim)
  if families is not None:
    valid = [p for p in PROBES if applicable(p, model, input_ndim) is None]
    raise ConfigError(f'probe {probe!r} applies to {families}, not to model {name!r}; '
                      f'valid for it: {", ".join(valid)}')


def as_variables(params_or_variables) -> dict:
  """{'params': ..., **collections} from variables or a bare params tree."""
  if isinstance(params_or_variables, dict) and 'params' in params_or_variables:
    return dict(params_or_variables)
  return {'params': params_or_variables}


def task_loss(task) -> Callable:
  """(outputs, batch) -> the task's mean loss (`tasks.loss_and_sums`); `task` is a
  task object, a task name, or already such a callable."""
  if isinstance(task, str):
    task = tasks_lib.get(task)
  if hasattr(task, 'per_example'):
    return lambda outputs, batch: tasks_lib.loss_and_sums(task, outputs, batch)[0]
  return task


def _with_weights(batch: dict) -> dict:
  if 'weights' in batch:
    return batch
  return {**batch, 'weights': jnp.ones((batch['inputs'].shape[0],), jnp.float32)}


def model_inputs(task, batch: dict) -> dict:
  """What the task hands the model besides inputs and lengths (`tasks.model_inputs`:
  a seq2seq model's targets); {} for a task given as a plain loss function."""
  if isinstance(task, str):
    task = tasks_lib.get(task)
  fn = getattr(task, 'model_inputs', None)
  return dict(fn(batch)) if fn is not None else {}


@dataclasses.dataclass
class Continuous:
  """A model as a function of continuous inputs: `apply(x, perturbations=None)`."""
  backbone: nn.Module
  variables: dict
  x: jax.Array
  lengths: Any
  kwargs: dict = dataclasses.field(default_factory=dict)  # model_inputs

  def apply(self, x, extra=None, **kwargs):
    variables = self.variables if extra is None else {**self.variables, **extra}
    return self.backbone.apply(variables, x, lengths=self.lengths, train=False,
                               **self.kwargs, **kwargs)


def continuous(model: nn.Module, variables, batch: dict, task=None) -> Continuous:
  """The backbone, its variables and the (embedded) float inputs of `batch`;
  with `task`, the model inputs it adds (`model_inputs`).

  RNNs run with recurrence='scan' (the same function and parameters as
  'fused'), whose steps carry the state perturbations.
  """
  variables = as_variables(variables)
  inputs, lengths = batch['inputs'], batch.get('lengths')
  if isinstance(model, Embedded):
    sub = {k: v['backbone'] for k, v in variables.items() if 'backbone' in v}
    if model.embed_dim:
      x = nn.Embed(model.vocab_size, model.embed_dim, dtype=model.dtype).apply(
          {'params': variables['params']['embed']}, inputs)
    else:
      x = jax.nn.one_hot(inputs, model.vocab_size, dtype=model.dtype or jnp.float32)
    backbone, variables = model.backbone, sub
  else:
    backbone, x = model, jnp.asarray(inputs, jnp.float32)
  if isinstance(backbone, RNN) and backbone.recurrence != 'scan':
    backbone = backbone.clone(recurrence='scan')
  if isinstance(backbone, ConvStack2D) and backbone.batch_chunk:
    backbone = backbone.clone(batch_chunk=0)  # The same function, whole batch at once.
  return Continuous(backbone, variables, x, lengths,
                    model_inputs(task, batch) if task is not None else {})


def _state_name(path) -> str:
  """'layer0_fwd', 'block1/lru' from a perturbation's tree path."""
  keys = [str(getattr(p, 'key', getattr(p, 'idx', p))) for p in path]
  keys = keys[:keys.index('state')] if 'state' in keys else keys
  return '/'.join(k for k in keys if k not in ('scan', 'backbone'))


def _flip_time(x_BxTxS, lengths):
  """Original time order of a backward direction's [B, T, ...] array."""
  from cnn_vs_rnn.models.rnn import reverse_padded  # pylint: disable=g-import-not-at-top
  return reverse_padded(x_BxTxS, None if lengths is None else jnp.asarray(lengths, jnp.int32))


# ---------------------------------------------------------------------------
# Gradients through time.


def _compiled(core, *static):
  """core(*static, variables, batch) as one compiled function of (variables, batch)."""
  fn = jax.jit(lambda v, b: core(*static, v, b))
  return lambda variables, batch: fn(as_variables(variables), _with_weights(dict(batch)))


def state_gradients(model: nn.Module, variables, batch: dict, task) -> tuple[dict, jax.Array]:
  """({state name: dL/dh_t [B, T, S]}, L) for a recurrent model (compiled).

  S is the flattened state: h, (c, h) for the LSTM, (Re x, Im x) for the LRU.
  Backward directions are flipped to the original time order.
  """
  return _compiled(_state_gradients, model, task)(variables, batch)


def _state_gradients(model, task, variables, batch):
  loss = task_loss(task)
  batch = _with_weights(batch)
  c = continuous(model, variables, batch, task)
  _, zeros = jax.eval_shape(lambda: c.apply(c.x, mutable=[PERTURBATIONS]))
  zeros = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), zeros)
  value, grads = jax.value_and_grad(lambda p: loss(c.apply(c.x, p), batch))(zeros)
  groups: dict[str, list] = {}
  for path, leaf in jax.tree_util.tree_flatten_with_path(grads[PERTURBATIONS])[0]:
    groups.setdefault(_state_name(path), []).append(leaf.reshape(leaf.shape[:2] + (-1,)))
  out = {}
  for name, leaves in groups.items():
    g = jnp.concatenate(leaves, axis=-1).astype(jnp.float32)
    out[name] = _flip_time(g, c.lengths) if name.endswith('_bwd') else g
  return out, value


def input_gradients(model: nn.Module, variables, batch: dict, task) -> tuple[jax.Array, jax.Array]:
  """(dL/dx [B, T, ...] with respect to the (embedded) inputs, L) (compiled)."""
  return _compiled(_input_gradients, model, task)(variables, batch)


def _input_gradients(model, task, variables, batch):
  loss = task_loss(task)
  batch = _with_weights(batch)
  c = continuous(model, variables, batch, task)
  value, g = jax.value_and_grad(lambda x: loss(c.apply(x), batch))(c.x)
  return g, value


def _sq_BxT(g) -> jax.Array:
  """||g[b, t]||^2 over every axis after the first two: [B, T]."""
  return jnp.sum(jnp.square(g.astype(jnp.float32)), axis=tuple(range(2, g.ndim)))


def grad_through_time(model: nn.Module, variables, batch: dict, task) -> dict:
  """||dL/dh_t|| (recurrent families) or ||dL/dx_t|| (others) at every step t.

  Returns `kind` ('hidden_state' or 'input'), `grad_norm` [T] (over the batch
  and the units), `per_example` [B, T] (over the units), `per_state` {name: [T]}
  (recurrent: one entry per layer and direction), `loss`.
  Compiled; inside a traced function it traces (`grad_arrays` has no `kind`).
  """
  kind = 'hidden_state' if is_recurrent(model) else 'input'
  return {'kind': kind, **_compiled(grad_arrays, model, task)(variables, batch)}


def grad_arrays(model: nn.Module, task, variables, batch: dict) -> dict:
  """grad_through_time without `kind`: a pure function of arrays."""
  if is_recurrent(model):
    grads, value = _state_gradients(model, task, variables, batch)
    sq = {k: _sq_BxT(g) for k, g in grads.items()}
  else:
    g, value = _input_gradients(model, task, variables, batch)
    sq = {'input': _sq_BxT(g)}
  per_example_sq = sum(sq.values())
  return {'grad_norm': jnp.sqrt(jnp.sum(per_example_sq, axis=0)),
          'per_example': jnp.sqrt(per_example_sq),
          'per_state': {k: jnp.sqrt(jnp.sum(v, axis=0)) for k, v in sq.items()},
          'loss': value}


def grad_summary(per_example_BxT, lengths=None) -> dict:
  """The compact summary the train loop logs: the gradient norm (over the batch and
  units) at the first step, the middle one (T // 2, 0-based) and the last, and the
  first over the last. With `lengths`, each example's own middle (length // 2)
  and last (length - 1) step: padding gets no gradient."""
  B, T = per_example_BxT.shape
  length_B = (jnp.full((B,), T, jnp.int32) if lengths is None
              else jnp.clip(jnp.asarray(lengths, jnp.int32), 1, T))
  at = lambda idx_B: jnp.sqrt(jnp.sum(jnp.square(
      jnp.take_along_axis(per_example_BxT, idx_B[:, None], axis=1))))
  first, mid, last = at(jnp.zeros_like(length_B)), at(length_B // 2), at(length_B - 1)
  return {'grad_norm_t1': first, 'grad_norm_tmid': mid, 'grad_norm_tT': last,
          'grad_ratio_1_over_T': first / last}


def fixed_batch(split, n: int) -> dict:
  """The first `n` examples of a split as NumPy arrays (weights 1): the diagnostic batch."""
  from cnn_vs_rnn.data.pipeline import num_examples, take  # pylint: disable=g-import-not-at-top
  n = min(n, num_examples(split))
  batch = {k: v for k, v in take(split, np.arange(n)).items()
           if k in ('inputs', 'targets', 'lengths', 'target_mask')}
  batch['weights'] = np.ones((n,), np.float32)
  return batch


def summary_fn(model: nn.Module, task) -> Callable:
  """(variables, batch) -> grad_summary of grad_through_time (pure, jit/vmap-able)."""
  def fn(variables, batch):
    result = grad_arrays(model, task, as_variables(variables), batch)
    return grad_summary(result['per_example'], batch.get('lengths'))
  return fn


# ---------------------------------------------------------------------------
# Step Jacobians of recurrent families.


def _flat(carry):
  return jnp.concatenate([jnp.reshape(x, (-1,)) for x in jax.tree.leaves(carry)])


def _identity(x):
  return x


def _singular_values(jac_BxSxS):
  return jnp.linalg.svd(jac_BxSxS, compute_uv=False)


def _rnn_jacobians(c: Continuous, max_examples: int, reduce=_identity) -> dict:
  """reduce(dh_t/dh_{t-1} [B', S, S]) at every step t, stacked to [B', T, ...]: one
  step at a time (lax.map), so a large state never holds all T Jacobians at once."""
  rnn = c.backbone
  is_input = lambda mdl, name: (isinstance(mdl, nn.Dense) and mdl.name == 'input'
                                and name == '__call__')
  _, inter = c.apply(c.x, capture_intermediates=is_input, mutable=['intermediates'])
  cell = CELLS[rnn.cell](rnn.hidden_size, **dict(rnn.cell_kwargs()), dtype=rnn.dtype)
  H = rnn.hidden_size
  out = {}
  for name in sorted(inter['intermediates']):
    xproj_BxTxG = inter['intermediates'][name]['input']['__call__'][0][:max_examples]
    cell_params = {'params': c.variables['params'][name]['scan']['cell']}
    carry0 = initial_carry(rnn.cell, 1, H, state_dtype(xproj_BxTxG.dtype))
    carry0 = jax.tree.map(lambda z: z[0], carry0)

    def unflat(s):
      return (s[:H], s[H:]) if rnn.cell == 'lstm' else s

    def step(s_S, xp_G):
      return _flat(cell.apply(cell_params, unflat(s_S), xp_G)[0])

    def trajectory(xp_TxG):
      def body(s, xp):
        return step(s, xp), s  # Emits the state each step starts from.
      return jax.lax.scan(body, _flat(carry0), xp_TxG)[1]

    prev_BxTxS = jax.vmap(trajectory)(xproj_BxTxG)
    at_t = lambda args: reduce(jax.vmap(jax.jacfwd(step))(*args))
    jac = jnp.swapaxes(jax.lax.map(at_t, (jnp.swapaxes(prev_BxTxS, 0, 1),
                                          jnp.swapaxes(xproj_BxTxG, 0, 1))), 0, 1)
    lengths = None if c.lengths is None else c.lengths[:max_examples]
    out[name] = _flip_time(jac, lengths) if name.endswith('_bwd') else jac
  return out


def _lru_jacobians(c: Continuous, max_examples: int, reduce=_identity) -> dict:
  params = c.variables['params']
  B = min(max_examples, c.x.shape[0])
  T = c.x.shape[1]
  out = {}
  for block in sorted(k for k in params if k.startswith('block')):
    p = params[block]['lru']
    lam = lru_lambda(p['nu_log'], p['theta_log'])
    N = lam.shape[0]

    def step(s_S, lam=lam, N=N):  # x -> lambda x (+ B u_t, which the Jacobian ignores)
      x = jax.lax.complex(s_S[:N], s_S[N:]) * lam
      return jnp.concatenate([x.real, x.imag])

    jac = reduce(jax.jacfwd(step)(jnp.zeros((1, 2 * N), jnp.float32)[0])[None])[0]
    out[f'{block}/lru'] = jnp.broadcast_to(jac, (B, T) + jac.shape)  # The same every step.
  return out


def step_jacobians(model: nn.Module, variables, batch: dict, max_examples: int = 4) -> dict:
  """{state name: dh_t/dh_{t-1} [B', T, S, S]} along the batch's trajectory
  (B' = min(B, max_examples)); the state is flattened as in state_gradients."""
  if not is_recurrent(model):
    raise ConfigError('jacobian_spectrum applies to recurrent families (elman, lstm, gru, '
                      f'lru), not to {type(backbone_of(model)).__name__}')
  return _compiled(_step_jacobians, model, max_examples)(variables, batch)


def _step_jacobians(model, max_examples, variables, batch, reduce=_identity):
  c = continuous(model, variables, batch)
  if isinstance(c.backbone, LRUNet):
    return _lru_jacobians(c, max_examples, reduce)
  return _rnn_jacobians(c, max_examples, reduce)


def _step_spectra(model, max_examples, variables, batch):
  return _step_jacobians(model, max_examples, variables, batch, _singular_values)


def jacobian_spectrum(model: nn.Module, variables, batch: dict, max_examples: int = 2) -> dict:
  """Singular values of dh_t/dh_{t-1}: `singular_values` {name: [B', T, S]}
  (descending), `top` and `bottom` {name: [T]} (largest and smallest, mean over B').

  Costs B' * T Jacobians of S x S and their SVDs (S = 2H for an LSTM), computed
  one step at a time: B' = min(B, max_examples).
  """
  if not is_recurrent(model):
    raise ConfigError('jacobian_spectrum applies to recurrent families (elman, lstm, gru, '
                      f'lru), not to {type(backbone_of(model)).__name__}')
  sv = _compiled(_step_spectra, model, max_examples)(variables, batch)
  return {'singular_values': sv,
          'top': {k: jnp.mean(s[..., 0], axis=0) for k, s in sv.items()},
          'bottom': {k: jnp.mean(s[..., -1], axis=0) for k, s in sv.items()}}


# ---------------------------------------------------------------------------
# Receptive fields of convolutional families.


@dataclasses.dataclass(frozen=True)
class Layer:
  """One layer along a spatial axis: kernel, stride, padding before, dilation."""
  kernel: int
  stride: int = 1
  pad: int = 0
  dilation: int = 1


def geometry(layers) -> list[tuple[int, int, int]]:
  """(receptive field, jump, offset) after each layer: unit p of a layer's output
  sees input positions p * jump - offset .. p * jump - offset + rf - 1."""
  rf, jump, offset, out = 1, 1, 0, []
  for l in layers:
    rf, offset, jump = rf + (l.kernel - 1) * l.dilation * jump, offset + l.pad * jump, jump * l.stride
    out.append((rf, jump, offset))
  return out


@dataclasses.dataclass(frozen=True)
class Probe:
  """A layer whose unit the receptive_field probe measures."""
  name: str                  # display name
  path: tuple                # its module path in the intermediates
  rf: int                    # analytic receptive field (per spatial axis)
  jump: int
  offset: int


def conv_probes(model: nn.Module) -> list[Probe]:
  """The layers of a convolutional backbone with their analytic geometry.

  cnn1d: every convolution (the last one's rf is `CNN1D.receptive_field()`);
  tcn: every level's output (rf = `tcn.receptive_field(k, level + 1)`);
  cnn2d/vgg/lenet: every convolution, after the previous blocks' pooling.
  """
  m = backbone_of(model)
  if isinstance(m, CNN1D):
    layers = [Layer(k, s, m.padding) for k, s in zip(m.kernel_sizes, m.strides)]
    geo = geometry(layers)
    assert geo[-1][0] == m.receptive_field()
    return [Probe(f'conv{i}', (f'conv{i}',), *g) for i, g in enumerate(geo)]
  if isinstance(m, TCN):
    probes, layers, k = [], [], m.kernel_size
    for level in range(len(m.channels)):
      d = 2 ** level
      layers += [Layer(k, 1, (k - 1) * d, d)] * 2
      rf, jump, offset = geometry(layers)[-1]
      assert rf == tcn_lib.receptive_field(k, level + 1)
      probes.append(Probe(f'level{level}', (f'level{level}',), rf, jump, offset))
    return probes
  if isinstance(m, ConvStack2D):
    probes, layers, k = [], [], m.kernel_size
    for b, (widths, padding) in enumerate(zip(m.blocks, block_paddings(m.padding,
                                                                        len(m.blocks)))):
      for i, _ in enumerate(widths):
        layers.append(Layer(k, 1, (k - 1) // 2 if padding == 'SAME' else 0))
        rf, jump, offset = geometry(layers)[-1]
        probes.append(Probe(f'block{b}_conv{i}', ('features', f'block{b}_conv{i}'),
                            rf, jump, offset))
      if m.pooling != 'none':
        layers.append(Layer(m.pool_size, m.pool_size))
    return probes
  raise ConfigError('receptive_field applies to convolutional families (cnn1d, tcn, '
                    f'cnn2d, vgg, lenet), not to {type(m).__name__}')


def _interval(p: int, probe: Probe, size: int) -> list[int]:
  lo = p * probe.jump - probe.offset
  return [max(lo, 0), min(lo + probe.rf - 1, size - 1)]


def _span(mask_1d) -> list[int] | None:
  idx = np.flatnonzero(mask_1d)
  return [int(idx[0]), int(idx[-1])] if idx.size else None


def receptive_field(model: nn.Module, variables, batch: dict, seed: int = 0,
                    probes: list[Probe] | None = None) -> dict:
  """Input-gradient footprint of one unit per layer vs the analytic receptive field.

  `probes` (default `conv_probes(model)`) names the layers and their analytic
  geometry; a caller may pass its own for another family (a layer's output
  must be its module's `__call__` output, reached by `Probe.path`).

  Returns `input_shape` (spatial) and `layers`: per layer its `name`,
  `position` of the unit, `analytic_rf`, `analytic_interval` (per spatial axis,
  clipped to the input), `measured_interval` (where the gradient is non-zero),
  `measured_extent` and `footprint` (|gradient| summed over batch and channels).
  One compiled program for every layer; the unit positions come from the layers' shapes.
  """
  probes = conv_probes(model) if probes is None else list(probes)
  c = continuous(model, variables, batch)
  causal = isinstance(c.backbone, TCN)
  names = {p.path[-1] for p in probes}
  want = lambda mdl, name: name == '__call__' and mdl.name in names
  x = c.x
  spatial = x.shape[1:-1]

  def layer_outs(x, variables):
    _, inter = c.backbone.apply(variables, x, train=False, capture_intermediates=want,
                                mutable=['intermediates'])
    outs = []
    for probe in probes:
      node = inter['intermediates']
      for key in probe.path:
        node = node[key]
      outs.append(node['__call__'][0])
    return outs

  shapes = [o.shape for o in jax.eval_shape(layer_outs, x, c.variables)]
  positions = [tuple(s - 1 if causal else s // 2 for s in shape[1:-1]) for shape in shapes]
  keys = jax.random.split(jax.random.key(seed), len(probes))
  weights = [jax.random.normal(k, (shape[-1],)) for k, shape in zip(keys, shapes)]

  @jax.jit
  def footprints(x, variables):
    """|d unit_l / dx| summed over the batch and channels, every layer l, one program."""
    def units(x):
      return [jnp.sum(o[(slice(None),) + pos] * w)
              for o, pos, w in zip(layer_outs(x, variables), positions, weights)]
    values, vjp = jax.vjp(units, x)
    basis = [[jnp.ones_like(v) if i == l else jnp.zeros_like(v) for i, v in enumerate(values)]
             for l in range(len(values))]
    return [jnp.sum(jnp.abs(vjp(b)[0]), axis=(0, x.ndim - 1)) for b in basis]

  out_layers = []
  for probe, pos, g in zip(probes, positions, footprints(x, c.variables)):
    g = np.asarray(g, np.float64)
    nonzero = g > 0
    measured = [_span(nonzero.any(axis=tuple(j for j in range(g.ndim) if j != i)))
                for i in range(g.ndim)]
    analytic = [_interval(p, probe, s) for p, s in zip(pos, spatial)]
    out_layers.append({
        'name': probe.name, 'position': list(pos), 'analytic_rf': probe.rf,
        'analytic_interval': analytic, 'measured_interval': measured,
        'measured_extent': [None if m is None else m[1] - m[0] + 1 for m in measured],
        'footprint': g})
  return {'input_shape': list(spatial), 'causal': causal, 'layers': out_layers}


# ---------------------------------------------------------------------------
# Sensitivity of the last output to earlier inputs.


def sensitivity(model: nn.Module, variables, batch: dict, rel_tol: float = 1e-3) -> dict:
  """S(k) = ||d y_last / d x_{last - k}|| for k = 0 .. T - 1 (mean over the batch).

  y_last is the output at the last valid step (length - 1 with `lengths`) of
  per-step models, the model's output otherwise. Returns `sensitivity` [T],
  `per_example` [B, T] (0 where last - k < 0), `effective_context` (1 + the
  largest k with S(k) > rel_tol * max S; 0 if S is 0) and `rel_tol`.
  """
  c = continuous(model, variables, batch)
  families = applicable('sensitivity', model, c.x.ndim)
  if families is not None:
    raise ConfigError(f'sensitivity applies to {families}, not to '
                      f'{type(c.backbone).__name__} on inputs of shape {tuple(c.x.shape[1:])}')
  B, T = c.x.shape[:2]
  last_B = (jnp.full((B,), T - 1) if c.lengths is None
            else jnp.maximum(jnp.asarray(c.lengths, jnp.int32) - 1, 0))

  def y_last(x, variables):  # Summed over the batch: examples do not interact (train=False).
    y = c.backbone.apply(variables, x, lengths=c.lengths, train=False, **c.kwargs)
    if y.ndim == 3:
      y = jnp.take_along_axis(y, last_B[:, None, None], axis=1)[:, 0]
    return jnp.sum(y.astype(jnp.float32), axis=0)

  jac_OxBxTxC = jax.jit(jax.jacrev(y_last))(c.x, c.variables)
  norm_BxT = jnp.sqrt(jnp.sum(jnp.square(jac_OxBxTxC), axis=(0, 3)))
  k = jnp.arange(T)
  t_BxK = last_B[:, None] - k[None, :]
  per_example = jnp.where(t_BxK >= 0,
                          jnp.take_along_axis(norm_BxT, jnp.clip(t_BxK, 0, T - 1), axis=1),
                          0.0)
  s = np.asarray(jnp.mean(per_example, axis=0), np.float64)
  above = np.flatnonzero(s > rel_tol * s.max()) if s.max() > 0 else np.array([], int)
  return {'sensitivity': s, 'per_example': np.asarray(per_example),
          'effective_context': int(above[-1] + 1) if above.size else 0,
          'rel_tol': rel_tol}


def run_probe(name: str, model: nn.Module, variables, batch: dict, task, **options) -> dict:
  """One probe by name, its arrays as NumPy."""
  fns = {
      'grad_through_time': lambda: grad_through_time(model, variables, batch, task),
      'jacobian_spectrum': lambda: jacobian_spectrum(model, variables, batch, **options),
      'receptive_field': lambda: receptive_field(model, variables, batch),
      'sensitivity': lambda: sensitivity(model, variables, batch),
  }
  if name not in fns:
    raise ConfigError(f'unknown probe {name!r}; valid: {", ".join(PROBES)}')
  return jax.tree.map(lambda x: np.asarray(x) if isinstance(x, jax.Array) else x, fns[name]())
