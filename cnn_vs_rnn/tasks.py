"""Losses and metrics per task kind.

A task maps (model outputs, batch) to per-example metric sums and a
per-example count (1 per example, or the number of scored positions for
per-step tasks). Multiplied by `batch['weights']` (0 on padding) and summed,
they give metric sums over any number of batches; `means` divides by the
summed count and adds derived metrics (bits per character, perplexity).
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import optax

from cnn_vs_rnn.errors import choose


def _cross_entropy(logits, labels):
  return optax.softmax_cross_entropy_with_integer_labels(logits.astype(jnp.float32), labels)


@dataclasses.dataclass(frozen=True)
class Classification:
  """Cross-entropy and accuracy, one label per example: outputs [B, K], targets [B]."""

  def per_example(self, logits_BxK, batch):
    labels_B = batch['targets']
    correct_B = (jnp.argmax(logits_BxK, -1) == labels_B).astype(jnp.float32)
    return {'loss': _cross_entropy(logits_BxK, labels_B), 'accuracy': correct_B}, 1.0

  def derived(self, means: dict) -> dict:
    return means


@dataclasses.dataclass(frozen=True)
class Regression:
  """Mean squared error (the loss) and mean absolute error over each example's values.

  outputs [B, D], targets [B, D]; or any shape of the same size per example,
  e.g. predicted frames [B, H, W, C] (the pixel_regression task).
  """

  def per_example(self, preds_BxD, batch):
    err = preds_BxD.astype(jnp.float32) - batch['targets'].reshape(preds_BxD.shape)
    err = err.reshape(err.shape[0], -1)
    mse_B = jnp.mean(jnp.square(err), axis=-1)
    return {'loss': mse_B, 'mse': mse_B, 'mae': jnp.mean(jnp.abs(err), axis=-1)}, 1.0

  def derived(self, means: dict) -> dict:
    return means


@dataclasses.dataclass(frozen=True)
class PerStepClassification:
  """Cross-entropy and accuracy averaged over the scored positions.

  outputs [B, T, K], targets [B, T]; `batch['target_mask']` [B, T] (optional)
  marks the positions that count (padding and unscored steps are 0).
  """

  def per_example(self, logits_BxTxK, batch):
    labels_BxT = batch['targets']
    mask_BxT = batch.get('target_mask')
    if mask_BxT is None:
      mask_BxT = jnp.ones(labels_BxT.shape, jnp.float32)
    ce_BxT = _cross_entropy(logits_BxTxK, labels_BxT)
    correct_BxT = (jnp.argmax(logits_BxTxK, -1) == labels_BxT).astype(jnp.float32)
    return ({'loss': jnp.sum(ce_BxT * mask_BxT, -1),
             'accuracy': jnp.sum(correct_BxT * mask_BxT, -1)},
            jnp.sum(mask_BxT, -1))

  def derived(self, means: dict) -> dict:
    return means


@dataclasses.dataclass(frozen=True)
class LanguageModel(PerStepClassification):
  """Next-token prediction: per-step cross-entropy, bits per character, perplexity."""

  def derived(self, means: dict) -> dict:
    out = dict(means)
    out['bits_per_char'] = means['loss'] / math.log(2)
    out['perplexity'] = math.exp(min(means['loss'], 700.0))
    return out


@dataclasses.dataclass(frozen=True)
class Forecasting:
  """Next-H-steps regression: MSE (the loss) and MAE overall and per horizon step.

  outputs [B, H] (or [B, H*D]), targets [B, H] or [B, H, D].
  """

  def per_example(self, preds, batch):
    targets = batch['targets']
    B, H = targets.shape[0], targets.shape[1]
    err_BxHxD = (preds.astype(jnp.float32).reshape(targets.shape) - targets).reshape(B, H, -1)
    se_BxH = jnp.mean(jnp.square(err_BxHxD), -1)
    ae_BxH = jnp.mean(jnp.abs(err_BxHxD), -1)
    out = {'loss': jnp.mean(se_BxH, -1), 'mse': jnp.mean(se_BxH, -1),
           'mae': jnp.mean(ae_BxH, -1)}
    for h in range(H):
      out[f'mse_h{h + 1}'] = se_BxH[:, h]
      out[f'mae_h{h + 1}'] = ae_BxH[:, h]
    return out, 1.0

  def derived(self, means: dict) -> dict:
    return means


TASKS = {
    'classification': Classification(),
    'regression': Regression(),
    'per_step_classification': PerStepClassification(),
    'language_model': LanguageModel(),
    'forecasting': Forecasting(),
    # Next-frame prediction: per-pixel MSE and MAE; its baselines add
    # persistence (the last input frame; data/baselines.py).
    'pixel_regression': Regression(),
}


def get(name: str):
  return choose('task', name, TASKS)


def loss_and_sums(task, outputs, batch):
  """(mean loss over the scored examples or positions, weighted metric sums incl. 'count')."""
  w_B = batch['weights']
  # Losses and metrics in (at least) float32, whatever the model computed in.
  outputs = outputs.astype(jnp.promote_types(outputs.dtype, jnp.float32))
  values, count_B = task.per_example(outputs, batch)
  # where, not a product: a padded row may give NaN (e.g. max-pooling zero steps).
  sums = {k: jnp.sum(jnp.where(w_B > 0, v * w_B, 0.0)) for k, v in values.items()}
  sums['count'] = jnp.sum(jnp.broadcast_to(count_B, w_B.shape) * w_B)
  return sums['loss'] / jnp.maximum(sums['count'], 1.0), sums


def means(task, sums: dict) -> dict:
  """Metric sums -> means (the 'count' key is dropped), plus the task's derived metrics."""
  count = max(float(sums['count']), 1.0)
  return task.derived({k: float(v) / count for k, v in sums.items() if k != 'count'})


# The validation metric that selects a run's best step, and whether higher is better.
SELECTION = {
    'classification': ('accuracy', 'max'),
    'regression': ('mse', 'min'),
    'per_step_classification': ('loss', 'min'),
    'language_model': ('loss', 'min'),
    'forecasting': ('mse', 'min'),
    'pixel_regression': ('mse', 'min'),
}


def selection(task_name: str) -> tuple[str, str]:
  """(metric, 'max' or 'min') that picks the best step of a `task_name` run."""
  return SELECTION.get(task_name, ('loss', 'min'))


def register(name: str, *, selection: tuple[str, str] = ('loss', 'min')):  # pylint: disable=redefined-outer-name
  """Class decorator: a task kind `name` (datasets name it in DataSpec.task).

  The class has `per_example(outputs, batch) -> (dict of per-example values,
  count)` with a 'loss' entry, and `derived(means) -> means`; `selection` is
  the validation metric that picks the best step and 'max' or 'min'.
  """
  def wrap(cls):
    TASKS[name] = cls()
    SELECTION[name] = tuple(selection)
    return cls
  return wrap


def model_inputs(task, batch) -> dict:
  """Batch entries a task hands the model as keyword arguments (besides inputs, lengths).

  A task with a `model_inputs(batch) -> dict` method names them: a
  sequence-to-sequence model reads the targets, shifted right, as its
  decoder inputs when training (teacher forcing), and their length when
  decoding greedily. Other tasks give none.
  """
  fn = getattr(task, 'model_inputs', None)
  return fn(batch) if fn is not None else {}


def _ratio(num: float, den: float) -> float:
  return num / den if den > 0 else 0.0


@register('seq2seq', selection=('exact_match', 'max'))
@dataclasses.dataclass(frozen=True)
class Seq2Seq:
  """Sequence-to-sequence transduction: per-token cross-entropy, exact match, char accuracy.

  outputs [B, T, V] (the decoder's logits for each target position), targets
  [B, T] token ids ending in EOS, then padding; `batch['target_mask']` [B, T]
  marks the target tokens (EOS included). The model gets the targets too
  (`model_inputs`): teacher-forced when training, only their length when
  decoding greedily at evaluation, where the loss is the cross-entropy of
  the greedy decoder's logits. (So train/* metrics are teacher-forced,
  eval/* ones score what the model generates.)

  loss           cross-entropy per target token (the count is the tokens)
  char_accuracy  correct target tokens / target tokens
  exact_match    examples whose every target token is right / examples:
                 summed per example with a second count, 'examples', which
                 `derived` divides by (the token count cancels)
  """

  def model_inputs(self, batch):
    return {'targets': batch['targets']}

  def per_example(self, logits_BxTxV, batch):
    labels_BxT = batch['targets']
    mask_BxT = batch.get('target_mask')
    if mask_BxT is None:
      mask_BxT = jnp.ones(labels_BxT.shape, jnp.float32)
    mask_BxT = mask_BxT.astype(jnp.float32)
    ce_BxT = _cross_entropy(logits_BxTxV, labels_BxT)
    correct_BxT = (jnp.argmax(logits_BxTxV, -1) == labels_BxT).astype(jnp.float32)
    wrong_B = jnp.sum((1.0 - correct_BxT) * mask_BxT, -1)
    ones_B = jnp.ones(labels_BxT.shape[:1], jnp.float32)
    return ({'loss': jnp.sum(ce_BxT * mask_BxT, -1),
             'char_accuracy': jnp.sum(correct_BxT * mask_BxT, -1),
             'exact_match': (wrong_B == 0).astype(jnp.float32),
             'examples': ones_B},
            jnp.sum(mask_BxT, -1))

  def derived(self, means: dict) -> dict:
    out = {k: v for k, v in means.items() if k not in ('exact_match', 'examples')}
    out['exact_match'] = _ratio(means['exact_match'], means['examples'])
    return out


@register('dense', selection=('mean_iou', 'max'))
@dataclasses.dataclass(frozen=True)
class Dense:
  """Per-pixel classification: cross-entropy, pixel accuracy, per-class and mean IoU.

  outputs [B, H, W, K], targets [B, H, W] class ids. The count is the pixels.
  IoU is a ratio of sums over the whole split, not a mean of per-batch
  ratios: each example contributes its per-class intersection |pred = k and
  label = k| and union |pred = k or label = k| pixel counts; `means` divides
  both by the same pixel count, so their ratio in `derived` is
  sum(intersection_k) / sum(union_k) over every example evaluated.
  `mean_iou` averages iou_k over the classes that occur (union > 0),
  background (class 0) included.
  """

  def per_example(self, logits_BxHxWxK, batch):
    labels_BxHxW = batch['targets']
    K = logits_BxHxWxK.shape[-1]
    B = labels_BxHxW.shape[0]
    pred_BxHxW = jnp.argmax(logits_BxHxWxK, -1)
    ce_B = jnp.sum(_cross_entropy(logits_BxHxWxK, labels_BxHxW).reshape(B, -1), -1)
    correct_B = jnp.sum((pred_BxHxW == labels_BxHxW).reshape(B, -1), -1)
    out = {'loss': ce_B, 'pixel_accuracy': correct_B.astype(jnp.float32)}
    pred_BxPxK = jax.nn.one_hot(pred_BxHxW.reshape(B, -1), K, dtype=jnp.float32)
    label_BxPxK = jax.nn.one_hot(labels_BxHxW.reshape(B, -1), K, dtype=jnp.float32)
    inter_BxK = jnp.sum(pred_BxPxK * label_BxPxK, 1)
    union_BxK = jnp.sum(pred_BxPxK + label_BxPxK, 1) - inter_BxK
    for k in range(K):
      out[f'intersection_{k}'] = inter_BxK[:, k]
      out[f'union_{k}'] = union_BxK[:, k]
    pixels = math.prod(labels_BxHxW.shape[1:])
    return out, float(pixels)

  def derived(self, means: dict) -> dict:
    out = {k: v for k, v in means.items() if not k.startswith(('intersection_', 'union_'))}
    ious = []
    k = 0
    while f'union_{k}' in means:
      iou = _ratio(means[f'intersection_{k}'], means[f'union_{k}'])
      out[f'iou_{k}'] = iou
      if means[f'union_{k}'] > 0:
        ious.append(iou)
      k += 1
    out['mean_iou'] = sum(ious) / len(ious) if ious else 0.0
    return out
