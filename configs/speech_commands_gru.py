"""GRU over log-mel frames of Speech Commands v0.02 (12 classes).

Each 1 s clip becomes a sequence of 98 frames x 40 log-mel energies (25 ms
windows every 10 ms, standardised per clip); two GRU layers of 128 units read
it and the last step is classified.

Prepare Speech Commands once (its TFDS builder imports TensorFlow and decodes
WAVs with pydub; training needs neither, see README):
  tfds build speech_commands --data_dir ~/tensorflow_datasets --file_format=array_record

  python -m cnn_vs_rnn.train --config configs/speech_commands_gru.py --workdir runs/speech_commands_gru

Expected: eval/accuracy in the range of the dataset paper's baseline CNN,
0.882 top-one on this 12-class v0.02 test set (Warden 2018), to compare with
configs/speech_commands_cnn2d.py. Not measured here (the data cannot be
downloaded on the machine that wrote this).
"""

from cnn_vs_rnn import configlib


def get_config():
  c = configlib.base_config()
  c.seed = 0
  c.num_train_steps = 10000  # ~15 epochs of 128
  c.log_every_steps = 100
  c.eval_every_steps = 2000
  c.checkpoint_every_steps = 2000

  c.data.name = 'speech_commands'
  c.data.num_mels = 40
  c.data.as_image = False  # [98, 40]: 98 steps of 40 features
  c.data.batch_size = 128
  c.data.eval_batch_size = 512
  c.data.data_dir = ''  # '' = $TFDS_DATA_DIR or ~/tensorflow_datasets

  c.model.name = 'gru'
  c.model.hidden_size = 128
  c.model.num_layers = 2
  c.model.pool = 'last'

  c.optim.name = 'adam'
  c.optim.learning_rate = 1e-3
  c.optim.schedule = 'cosine'
  c.optim.grad_clip_norm = 1.0
  return c
