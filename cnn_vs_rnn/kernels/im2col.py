"""`conv`: a channels-last convolution as one matmul, patches [B, *S', prod(K)*C] @ [prod(K)*C, F].

Tap (j_1, ..., j_n) of output position (t_1, ..., t_n) reads the padded input
at t_i * stride_i + j_i * dilation_i on every spatial axis: one strided slice
per tap. The taps are concatenated in the order of the kernel's spatial axes
(row-major), each tap's C channels together: the order of the kernel's
(*K, C) axes, so the kernel is only reshaped.

Its gradients are matmuls, slices and pads, so vmapping it over replicas'
kernels (the seed axis of num_seeds) gives batched matmuls instead of the
feature-grouped convolution that vmapping a convolution over its kernel
makes. On the 2-core CPU: mnist1d_cnn's train step at 8 seeds took 0.67x the
time of the canonical kernel's; XLA:CPU's own 2D convolutions were about 3x
slower than it on the cnn_mnist benchmark (experiments/speed).
"""

from __future__ import annotations

import itertools

from jax import lax


def conv(x, w, strides, padding, dilation):
  """The convolution of x [B, *S, C] with w [*K, C, F]; padding as (lo, hi) pairs."""
  n = x.ndim - 2
  *ks, c, f = w.shape
  x = lax.pad(x, lax.full((), 0, x.dtype), ((0, 0, 0), *((lo, hi, 0) for lo, hi in padding),
                                            (0, 0, 0)))
  out = [(s - (k - 1) * d - 1) // st + 1
         for s, k, d, st in zip(x.shape[1:n + 1], ks, dilation, strides)]
  taps = []
  for tap in itertools.product(*(range(k) for k in ks)):
    start = [j * d for j, d in zip(tap, dilation)]
    limit = [s + (o - 1) * st + 1 for s, o, st in zip(start, out, strides)]
    taps.append(lax.slice(x, (0, *start, 0), (x.shape[0], *limit, c), (1, *strides, 1)))
  patches = lax.concatenate(taps, x.ndim - 1) if len(taps) > 1 else taps[0]
  # One 2D matmul over every output position, so the kernel's gradient is one
  # plain matmul too; an N-d dot made XLA:CPU transpose the activations for it.
  y = patches.reshape(-1, patches.shape[-1]) @ w.reshape(-1, f)
  return y.reshape(*patches.shape[:-1], f)
