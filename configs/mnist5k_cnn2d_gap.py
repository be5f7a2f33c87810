"""A small all-convolutional 2D CNN with max pooling on mnist_5k (spatial_hierarchies study).

Three 3x3 SAME convolutions (16, 32, 64 channels), each followed by ReLU and a
2x2 max pooling (28 -> 14 -> 7 -> 3), then a global average over the 3x3 map
and the output layer: 23,946 parameters on 28x28x1 images. Its twin
configs/mnist5k_cnn2d_nopool.py has the same parameters without the poolings.

  python -m cnn_vs_rnn.train --config configs/mnist5k_cnn2d_gap.py --workdir runs/mnist5k_cnn2d_gap

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
  c.model.pooling = 'max'
  c.model.pool = 'mean'
  c.model.dense = ()

  c.optim.name = 'adam'
  c.optim.learning_rate = 3e-3
  c.optim.schedule = 'cosine'
  return c
