"""Optimizers and learning-rate schedules from `config.optim`.

The optimizer's peak learning rate lives in its state
(`optax.inject_hyperparams`), so the replicas of one program, vmapped over
that state, may each train with their own (config.replicas.learning_rate).
"""

from __future__ import annotations

import jax.numpy as jnp
import optax

from cnn_vs_rnn.errors import ConfigError, choose


def _constant(lr, steps, end_factor):
  del steps, end_factor
  return optax.constant_schedule(lr)


def _cosine(lr, steps, end_factor):
  return optax.cosine_decay_schedule(lr, decay_steps=max(steps, 1), alpha=end_factor)


def _linear(lr, steps, end_factor):
  return optax.linear_schedule(lr, lr * end_factor, transition_steps=max(steps, 1))


SCHEDULES = {'constant': _constant, 'cosine': _cosine, 'linear': _linear}

OPTIMIZERS = {
    'adam': lambda lr, c: optax.adam(lr, b1=c.b1, b2=c.b2),
    'adamw': lambda lr, c: optax.adamw(lr, b1=c.b1, b2=c.b2, weight_decay=c.weight_decay),
    'sgd': lambda lr, c: optax.sgd(lr, momentum=c.momentum or None),
    # PyTorch's RMSprop defaults (alpha 0.99, eps outside the square root), as
    # the TCN paper's copy-memory runs used it.
    'rmsprop': lambda lr, c: optax.rmsprop(lr, decay=0.99, eps=1e-8, eps_in_sqrt=False,
                                           momentum=c.momentum or None),
}


def make_schedule(optim_config, num_train_steps: int, learning_rate=None) -> optax.Schedule:
  """`optim.schedule` after `optim.warmup_steps` of linear warm-up from 0.

  `learning_rate`: the peak (default optim.learning_rate); a traced scalar
  inside the optimizer, where each replica carries its own.
  """
  c = optim_config
  lr = c.learning_rate if learning_rate is None else learning_rate
  if c.warmup_steps >= num_train_steps:
    raise ConfigError(f'optim.warmup_steps={c.warmup_steps} must be smaller than '
                      f'num_train_steps={num_train_steps}')
  main = choose('schedule', c.schedule, SCHEDULES)(
      lr, num_train_steps - c.warmup_steps, c.end_learning_rate_factor)
  if not c.warmup_steps:
    return main
  warmup = optax.linear_schedule(0.0, lr, c.warmup_steps)
  return optax.join_schedules([warmup, main], [c.warmup_steps])


def _optimizer(learning_rate, *, optim_config, num_train_steps: int):
  """Global-norm clipping (if grad_clip_norm > 0), then the optimizer at peak `learning_rate`."""
  make = choose('optimizer', optim_config.name, OPTIMIZERS)
  tx = make(make_schedule(optim_config, num_train_steps, learning_rate), optim_config)
  if optim_config.grad_clip_norm > 0:
    tx = optax.chain(optax.clip_by_global_norm(optim_config.grad_clip_norm), tx)
  return tx


def make_optimizer(optim_config, num_train_steps: int) -> optax.GradientTransformation:
  """Clipping and the optimizer, with the peak learning rate held in the state.

  The state's `hyperparams['learning_rate']` starts as optim.learning_rate;
  `with_learning_rate` sets another.
  """
  choose('optimizer', optim_config.name, OPTIMIZERS)  # Unknown names fail here, not traced.
  make_schedule(optim_config, num_train_steps)
  def factory(learning_rate):  # inject_hyperparams makes every argument a hyper-parameter.
    return _optimizer(learning_rate, optim_config=optim_config,
                      num_train_steps=num_train_steps)

  return optax.inject_hyperparams(factory)(learning_rate=optim_config.learning_rate)


def with_learning_rate(opt_state, learning_rate):
  """`opt_state` (of make_optimizer) with peak learning rate `learning_rate`."""
  hyperparams = dict(opt_state.hyperparams)
  old = hyperparams['learning_rate']
  hyperparams['learning_rate'] = jnp.asarray(learning_rate, old.dtype).reshape(old.shape)
  return opt_state._replace(hyperparams=hyperparams)
