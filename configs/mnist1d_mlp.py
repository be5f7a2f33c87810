"""MLP on MNIST-1D (Greydanus 2020): the control with no structural prior.

  python -m cnn_vs_rnn.train --config configs/mnist1d_mlp.py --workdir runs/mnist1d_mlp

Greydanus's MLP: two hidden layers of 100 units, 15,210 parameters.
Expected: published 68% test accuracy on the ordered data, and about the
same on the shuffled control (`--config.data.view=permuted`), where the CNN
and the GRU fall to 56-57%. Measured here: experiments/grids_vs_sequences/.
"""

from cnn_vs_rnn import configlib


def get_config():
  c = configlib.base_config()
  c.seed = 0
  c.num_train_steps = 6000
  c.log_every_steps = 500
  c.eval_every_steps = 1000
  c.checkpoint_every_steps = 2000

  c.data.name = 'mnist1d'
  c.data.batch_size = 100
  c.data.data_dir = ''  # '' = $TFDS_DATA_DIR or ~/tensorflow_datasets

  c.model.name = 'mlp'
  c.model.features = (100, 100)

  c.optim.name = 'adam'
  c.optim.learning_rate = 1e-2
  return c
