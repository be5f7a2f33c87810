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

Expected over seeds 0-2 (3 replicas of one program; test at the step with the best
validation metric; bash experiments/config_results/run.sh runs/config_results sunspots_lstm):
test/mse 0.420 +- 0.043.
Earlier, one seed: seed 0, 1,233 parameters, 5 seconds on a
2-core CPU): eval/mse 0.108 on validation (the default data.eval_split),
0.398 on test (python -m cnn_vs_rnn.evaluate --workdir DIR --split test):
better than AR(9) on validation, worse on test. The steps (500) and the
width (16) were chosen on the validation split among 2000 steps x 32 units
(validation 0.469: it overfits after ~250 steps), 300 x 32 (0.117) and
1000 x 8 (0.127), one seed each.
"""

from cnn_vs_rnn import configlib


def get_config():
  c = configlib.base_config()
  c.num_train_steps = 500
  c.log_every_steps = 100
  c.eval_every_steps = 100
  c.checkpoint_every_steps = 500

  c.data.name = 'sunspots'
  c.data.window = 20
  c.data.horizon = 1
  c.data.batch_size = 32
  c.data.eval_batch_size = 64

  c.model.name = 'lstm'
  c.model.hidden_size = 16
  c.model.num_layers = 1
  c.model.pool = 'last'

  c.optim.name = 'adam'
  c.optim.learning_rate = 3e-3
  c.optim.schedule = 'cosine'
  c.optim.weight_decay = 0.0
  c.optim.grad_clip_norm = 1.0
  return c
