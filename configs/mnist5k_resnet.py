"""A small pre-activation ResNet on mnist_5k (spatial_hierarchies study).

A 3x3 stem, three stages of one pre-activation block each (8, 16, 32
channels; stages 2 and 3 stride 2: 28 -> 14 -> 7), batch norm, global
average pooling, the output layer (He et al. 2016's layout at MNIST size).

  python -m cnn_vs_rnn.train --config configs/mnist5k_resnet.py --workdir runs/mnist5k_resnet

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

  c.model.name = 'resnet'
  c.model.stage_sizes = (1, 1, 1)
  c.model.width = 8
  c.model.norm = 'batch'

  c.optim.name = 'adam'
  c.optim.learning_rate = 3e-3
  c.optim.schedule = 'cosine'
  return c
