"""TCN on copy memory, T=1000, at the TCN paper's scale (not run here).

Bai, Kolter & Koltun (2018), Table 1 and their copy_memory/copymem_test.py
defaults: 1,020 steps (10 symbols, 1,000 blanks, the delimiters), 8 levels of
10 channels, kernel 8 (receptive field 1 + 2*7*255 = 3,571), no dropout,
RMSprop lr 5e-4, gradient clipping at norm 1, batch 32, 50 epochs of 10,000
sequences (15,625 steps). About 16k parameters.

  python -m cnn_vs_rnn.train --config configs/paper_copy1000_tcn.py --workdir runs/paper_copy1000_tcn

Expected (published, not run here): test cross-entropy 3.5e-5 (TCN), while
LSTM (0.0204) and GRU (0.0197) stay near the memoryless baseline
10 ln 8 / 1020 = 0.0204. At T=100 and 200 see experiments/cnns_for_sequences.
"""

from cnn_vs_rnn import configlib


def get_config():
  c = configlib.base_config()
  c.num_train_steps = 15_625
  c.log_every_steps = 250
  c.eval_every_steps = 1500
  c.checkpoint_every_steps = 1500

  c.data.name = 'copy_memory'
  c.data.seq_len = 1000  # T blanks between the symbols and the delimiter
  c.data.num_train = 10_000
  c.data.num_test = 1_000
  c.data.batch_size = 32
  c.data.eval_batch_size = 500
  c.data.data_dir = ''

  c.model.name = 'tcn'
  c.model.embed_dim = 0  # one-hot tokens
  c.model.channels = (10,) * 8
  c.model.kernel_size = 8
  c.model.dropout = 0.0
  c.model.weight_norm = True

  c.optim.name = 'rmsprop'
  c.optim.learning_rate = 5e-4
  c.optim.grad_clip_norm = 1.0
  return c
