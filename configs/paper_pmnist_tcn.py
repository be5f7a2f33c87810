"""TCN on permuted sequential MNIST (P-MNIST) at the TCN paper's scale (not run here: an accelerator run).

Bai, Kolter & Koltun (2018), "An empirical evaluation of generic convolutional
and recurrent networks for sequence modeling", Table 1 and their
mnist_pixel/pmnist_test.py defaults: 784 one-pixel steps in one fixed random order, 8 levels of 25
channels, kernel 7 (receptive field 1 + 2*6*255 = 3,061 >= 784), dropout 0.05,
Adam lr 2e-3, no gradient clipping, batch 64, 20 epochs of 60,000 images
(18,750 steps). About 67k parameters.

Prepare MNIST once (needs TensorFlow; training does not, see README):
  tfds build mnist --data_dir ~/tensorflow_datasets --file_format=array_record

  python -m cnn_vs_rnn.train --config configs/paper_pmnist_tcn.py --workdir runs/paper_pmnist_tcn

Expected (published, not run here): test accuracy 97.2% (TCN); the paper's
recurrent baselines at the same size: GRU 87.3%, LSTM 85.7%. On CPU-scale
tasks see experiments/cnns_for_sequences.
"""

from cnn_vs_rnn import configlib


def get_config():
  c = configlib.base_config()
  c.num_train_steps = 18_750
  c.log_every_steps = 250
  c.eval_every_steps = 1875
  c.checkpoint_every_steps = 1875

  c.data.name = 'mnist'
  c.data.view = 'permuted'  # [28, 28, 1] -> 784 pixels, permuted
  c.data.permutation_seed = 0
  c.data.batch_size = 64
  c.data.eval_batch_size = 1000
  c.data.data_dir = ''  # '' = $TFDS_DATA_DIR or ~/tensorflow_datasets

  c.model.name = 'tcn'
  c.model.channels = (25,) * 8
  c.model.kernel_size = 7
  c.model.dropout = 0.05
  c.model.weight_norm = True
  c.model.pool = 'last'

  c.optim.name = 'adam'
  c.optim.learning_rate = 2e-3
  c.optim.grad_clip_norm = 0.0  # The paper's default: no clipping.
  return c
