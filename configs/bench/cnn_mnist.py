"""Speed case `cnn_mnist` of torch_reference.py: the PyTorch-examples MNIST CNN.

conv32 3x3 VALID, relu, conv64 3x3 VALID, relu, maxpool 2, flatten (9216),
dense128, relu, dense10 (no dropout: the 'cnn2d' defaults), softmax
cross-entropy, Adam lr 1e-3, one fixed batch of 128 random 28x28x1 images and
labels (the 'synthetic' dataset, whose train split is torch_reference.py's
make_data batch).

  python -m cnn_vs_rnn.benchmark --config configs/bench/cnn_mnist.py
  python ../shared/peers/torch_reference.py --case cnn_mnist   # its own venv

Expected: 1,199,882 parameters, as the PyTorch model. Measured on the 2-core
CPU, three rounds in one session: 88.7-90.1 ms per step here against
77.9-94.4 ms for PyTorch eager (ratios 0.94-1.14; experiments/speed).
"""

from cnn_vs_rnn import configlib


def get_config():
  c = configlib.base_config()
  c.seed = 0
  c.data.name = 'synthetic'
  c.data.shape = (28, 28, 1)
  c.data.num_classes = 10
  c.data.num_examples = 128
  c.data.batch_size = 128

  c.model.name = 'cnn2d'
  c.model.blocks = ((32, 64),)
  c.model.kernel_size = 3
  c.model.padding = 'VALID'
  c.model.pooling = 'max'
  c.model.pool_size = 2
  c.model.pool = 'flatten'
  c.model.dense = (128,)
  c.model.activation = 'relu'
  c.model.norm = 'none'
  c.model.dropout = 0.0
  # The CPU lever (the same function; experiments/speed/README.md): each
  # convolution as one matmul over image patches ('auto' picks it on CPU).
  # batch_chunk=4 (conv blocks 4 examples at a time) helped only while every
  # step page-faulted its buffers afresh; with the CLIs' host-memory policy the
  # whole batch at once is faster (93.7 vs 112.3 ms).
  c.model.conv_impl = 'im2col'
  c.model.batch_chunk = 0

  c.optim.name = 'adam'
  c.optim.learning_rate = 1e-3
  return c
