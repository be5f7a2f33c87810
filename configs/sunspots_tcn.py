"""A TCN forecasting next year's sunspot number from the previous 20 (real data, offline).

The data and baselines of configs/sunspots_lstm.py. Three levels, kernel 3:
receptive field 1 + 2*2*7 = 29 >= 20 years.

  python -m cnn_vs_rnn.train --config configs/sunspots_tcn.py --workdir runs/sunspots_tcn

Baselines (python -m cnn_vs_rnn.data.baselines --config configs/sunspots_tcn.py
--ar_order 9): validation / test MSE of the train mean 0.922 / 3.095,
persistence 0.460 / 0.947, least-squares AR(9) 0.165 / 0.335.

Expected: to be measured (eval/mse on the validation split; add
--config.data.eval_split=test for the test split).
"""

from cnn_vs_rnn import configlib


def get_config():
  c = configlib.base_config()
  c.num_train_steps = 2000
  c.log_every_steps = 100
  c.eval_every_steps = 250
  c.checkpoint_every_steps = 1000

  c.data.name = 'sunspots'
  c.data.window = 20
  c.data.horizon = 1
  c.data.batch_size = 32
  c.data.eval_batch_size = 64

  c.model.name = 'tcn'
  c.model.channels = (16, 16, 16)
  c.model.kernel_size = 3
  c.model.dropout = 0.1
  c.model.weight_norm = True
  c.model.pool = 'last'

  c.optim.name = 'adam'
  c.optim.learning_rate = 3e-3
  c.optim.schedule = 'cosine'
  c.optim.grad_clip_norm = 1.0
  return c
