"""The review's FCN (Fawaz et al. 2019) on GunPoint, a UCR set that aeon ships.

  python -m cnn_vs_rnn.train --config configs/ucr_gunpoint_fcn.py --workdir runs/ucr_gunpoint_fcn

Needs the optional extra: pip install -e ".[ucr]". 150 steps of one channel,
2 classes; the archive's 50 train series (45 train + 5 validation) and 150
test series. FCN: 128/256/128 filters, kernels 8/5/3, batch norm, global
average pooling, 264,450 parameters. The review trains 2,000 epochs at batch
size 5; this config trains 1,000 steps of 16 (about 350 epochs).

Expected for seed 0: test/accuracy 1.000 (150 of 150) at the step validation
selects (1000), in 61 s on one core of the 2-core CPU. Published (the review,
mean of 10 runs): FCN 100.0%.
"""

from cnn_vs_rnn import configlib


def get_config():
  c = configlib.base_config()
  c.num_train_steps = 1000
  c.log_every_steps = 100
  c.eval_every_steps = 100
  c.checkpoint_every_steps = 500

  c.data.name = 'ucr'
  c.data.dataset = 'GunPoint'
  c.data.batch_size = 16
  c.data.eval_batch_size = 50

  c.model.name = 'fcn'
  c.model.features = (128, 256, 128)
  c.model.kernel_sizes = (8, 5, 3)
  c.model.pool = 'mean'

  c.optim.name = 'adam'
  c.optim.learning_rate = 1e-3
  c.optim.schedule = 'cosine'
  c.optim.grad_clip_norm = 0.0
  return c
