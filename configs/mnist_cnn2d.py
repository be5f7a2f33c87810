"""2D CNN on MNIST: the PyTorch-examples network (conv32-conv64-pool-dense128).

Prepare MNIST once (needs TensorFlow; training does not, see README):
  tfds build mnist --data_dir ~/tensorflow_datasets --file_format=array_record

  python -m cnn_vs_rnn.train --config configs/mnist_cnn2d.py --workdir runs/mnist_cnn2d

Expected: eval/accuracy about 0.99 after ~5 epochs (3000 steps of 128). Not
measured here (MNIST cannot be downloaded on the machine that wrote this);
reference: the same network in the PyTorch examples, with dropout, reaches
about 99% test accuracy.
"""

from cnn_vs_rnn import configlib


def get_config():
  c = configlib.base_config()
  c.seed = 0
  c.num_train_steps = 3000
  c.log_every_steps = 100
  c.eval_every_steps = 500
  c.checkpoint_every_steps = 1000

  c.data.name = 'mnist'
  c.data.batch_size = 128
  c.data.eval_batch_size = 1000
  c.data.data_dir = ''  # '' = $TFDS_DATA_DIR or ~/tensorflow_datasets
  c.data.view = ''      # images [28, 28, 1]

  c.model.name = 'cnn2d'
  c.model.blocks = ((32, 64),)
  c.model.kernel_size = 3
  c.model.padding = 'VALID'
  c.model.pooling = 'max'
  c.model.pool = 'flatten'
  c.model.dense = (128,)
  c.model.dropout = 0.25

  c.optim.name = 'adam'
  c.optim.learning_rate = 1e-3
  c.optim.schedule = 'cosine'
  return c
