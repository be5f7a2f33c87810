"""TCN on the adding problem, T=200 (Bai, Kolter & Koltun 2018).

Five levels of 24 channels, kernel 7: receptive field 373 >= T.

  python -m cnn_vs_rnn.train --config configs/adding_tcn.py --workdir runs/adding_tcn

Expected over seeds 0-2 (3 replicas of one program; test at the step with the best
validation metric; bash experiments/config_results/run.sh runs/config_results adding_tcn):
test/mse 0.0011 +- 0.0004 (per seed 0.00074, 0.0015, 0.0011; best step 2000; 37,201
parameters; a lent NVIDIA H200). The trivial baseline is 0.167.
Earlier (old protocol: whole train split, no validation split, evaluated on test): eval/mse
0.00096 +- 0.00016 (seeds 0-2), about 90 s on a 2-core CPU.
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

  c.model.name = 'tcn'
  c.model.channels = (24, 24, 24, 24, 24)
  c.model.kernel_size = 7
  c.model.dropout = 0.0
  c.model.weight_norm = True
  c.model.pool = 'last'

  c.optim.name = 'adam'
  c.optim.learning_rate = 0.002
  c.optim.grad_clip_norm = 1.0
  return c
