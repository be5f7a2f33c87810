"""Word-level bidirectional LSTM on IMDB sentiment, after the keras-io BiLSTM example.

Embedding 128 of the 20,000 most frequent train words, two bidirectional LSTM
layers of 64 units, read out from both directions' last valid step (batches
carry the true lengths; reviews are cut to 200 words and bucketed).

Prepare IMDB once (needs TensorFlow; training does not, see README):
  tfds build imdb_reviews/plain_text --data_dir ~/tensorflow_datasets --file_format=array_record

  python -m cnn_vs_rnn.train --config configs/imdb_lstm.py --workdir runs/imdb_lstm

Expected: eval/accuracy near the keras-io BiLSTM's 0.843 test accuracy (vs
0.864 for the Conv1D, configs/imdb_cnn1d.py). Not measured here (IMDB cannot
be downloaded on the machine that wrote this).
"""

from cnn_vs_rnn import configlib


def get_config():
  c = configlib.base_config()
  c.seed = 0
  c.num_train_steps = 1600  # ~2 epochs of 32
  c.log_every_steps = 100
  c.eval_every_steps = 800
  c.checkpoint_every_steps = 800

  c.data.name = 'imdb_reviews'
  c.data.tokenizer = 'word'
  c.data.vocab_size = 20000
  c.data.max_len = 200
  c.data.buckets = (50, 100, 200)
  c.data.batch_size = 32
  c.data.eval_batch_size = 500
  c.data.data_dir = ''  # '' = $TFDS_DATA_DIR or ~/tensorflow_datasets

  c.model.name = 'lstm'
  c.model.embed_dim = 128
  c.model.hidden_size = 64
  c.model.num_layers = 2
  c.model.bidirectional = True
  c.model.pool = 'last'

  c.optim.name = 'adam'
  c.optim.learning_rate = 1e-3
  c.optim.grad_clip_norm = 1.0
  return c
