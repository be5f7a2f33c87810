"""GRU (77 hidden units) on the adding problem, T=200.

  python -m cnn_vs_rnn.train --config configs/adding_gru.py --workdir runs/adding_gru

Expected (measured, --config.seed=0/1/2): eval/mse 0.00013, 0.00078, 0.00010,
i.e. 0.00034 +- 0.00038 (the trivial baseline is 0.167); about 5 minutes per
run on a 2-core CPU.
"""

from cnn_vs_rnn import configlib


def get_config():
  c = configlib.base_config()
  c.num_train_steps = 4000
  c.log_every_steps = 250
  c.eval_every_steps = 1000
  c.checkpoint_every_steps = 1000

  c.data.name = 'adding'
  c.data.seq_len = 200  # T
  c.data.num_train = 50_000
  c.data.num_test = 1_000
  c.data.batch_size = 64
  c.data.eval_batch_size = 500
  c.data.data_dir = ''

  c.model.name = 'gru'
  c.model.hidden_size = 77
  c.model.pool = 'last'

  c.optim.name = 'adam'
  c.optim.learning_rate = 0.002
  c.optim.grad_clip_norm = 1.0
  return c
