"""GRU forecasting Mackey-Glass (tau=17): 64 past values -> the next 16.

  python -m cnn_vs_rnn.train --config configs/forecast_gru.py --workdir runs/forecast_gru

Expected: see the table of experiments/cnns_for_sequences/README.md (3 seeds,
learning rate chosen on validation, at the parameter budget of its study).
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

  c.model.name = 'gru'
  c.model.hidden_size = 64
  c.model.pool = 'last'

  c.optim.name = 'adam'
  c.optim.learning_rate = 0.003
  c.optim.grad_clip_norm = 1.0
  return c
