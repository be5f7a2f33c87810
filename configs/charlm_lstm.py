"""Byte-level LSTM language model on Python standard-library docstrings (offline).

Sample text afterwards:
  python -m cnn_vs_rnn.sample --workdir runs/charlm_lstm --prompt "Return the " --length 200

  python -m cnn_vs_rnn.train --config configs/charlm_lstm.py --workdir runs/charlm_lstm

Expected over seeds 0-2 (3 replicas of one program; test at the step with the best
validation metric; experiments/config_results, run with steps_per_loop=1 on the 2-core
CPU, 1,226 s): test/bits_per_char 2.543 +- 0.014 (2.528, 2.545, 2.556), test/accuracy
0.558 +- 0.002; best step 2000 of 3000; 370,944 parameters.
Earlier (old protocol: no validation split, evaluated on test at the last step,
seeds 0/1/2): eval/bits_per_char 2.570, 2.591, 2.594 = 2.585 +-
0.013 (8 for uniform bytes; seed 0's best was 2.49 at step 2000, so the
370k-parameter net starts to overfit the 378 kB corpus). Seed 0's sample
at temperature 0.7: "Return the given a strings; exception is used as instance
methods to ...".
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

  c.model.name = 'lstm'
  c.model.embed_dim = 32
  c.model.hidden_size = 256

  c.optim.name = 'adam'
  c.optim.learning_rate = 0.003
  c.optim.grad_clip_norm = 1.0
  return c
