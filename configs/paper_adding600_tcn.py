"""TCN on the adding problem, T=600, at the TCN paper's scale (not run here).

Bai, Kolter & Koltun (2018), Table 1 and their adding_problem/add_test.py
defaults: 8 levels of 30 channels, kernel 7 (receptive field 3,061 >= 600), no
dropout, Adam lr 4e-3, no gradient clipping, batch 32, 10 epochs of 50,000
sequences (15,625 steps). About 70k parameters.

  python -m cnn_vs_rnn.train --config configs/paper_adding600_tcn.py --workdir runs/paper_adding600_tcn

Expected (published, not run here): test MSE 5.8e-5 (TCN); GRU 5.3e-5 and
LSTM 0.164 at the same size (predicting 1 gives 1/6). At T=200 and 400 on this
CPU's budget see experiments/cnns_for_sequences.
"""

from cnn_vs_rnn import configlib


def get_config():
  c = configlib.base_config()
  c.num_train_steps = 15_625
  c.log_every_steps = 250
  c.eval_every_steps = 1500
  c.checkpoint_every_steps = 1500

  c.data.name = 'adding'
  c.data.seq_len = 600  # T
  c.data.num_train = 50_000
  c.data.num_test = 1_000
  c.data.batch_size = 32
  c.data.eval_batch_size = 500
  c.data.data_dir = ''

  c.model.name = 'tcn'
  c.model.channels = (30,) * 8
  c.model.kernel_size = 7
  c.model.dropout = 0.0
  c.model.weight_norm = True
  c.model.pool = 'last'

  c.optim.name = 'adam'
  c.optim.learning_rate = 4e-3
  c.optim.grad_clip_norm = 0.0  # The paper's default: no clipping.
  return c
