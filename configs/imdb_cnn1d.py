"""Word-level 1D CNN on IMDB sentiment, after the keras-io text classification example.

Embedding 128 of the 20,000 most frequent train words, two convolutions of
128 channels (kernel 7, stride 3), global max pooling. Reviews are cut to 500
words; batches are padded only to the smallest bucket that holds them.

Prepare IMDB once (needs TensorFlow; training does not, see README):
  tfds build imdb_reviews/plain_text --data_dir ~/tensorflow_datasets --file_format=array_record

  python -m cnn_vs_rnn.train --config configs/imdb_cnn1d.py --workdir runs/imdb_cnn1d

Expected: eval/accuracy near the keras-io Conv1D's 0.864 test accuracy (at
3-4 ms/step, vs 0.843 for a BiLSTM at ~70 ms/step: configs/imdb_lstm.py).
Not measured here (IMDB cannot be downloaded on the machine that wrote this).
"""

from cnn_vs_rnn import configlib


def get_config():
  c = configlib.base_config()
  c.seed = 0
  c.num_train_steps = 2400  # ~3 epochs of 32
  c.log_every_steps = 100
  c.eval_every_steps = 800
  c.checkpoint_every_steps = 800

  c.data.name = 'imdb_reviews'
  c.data.tokenizer = 'word'
  c.data.vocab_size = 20000
  c.data.max_len = 500
  c.data.buckets = (125, 250, 500)
  c.data.batch_size = 32
  c.data.eval_batch_size = 500
  c.data.data_dir = ''  # '' = $TFDS_DATA_DIR or ~/tensorflow_datasets

  c.model.name = 'cnn1d'
  c.model.embed_dim = 128
  c.model.features = (128, 128)
  c.model.kernel_sizes = (7, 7)
  c.model.strides = (3, 3)
  c.model.padding = 0
  c.model.pool = 'max'

  c.optim.name = 'adam'
  c.optim.learning_rate = 1e-3
  return c
