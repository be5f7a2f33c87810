"""Speed case `tcn_seq` of torch_reference.py: a TCN over 784 steps.

Eight residual levels of two causal dilated convolutions (kernel 7, 25
channels, dilation 2**level, ReLU), a 1x1 convolution on the first level's
residual, no weight norm and no dropout (as the reference), the last step
-> Dense(10), softmax cross-entropy, Adam lr 1e-3, one fixed batch of 64
random inputs and labels (the 'synthetic' dataset, whose train split is
torch_reference.py's make_data batch).

  python -m cnn_vs_rnn.benchmark --config configs/bench/tcn_seq.py
  python ../shared/peers/torch_reference.py --case tcn_seq   # its own venv

Expected: 66,510 parameters, as the PyTorch model. Measured on the 2-core
CPU, three rounds in one session: 274.3-282.8 ms per step here against
255.5-300.9 ms for PyTorch eager (ratios 0.92-1.07; experiments/speed).
"""

from cnn_vs_rnn import configlib


def get_config():
  c = configlib.base_config()
  c.seed = 0
  c.data.name = 'synthetic'
  c.data.shape = (784, 1)
  c.data.num_classes = 10
  c.data.num_examples = 64
  c.data.batch_size = 64

  c.model.name = 'tcn'
  c.model.channels = (25,) * 8
  c.model.kernel_size = 7
  c.model.dropout = 0.0
  c.model.weight_norm = False
  c.model.pool = 'last'

  c.optim.name = 'adam'
  c.optim.learning_rate = 1e-3
  return c
