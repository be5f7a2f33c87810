"""Bidirectional Elman (tanh) RNN on MNIST-1D: 4,918 parameters.

configs/mnist1d_lstm.py (same shape and recipe) with Elman cells.

The same shape as configs/mnist1d_gru.py (the MNIST-1D reference GRU): six
hidden units per direction, and the readout sees every step's outputs
(flattened).

  python -m cnn_vs_rnn.train --config configs/mnist1d_elman.py --workdir runs/mnist1d_elman

Expected over seeds 0-2 (3 replicas of one program; test at the step with the best
validation metric; bash experiments/config_results/run.sh runs/config_results mnist1d_elman):
test/accuracy 0.723 +- 0.021 (per seed 0.734, 0.699, 0.736; best step 3000; 4,918
parameters; a 2-core CPU).
Earlier (old protocol: whole train split, no validation split, evaluated on test): eval/accuracy
0.747 +- 0.020 over seeds 0-2 (3000 steps).
"""

from cnn_vs_rnn import configlib


def get_config():
  c = configlib.load_sibling(__file__, 'mnist1d_lstm.py')
  c.model.name = 'elman'
  return c
