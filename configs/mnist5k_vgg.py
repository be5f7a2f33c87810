"""A small VGG on mnist_5k (spatial_hierarchies study).

Three blocks of two 3x3 SAME convolutions (8, 16, 32 channels), a 2x2 max
pooling after each block (28 -> 14 -> 7 -> 3), the 3x3x32 map flattened, a
hidden Dense layer of 32 and the output layer (Simonyan & Zisserman 2015's
layout at MNIST size).

  python -m cnn_vs_rnn.train --config configs/mnist5k_vgg.py --workdir runs/mnist5k_vgg

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

  c.model.name = 'vgg'
  c.model.blocks = ((8, 8), (16, 16), (32, 32))
  c.model.kernel_size = 3
  c.model.padding = 'SAME'
  c.model.pooling = 'max'
  c.model.pool = 'flatten'
  c.model.dense = (32,)

  c.optim.name = 'adam'
  c.optim.learning_rate = 3e-3
  c.optim.schedule = 'cosine'
  return c
