"""Optimizers and learning-rate schedules from `config.optim`."""

from __future__ import annotations

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


def make_schedule(optim_config, num_train_steps: int) -> optax.Schedule:
  """`optim.schedule` after `optim.warmup_steps` of linear warm-up from 0."""
  c = optim_config
  if c.warmup_steps >= num_train_steps:
    raise ConfigError(f'optim.warmup_steps={c.warmup_steps} must be smaller than '
                      f'num_train_steps={num_train_steps}')
  main = choose('schedule', c.schedule, SCHEDULES)(
      c.learning_rate, num_train_steps - c.warmup_steps, c.end_learning_rate_factor)
  if not c.warmup_steps:
    return main
  warmup = optax.linear_schedule(0.0, c.learning_rate, c.warmup_steps)
  return optax.join_schedules([warmup, main], [c.warmup_steps])


def make_optimizer(optim_config, num_train_steps: int) -> optax.GradientTransformation:
  """Global-norm clipping (if grad_clip_norm > 0), then the optimizer."""
  make = choose('optimizer', optim_config.name, OPTIMIZERS)
  tx = make(make_schedule(optim_config, num_train_steps), optim_config)
  if optim_config.grad_clip_norm > 0:
    tx = optax.chain(optax.clip_by_global_norm(optim_config.grad_clip_norm), tx)
  return tx
