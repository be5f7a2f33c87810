"""`materialize(x)`: make XLA:CPU compute `x` once and read it back, not recompute it.

XLA fuses cheap elementwise producers into each of their consumers, even when
the producer is also written to memory for another consumer. In a residual
network that cascades: a TCN block's output relu(conv + input) is recomputed
inside every later fusion that reads it, from the conv outputs of all earlier
blocks, and the kernel gradients' input transposes end up re-running the whole
chain (about 20% of the tcn_seq train step on the 2-core CPU, see
experiments/speed). `jax.lax.optimization_barrier` would say "materialise
here", but XLA:CPU removes barriers before fusion.

A contraction with the identity over the channel axis is a dot, which XLA
never duplicates into consumers: consumers then read its output. It costs C
multiply-adds per element (C = 25 in tcn_seq: under 1 ms per step) and
returns x exactly for finite x (x * 1 + 0 * others). Other backends do not
need it, so it is the identity function there.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def materialize(x_BxTxC):
  """x, as a value computed once (on CPU: through an identity contraction)."""
  if jax.default_backend() != 'cpu':
    return x_BxTxC
  eye = jnp.eye(x_BxTxC.shape[-1], dtype=x_BxTxC.dtype)
  return jnp.einsum('...c,cd->...d', x_BxTxC, eye, precision=jax.lax.Precision.HIGHEST)
