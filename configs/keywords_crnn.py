"""PLACEHOLDER

  python -m cnn_vs_rnn.train --config configs/keywords_crnn.py --workdir runs/keywords_crnn

Expected: not run yet.
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
  c.data.batch_size = 64
  c.data.eval_batch_size = 600
  c.data.data_dir = ''

  c.data.as_image = True   # [frames, mels, 1]: the front end is 2D over (time, frequency)
  c.model.name = 'crnn'
  c.model.features = (16, 16)
  c.model.kernel_size = 3
  c.model.pool_size = 2    # 4x fewer frames and mel bands for the GRU
  c.model.cell = 'gru'
  c.model.hidden_size = 64
  c.model.pool = 'last'

  c.optim.name = 'adam'
  c.optim.learning_rate = 0.002
  c.optim.grad_clip_norm = 1.0
  return c
