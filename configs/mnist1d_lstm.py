"""Bidirectional LSTM on MNIST-1D: 5,242 parameters.

The same shape as configs/mnist1d_gru.py (the MNIST-1D reference GRU): six
hidden units per direction, and the readout sees every step's outputs
(flattened).

  python -m cnn_vs_rnn.train --config configs/mnist1d_lstm.py --workdir runs/mnist1d_lstm

Expected over seeds 0-2 (3 replicas of one program; test at the step with the best
validation metric; bash experiments/config_results/run.sh runs/config_results mnist1d_lstm):
test/accuracy 0.882 +- 0.005 (per seed 0.885, 0.885, 0.876; best step 3000; 5,242
parameters; a 2-core CPU).
Earlier (old protocol: whole train split, no validation split, evaluated on test): eval/accuracy
0.881 +- 0.005 over seeds 0-2 (3000 steps).
"""

from cnn_vs_rnn import configlib


def get_config():
  c = configlib.base_config()
  c.seed = 0
  c.num_train_steps = 3000
  c.log_every_steps = 500
  c.eval_every_steps = 1000
  c.checkpoint_every_steps = 1000

  c.data.name = 'mnist1d'
  c.data.batch_size = 100
  c.data.data_dir = ''  # '' = $TFDS_DATA_DIR or ~/tensorflow_datasets

  c.model.name = 'lstm'
  c.model.hidden_size = 6
  c.model.num_layers = 1
  c.model.bidirectional = True
  c.model.pool = 'flatten'

  c.optim.name = 'adamw'
  c.optim.learning_rate = 1e-2
  c.optim.weight_decay = 0.05
  c.optim.schedule = 'cosine'
  c.optim.grad_clip_norm = 1.0
  return c
