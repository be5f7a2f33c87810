"""Speed case `gru_seq` of torch_reference.py: a GRU over 200 steps.

One GRU layer (input 8, hidden 128) over T=200 steps, its last hidden state
-> Dense(10), softmax cross-entropy, Adam lr 1e-3, one fixed batch of 64
random inputs and labels (the 'synthetic' dataset, whose train split is
torch_reference.py's make_data batch).

  python -m cnn_vs_rnn.benchmark --config configs/bench/gru_seq.py
  python ../shared/peers/torch_reference.py --case gru_seq   # its own venv

Expected: 54,282 parameters, as the PyTorch model. Measured on the 2-core
CPU, three rounds in one session: 59.9-60.6 ms per step here against
84.6-106.9 ms for PyTorch eager (ratios 0.56-0.71; experiments/speed).
"""

from cnn_vs_rnn import configlib


def get_config():
  c = configlib.base_config()
  c.seed = 0
  c.data.name = 'synthetic'
  c.data.shape = (200, 8)
  c.data.num_classes = 10
  c.data.num_examples = 64
  c.data.batch_size = 64

  c.model.name = 'gru'
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
