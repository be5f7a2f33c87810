"""An MLP on copy memory, T=100: one-hot tokens in, every step's output from the whole input.

The trivial baseline (blanks everywhere, then a guess among 8 symbols) has
cross-entropy 10 ln 8 / (T + 20) = 0.173 at T = 100.

  python -m cnn_vs_rnn.train --config configs/copy_mlp.py --workdir runs/copy_mlp

Expected: see experiments/grids_vs_sequences/README.md (3 seeds, lr chosen on validation).
"""

from cnn_vs_rnn import configlib


def get_config():
  c = configlib.base_config()
  c.num_train_steps = 2000
  c.log_every_steps = 250
  c.eval_every_steps = 1000
  c.checkpoint_every_steps = 1000

  c.data.name = 'copy_memory'
  c.data.seq_len = 100  # T blanks between the symbols and the delimiter
  c.data.num_train = 10_000
  c.data.num_test = 1_000
  c.data.batch_size = 32
  c.data.eval_batch_size = 500
  c.data.data_dir = ''

  c.model.name = 'mlp'
  c.model.embed_dim = 0  # one-hot tokens
  c.model.features = (64,)

  c.optim.name = 'adam'
  c.optim.learning_rate = 0.001
  c.optim.grad_clip_norm = 1.0
  return c
