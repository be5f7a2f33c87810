"""Backend kernels: everything that exists for a backend's speed or works around its bugs.

Models compute with these ops and read no kernel code:

  conv(x, kernel, strides=, padding=, dilation=, impl=)   every convolution
                                                         (kernels/conv.py)
  recurrence(cell, params, x_TxBxC, activation, unroll)   a recurrent layer's
                                                         loop, hand-differentiated
                                                         (kernels/fused_rnn.py)
  materialize(x, impl)                                   a value XLA:CPU computes
                                                         once (kernels/materialize.py)
  orthogonal_init(scale)                                 jax's orthogonal init,
                                                         safe to vmap on CPU
                                                         (kernels/init.py)

`resolve_conv` (kernels/resolve.py) is the one place that asks which backend
runs: `models.build` turns a model's `conv_impl` ('auto', 'native', 'lax',
'canonical', 'im2col') into the kernel that runs, once. The kernels: 'lax' is plain `lax.conv_general_dilated`;
'canonical' its forward with a VJP in XLA:CPU's canonical layout
(kernels/canonical.py); 'im2col' one matmul over patches (kernels/im2col.py).
"""

from cnn_vs_rnn.kernels.conv import conv, padded_channels
from cnn_vs_rnn.kernels.fused_rnn import sequence as recurrence
from cnn_vs_rnn.kernels.init import orthogonal_init
from cnn_vs_rnn.kernels.materialize import MIN_CHANNELS, materialize
from cnn_vs_rnn.kernels.resolve import CONV_IMPLS, KERNELS, check_conv_impl, resolve_conv

__all__ = ['CONV_IMPLS', 'KERNELS', 'MIN_CHANNELS', 'check_conv_impl', 'conv', 'materialize',
           'orthogonal_init', 'padded_channels', 'recurrence', 'resolve_conv']
