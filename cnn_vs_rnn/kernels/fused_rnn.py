"""Recurrences with hand-written backward passes (`jax.custom_vjp`).

The same functions as the `nn.scan` cells of models/rnn.py (PyTorch's
equations, see there), computed from the input projections of all steps:

  sequence(cell, (w_x, b_x, w_h, b_h), x_TxBxC, ...) -> h_TxBxH, h_t for every step

with G = gates * H; the input projection x~ = W_x x_t + b_x of every step is
one matmul before the loop. Autodiff through
a scan saves whatever its cell happens to compute and accumulates the
recurrent weight's gradient with one small matmul per step. Here the forward
scan saves only what the backward needs (the gate activations and, for the
LSTM, the cell state), the backward scan does one matmul per step (the
gradient flowing to h_{t-1}), and the recurrent weight's gradient is one
large matmul over all steps after the loop, together with the input
weight's (one contraction over all T*B steps of [h_{t-1}, x_t] with the
gate gradients, so that XLA transposes the narrow operand, not the gates).
On the 2-core CPU this makes the
lstm_pixel and gru_seq train steps markedly faster (experiments/speed).

Every example runs all T steps (no lengths): models/rnn.py uses this path
(`kernels.recurrence`) only when no lengths are given.

Dtypes: the parameters' dtype is the computation dtype (models/rnn.py casts
them before the call). Every matmul runs in it, forward and backward, and
so do the gate activations; the recurrent state h (and the LSTM's c) and
the gradients flowing along it are carried in at least float32
(`precision.state_dtype`), so the outputs h_t are float32 for bfloat16
parameters. The custom VJP returns each gradient in its primal's dtype.
"""

from __future__ import annotations

import functools
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
from jax import lax



def state_dtype(dtype):
  """The dtype a recurrent state accumulates in: `dtype`, at least float32
  (models/precision.py's `state_dtype`)."""
  return jnp.promote_types(dtype, jnp.float32)


def _hprev(h0_BxH, h_TxBxH):
  """[h_0, h_1, ..., h_{T-1}]: the state each step starts from."""
  return jnp.concatenate([h0_BxH[None], h_TxBxH[:-1]], axis=0)


def _dot(a, w):
  """a @ w in w's dtype (the computation dtype; `a` may be a float32 state)."""
  return a.astype(w.dtype) @ w


def _weight_grads(inputs_TxBxK, dgates_TxBxG, dtype):
  """dW = inputs^T dgates over all T*B steps (a matmul in `dtype`), db = sum of dgates."""
  k, gates = inputs_TxBxK.shape[-1], dgates_TxBxG.shape[-1]
  dw = (inputs_TxBxK.reshape(-1, k).astype(dtype).T
        @ dgates_TxBxG.reshape(-1, gates).astype(dtype))
  return dw, jnp.sum(dgates_TxBxG, axis=(0, 1)).astype(dtype)


def _project(w_x, b_x, x_TxBxC):
  return _dot(x_TxBxC, w_x) + b_x


def _zero_state(xproj_TxBxG, hidden: int):
  """h_0 = 0, [B, H], in the state dtype."""
  return jnp.zeros(xproj_TxBxG.shape[1:2] + (hidden,), state_dtype(xproj_TxBxG.dtype))


def with_projection(recurrence: 'Cell'):
  """A `Cell` over projections -> `f((w_x, b_x, w_h, b_h), x_TxBxC)`, a custom VJP.

  The cell's backward gives the gradients of W_h h + b_h and of the input
  projection; where they are the same array (Elman, LSTM), dW_x and dW_h
  come from one matmul over [h_{t-1}, x_t], and db_x = db_h.
  """
  @jax.custom_vjp
  def f(params, x_TxBxC):
    w_x, b_x, w_h, b_h = params
    return recurrence.fun(w_h, b_h, _project(w_x, b_x, x_TxBxC))

  def fwd(params, x_TxBxC):
    w_x, b_x, w_h, b_h = params
    hs, res = recurrence.fwd(w_h, b_h, _project(w_x, b_x, x_TxBxC))
    return hs, (res, hs, w_x, x_TxBxC)

  def bwd(saved, dh_TxBxH):
    res, hs, w_x, x = saved
    dtype = w_x.dtype
    dgates_h, dgates_x = recurrence.bwd(res, dh_TxBxH)
    hidden = hs.shape[-1]
    hprev = _hprev(jnp.zeros_like(hs[0]), hs).astype(dtype)
    if dgates_h is dgates_x:  # Elman, LSTM: one gradient for both projections.
      dw, db = _weight_grads(jnp.concatenate([hprev, x.astype(dtype)], axis=-1), dgates_h,
                             dtype)
      dw_h, dw_x, db_h, db_x = dw[:hidden], dw[hidden:], db, db
    else:                     # GRU: n_h is scaled by r, so the two differ.
      dw_h, db_h = _weight_grads(hprev, dgates_h, dtype)
      dw_x, db_x = _weight_grads(x, dgates_x, dtype)
    dx = (dgates_x.astype(dtype) @ w_x.T).astype(x.dtype)
    return (dw_x, db_x, dw_h, db_h), dx

  f.defvjp(fwd, bwd)
  return f


class Cell(NamedTuple):
  """A recurrence over precomputed input projections, from the zero state.

  fun(w_h, b_h, xproj_TxBxG) -> h_TxBxH
  fwd(w_h, b_h, xproj_TxBxG) -> (h_TxBxH, residuals)
  bwd(residuals, dh_TxBxH)   -> (d(W_h h + b_h), d(xproj)), both [T, B, G]
  """
  fun: Callable
  fwd: Callable
  bwd: Callable


# ---------------------------------------------------------------------------
# Elman: h' = act(x~ + W_h h + b_h).


def elman_cell(activation: str, unroll: int) -> Cell:
  act = jnp.tanh if activation == 'tanh' else jax.nn.relu
  # The activation's derivative from its output: tanh' = 1 - h^2, relu' = [h > 0].
  deriv = (lambda h: 1.0 - h * h) if activation == 'tanh' else (
      lambda h: (h > 0).astype(h.dtype))

  def fun(w_h, b_h, xproj_TxBxH):
    def step(h, xp):
      h_new = act(xp + _dot(h, w_h) + b_h).astype(h.dtype)
      return h_new, h_new
    h0 = _zero_state(xproj_TxBxH, w_h.shape[0])
    return lax.scan(step, h0, xproj_TxBxH, unroll=unroll)[1]

  def fwd(w_h, b_h, xproj):
    hs = fun(w_h, b_h, xproj)
    return hs, (w_h, hs)

  def bwd(res, dh_TxBxH):
    w_h, hs = res
    w_t = w_h.T

    def step(dh_next, inputs):
      dh_out, h = inputs
      dpre = (dh_out + dh_next) * deriv(h)
      return _dot(dpre, w_t).astype(dpre.dtype), dpre
    dpre = lax.scan(step, jnp.zeros_like(hs[0]), (dh_TxBxH, hs), reverse=True,
                    unroll=unroll)[1]
    return dpre, dpre
  return Cell(fun, fwd, bwd)


# ---------------------------------------------------------------------------
# LSTM: [i f g o] = x~ + W_h h + b_h; c' = s(f) c + s(i) tanh(g); h' = s(o) tanh(c').


def _gate_index(shape, axis):
  return lax.broadcasted_iota(jnp.int32, shape, axis)


def _lstm_activations(g_Bx4xH):
  """sigmoid on the i, f, o gates and tanh on g, as one tanh over all of them.

  sigmoid(x) = (1 + tanh(x / 2)) / 2: one transcendental per element instead
  of computing both functions on the whole width and selecting.
  """
  is_g = _gate_index(g_Bx4xH.shape, 1) == 2
  t = jnp.tanh(jnp.where(is_g, g_Bx4xH, 0.5 * g_Bx4xH))
  return jnp.where(is_g, t, 0.5 + 0.5 * t)


def lstm_cell(unroll: int) -> Cell:
  def scan(w_h, b_h, xproj_TxBxG, save):
    hidden = w_h.shape[0]
    zeros = _zero_state(xproj_TxBxG, hidden)

    def step(carry, xp):
      c, h = carry
      g = xp + _dot(h, w_h) + b_h
      a = _lstm_activations(g.reshape(g.shape[0], 4, hidden))
      i, f, u, o = a[:, 0], a[:, 1], a[:, 2], a[:, 3]
      c_new = (f * c + i * u).astype(c.dtype)
      h_new = (o * jnp.tanh(c_new)).astype(h.dtype)
      return (c_new, h_new), ((h_new, c_new, a) if save else h_new)
    return lax.scan(step, (zeros, zeros), xproj_TxBxG, unroll=unroll)[1]

  def fwd(w_h, b_h, xproj):
    hs, cs, acts = scan(w_h, b_h, xproj, save=True)
    return hs, (w_h, cs, acts)

  def bwd(res, dh_TxBxH):
    w_h, cs, acts = res
    w_t = w_h.T

    def step(carry, inputs):
      dh_next, dc_next, c = carry              # c = c_t, handed down from step t + 1
      dh_out, a, t = inputs                    # a: [B, 4, H] activations i, f, g, o
      i, f, u, o = a[:, 0], a[:, 1], a[:, 2], a[:, 3]
      # c_{t-1} read in place from the saved states (no shifted copy of them).
      c_prev = jnp.where(t > 0, lax.dynamic_index_in_dim(cs, jnp.maximum(t - 1, 0),
                                                         keepdims=False), 0.0)
      tc = jnp.tanh(c)
      dh = dh_out + dh_next
      dc = dc_next + dh * o * (1.0 - tc * tc)
      dgates = jnp.concatenate([dc * u * i * (1.0 - i), dc * c_prev * f * (1.0 - f),
                                dc * i * (1.0 - u * u), dh * tc * o * (1.0 - o)], axis=-1)
      return (_dot(dgates, w_t).astype(dh.dtype), (dc * f).astype(dc.dtype), c_prev), dgates
    zeros = jnp.zeros_like(cs[0])
    steps = jnp.arange(cs.shape[0])
    dgates = lax.scan(step, (zeros, zeros, cs[-1]), (dh_TxBxH, acts, steps),
                      reverse=True, unroll=unroll)[1]
    return dgates, dgates
  return Cell(lambda w_h, b_h, xp: scan(w_h, b_h, xp, save=False), fwd, bwd)


# ---------------------------------------------------------------------------
# GRU: [r z n]_h = W_h h + b_h; r = s(r_x + r_h); z = s(z_x + z_h);
#      n = tanh(n_x + r * n_h); h' = (1 - z) n + z h.


def gru_cell(unroll: int) -> Cell:
  def scan(w_h, b_h, xproj_TxBxG, save):
    hidden = w_h.shape[0]
    h0 = _zero_state(xproj_TxBxG, hidden)

    def step(h, xp):
      gh = _dot(h, w_h) + b_h
      rz = jax.nn.sigmoid(xp[:, :2 * hidden] + gh[:, :2 * hidden])
      r, z = rz[:, :hidden], rz[:, hidden:]
      hn = gh[:, 2 * hidden:]
      n = jnp.tanh(xp[:, 2 * hidden:] + r * hn)
      h_new = (n + z * (h - n)).astype(h.dtype)
      return h_new, ((h_new, rz, n, hn) if save else h_new)
    return lax.scan(step, h0, xproj_TxBxG, unroll=unroll)[1]

  def fwd(w_h, b_h, xproj):
    hs, rz, n, hn = scan(w_h, b_h, xproj, save=True)
    return hs, (w_h, hs, rz, n, hn)

  def bwd(res, dh_TxBxH):
    w_h, hs, rzs, ns, hns = res
    hidden = w_h.shape[0]
    w_t = w_h.T
    zeros = jnp.zeros_like(hs[0])

    def step(dh_next, inputs):
      dh_out, h_prev, rz, n, hn = inputs
      r, z = rz[:, :hidden], rz[:, hidden:]
      dh = dh_out + dh_next
      dn = dh * (1.0 - z) * (1.0 - n * n)       # through tanh
      dr = dn * hn * r * (1.0 - r)
      dz = dh * (h_prev - n) * z * (1.0 - z)
      dgh = jnp.concatenate([dr, dz, dn * r], axis=-1)  # d(W_h h + b_h)
      dxp = jnp.concatenate([dr, dz, dn], axis=-1)      # d(x~)
      return (_dot(dgh, w_t) + dh * z).astype(dh.dtype), (dgh, dxp)
    return lax.scan(step, zeros, (dh_TxBxH, _hprev(zeros, hs), rzs, ns, hns), reverse=True,
                    unroll=unroll)[1]
  return Cell(lambda w_h, b_h, xp: scan(w_h, b_h, xp, save=False), fwd, bwd)


@functools.lru_cache(maxsize=None)
def _sequence_fn(cell: str, activation: str, unroll: int):
  if cell == 'elman':
    return with_projection(elman_cell(activation, unroll))
  if cell == 'lstm':
    return with_projection(lstm_cell(unroll))
  return with_projection(gru_cell(unroll))


def sequence(cell: str, params, x_TxBxC, activation: str = 'tanh', unroll: int = 1):
  """h_t for every step, [T, B, H], of `cell` from the zero state.

  `params` is (w_x [C, G], b_x [G], w_h [H, G], b_h [G]).
  """
  return _sequence_fn(cell, activation, unroll)(tuple(params), x_TxBxC)
