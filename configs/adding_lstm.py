"""LSTM (77 hidden units) on the adding problem, T=200: configs/adding_gru.py with an LSTM.

  python -m cnn_vs_rnn.train --config configs/adding_lstm.py --workdir runs/adding_lstm

Expected over seeds 0-2 (3 replicas of one program; test at the step with the best
validation metric; bash experiments/config_results/run.sh runs/config_results adding_lstm):
test/mse 0.00040 +- 0.00019 (per seed 0.00020, 0.00042, 0.00059; best step 4000;
25,026 parameters; a lent NVIDIA H200). The trivial baseline is 0.167.
Earlier (old protocol: whole train split, no validation split, evaluated on test):
not measured.
"""

from cnn_vs_rnn import configlib


def get_config():
  c = configlib.load_sibling(__file__, 'adding_gru.py')
  c.model.name = 'lstm'
  return c
