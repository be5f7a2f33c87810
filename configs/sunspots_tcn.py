"""A TCN forecasting next year's sunspot number from the previous 20 (real data, offline).

The data and baselines of configs/sunspots_lstm.py. Three levels, kernel 3:
receptive field 1 + 2*2*7 = 29 >= 20 years.

  python -m cnn_vs_rnn.train --config configs/sunspots_tcn.py --workdir runs/sunspots_tcn

Baselines (python -m cnn_vs_rnn.data.baselines --config configs/sunspots_tcn.py
--ar_order 9): validation / test MSE of the train mean 0.922 / 3.095,
persistence 0.460 / 0.947, least-squares AR(9) 0.165 / 0.335.

Expected over seeds 0-2 (3 replicas of one program; test at the step with the best
validation metric; bash experiments/config_results/run.sh runs/config_results sunspots_tcn):
test/mse 0.363 +- 0.053.
Earlier, one seed: seed 0, 1,105 parameters, 8 seconds on a
2-core CPU): eval/mse 0.133 on validation (the default data.eval_split),
0.350 on test (python -m cnn_vs_rnn.evaluate --workdir DIR --split test):
better than AR(9) on validation, about equal on test. The steps (500) and
channels (8) were chosen on the validation split among 2000 steps x 16
channels (validation 0.145), 750 x 16 (0.151), one seed each.
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

  c.model.name = 'tcn'
  c.model.channels = (8, 8, 8)
  c.model.kernel_size = 3
  c.model.dropout = 0.1
  c.model.weight_norm = True
  c.model.pool = 'last'

  c.optim.name = 'adam'
  c.optim.learning_rate = 3e-3
  c.optim.schedule = 'cosine'
  c.optim.grad_clip_norm = 1.0
  return c
