"""The config skeleton every config shares, its validation and comparison."""

from __future__ import annotations

import importlib
import importlib.util
import math
import os

import ml_collections

from cnn_vs_rnn.errors import ConfigError, show

# Keys that change how often a run reports or saves, not what it computes:
# a run may resume with other values for them.
RESUMABLE_KEYS = frozenset({
    'log_every_steps', 'eval_every_steps', 'checkpoint_every_steps',
    'max_checkpoints_to_keep', 'diagnostics_every_steps'})

# Computation dtypes of the models (models/precision.py); parameters stay float32.
DTYPES = ('float32', 'bfloat16')


MAX_SEED = 2**31  # Seeds are in [0, MAX_SEED): every RNG here takes them.


def base_config() -> ml_collections.ConfigDict:
  """Fields every config has (README, Training: the config contract); configs override them."""
  c = ml_collections.ConfigDict()
  c.seed = 0
  c.num_train_steps = 1000
  c.log_every_steps = 100
  c.eval_every_steps = 500
  c.checkpoint_every_steps = 500
  c.max_checkpoints_to_keep = 3
  # Independent replicas trained together in one compiled step (vmap over a
  # leading seed axis): replica k is the run with seed `seed + k`.
  c.num_seeds = 1
  # A grid of hyper-parameter points, each trained by num_seeds replicas in the
  # same program: replicas.learning_rate = (1e-3, 3e-3) gives 2 x num_seeds
  # replicas (replicas.py). Empty: the one point optim.learning_rate.
  c.replicas = ml_collections.ConfigDict()
  c.replicas.learning_rate = ()
  # Train steps per compiled call (a lax.scan over K steps) when the train
  # split is held on the devices; the loop shortens a call to stop at every
  # log, eval and checkpoint step.
  c.steps_per_loop = 1
  # Every N steps, log how the gradient flows through time (diag/* keys of
  # metrics.jsonl: ||dL/dh_t|| at the first, middle and last step, and the
  # first over the last) on a fixed batch of the eval split; 0 turns it off.
  # It reads the state only: the training trajectory is the same.
  c.diagnostics_every_steps = 0
  # Evaluate each point's best step on test at the end of the run. False: validation
  # only, for a caller that picks a point first and then evaluates that point on
  # test once (`python -m cnn_vs_rnn.evaluate --best --point P --split test`; compare).
  c.report_test = True
  # Modules to import before the registries are read ('my_pkg.models,my_pkg.data'):
  # where a user's own models and datasets register themselves. Recorded in
  # config.json, so resume, evaluate and sample import them again.
  c.imports = ''
  # What every model computes in: 'float32', or 'bfloat16' (parameters, optimizer
  # state, normalisation statistics, recurrent states and the loss stay float32).
  c.dtype = 'float32'

  c.model = ml_collections.ConfigDict()
  c.model.name = ''
  # > 0: scale the model's widths to about this many parameters (models/sizing.py).
  c.model.param_budget = 0

  c.data = ml_collections.ConfigDict()
  c.data.name = ''
  c.data.batch_size = 128
  # 0 means: the same as batch_size.
  c.data.eval_batch_size = 0
  # The split evaluated during training and in final_metrics.json: 'validation'
  # (every dataset has one; data/splits.py) for model selection; 'test' for a
  # final report.
  c.data.eval_split = 'validation'
  # Hold an in-memory train split whole on the devices and gather batches there.
  c.data.device_resident = True
  # How the model sees the inputs (data/transforms.py): '' as they are, 'rows',
  # 'pixels', 'permuted', 'permuted_image', or several joined by commas; the
  # permutations are drawn from permutation_seed.
  c.data.view = ''
  c.data.permutation_seed = 0

  c.optim = ml_collections.ConfigDict()
  c.optim.name = 'adam'
  c.optim.learning_rate = 1e-3
  c.optim.schedule = 'constant'
  c.optim.warmup_steps = 0
  c.optim.end_learning_rate_factor = 0.0
  c.optim.momentum = 0.9
  c.optim.b1 = 0.9
  c.optim.b2 = 0.999
  c.optim.weight_decay = 0.0
  # 0 turns clipping off.
  c.optim.grad_clip_norm = 0.0
  return c


class NoGetConfig(AttributeError):
  """A config file that defines no get_config()."""


def load_config_file(path: str, arg: str | None = None) -> ml_collections.ConfigDict:
  """Runs `get_config()` (or `get_config(arg)`) of the config file at `path` (for
  configs that extend others)."""
  if not os.path.isfile(path):
    raise ConfigError(f'config file {path!r} does not exist')
  name = '_cnn_vs_rnn_config_' + os.path.splitext(os.path.basename(path))[0]
  spec = importlib.util.spec_from_file_location(name, path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  if not callable(getattr(module, 'get_config', None)):
    raise NoGetConfig(f'config file {path!r} has no get_config() function')
  return module.get_config() if arg is None else module.get_config(arg)


def load_sibling(config_file: str, name: str) -> ml_collections.ConfigDict:
  """The config of `name` in the directory of `config_file` (a variant's base)."""
  return load_config_file(os.path.join(os.path.dirname(os.path.abspath(config_file)), name))


def validate(config: ml_collections.ConfigDict) -> None:
  """Checks the fields that have to hold before anything is built."""
  for key in ('num_train_steps', 'log_every_steps', 'eval_every_steps',
              'checkpoint_every_steps', 'max_checkpoints_to_keep', 'num_seeds',
              'steps_per_loop'):
    _positive_int(key, config.get(key, 1))
  _positive_int('data.batch_size', config.data.batch_size)
  every = config.get('diagnostics_every_steps', 0)
  if isinstance(every, bool) or not isinstance(every, int) or every < 0:
    raise ConfigError(f'diagnostics_every_steps={show(every)} must be an integer >= 0 '
                      '(0 turns the diagnostics off)')
  dtype = config.get('dtype', 'float32')
  if dtype not in DTYPES:
    raise ConfigError(f"unknown dtype {show(dtype)}; valid: {', '.join(DTYPES)}")
  if config.data.eval_batch_size != 0:
    _positive_int('data.eval_batch_size', config.data.eval_batch_size)
  lr = config.optim.learning_rate
  if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not 0 < lr < math.inf:
    raise ConfigError(f'optim.learning_rate={show(lr)} must be a finite number > 0')
  seed, num_seeds = config.seed, config.get('num_seeds', 1)
  if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED - num_seeds:
    raise ConfigError(f'seed={show(seed)} must be an integer in [0, {MAX_SEED - num_seeds}] '
                      f'(seeds are 0 .. 2**31 - 1, and a run uses seed .. seed + '
                      f'num_seeds - 1)')
  _check_replicas(config)
  if config.optim.grad_clip_norm < 0:
    raise ConfigError(
        f'optim.grad_clip_norm={config.optim.grad_clip_norm!r} must be >= 0 '
        '(0 turns clipping off)')
  if config.optim.warmup_steps < 0:
    raise ConfigError(
        f'optim.warmup_steps={config.optim.warmup_steps!r} must be >= 0')


def _check_replicas(config) -> None:
  """config.replicas.learning_rate: a tuple of finite numbers > 0 (empty: optim's)."""
  rates = config.get('replicas', {}).get('learning_rate', ())
  if not isinstance(rates, (tuple, list)):
    raise ConfigError(f'replicas.learning_rate={show(rates)} must be a tuple of learning '
                      'rates, e.g. (1e-3, 3e-3), or () for optim.learning_rate')
  for lr in rates:
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not 0 < lr < math.inf:
      raise ConfigError(f'replicas.learning_rate={show(tuple(rates))} must hold finite '
                        f'numbers > 0, not {show(lr)}')
  if len(set(rates)) != len(rates):
    raise ConfigError(f'replicas.learning_rate={show(tuple(rates))} names a rate twice')


def _positive_int(key, value):
  if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
    raise ConfigError(f'{key}={show(value)} must be a positive integer')


def import_plugins(config) -> list[str]:
  """Imports the modules named in `config.imports` (comma-separated); their names."""
  spec = config.get('imports', '') or ''
  if not isinstance(spec, str):
    raise ConfigError(f'imports={show(spec)} must be a comma-separated string of module '
                      "names, e.g. 'my_pkg.models,my_pkg.data'")
  names = [n.strip() for n in spec.split(',') if n.strip()]
  for name in names:
    try:
      importlib.import_module(name)
    except ImportError as e:
      raise ConfigError(f'imports: cannot import {name!r} ({type(e).__name__}: '
                        f'{str(e)[:200]}); the module must be importable from the '
                        'current directory or the Python path') from None
  return names


def eval_batch_size(config) -> int:
  return config.data.eval_batch_size or config.data.batch_size


def flatten(d, prefix='') -> dict:
  """{'a': {'b': 1}} -> {'a.b': 1}."""
  out = {}
  for k, v in d.items():
    if isinstance(v, dict):
      out.update(flatten(v, f'{prefix}{k}.'))
    else:
      out[f'{prefix}{k}'] = v
  return out


# Keys added after runs were already recorded: a config.json without them
# had their default.
ADDED_KEYS = {'num_seeds': 1, 'steps_per_loop': 1, 'dtype': 'float32', 'imports': '',
              'diagnostics_every_steps': 0, 'replicas.learning_rate': ()}


def differing_keys(old: dict, new: dict) -> list[str]:
  """Keys of two config dicts whose values differ, ignoring RESUMABLE_KEYS."""
  a, b = ({**ADDED_KEYS, **flatten(d)} for d in (old, new))
  keys = sorted(set(a) | set(b))
  return [k for k in keys
          if k not in RESUMABLE_KEYS and _normalise(a.get(k)) != _normalise(b.get(k))]


def _normalise(v):
  # JSON turns tuples into lists, nested ones too (e.g. model.blocks).
  return [_normalise(x) for x in v] if isinstance(v, (tuple, list)) else v
