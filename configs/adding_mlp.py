"""An MLP on the adding problem, T=200: every position has its own weights.

  python -m cnn_vs_rnn.train --config configs/adding_mlp.py --workdir runs/adding_mlp

Expected: see experiments/grids_vs_sequences/README.md (3 seeds, lr chosen on validation).
"""

from cnn_vs_rnn import configlib


def get_config():
  c = configlib.base_config()
  c.num_train_steps = 2000
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

  c.model.name = 'mlp'
  c.model.features = (64, 64)

  c.optim.name = 'adam'
  c.optim.learning_rate = 0.001
  c.optim.grad_clip_norm = 1.0
  return c
