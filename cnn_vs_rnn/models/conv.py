"""`Conv`: `nn.Conv`'s parameters, computed by the package's one convolution op.

The parameters of `nn.Conv` (kernel [*K, C, F] with lecun_normal, bias [F]
with zeros; the same names, shapes and initial values) and its dtype rule
(inputs and parameters promoted to `dtype`); the convolution is
`kernels.conv`, computed by the kernel `impl` names.
"""

from __future__ import annotations

from typing import Any, Sequence

import flax.linen as nn

from cnn_vs_rnn import kernels


def _per_axis(value, n: int) -> tuple[int, ...]:
  """An int or a sequence -> one int per spatial axis."""
  return (int(value),) * n if isinstance(value, int) else tuple(int(v) for v in value)


class Conv(nn.Module):
  """y = conv(x, kernel) + bias over x [B, *S, C]: 'SAME', 'VALID' or (lo, hi) pairs."""
  features: int
  kernel_size: Sequence[int]
  strides: Any = 1                 # an int or one per spatial axis
  padding: Any = 'SAME'
  use_bias: bool = True
  impl: str = 'auto'               # a conv_impl (kernels/resolve.py)
  dtype: Any = None                # computation dtype (models/precision.py)
  dilation: Any = 1                # of the kernel: an int or one per spatial axis

  @nn.compact
  def __call__(self, x):
    n = len(self.kernel_size)
    kernel = self.param('kernel', nn.initializers.lecun_normal(),
                        (*self.kernel_size, x.shape[-1], self.features))
    bias = (self.param('bias', nn.initializers.zeros_init(), (self.features,))
            if self.use_bias else None)
    x, kernel, bias = nn.dtypes.promote_dtype(x, kernel, bias, dtype=self.dtype)
    y = kernels.conv(x, kernel, strides=_per_axis(self.strides, n), padding=self.padding,
                     dilation=_per_axis(self.dilation, n), impl=self.impl)
    return y if bias is None else y + bias
