"""Byte-level causal TCN language model on Python standard-library docstrings.

Six levels, kernel 3: receptive field 1 + 2*2*63 = 253 >= 128.

  python -m cnn_vs_rnn.train --config configs/charlm_tcn.py --workdir runs/charlm_tcn

Expected over seeds 0-2 (3 replicas of one program; test at the step with the best
validation metric; bash experiments/config_results/run.sh runs/config_results charlm_tcn):
test/accuracy 0.553 +- 0.001, test/bits_per_char 2.54 +- 0.01 (8 for uniform bytes)
(per-seed values not tabulated; best step 2000; 601,472 parameters; a lent NVIDIA
H200).
Earlier (old protocol: whole train split, no validation split, evaluated on test):
eval/bits_per_char 2.504, 2.513, 2.532 (seeds 0/1/2) = 2.516 +- 0.014 (the LSTM of
configs/charlm_lstm.py, same protocol: 2.585 +- 0.013). Seed 0's sample at temperature 0.7
(python -m cnn_vs_rnn.sample --workdir runs/charlm_tcn --prompt "Return the "
--length 200 --temperature 0.7): "Return the number of that data in the range
of sequences of lines the characters. ...".
"""

from cnn_vs_rnn import configlib


def get_config():
  c = configlib.base_config()
  c.num_train_steps = 3000
  c.log_every_steps = 250
  c.eval_every_steps = 1000
  c.checkpoint_every_steps = 1000

  c.data.name = 'stdlib_text'
  c.data.seq_len = 128
  c.data.batch_size = 32
  c.data.eval_batch_size = 256
  c.data.data_dir = ''

  c.model.name = 'tcn'
  c.model.embed_dim = 32
  c.model.channels = (128, 128, 128, 128, 128, 128)
  c.model.kernel_size = 3
  c.model.dropout = 0.1
  c.model.weight_norm = True

  c.optim.name = 'adam'
  c.optim.learning_rate = 0.002
  c.optim.grad_clip_norm = 1.0
  return c
