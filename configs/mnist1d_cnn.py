"""1D CNN on MNIST-1D (Greydanus 2020): 5,210 parameters.

  python -m cnn_vs_rnn.train --config configs/mnist1d_cnn.py --workdir runs/mnist1d_cnn

Expected over seeds 0-2 (3 replicas of one program; test at the step with the best
validation metric; bash experiments/config_results/run.sh runs/config_results mnist1d_cnn):
test/accuracy 0.919 +- 0.006 (per seed 0.926, 0.914, 0.916; best step 3000; 5,210
parameters; a 2-core CPU, 2026-11-27). Published: 94%.
Earlier (old protocol: whole train split, no validation split, evaluated on test): eval/accuracy
0.932 +- 0.008 over seeds 0-2 (seed 0: 0.941) on the 1000 test examples, in about 10 s
on a 2-core CPU.
"""

from cnn_vs_rnn import configlib


def get_config():
  c = configlib.base_config()
  c.seed = 0
  # Greydanus: Adam, learning rate 1e-2, batch 100, 6000 steps.
  c.num_train_steps = 6000
  c.log_every_steps = 500
  c.eval_every_steps = 1000
  c.checkpoint_every_steps = 2000

  c.data.name = 'mnist1d'
  c.data.batch_size = 100
  c.data.data_dir = ''  # '' = $TFDS_DATA_DIR or ~/tensorflow_datasets

  c.model.name = 'cnn1d'
  c.model.features = (25, 25, 25)
  c.model.kernel_sizes = (5, 3, 3)
  c.model.strides = (2, 2, 2)
  c.model.padding = 1
  c.model.pool = 'flatten'
  # One matmul over patches on CPU ('auto'; lax elsewhere): the same function (kernels/resolve.py).
  c.model.conv_impl = 'auto'

  c.optim.name = 'adam'
  c.optim.learning_rate = 1e-2
  return c
