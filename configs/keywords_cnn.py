"""A 2D CNN on log-mel spectrograms of the synthetic keywords (offline speech).

  python -m cnn_vs_rnn.train --config configs/keywords_cnn.py --workdir runs/keywords_cnn

Three conv blocks (32, 64, 64 channels, 3x3 SAME, max-pool 2), a global max
over time and frequency (the word can be anywhere in the clip), dense 64,
dropout 0.25: 60,554 parameters.

Expected over seeds 0-2 (3 replicas of one program; test at the step with the best
validation metric; bash experiments/config_results/run.sh runs/config_results keywords_cnn):
test/accuracy 0.794 +- 0.109 on the 'hard' keywords (per seed 0.857, 0.857, 0.668;
best step 2000; 60,554 parameters; a lent NVIDIA H200); the GRU of
configs/keywords_gru.py: 0.857 +- 0.015.
Earlier (old protocol: whole train split, no validation split, evaluated on test): on the 'hard'
keywords eval/accuracy 0.710, 0.722, 0.817 (seeds 0/1/2) = 0.749 +- 0.059 after 2000
steps (still improving; about 4-6 minutes per run on a 2-core CPU), below the GRU's
0.868 then. The same stack with a flatten readout (497,034 parameters) overfit:
0.695, test loss rising from step 500 (seed 0). On the 'clean' keywords
(--config.data.style=clean) the earlier, flatten CNN reached 1.000 by step 500.
"""

from cnn_vs_rnn import configlib


def get_config():
  c = configlib.base_config()
  c.num_train_steps = 2000
  c.log_every_steps = 125
  c.eval_every_steps = 500
  c.checkpoint_every_steps = 500

  c.data.name = 'keywords'
  c.data.num_mels = 40
  c.data.style = 'hard'  # procedural.KEYWORD_STYLES; 'clean' is separable by every family
  c.data.num_train = 3000  # clips per split (validation carved from train), 10 keywords
  c.data.num_test = 600
  c.data.batch_size = 64
  c.data.eval_batch_size = 600
  c.data.data_dir = ''

  c.data.as_image = True
  c.model.name = 'cnn2d'
  c.model.blocks = ((32,), (64,), (64,))
  c.model.padding = 'SAME'
  c.model.dense = (64,)
  c.model.pool = 'max'     # global max over time and frequency: the word can be anywhere
  c.model.dropout = 0.25

  c.optim.name = 'adam'
  c.optim.learning_rate = 0.002
  c.optim.grad_clip_norm = 0.0
  return c
