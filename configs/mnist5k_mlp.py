"""An MLP on the 784 pixels of mnist_5k: the control with no spatial prior (spatial_hierarchies study).

Two hidden ReLU layers of 30 on the flattened 28x28 image, then the output
layer: 24,790 parameters.

  python -m cnn_vs_rnn.train --config configs/mnist5k_mlp.py --workdir runs/mnist5k_mlp

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
  c.data.view = ''  # images [28, 28, 1], flattened by the model

  c.model.name = 'mlp'
  c.model.features = (30, 30)

  c.optim.name = 'adam'
  c.optim.learning_rate = 3e-3
  c.optim.schedule = 'cosine'
  return c
