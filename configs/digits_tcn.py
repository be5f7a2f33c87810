"""A TCN over the 64-pixel sequence of the 8x8 UCI digits.

Four levels, kernel 5: receptive field 1 + 2*4*15 = 121 >= 64.

  python -m cnn_vs_rnn.train --config configs/digits_tcn.py --workdir runs/digits_tcn

Expected over seeds 0-2 (3 replicas of one program; test at the step with the best
validation metric; bash experiments/config_results/run.sh runs/config_results digits_tcn):
test/accuracy 0.984 +- 0.002 (per seed 0.983, 0.983, 0.986; best step 500; 36,906
parameters; a 2-core CPU).
Earlier (old protocol: whole train split, no validation split, evaluated on test):
eval/accuracy 0.988 +- 0.004 on the 360 test digits (seeds 0-2).
"""

from cnn_vs_rnn import configlib


def get_config():
  c = configlib.base_config()
  c.num_train_steps = 2000
  c.log_every_steps = 125
  c.eval_every_steps = 500
  c.checkpoint_every_steps = 500

  c.data.name = 'digits'
  c.data.batch_size = 64
  c.data.eval_batch_size = 360
  c.data.data_dir = ''

  c.data.view = 'pixels'
  c.model.name = 'tcn'
  c.model.channels = (32, 32, 32, 32)
  c.model.kernel_size = 5
  c.model.dropout = 0.0
  c.model.weight_norm = True
  c.model.pool = 'last'

  c.optim.name = 'adam'
  c.optim.learning_rate = 0.002
  c.optim.grad_clip_norm = 1.0
  return c
