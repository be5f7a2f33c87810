"""A multi-layer perceptron over the flattened input: the control with no structural prior.

It sees every input position through its own weights, so it assumes neither
locality (a CNN's prior) nor an order of steps (a recurrence's). Permuting the
positions of every input by one fixed permutation permutes the rows of its
first weight matrix and leaves what it can learn unchanged, which makes it the
control for the structure-destroying views (`data.view='permuted'`).
"""

from __future__ import annotations

from typing import Any, ClassVar, Sequence

import flax.linen as nn
import jax.numpy as jnp

from cnn_vs_rnn.models.heads import time_mask
from cnn_vs_rnn.models.precision import cast
from cnn_vs_rnn.models.registry import register


@register('mlp', widths=('features',))
class MLP(nn.Module):
  """Dense layers with ReLU on the flattened input, then a linear readout.

  Inputs [B, *shape] (sequences [B, T, C], images [B, H, W, C]). With
  `pool='none'` (per-step tasks, set by the model builder) the readout gives
  T * num_outputs numbers, reshaped to [B, T, num_outputs]: each step's output
  depends on the whole input. With `lengths`, steps past each sequence's end
  are zeroed first, so padding never changes an output.
  """
  # One weight per input position: inputs must have the length it was built
  # for (shorter sequences come padded, with `lengths`), unlike the families
  # that read any length.
  fixed_length: ClassVar[bool] = True

  num_outputs: int
  features: Sequence[int] = (64, 64)
  pool: str = 'flatten'  # 'none' for per-step outputs; any other value: one output per example.
  dtype: Any = None  # computation dtype (models/precision.py)

  @nn.compact
  def __call__(self, x, lengths=None, train: bool = False):
    del train  # No dropout or normalisation here.
    h = cast(x, self.dtype)
    if lengths is not None:
      mask = time_mask(jnp.asarray(lengths, jnp.int32), h.shape[1])
      h = jnp.where(mask.reshape(mask.shape + (1,) * (h.ndim - 2)), h, 0)
    h = h.reshape(h.shape[0], -1)
    for i, f in enumerate(self.features):
      h = nn.relu(nn.Dense(f, dtype=self.dtype, name=f'dense{i}')(h))
    if self.pool == 'none':
      T = x.shape[1]
      out = nn.Dense(T * self.num_outputs, dtype=self.dtype, name='out')(h)
      return out.reshape(out.shape[0], T, self.num_outputs)
    return nn.Dense(self.num_outputs, dtype=self.dtype, name='out')(h)
