"""The default experiment: the MNIST-1D 1D CNN of configs/mnist1d_cnn.py.

  python -m cnn_vs_rnn.train --config configs/default.py --workdir runs/default

Offline (the dataset is generated locally), about a minute on a laptop CPU.
Expected: eval/accuracy about 0.94 (published CNN: 94%).
"""

from cnn_vs_rnn import configlib


def get_config():
  return configlib.load_sibling(__file__, 'mnist1d_cnn.py')
