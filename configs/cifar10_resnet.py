"""Pre-activation ResNet-20 on CIFAR-10 (He et al. 2016): 3 stages x 3 blocks, width 16.

Prepare CIFAR-10 once (needs TensorFlow; training does not, see README):
  tfds build cifar10 --data_dir ~/tensorflow_datasets --file_format=array_record

  python -m cnn_vs_rnn.train --config configs/cifar10_resnet.py --workdir runs/cifar10_resnet

Expected: eval/accuracy below the published 0.9125 of ResNet-20 (He et al.
2016, 8.75% error), which used random crops and flips: this pipeline has no
augmentation, so expect several points less. Not measured here (CIFAR-10
cannot be downloaded on the machine that wrote this).
"""

from cnn_vs_rnn import configlib


def get_config():
  c = configlib.base_config()
  c.seed = 0
  c.num_train_steps = 20000  # ~51 epochs of 128
  c.log_every_steps = 200
  c.eval_every_steps = 2000
  c.checkpoint_every_steps = 2000

  c.data.name = 'cifar10'
  c.data.batch_size = 128
  c.data.eval_batch_size = 1000
  c.data.data_dir = ''  # '' = $TFDS_DATA_DIR or ~/tensorflow_datasets

  c.model.name = 'resnet'
  c.model.stage_sizes = (3, 3, 3)
  c.model.width = 16
  c.model.norm = 'batch'

  c.optim.name = 'adamw'
  c.optim.learning_rate = 1e-3
  c.optim.weight_decay = 0.05
  c.optim.schedule = 'cosine'
  return c
