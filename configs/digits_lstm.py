"""An LSTM reading the 8x8 UCI digits row by row (8 steps of 8 pixels).

  python -m cnn_vs_rnn.train --config configs/digits_lstm.py --workdir runs/digits_lstm

Expected over seeds 0-2 (3 replicas of one program; test at the step with the best
validation metric; bash experiments/config_results/run.sh runs/config_results digits_lstm):
test/accuracy 0.975 +- 0.003 (per seed 0.978, 0.972, 0.975; best step 1000; 19,594
parameters; a 2-core CPU).
Earlier (old protocol: whole train split, no validation split, evaluated on test): eval/accuracy
0.979 +- 0.002 on the 360 test digits (seeds 0-2).
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

  c.data.view = 'rows'
  c.model.name = 'lstm'
  c.model.hidden_size = 64
  c.model.pool = 'last'

  c.optim.name = 'adam'
  c.optim.learning_rate = 0.003
  c.optim.grad_clip_norm = 1.0
  return c
