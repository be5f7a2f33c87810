"""A CRNN on log-mel spectrograms of the synthetic keywords (offline speech).

  python -m cnn_vs_rnn.train --config configs/keywords_crnn.py --workdir runs/keywords_crnn

Two 3x3 convolutions (16 channels) over (time, mel), each followed by a 2x2
max pool, turn the 98 x 40 spectrogram into 25 steps of 10 x 16 features;
a GRU of 64 units reads them and is read out at its last step: 46,522
parameters. To compare with configs/keywords_cnn.py (a 2D CNN with a global
max) and configs/keywords_gru.py (a GRU on the 98 raw frames).

Expected on the 'hard' keywords (measured, 1 seed, not a result): validation
accuracy 0.930 at step 1000 and 1500, selected step 1500: test accuracy 0.937;
about 3.5 minutes on the 2-core CPU shared with other jobs (generating the
dataset the first time included).
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
