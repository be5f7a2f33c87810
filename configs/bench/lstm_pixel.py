"""Speed case `lstm_pixel` of torch_reference.py: an LSTM over 784 pixels.

One LSTM layer (input 1, hidden 128) over T=784 steps, its last hidden state
-> Dense(10), softmax cross-entropy, Adam lr 1e-3, one fixed batch of 64
random inputs and labels (the 'synthetic' dataset, whose train split is
torch_reference.py's make_data batch).

  python -m cnn_vs_rnn.benchmark --config configs/bench/lstm_pixel.py
  python ../shared/peers/torch_reference.py --case lstm_pixel   # its own venv

Expected: 68,362 parameters, as the PyTorch model. Measured on the 2-core
CPU, three rounds in one session: 291.1-298.7 ms per step here against
310.2-354.7 ms for PyTorch eager (ratios 0.84-0.94; experiments/speed). Shorter sequences:
--config.data.shape='(196, 1)' (and --seq-len 196 for the reference).
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

  c.model.name = 'lstm'
  c.model.hidden_size = 128
  c.model.num_layers = 1
  c.model.pool = 'last'
  c.model.unroll = 1
  # The hand-written backward pass (kernels/fused_rnn.py), faster on CPU; 'scan' is
  # nn.scan over the cell, the same function and parameters.
  c.model.recurrence = 'fused'

  c.optim.name = 'adam'
  c.optim.learning_rate = 1e-3
  return c
