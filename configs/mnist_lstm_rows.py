"""LSTM reading MNIST one row per step: 28 steps of 28 pixels.

The same images as configs/mnist_cnn2d.py, seen as sequences (data.view='rows').

Prepare MNIST once (needs TensorFlow; training does not, see README):
  tfds build mnist --data_dir ~/tensorflow_datasets --file_format=array_record

  python -m cnn_vs_rnn.train --config configs/mnist_lstm_rows.py --workdir runs/mnist_lstm_rows

Expected: eval/accuracy about 0.98-0.99, the usual figure for a 128-unit
row-by-row LSTM. Not measured here (MNIST cannot be downloaded on the machine
that wrote this).
"""

from cnn_vs_rnn import configlib


def get_config():
  c = configlib.base_config()
  c.seed = 0
  c.num_train_steps = 5000
  c.log_every_steps = 100
  c.eval_every_steps = 1000
  c.checkpoint_every_steps = 1000

  c.data.name = 'mnist'
  c.data.view = 'rows'  # [28, 28, 1] -> 28 steps x 28 features
  c.data.batch_size = 128
  c.data.eval_batch_size = 1000
  c.data.data_dir = ''  # '' = $TFDS_DATA_DIR or ~/tensorflow_datasets

  c.model.name = 'lstm'
  c.model.hidden_size = 128
  c.model.num_layers = 1
  c.model.pool = 'last'

  c.optim.name = 'adam'
  c.optim.learning_rate = 1e-3
  c.optim.schedule = 'cosine'
  c.optim.grad_clip_norm = 1.0
  return c
