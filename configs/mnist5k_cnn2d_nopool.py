"""configs/mnist5k_cnn2d_gap.py without its poolings, on mnist_5k (spatial_hierarchies study).

Three 3x3 SAME convolutions (16, 32, 64 channels) with ReLU, all at 28x28 (no
pooling, no stride), then a global average over the 28x28 map and the output
layer: the same 23,946 parameters as the pooled twin, a 7x7 receptive field
instead of 18x18, and about 10x its convolution FLOPs.

  python -m cnn_vs_rnn.train --config configs/mnist5k_cnn2d_nopool.py --workdir runs/mnist5k_cnn2d_nopool

Expected: see experiments/spatial_hierarchies/README.md (3 seeds).
"""

from cnn_vs_rnn import configlib


def get_config():
  c = configlib.base_config()
  c.num_train_steps = 1500
  c.log_every_steps = 100
  c.eval_every_steps = 250
  c.checkpoint_every_steps = 500

  c.data.name = 'mnist_5k'
  c.data.batch_size = 64
  c.data.eval_batch_size = 500
  c.data.view = ''  # images [28, 28, 1]

  c.model.name = 'cnn2d'
  c.model.blocks = ((16,), (32,), (64,))
  c.model.kernel_size = 3
  c.model.padding = 'SAME'
  c.model.pooling = 'none'
  c.model.pool = 'mean'
  c.model.dense = ()

  c.optim.name = 'adam'
  c.optim.learning_rate = 3e-3
  c.optim.schedule = 'cosine'
  return c
