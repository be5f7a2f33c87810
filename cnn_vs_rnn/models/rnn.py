"""Recurrent networks on `flax.linen.scan`: Elman (tanh/ReLU, IRNN), LSTM, GRU.

Per layer and direction, the input projection of every time step is one
matmul before the scan, and a cell's gates come from one recurrent matmul
inside it. Equations (PyTorch's conventions, with an input and a recurrent
bias), x~ = W_x x_t + b_x computed up front:

  Elman: h' = act(x~ + W_h h + b_h)   (layer_norm: h' = act(LN(x~ + W_h h + b_h)))
  LSTM:  [i f g o] = x~ + W_h h + b_h;  c' = s(f) c + s(i) tanh(g);  h' = s(o) tanh(c')
  GRU:   [r z n]_x = x~, [r z n]_h = W_h h + b_h;  r = s(r_x + r_h);
         z = s(z_x + z_h);  n = tanh(n_x + r * n_h);  h' = (1 - z) n + z h

Variable-length batches: steps at t >= length leave the carry unchanged and
output zeros, so padding never changes the result.

With a computation dtype (`dtype`, models/precision.py) such as bfloat16, the
matmuls and gate activations run in it, while the recurrent state (h, and the
LSTM's c) is carried in float32 (`precision.state_dtype`): a state updated
as z h + (1 - z) n over hundreds of steps would lose its small updates to
bfloat16 rounding. Layer outputs are the float32 states.

`recurrence` picks how a layer's loop is computed, over the same parameters
(same names and initialisers): 'scan' is `nn.scan` over the cell modules
above; 'fused' is `kernels.recurrence` (kernels/fused_rnn.py), a `lax.scan`
with a hand-written backward pass, faster on CPU. 'fused' applies when every step is valid (no
lengths); a batch with lengths always takes the 'scan' path.

Diagnostics (cnn_vs_rnn/diagnostics.py) read dL/dh_t through a zero
perturbation that each 'scan' step adds to the state it passes on, only
when the caller provides the 'perturbations' collection (see `_MaskedStep`).
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import flax.linen as nn

from cnn_vs_rnn.kernels import orthogonal_init, recurrence
from cnn_vs_rnn.models.registry import register
from cnn_vs_rnn.errors import ConfigError
from cnn_vs_rnn.models.heads import Readout, time_mask
from cnn_vs_rnn.models.precision import cast, state_dtype

Carry = Any

ACTIVATIONS = {'tanh': jnp.tanh, 'relu': nn.relu}


def identity_init(key, shape, dtype=jnp.float32):
  del key
  return jnp.eye(*shape, dtype=dtype)


RECURRENCES = ('scan', 'fused')
# Initialisers of the Elman recurrent matrix W_h (H x H), each times `scale`:
# 'orthogonal' (the default), 'identity' (the IRNN, Le et al. 2015) and
# 'normal', entries N(0, 1/H), whose spectral radius is about 1 for large H
# (the circular law). The spectral radius of scale * W is about `scale` for all three.
RECURRENT_INITS = ('orthogonal', 'identity', 'normal')


def recurrent_kernel_init(cell_name: str, irnn_init: bool = False, recurrent_init: str = '',
                          scale: float = 1.0):
  """The recurrent kernel's initialiser. Gated cells: orthogonal. Elman:
  `recurrent_init` ('' = identity with irnn_init, else orthogonal) times `scale`."""
  if cell_name != 'elman':
    return orthogonal_init()
  name = recurrent_init or ('identity' if irnn_init else 'orthogonal')
  if name == 'orthogonal':
    return orthogonal_init(scale)
  if name == 'normal':
    return lambda key, shape, dtype=jnp.float32: scale * jax.random.normal(
        key, shape, dtype) / jnp.sqrt(jnp.asarray(shape[0], dtype))
  return lambda key, shape, dtype=jnp.float32: scale * identity_init(key, shape, dtype)


class ElmanCell(nn.Module):
  hidden_size: int
  activation: str = 'tanh'
  irnn_init: bool = False  # identity recurrent matrix (Le et al. 2015)
  recurrent_init: str = ''  # RECURRENT_INITS; '' = identity if irnn_init else orthogonal
  recurrent_init_scale: float = 1.0
  layer_norm: bool = False  # LayerNorm of the pre-activation (Ba et al. 2016)
  dtype: Any = None

  gates = 1

  @nn.compact
  def __call__(self, h, xproj_BxH):
    init = recurrent_kernel_init('elman', self.irnn_init, self.recurrent_init,
                                 self.recurrent_init_scale)
    pre = xproj_BxH + nn.Dense(self.hidden_size, kernel_init=init, dtype=self.dtype,
                               name='recurrent')(h)
    if self.layer_norm:
      pre = nn.LayerNorm(dtype=self.dtype, name='norm')(pre)
    h_new = ACTIVATIONS[self.activation](pre).astype(h.dtype)
    return h_new, h_new


class LSTMCell(nn.Module):
  hidden_size: int
  dtype: Any = None

  gates = 4

  @nn.compact
  def __call__(self, carry, xproj_Bx4H):
    c, h = carry
    g = xproj_Bx4H + nn.Dense(4 * self.hidden_size, kernel_init=orthogonal_init(),
                              dtype=self.dtype, name='recurrent')(h)
    i, f, u, o = jnp.split(g, 4, axis=-1)
    c_new = (nn.sigmoid(f) * c + nn.sigmoid(i) * jnp.tanh(u)).astype(c.dtype)
    h_new = (nn.sigmoid(o) * jnp.tanh(c_new)).astype(h.dtype)
    return (c_new, h_new), h_new


class GRUCell(nn.Module):
  hidden_size: int
  dtype: Any = None

  gates = 3

  @nn.compact
  def __call__(self, h, xproj_Bx3H):
    hh = nn.Dense(3 * self.hidden_size, kernel_init=orthogonal_init(),
                  dtype=self.dtype, name='recurrent')(h)
    xr, xz, xn = jnp.split(xproj_Bx3H, 3, axis=-1)
    hr, hz, hn = jnp.split(hh, 3, axis=-1)
    r = nn.sigmoid(xr + hr)
    z = nn.sigmoid(xz + hz)
    n = jnp.tanh(xn + r * hn)
    h_new = ((1.0 - z) * n + z * h).astype(h.dtype)
    return h_new, h_new


CELLS = {'elman': ElmanCell, 'lstm': LSTMCell, 'gru': GRUCell}


def input_bias_init(cell_name: str, hidden_size: int):
  """LSTM forget-gate bias 1 (Jozefowicz et al. 2015); zeros elsewhere."""
  if cell_name != 'lstm':
    return nn.initializers.zeros

  def init(key, shape, dtype=jnp.float32):
    del key
    return jnp.zeros(shape, dtype).at[hidden_size:2 * hidden_size].set(1.0)
  return init


def initial_carry(cell_name: str, batch: int, hidden_size: int, dtype) -> Carry:
  h = jnp.zeros((batch, hidden_size), dtype)
  return (h, h) if cell_name == 'lstm' else h


# The diagnostics' handle on the hidden state (cnn_vs_rnn/diagnostics.py): each
# step adds a variable PERTURBATIONS/STATE, zeros shaped like the new carry, to
# the carry it passes on, when (and only when) the caller provides that
# collection. The gradient of the loss with respect to it is dL/dh_t, the total
# derivative through every later step. The scan stacks it along time (axis 1).
PERTURBATIONS = 'perturbations'
STATE = 'state'


def carry_h(cell_name: str, carry):
  """The hidden state h of a carry ((c, h) for the LSTM)."""
  return carry[1] if cell_name == 'lstm' else carry


class _MaskedStep(nn.Module):
  """One time step of a cell; steps past an example's length are no-ops.

  `inputs` is (xproj, valid_B), or xproj alone when every step is valid (no
  lengths given), which keeps the masking out of the loop.
  """
  cell_name: str
  hidden_size: int
  cell_kwargs: tuple = ()
  dtype: Any = None

  @nn.compact
  def __call__(self, carry, inputs):
    cell = CELLS[self.cell_name](self.hidden_size, **dict(self.cell_kwargs),
                                 dtype=self.dtype, name='cell')
    if not isinstance(inputs, tuple):
      new_carry, out = cell(carry, inputs)
      if not self.perturbed():
        return new_carry, out
      new_carry = self.perturb(STATE, new_carry)
      return new_carry, carry_h(self.cell_name, new_carry)
    xproj, valid_B = inputs
    new_carry, out = cell(carry, xproj)
    keep = lambda new, old: jnp.where(valid_B[:, None], new, old)
    carry = jax.tree.map(keep, new_carry, carry)
    if self.perturbed():
      carry = self.perturb(STATE, carry)
      out = carry_h(self.cell_name, carry)
    return carry, jnp.where(valid_B[:, None], out, 0.0)

  def perturbed(self) -> bool:
    """Whether this call adds a zero perturbation to the state (cnn_vs_rnn/diagnostics.py).

    Only when the caller passes the 'perturbations' collection or makes it
    mutable; never while initialising, so training never sees one.
    """
    return not self.is_initializing() and (
        self.is_mutable_collection(PERTURBATIONS) or self.has_variable(PERTURBATIONS, STATE))


def reverse_padded(x_BxTx, lengths_B):
  """Reverses each sequence within its length; padding stays where it is."""
  if lengths_B is None:
    return jnp.flip(x_BxTx, axis=1)
  T = x_BxTx.shape[1]
  t = jnp.arange(T)[None, :]
  idx = jnp.where(t < lengths_B[:, None], lengths_B[:, None] - 1 - t, t)
  idx = idx.reshape(idx.shape + (1,) * (x_BxTx.ndim - 2))
  return jnp.take_along_axis(x_BxTx, idx, axis=1)


class DenseParams(nn.Module):
  """The parameters of an `nn.Dense` (same names, shapes and initialisers), unapplied,
  in the submodule `path` below this one (the 'fused' path's stand-in for the
  'scan' path's modules, e.g. ('cell', 'recurrent') inside 'scan')."""
  in_features: int
  features: int
  kernel_init: Any = nn.initializers.lecun_normal()
  bias_init: Any = nn.initializers.zeros
  path: tuple = ()

  @nn.compact
  def __call__(self):
    if self.path:
      return DenseParams(self.in_features, self.features, self.kernel_init, self.bias_init,
                         self.path[1:], name=self.path[0])()
    return (self.param('kernel', self.kernel_init, (self.in_features, self.features)),
            self.param('bias', self.bias_init, (self.features,)))


class Recurrence(nn.Module):
  """One direction of one layer: [B, T, C] -> outputs [B, T, H], final h [B, H]."""
  cell_name: str
  hidden_size: int
  cell_kwargs: tuple = ()
  unroll: int = 1
  remat: bool = False
  recurrence: str = 'scan'
  dtype: Any = None

  @nn.compact
  def __call__(self, x_BxTxC, lengths_B=None):
    if self.recurrence == 'fused' and lengths_B is None:
      return self.fused(x_BxTxC)
    B, T, _ = x_BxTxC.shape
    cell_cls = CELLS[self.cell_name]
    xproj = nn.Dense(cell_cls.gates * self.hidden_size, name='input',
                     bias_init=input_bias_init(self.cell_name, self.hidden_size),
                     dtype=self.dtype)(x_BxTxC)
    inputs = xproj if lengths_B is None else (xproj, time_mask(lengths_B, T))
    step = nn.remat(_MaskedStep) if self.remat else _MaskedStep
    scan = nn.scan(step, variable_broadcast='params', split_rngs={'params': False},
                   variable_axes={PERTURBATIONS: 1}, in_axes=1, out_axes=1,
                   unroll=self.unroll)
    carry, outputs = scan(self.cell_name, self.hidden_size, self.cell_kwargs, self.dtype,
                          name='scan')(
        initial_carry(self.cell_name, B, self.hidden_size, state_dtype(xproj.dtype)), inputs)
    final_h = carry[1] if self.cell_name == 'lstm' else carry
    return outputs, final_h

  def fused(self, x_BxTxC):
    """`kernels.recurrence` over the parameters the 'scan' path creates.

    The parameters enter the custom VJP already cast to the computation
    dtype; the cast's own VJP turns their gradients back into float32.
    """
    hidden, gates = self.hidden_size, CELLS[self.cell_name].gates
    kwargs = dict(self.cell_kwargs)
    w_x, b_x = DenseParams(x_BxTxC.shape[-1], gates * hidden,
                           bias_init=input_bias_init(self.cell_name, hidden), name='input')()
    w_h, b_h = DenseParams(hidden, gates * hidden,
                           recurrent_kernel_init(self.cell_name, kwargs.get('irnn_init', False),
                                                 kwargs.get('recurrent_init', ''),
                                                 kwargs.get('recurrent_init_scale', 1.0)),
                           path=('cell', 'recurrent'), name='scan')()
    params = tuple(cast(p, self.dtype) for p in (w_x, b_x, w_h, b_h))
    h_TxBxH = recurrence(self.cell_name, params, jnp.swapaxes(cast(x_BxTxC, self.dtype), 0, 1),
                         kwargs.get('activation', 'tanh'), self.unroll)
    return jnp.swapaxes(h_TxBxH, 0, 1), h_TxBxH[-1]


@register('elman', widths=('hidden_size',), cell='elman')
@register('lstm', widths=('hidden_size',), cell='lstm')
@register('gru', widths=('hidden_size',), cell='gru')
class RNN(nn.Module):
  """Stacked, optionally bidirectional recurrent network with a readout.

  Defaults give a unidirectional one-layer net read out from its last step.
  """
  cell: str
  num_outputs: int
  hidden_size: int = 64
  num_layers: int = 1
  bidirectional: bool = False
  pool: str = 'last'
  activation: str = 'tanh'   # Elman only
  irnn_init: bool = False    # Elman only
  recurrent_init: str = ''   # Elman only: RECURRENT_INITS ('' = the default above)
  recurrent_init_scale: float = 1.0  # Elman only: times the recurrent initial matrix
  layer_norm: bool = False   # Elman only, recurrence='scan': LN of the pre-activation
  unroll: int = 1
  remat: bool = False
  recurrence: str = 'scan'   # 'scan' (nn.scan over the cell) or 'fused' (custom VJP)
  dtype: Any = None          # computation dtype (models/precision.py)

  def check_input(self, input_shape):
    if len(input_shape) != 2:
      raise ConfigError(
          f'{self.cell} takes sequences of shape (T, C), not {tuple(input_shape)}')
    if self.cell != 'elman' and (self.irnn_init or self.activation != 'tanh'
                                 or self.recurrent_init or self.recurrent_init_scale != 1.0
                                 or self.layer_norm):
      raise ConfigError(
          'model.activation, model.irnn_init, model.recurrent_init, '
          f'model.recurrent_init_scale and model.layer_norm apply to elman, not {self.cell}')
    if self.recurrent_init and self.recurrent_init not in RECURRENT_INITS:
      raise ConfigError(f'unknown model.recurrent_init {self.recurrent_init!r}; '
                        f'valid: {", ".join(RECURRENT_INITS)}')
    if self.irnn_init and self.recurrent_init not in ('', 'identity'):
      raise ConfigError(f'model.irnn_init=True is the identity init; it contradicts '
                        f'model.recurrent_init={self.recurrent_init!r}')
    if self.layer_norm and self.recurrence != 'scan':
      raise ConfigError("model.layer_norm applies to recurrence='scan'")
    if self.recurrence not in RECURRENCES:
      raise ConfigError(f'unknown model.recurrence {self.recurrence!r}; '
                        f'valid: {", ".join(RECURRENCES)}')
    if self.recurrence == 'fused' and self.remat:
      raise ConfigError("model.remat applies to recurrence='scan'; the 'fused' recurrence "
                        'saves only the gate activations')
    if self.activation not in ACTIVATIONS:
      raise ConfigError(f'unknown model.activation {self.activation!r}; '
                        f'valid: {", ".join(ACTIVATIONS)}')

  def cell_kwargs(self) -> tuple:
    """The cell's own fields, as (name, value) pairs (the Elman cell's; none for gated ones)."""
    if self.cell != 'elman':
      return ()
    return (('activation', self.activation), ('irnn_init', self.irnn_init),
            ('recurrent_init', self.recurrent_init),
            ('recurrent_init_scale', self.recurrent_init_scale),
            ('layer_norm', self.layer_norm))

  @nn.compact
  def __call__(self, x_BxTxC, lengths=None, train: bool = False):
    del train
    # None (every step valid) keeps the per-step masking out of the scan.
    lengths_B = None if lengths is None else lengths.astype(jnp.int32)
    cell_kwargs = self.cell_kwargs()
    direction = functools.partial(Recurrence, self.cell, self.hidden_size, cell_kwargs,
                                  self.unroll, self.remat, self.recurrence, self.dtype)
    h = x_BxTxC
    for layer in range(self.num_layers):
      out, last = direction(name=f'layer{layer}_fwd')(h, lengths_B)
      if self.bidirectional:
        rev, last_rev = direction(name=f'layer{layer}_bwd')(
            reverse_padded(h, lengths_B), lengths_B)
        out = jnp.concatenate([out, reverse_padded(rev, lengths_B)], axis=-1)
        last = jnp.concatenate([last, last_rev], axis=-1)
      h = out
    return Readout(self.num_outputs, self.pool, self.dtype, name='head')(h, lengths_B, last)
