"""LSTM on permuted pixel MNIST: 784 steps of one pixel, in a fixed random order.

About 70K parameters (hidden 130), the size of the recurrent baselines of the
TCN paper (Bai, Kolter, Koltun 2018). 784 sequential steps make this slow on a
CPU: run it on an accelerator.

Prepare MNIST once (needs TensorFlow; training does not, see README):
  tfds build mnist --data_dir ~/tensorflow_datasets --file_format=array_record

  python -m cnn_vs_rnn.train --config configs/pmnist_lstm.py --workdir runs/pmnist_lstm

Expected: eval/accuracy near the published 0.857 (TCN paper, Table 1: LSTM on
permuted MNIST 85.7%; TCN 97.2%). Not measured here (MNIST cannot be
downloaded on the machine that wrote this).
"""

from cnn_vs_rnn import configlib


def get_config():
  c = configlib.base_config()
  c.seed = 0
  c.num_train_steps = 20000
  c.log_every_steps = 200
  c.eval_every_steps = 2000
  c.checkpoint_every_steps = 2000

  c.data.name = 'mnist'
  c.data.view = 'permuted'  # [28, 28, 1] -> 784 pixels, permuted
  c.data.permutation_seed = 0
  c.data.batch_size = 64
  c.data.eval_batch_size = 1000
  c.data.data_dir = ''  # '' = $TFDS_DATA_DIR or ~/tensorflow_datasets

  c.model.name = 'lstm'
  c.model.hidden_size = 130
  c.model.num_layers = 1
  c.model.pool = 'last'

  c.optim.name = 'adam'
  c.optim.learning_rate = 1e-3
  c.optim.schedule = 'cosine'
  c.optim.grad_clip_norm = 1.0
  return c
