"""`orthogonal_init`: jax's orthogonal initialiser, safe to vmap on CPU.

On CPU, jaxlib 0.10's LAPACK kernels split a batch of QRs over XLA's
intra-op thread pool and wait for the pieces from inside a pool thread; when
as many batched QRs run at once as the pool has threads (the independent
initialisers of an init vmapped over seeds, on 2 cores), every thread waits
and none runs a piece: the process hangs. Here a vmapped QR is a loop of
single ones, which never splits and gives the same numbers (the batched
kernel loops over the same calls).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


@jax.custom_batching.custom_vmap
def _qr(z_NxM):
  q, r = jnp.linalg.qr(z_NxM)
  return q, r


@_qr.def_vmap
def _qr_one_at_a_time(axis_size, in_batched, z_BxNxM):
  """A batch of QRs as a loop of single ones (see the module docstring)."""
  del axis_size, in_batched
  return jax.lax.map(_qr, z_BxNxM), (True, True)


def orthogonal_init(scale: float = 1.0):
  """`jax.nn.initializers.orthogonal(scale)` (a 2D kernel, columns orthonormal when
  it has fewer columns than rows, rows otherwise), the same numbers for the same
  key, but safe to vmap on CPU (see `_qr_one_at_a_time`)."""
  def init(key, shape, dtype=jnp.float32):
    n_rows, n_cols = shape
    z = jax.random.normal(key, (max(n_rows, n_cols), min(n_rows, n_cols)), dtype)
    q, r = _qr(z)
    q = q * jnp.sign(jnp.diagonal(r))[None, :]
    q = q.T if n_rows < n_cols else q
    return jnp.asarray(scale, dtype) * q
  return init
