"""Losses and metrics per task kind.

A task maps (model outputs, batch) to a scalar training loss and to metric
*sums* weighted by `batch['weights']` (0 on padding), so metrics over any
number of batches are sums divided by the summed `count`.
"""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp
import optax

from cnn_vs_rnn.errors import choose


@dataclasses.dataclass(frozen=True)
class Classification:
  """Cross-entropy and accuracy, one label per example."""
  name: str = 'classification'
  metric_names = ('loss', 'accuracy')

  def per_example(self, logits_BxK, batch):
    labels_B = batch['targets']
    loss_B = optax.softmax_cross_entropy_with_integer_labels(
        logits_BxK.astype(jnp.float32), labels_B)
    correct_B = (jnp.argmax(logits_BxK, -1) == labels_B).astype(jnp.float32)
    return {'loss': loss_B, 'accuracy': correct_B}


@dataclasses.dataclass(frozen=True)
class Regression:
  """Mean squared error (the loss) and mean absolute error, per example."""
  name: str = 'regression'
  metric_names = ('loss', 'mse', 'mae')

  def per_example(self, preds_BxD, batch):
    err = preds_BxD.astype(jnp.float32) - batch['targets'].reshape(preds_BxD.shape)
    mse_B = jnp.mean(jnp.square(err).reshape(err.shape[0], -1), axis=-1)
    mae_B = jnp.mean(jnp.abs(err).reshape(err.shape[0], -1), axis=-1)
    return {'loss': mse_B, 'mse': mse_B, 'mae': mae_B}


TASKS = {'classification': Classification(), 'regression': Regression()}


def get(name: str):
  return choose('task', name, TASKS)


def loss_and_sums(task, outputs, batch):
  """(mean loss over real examples, weighted metric sums including 'count')."""
  w_B = batch['weights']
  sums = {k: jnp.sum(v * w_B) for k, v in task.per_example(outputs, batch).items()}
  sums['count'] = jnp.sum(w_B)
  return sums['loss'] / jnp.maximum(sums['count'], 1.0), sums


def means(sums: dict) -> dict:
  """Metric sums -> means (the 'count' key is dropped)."""
  count = max(float(sums['count']), 1.0)
  return {k: float(v) / count for k, v in sums.items() if k != 'count'}
