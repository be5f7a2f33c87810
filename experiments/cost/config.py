"""One family of the cost study: a train step on random sequences (not a training config).

  python -m cnn_vs_rnn.benchmark --config experiments/cost/config.py:FAMILY \
      --config.data.shape='(T, 1)' --config.data.batch_size=B --config.data.num_examples=B \
      [--config.model.channels='(25, 25, 25)']   # tcn: one entry per level

FAMILY is one of FAMILIES below. The data is the 'synthetic' dataset: one
fixed batch of standard-normal (T, 1) inputs and 10 random labels, the inputs
of ../shared/peers/torch_reference.py's make_data (run.py sets num_examples to
the batch size). Every family reads its last step ('last'), except the plain
1D CNN, which averages over time ('mean'; 'flatten' would make its parameter
count grow with T). Every model is sized to model.param_budget (100,000 by
default). Softmax cross-entropy, Adam lr 1e-3, float32: the benchmark's train
step. experiments/cost/run.py makes the commands; no accuracy is expected.
"""

from cnn_vs_rnn import configlib

# name -> (model.name, fields set on top of that model's defaults)
FAMILIES = {
    'lstm_scan': ('lstm', {'recurrence': 'scan'}),
    'lstm_fused': ('lstm', {'recurrence': 'fused'}),
    'gru': ('gru', {'recurrence': 'fused'}),
    'gru_scan': ('gru', {'recurrence': 'scan'}),
    'elman': ('elman', {'recurrence': 'fused'}),
    # As torch_reference.py's tcn_seq: kernel 7, no weight norm, no dropout;
    # run.py sets the number of levels (len(channels)) to cover T.
    'tcn': ('tcn', {'kernel_size': 7, 'weight_norm': False, 'dropout': 0.0,
                    'channels': (25, 25, 25, 25)}),
    'lru_assoc': ('lru', {'scan_type': 'associative'}),
    'lru_seq': ('lru', {'scan_type': 'sequential'}),
    'cnn1d': ('cnn1d', {'pool': 'mean'}),
}
PARAM_BUDGET = 100_000


def get_config(family: str = 'gru'):
  if family not in FAMILIES:
    raise ValueError(f'unknown family {family!r}; valid: {", ".join(FAMILIES)}')
  model_name, fields = FAMILIES[family]
  c = configlib.base_config()
  c.seed = 0
  c.data.name = 'synthetic'
  c.data.shape = (256, 1)
  c.data.num_classes = 10
  c.data.num_examples = 32
  c.data.batch_size = 32

  c.model.name = model_name
  c.model.param_budget = PARAM_BUDGET
  for key, value in fields.items():
    setattr(c.model, key, value)

  c.optim.name = 'adam'
  c.optim.learning_rate = 1e-3
  return c
