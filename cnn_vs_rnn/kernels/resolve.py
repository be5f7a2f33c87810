"""The one place that asks which backend runs: config names -> the kernel that runs.

`conv_impl` names a policy or a kernel:

  'auto'       im2col on CPU, lax elsewhere;
  'native'     the backend's own convolution: canonical on CPU, lax elsewhere;
  'lax'        plain `lax.conv_general_dilated`, with autodiff's gradients;
  'canonical'  lax's forward convolution with a hand-written VJP whose two
               convolutions are in XLA:CPU's canonical layout (kernels/canonical.py);
  'im2col'     one matmul over gathered patches (kernels/im2col.py).

`models.build` resolves a model's `conv_impl` once, to 'lax', 'canonical' or
'im2col'; a module built directly with a policy name resolves it here when
it is traced. 'canonical' and 'im2col' are the XLA:CPU kernels: a
convolution computed by one of them also gets XLA:CPU's layout work
(kernels/conv.py's channel padding, kernels/materialize.py).
"""

from __future__ import annotations

import jax

from cnn_vs_rnn.errors import choose

KERNELS = ('lax', 'canonical', 'im2col')
CPU_KERNELS = ('canonical', 'im2col')
# Every accepted conv_impl -> {backend kind: kernel}; 'other' is any backend but the CPU.
CONV_IMPLS = {
    'auto': {'cpu': 'im2col', 'other': 'lax'},
    'native': {'cpu': 'canonical', 'other': 'lax'},
    'lax': {'cpu': 'lax', 'other': 'lax'},
    'canonical': {'cpu': 'canonical', 'other': 'canonical'},
    'im2col': {'cpu': 'im2col', 'other': 'im2col'},
}


def backend_kind(backend: str | None = None) -> str:
  """'cpu' for XLA:CPU (the default backend unless `backend` is given), else 'other'."""
  return 'cpu' if (backend or jax.default_backend()) == 'cpu' else 'other'


def resolve_conv(impl: str, backend: str | None = None) -> str:
  """The kernel ('lax', 'canonical', 'im2col') that `conv_impl` names on `backend`.

  Raises a ConfigError naming the bad value and the valid choices.
  """
  return choose('model.conv_impl', impl, CONV_IMPLS)[backend_kind(backend)]


def is_cpu_kernel(impl: str) -> bool:
  """Whether `impl` resolves to a kernel written for XLA:CPU ('canonical', 'im2col')."""
  return resolve_conv(impl) in CPU_KERNELS


def check_conv_impl(impl: str) -> None:
  """Raises a ConfigError unless `impl` is a conv_impl name (one of CONV_IMPLS)."""
  choose('model.conv_impl', impl, CONV_IMPLS)
