"""Elman RNN (77 hidden units) on the adding problem, T=200: configs/adding_gru.py with an Elman cell.

Set --config.model.activation=relu --config.model.irnn_init=True for the IRNN
(Le et al. 2015). model.recurrent_init ('orthogonal', the default; 'identity';
'normal') and model.recurrent_init_scale pick other initial recurrent matrices,
model.layer_norm=True normalises the pre-activation of every step
(experiments/vanishing_exploding).

  python -m cnn_vs_rnn.train --config configs/adding_elman.py --workdir runs/adding_elman

Expected over seeds 0-2 (3 replicas of one program; test at the step with the best
validation metric; bash experiments/config_results/run.sh runs/config_results adding_elman):
test/mse 0.178 +- 0.001 (per seed 0.179, 0.178, 0.177; best step 2000; 6,315 parameters;
a lent NVIDIA H200): the tanh Elman net stays at the trivial baseline 0.167, as in
Bai et al. (0.177 at T=600).
Earlier (old protocol: whole train split, no validation split, evaluated on test): eval/mse
0.177 +- 0.001 (seeds 0-2). Under that protocol the IRNN variant diverged at this
learning rate (non-finite loss at step 50); with --config.optim.learning_rate=0.0003
it solved the task, eval/mse 0.0018 +- 0.0004 (seeds 0-2), though 1e-4 diverged
again (step 484, seed 0).
"""

from cnn_vs_rnn import configlib


def get_config():
  c = configlib.load_sibling(__file__, 'adding_gru.py')
  c.model.name = 'elman'
  c.model.activation = 'tanh'
  c.model.irnn_init = False
  c.model.recurrent_init = ''  # '' = identity if irnn_init, else orthogonal
  c.model.recurrent_init_scale = 1.0
  c.model.layer_norm = False
  return c
