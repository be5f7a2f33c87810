"""GRU forecasting yearly sunspot numbers (statsmodels, 1700-2008) from the last 20 years.

  python -m cnn_vs_rnn.train --config configs/sunspots_gru.py --workdir runs/sunspots_gru

Expected: see the table of experiments/cnns_for_sequences/README.md (3 seeds,
learning rate chosen on validation, at the parameter budget of its study).
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

  c.model.name = 'gru'
  c.model.hidden_size = 16
  c.model.num_layers = 1
  c.model.pool = 'last'

  c.optim.name = 'adam'
  c.optim.learning_rate = 3e-3
  c.optim.schedule = 'cosine'
  c.optim.weight_decay = 0.0
  c.optim.grad_clip_norm = 1.0
  return c
