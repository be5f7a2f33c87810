"""Character-level TCN language model at the TCN paper's char-PTB scale (not run here).

Bai, Kolter & Koltun (2018), Table 1 and their char_cnn/char_cnn_test.py
defaults, on tiny_shakespeare (TFDS) instead of Penn Treebank characters (no
TFDS build of char-PTB exists): embedding 100, 3 levels of 450 channels,
kernel 3, dropout 0.1, SGD lr 4, gradient clipping at norm 0.15, batch 32
windows of 400 characters. About 3M parameters.

Prepare tiny_shakespeare once (needs TensorFlow; training does not):
  tfds build tiny_shakespeare --data_dir ~/tensorflow_datasets --file_format=array_record

  python -m cnn_vs_rnn.train --config configs/paper_shakespeare_tcn.py --workdir runs/paper_shakespeare_tcn

Expected (published, not run here): on char PTB the TCN reaches 1.31 bits per
character, against 1.36 (LSTM) and 1.37 (GRU); tiny_shakespeare is a
different, smaller corpus, so its number is not comparable one to one. On
this CPU see the character-LM row of experiments/cnns_for_sequences.
"""

from cnn_vs_rnn import configlib


def get_config():
  c = configlib.base_config()
  c.num_train_steps = 20_000
  c.log_every_steps = 250
  c.eval_every_steps = 2000
  c.checkpoint_every_steps = 2000

  c.data.name = 'tiny_shakespeare'
  c.data.seq_len = 400
  c.data.batch_size = 32
  c.data.eval_batch_size = 256
  c.data.data_dir = ''  # '' = $TFDS_DATA_DIR or ~/tensorflow_datasets

  c.model.name = 'tcn'
  c.model.embed_dim = 100
  c.model.channels = (450, 450, 450)
  c.model.kernel_size = 3
  c.model.dropout = 0.1
  c.model.weight_norm = True

  c.optim.name = 'sgd'
  c.optim.learning_rate = 4.0
  c.optim.grad_clip_norm = 0.15
  return c
