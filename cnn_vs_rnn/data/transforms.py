"""Views of a dataset: images as row or pixel sequences, fixed permutations.

`config.data.view` (applied after loading, to every split):
  ''        the dataset as it is;
  'rows'    images [H, W, C] -> sequences [H, W*C] (one row per step);
  'pixels'  images [H, W, C] -> sequences [H*W, C] (one pixel per step);
  'permuted' the time axis (pixels, for images) reordered by one fixed
            permutation drawn from `config.data.permutation_seed`
            (permuted MNIST; the shuffled-sequence MNIST-1D control);
  'permuted_image' images [H, W, C] -> images [H, W, C] whose pixels are
            moved by one fixed permutation (the same as 'permuted' draws):
            the grid's locality destroyed, its shape kept for a 2D CNN.
  'shuffled' the time axis (pixels, for images; frames, for video clips)
            of every example reordered by its own permutation, drawn from
            `config.data.permutation_seed` and the example's place in its
            split: no order is left to learn (the moving_digits control).
            For datasets held in memory.
Views chain left to right with commas: 'permuted_image,rows' shows the
permuted images row by row, so every family sees the same shuffled pixels.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from cnn_vs_rnn.errors import ConfigError

VIEWS = ('', 'rows', 'pixels', 'permuted', 'permuted_image', 'shuffled')


def view_fn(view: str, input_shape: tuple, permutation_seed: int = 0):
  """(function on an inputs array [N, *input_shape], new input_shape) for `view`.

  `view` may chain views with commas ('permuted_image,rows'), applied left to right.
  """
  fn, shape = (lambda x: x), tuple(input_shape)
  for part in view.split(',') if view else ():
    if part not in VIEWS or not part:
      raise ConfigError(f'unknown data.view {part!r} in {view!r}; valid: ' +
                        ', '.join(repr(v) for v in VIEWS if v) +
                        ", or several joined by commas")
    step, shape = _one_view(part, shape, permutation_seed)
    fn = (lambda f, g: lambda x: g(f(x)))(fn, step)
  return fn, shape


def _one_view(view: str, input_shape: tuple, permutation_seed: int):
  if view in ('rows', 'pixels', 'permuted_image') and len(input_shape) != 3:
    raise ConfigError(f'data.view={view!r} needs images [H, W, C], not inputs of '
                      f'shape {tuple(input_shape)}')
  if view == 'rows':
    H, W, C = input_shape
    return (lambda x: x.reshape(x.shape[0], H, W * C)), (H, W * C)
  if len(input_shape) == 3:  # images to pixel sequences first
    H, W, C = input_shape
    input_shape = (H * W, C)
    flatten = lambda x: x.reshape(x.shape[0], H * W, C)
  else:
    flatten = lambda x: x
  if view == 'pixels':
    return flatten, tuple(input_shape)
  if view == 'shuffled':
    return (lambda x: shuffle_each(flatten(x), permutation_seed)), tuple(input_shape)
  perm = np.random.default_rng(permutation_seed).permutation(input_shape[0])
  if view == 'permuted_image':
    return (lambda x: flatten(x)[:, perm].reshape(x.shape)), (H, W, C)
  return (lambda x: flatten(x)[:, perm]), tuple(input_shape)


def shuffle_each(x_NxTx, seed: int) -> np.ndarray:
  """Axis 1 of every row of x reordered by its own permutation, from default_rng(seed)."""
  n, steps = x_NxTx.shape[:2]
  order = np.random.default_rng(seed).permuted(np.tile(np.arange(steps), (n, 1)), axis=1)
  return np.take_along_axis(x_NxTx, order.reshape(order.shape + (1,) * (x_NxTx.ndim - 2)),
                            axis=1)


def apply_view(dataset, view: str, permutation_seed: int = 0):
  """The dataset with `view` applied to the inputs of every split."""
  fn, shape = view_fn(view, dataset.spec.input_shape, permutation_seed)
  if not view:
    return dataset
  if dataset.spec.per_step or dataset.spec.vocab_size:
    raise ConfigError(f'data.view={view!r} applies to real-valued, per-example inputs, '
                      f'not to {dataset.spec.task!r} data')

  def on_batch(batch):
    return {**batch, 'inputs': fn(batch['inputs'])}

  splits = {}
  for name, split in dataset.splits.items():
    if isinstance(split, dict):
      splits[name] = on_batch(split)
    elif 'shuffled' in view.split(','):
      raise ConfigError("data.view='shuffled' draws one order per example of a split "
                        f'held in memory; the {name!r} split of this dataset is read '
                        'record by record')
    else:
      splits[name] = dataclasses.replace(
          split, to_arrays=lambda recs, f=split.to_arrays: on_batch(f(recs)))
  return dataclasses.replace(dataset, spec=dataclasses.replace(dataset.spec, input_shape=shape),
                             splits=splits)
