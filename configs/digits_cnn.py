"""A small 2D CNN on the 8x8 UCI digits (scikit-learn's copy, offline).

  python -m cnn_vs_rnn.train --config configs/digits_cnn.py --workdir runs/digits_cnn

Expected over seeds 0-2 (3 replicas of one program; test at the step with the best
validation metric; bash experiments/config_results/run.sh runs/config_results digits_cnn):
test/accuracy 0.994 +- 0.002 (per seed 0.992, 0.994, 0.994; best step 2000; 38,282
parameters; a 2-core CPU).
Earlier (old protocol: whole train split, no validation split, evaluated on test): eval/accuracy
0.994 +- 0.000 on the 360 test digits (seeds 0-2).
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

  c.model.name = 'cnn2d'
  c.model.blocks = ((16, 32),)
  c.model.padding = 'SAME'
  c.model.dense = (64,)

  c.optim.name = 'adam'
  c.optim.learning_rate = 0.002
  c.optim.grad_clip_norm = 0.0
  return c
