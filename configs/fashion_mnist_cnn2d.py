"""2D CNN on Fashion-MNIST: configs/mnist_cnn2d.py's network and recipe.

Prepare Fashion-MNIST once (needs TensorFlow; training does not, see README):
  tfds build fashion_mnist --data_dir ~/tensorflow_datasets --file_format=array_record

  python -m cnn_vs_rnn.train --config configs/fashion_mnist_cnn2d.py --workdir runs/fashion_mnist_cnn2d

Expected: eval/accuracy about 0.91-0.92, the usual range for a small two-layer
CNN without augmentation. Not measured here (the data cannot be downloaded on
the machine that wrote this); the dataset paper's best classical baseline, an
RBF SVM, reaches 0.897 (Xiao et al. 2017).
"""

import os

from cnn_vs_rnn import configlib


def get_config():
  c = configlib.load_config_file(
      os.path.join(os.path.dirname(os.path.abspath(__file__)), 'mnist_cnn2d.py'))
  c.data.name = 'fashion_mnist'
  c.num_train_steps = 5000
  return c
