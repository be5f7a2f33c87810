"""Readouts shared by every family: sequence features -> outputs."""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import flax.linen as nn

from cnn_vs_rnn.models.precision import state_dtype

POOLS = ('last', 'mean', 'max', 'flatten', 'none')


def time_mask(lengths_B, T: int) -> jnp.ndarray:
  """[B, T] bool, True where t < length."""
  return jnp.arange(T)[None, :] < lengths_B[:, None]


def pool_sequence(h_BxTxD, pool: str, lengths_B=None, last_BxD=None):
  """Pools per-step features to one vector per example ('none' keeps steps).

  `last_BxD` overrides the 'last' readout (a recurrent net passes its final
  state, which for a bidirectional net is both directions' final states).
  """
  B, T, _ = h_BxTxD.shape
  if lengths_B is None:
    lengths_B = jnp.full((B,), T, jnp.int32)
  mask_BxTx1 = time_mask(lengths_B, T)[..., None]
  if pool == 'none':
    return h_BxTxD
  if pool == 'last':
    if last_BxD is not None:
      return last_BxD
    idx = jnp.maximum(lengths_B - 1, 0)
    return jnp.take_along_axis(h_BxTxD, idx[:, None, None], axis=1)[:, 0]
  if pool == 'mean':
    # Summed in at least float32: a bfloat16 sum over many steps loses digits.
    acc = state_dtype(h_BxTxD.dtype)
    total = jnp.sum(jnp.where(mask_BxTx1, h_BxTxD, 0.0), axis=1, dtype=acc)
    mean = total / jnp.maximum(lengths_B, 1)[:, None].astype(acc)
    return mean.astype(h_BxTxD.dtype)
  if pool == 'max':
    return jnp.max(jnp.where(mask_BxTx1, h_BxTxD, -jnp.inf), axis=1)
  if pool == 'flatten':
    return jnp.where(mask_BxTx1, h_BxTxD, 0.0).reshape(B, -1)
  raise ValueError(f'unknown pool {pool!r}; valid: {", ".join(POOLS)}')


class Readout(nn.Module):
  """Pool, then a Dense to `num_outputs` (per example, or per step for 'none')."""
  num_outputs: int
  pool: str = 'last'
  dtype: Any = None  # computation dtype (models/precision.py)

  @nn.compact
  def __call__(self, h_BxTxD, lengths_B=None, last_BxD=None):
    pooled = pool_sequence(h_BxTxD, self.pool, lengths_B, last_BxD)
    return nn.Dense(self.num_outputs, dtype=self.dtype, name='out')(pooled)
