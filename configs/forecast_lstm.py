"""LSTM forecasting 16 steps of the Mackey-Glass series from the last 64.

  python -m cnn_vs_rnn.train --config configs/forecast_lstm.py --workdir runs/forecast_lstm

Expected over seeds 0-2 (3 replicas of one program; test at the step with the best
validation metric; bash experiments/config_results/run.sh runs/config_results forecast_lstm):
test/mse 0.00013 +- 0.00006 on the standardised series (variance 1) (per seed
0.00019, 0.00009, 0.00010; best step 3000; 18,192 parameters; a lent NVIDIA H200).
Earlier (old protocol: whole train split, no validation split, evaluated on test): eval/mse
0.00011, 0.00020, 0.00013 (seeds 0/1/2, 3000 steps) = 0.00015 +- 0.00005; per
horizon step mse_h1 0.00010 +- 0.00003, mse_h16 0.00009 +- 0.00002; about 1-4
minutes per run.
"""

from cnn_vs_rnn import configlib


def get_config():
  c = configlib.base_config()
  c.num_train_steps = 3000
  c.log_every_steps = 250
  c.eval_every_steps = 1000
  c.checkpoint_every_steps = 1000

  c.data.name = 'mackey_glass'
  c.data.window = 64
  c.data.horizon = 16
  c.data.noise_std = 0.0
  c.data.batch_size = 64
  c.data.eval_batch_size = 512
  c.data.data_dir = ''

  c.model.name = 'lstm'
  c.model.hidden_size = 64
  c.model.pool = 'last'

  c.optim.name = 'adam'
  c.optim.learning_rate = 0.003
  c.optim.grad_clip_norm = 1.0
  return c
