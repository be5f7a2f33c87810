"""TCN (kernel 3, 5 levels: receptive field 125 frames) over the procedural 'hard' keywords' mel frames.

  python -m cnn_vs_rnn.train --config configs/keywords_tcn.py --workdir runs/keywords_tcn

Expected: see the table of experiments/cnns_for_sequences/README.md (3 seeds,
learning rate chosen on validation, at the parameter budget of its study).
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

  c.model.name = 'tcn'
  c.model.channels = (32, 32, 32, 32, 32)
  c.model.kernel_size = 3
  c.model.dropout = 0.0
  c.model.weight_norm = True
  c.model.pool = 'last'

  c.optim.name = 'adam'
  c.optim.learning_rate = 0.002
  c.optim.grad_clip_norm = 1.0
  return c
