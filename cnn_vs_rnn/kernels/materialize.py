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
need it, so it is the identity function unless `impl` names an XLA:CPU
kernel (kernels/resolve.py: the model's conv_impl).

Below MIN_CHANNELS channels it is the identity function on CPU too: there
the contraction's own passes (forward and backward) cost more than the
recomputation they prevent. Measured on the 2-core CPU (experiments/speed),
the train step without it takes, relative to with it: 0.86x for
mnist1d_tcn (15 channels; 0.89-0.94x at batch 100 to 800, 0.84x for
digits_tcn narrowed to 15 channels), 0.97x for copy_tcn (10), 0.98x at 16
channels, 1.03x for adding_tcn (24), 1.19x for tcn_seq (25), 1.2-1.5x for
digits_tcn and forecast_tcn (32).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from cnn_vs_rnn.kernels.resolve import is_cpu_kernel


MIN_CHANNELS = 16


def materialize(x_BxTxC, impl: str = 'auto'):
  """x, as a value computed once (for an XLA:CPU kernel `impl`, from MIN_CHANNELS
  channels: an identity contraction)."""
  if not is_cpu_kernel(impl) or x_BxTxC.shape[-1] < MIN_CHANNELS:
    return x_BxTxC
  eye = jnp.eye(x_BxTxC.shape[-1], dtype=x_BxTxC.dtype)
  return jnp.einsum('...c,cd->...d', x_BxTxC, eye, precision=jax.lax.Precision.HIGHEST)
