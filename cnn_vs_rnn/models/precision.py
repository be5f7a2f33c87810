"""The computation dtype (`config.dtype`): what the models compute in.

Every model module has a `dtype` field, set by `models.build(..., dtype=...)`
from the top-level `config.dtype`. None (a module built directly) infers it
from the inputs and parameters as Flax does. With bfloat16, matmuls,
convolutions and activations run in bfloat16 while parameters (and so the
optimizer state) stay float32: each layer casts its float32 parameters to
the computation dtype where it uses them. Normalisation statistics (batch,
layer, group norm; Flax computes them in at least float32), the batch-norm
running averages, recurrent states (RNN carries, the LRU's complex state) and
the loss (tasks.py) stay float32.
"""

from __future__ import annotations

import jax.numpy as jnp

DTYPES = {'float32': jnp.float32, 'bfloat16': jnp.bfloat16}


def compute_dtype(name: str | None):
  """'float32' / 'bfloat16' -> the jnp dtype; None stays None (inferred)."""
  return None if name is None else DTYPES[name]


def cast(x, dtype):
  """x in `dtype`, or x unchanged when dtype is None."""
  return x if dtype is None else x.astype(dtype)


def state_dtype(dtype):
  """The dtype a recurrent state accumulates in: `dtype`, at least float32."""
  return jnp.promote_types(dtype, jnp.float32)
