"""GRU (77 hidden units) on the adding problem, T=200.

  python -m cnn_vs_rnn.train --config configs/adding_gru.py --workdir runs/adding_gru

Expected over seeds 0-2 (3 replicas of one program; test at the step with the best
validation metric; bash experiments/config_results/run.sh runs/config_results adding_gru):
test/mse 0.00023 +- 0.00017 (per seed 0.00011, 0.00043, 0.00015; best step 3000;
18,789 parameters; a lent NVIDIA H200). The trivial baseline is 0.167.
Earlier (old protocol: whole train split, no validation split, evaluated on test): eval/mse
0.00013, 0.00078, 0.00010 (--config.seed=0/1/2), i.e. 0.00034 +- 0.00038; about 5
minutes per run on a 2-core CPU.
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
