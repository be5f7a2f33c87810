"""LRU character language model on the offline corpus (stdlib_text): causal, an output per character.

  python -m cnn_vs_rnn.train --config configs/charlm_lru.py --workdir runs/charlm_lru

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

  c.data.name = 'stdlib_text'
  c.data.seq_len = 128
  c.data.batch_size = 32
  c.data.eval_batch_size = 256
  c.data.data_dir = ''

  c.model.name = 'lru'
  c.model.embed_dim = 32
  c.model.d_model = 128
  c.model.d_state = 128
  c.model.num_layers = 2
  c.model.mlp = 'glu'

  c.optim.name = 'adam'
  c.optim.learning_rate = 0.003
  c.optim.grad_clip_norm = 1.0
  return c
