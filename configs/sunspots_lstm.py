"""An LSTM forecasting next year's sunspot number from the previous 20 (real data, offline).

Yearly sunspot numbers 1700-2008 shipped with statsmodels
(cnn_vs_rnn/data/bundled.py): windows of data.window=20 years predict
data.horizon=1 year; chronological splits by target year (train 1720-1915,
validation 1916-1946, test 1947-2008), standardised with the train years'
mean and std.

  python -m cnn_vs_rnn.train --config configs/sunspots_lstm.py --workdir runs/sunspots_lstm

Baselines on the same windows (python -m cnn_vs_rnn.data.baselines --config
configs/sunspots_lstm.py --ar_order 9): validation / test MSE of the train
mean 0.922 / 3.095, persistence 0.460 / 0.947, least-squares AR(9) 0.165 / 0.335.

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

  c.model.name = 'lstm'
  c.model.hidden_size = 32
  c.model.num_layers = 1
  c.model.pool = 'last'

  c.optim.name = 'adam'
  c.optim.learning_rate = 3e-3
  c.optim.schedule = 'cosine'
  c.optim.weight_decay = 0.0
  c.optim.grad_clip_norm = 1.0
  return c
