"""Linear recurrent unit (Orvieto et al. 2023) on the adding problem, T=200.

Two residual LRU blocks (d_model 32, 64 complex states each, GLU mixing),
read out at the last step, about 21k parameters (the GRU of adding_gru.py has
18.8k). The eigenvalues start on the ring 0.9 <= |lambda| <= 0.999, the
paper's initialisation for long-range tasks, and the stable exponential
parameterisation keeps |lambda| < 1 throughout training. The optimiser is
configs/adding_gru.py's (Adam 2e-3, clipping at 1, 4000 steps).

  python -m cnn_vs_rnn.train --config configs/adding_lru.py --workdir runs/adding_lru

Expected: see experiments/vanishing_exploding/README.md (5 seeds at this size)
and experiments/cnns_for_sequences/README.md (3 seeds, learning rate chosen on
validation, at that study's parameter budget).
"""

from cnn_vs_rnn import configlib


def get_config():
  c = configlib.load_sibling(__file__, 'adding_gru.py')
  c.model = configlib.base_config().model
  c.model.name = 'lru'
  c.model.d_model = 32
  c.model.d_state = 64
  c.model.num_layers = 2
  c.model.r_min = 0.9
  c.model.r_max = 0.999
  c.model.max_phase = 6.283
  c.model.mlp = 'glu'
  c.model.dropout = 0.0
  c.model.scan_type = 'associative'
  c.model.pool = 'last'
  return c
