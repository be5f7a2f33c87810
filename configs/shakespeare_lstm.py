"""Byte-level LSTM language model on Tiny Shakespeare (Karpathy's char-rnn text).

Two LSTM layers of 512 units over 128-byte chunks, next-byte prediction.

Prepare Tiny Shakespeare once (needs TensorFlow; training does not, see README):
  tfds build tiny_shakespeare --data_dir ~/tensorflow_datasets --file_format=array_record

  python -m cnn_vs_rnn.train --config configs/shakespeare_lstm.py --workdir runs/shakespeare_lstm

Expected: eval/loss around 1.5 nats per byte (eval/bits_per_char about 2.1)
on the validation split (the default data.eval_split; add
--config.data.eval_split=test for the test split). Not measured here (the
text cannot be downloaded on the machine that wrote this); reference:
nanoGPT's character-level Transformer reaches a validation loss of about
1.47 on the same text (its own 90/10 split).
"""

from cnn_vs_rnn import configlib


def get_config():
  c = configlib.base_config()
  c.seed = 0
  c.num_train_steps = 3000
  c.log_every_steps = 100
  c.eval_every_steps = 500
  c.checkpoint_every_steps = 500

  c.data.name = 'tiny_shakespeare'
  c.data.seq_len = 128
  c.data.batch_size = 64
  c.data.eval_batch_size = 256
  c.data.data_dir = ''  # '' = $TFDS_DATA_DIR or ~/tensorflow_datasets

  c.model.name = 'lstm'
  c.model.embed_dim = 64
  c.model.hidden_size = 512
  c.model.num_layers = 2

  c.optim.name = 'adam'
  c.optim.learning_rate = 2e-3
  c.optim.schedule = 'cosine'
  c.optim.grad_clip_norm = 1.0
  return c
