"""A GRU over log-mel frames of the synthetic keywords (offline speech).

  python -m cnn_vs_rnn.train --config configs/keywords_gru.py --workdir runs/keywords_gru

Expected over seeds 0-2 (3 replicas of one program; test at the step with the best
validation metric; bash experiments/config_results/run.sh runs/config_results keywords_gru):
test/accuracy 0.857 +- 0.015 on the 'hard' keywords (per seed 0.843, 0.853, 0.873;
best step 2000; 21,002 parameters; a lent NVIDIA H200).
Earlier (old protocol: whole train split, no validation split, evaluated on test): on the 'hard'
keywords eval/accuracy 0.857, 0.867, 0.880 (seeds 0/1/2) = 0.868 +- 0.012 (about 45 s
per run on a 2-core CPU). On the 'clean' ones (--config.data.style=clean) it
reached 1.000.
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

  c.data.as_image = False
  c.model.name = 'gru'
  c.model.hidden_size = 64
  c.model.pool = 'last'

  c.optim.name = 'adam'
  c.optim.learning_rate = 0.002
  c.optim.grad_clip_norm = 1.0
  return c
