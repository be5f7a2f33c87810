"""Byte-level 1D CNN on IMDB sentiment: no vocabulary, 257 symbols (bytes + padding).

The first 1024 UTF-8 bytes of each review, embedded in 16 dimensions, three
convolutions (kernel 7, stride 3), global max pooling; batches are padded only
to the smallest bucket that holds them.

Prepare IMDB once (needs TensorFlow; training does not, see README):
  tfds build imdb_reviews/plain_text --data_dir ~/tensorflow_datasets --file_format=array_record

  python -m cnn_vs_rnn.train --config configs/imdb_bytes_cnn1d.py --workdir runs/imdb_bytes_cnn1d

Expected: eval/accuracy below the word-level CNN (configs/imdb_cnn1d.py,
keras-io reference 0.864): bytes must learn words first, from a quarter of the
text. Not measured here (IMDB cannot be downloaded on the machine that wrote
this).
"""

from cnn_vs_rnn import configlib


def get_config():
  c = configlib.base_config()
  c.seed = 0
  c.num_train_steps = 4000
  c.log_every_steps = 100
  c.eval_every_steps = 1000
  c.checkpoint_every_steps = 1000

  c.data.name = 'imdb_reviews'
  c.data.tokenizer = 'byte'
  c.data.max_len = 1024
  c.data.buckets = (256, 512, 1024)
  c.data.batch_size = 32
  c.data.eval_batch_size = 500
  c.data.data_dir = ''  # '' = $TFDS_DATA_DIR or ~/tensorflow_datasets

  c.model.name = 'cnn1d'
  c.model.embed_dim = 16
  c.model.features = (64, 128, 128)
  c.model.kernel_sizes = (7, 7, 7)
  c.model.strides = (3, 3, 3)
  c.model.padding = 0
  c.model.pool = 'max'

  c.optim.name = 'adam'
  c.optim.learning_rate = 1e-3
  return c
