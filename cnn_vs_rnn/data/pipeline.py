"""Deterministic, checkpointable batching over random-access records.

A split is a random-access source: a dict of NumPy arrays with a shared
leading dimension (small datasets, held whole in memory), or a `MappedSource`
that reads records from a TFDS data source on demand and turns a list of them
into arrays. The train stream is the concatenation of per-epoch permutations
drawn from (seed, epoch), so the batch at a given position is a pure function
of (seed, position): saving the position is saving the iterator.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Iterator

import numpy as np

from cnn_vs_rnn.errors import ConfigError

Batch = dict[str, np.ndarray]


@dataclasses.dataclass(frozen=True)
class MappedSource:
  """Records of a random-access source (e.g. a TFDS data source), batched by `to_arrays`.

  `inputs_length`, if set, maps the record indices of a whole global batch to
  the time length its inputs are cut to. Every process passes the same
  global batch, so all of them build batches of the same shape (e.g. the
  same padding bucket) even though each reads only its own slice.
  `targets`, if set, holds every record's target, for baselines.py, where
  the loader has them without reading the inputs.
  """
  source: Any
  to_arrays: Callable[[list], Batch]
  inputs_length: Callable[[np.ndarray], int] | None = None
  targets: np.ndarray | None = None

  def __len__(self) -> int:
    return len(self.source)

  def take(self, indices: np.ndarray, batch_indices: np.ndarray | None = None) -> Batch:
    batch = self.to_arrays(self.source.__getitems__([int(i) for i in indices]))
    if self.inputs_length is not None:
      length = self.inputs_length(indices if batch_indices is None else batch_indices)
      batch['inputs'] = batch['inputs'][:, :length]
    return batch


def num_examples(split) -> int:
  if isinstance(split, dict):
    return len(next(iter(split.values())))
  return len(split)


def take(split, indices: np.ndarray, batch_indices: np.ndarray | None = None) -> Batch:
  """The examples at `indices` of a split, as arrays.

  `batch_indices`: all the examples of the global batch that `indices` are
  this process's part of (default: `indices`); they fix batch-wide shapes.
  """
  if isinstance(split, dict):
    return {k: v[indices] for k, v in split.items()}
  return split.take(indices, batch_indices)


def epoch_permutation(seed: int, epoch: int, n: int) -> np.ndarray:
  return np.random.default_rng([seed, epoch]).permutation(n)


@dataclasses.dataclass
class TrainIterator:
  """Endless shuffled batches; `position` counts the global examples consumed.

  Each process reads its own contiguous slice of every global batch, so with
  several hosts the union of their slices is the global batch.
  """

  split: Any  # dict of arrays or MappedSource
  global_batch_size: int
  seed: int
  position: int = 0
  process_index: int = 0
  process_count: int = 1
  shuffle: bool = True

  def __post_init__(self):
    self._n = num_examples(self.split)
    self._perm_epoch = None
    self._perm = None

  def _order(self, epoch: int) -> np.ndarray:
    if self._perm_epoch != epoch:
      self._perm_epoch = epoch
      self._perm = (epoch_permutation(self.seed, epoch, self._n)
                    if self.shuffle else np.arange(self._n))
    return self._perm

  def global_indices(self, position: int) -> np.ndarray:
    """Record indices of the global batch that starts at `position`."""
    positions = position + np.arange(self.global_batch_size)
    epochs, offsets = np.divmod(positions, self._n)
    out = np.empty_like(positions)
    for epoch in np.unique(epochs):
      sel = epochs == epoch
      out[sel] = self._order(int(epoch))[offsets[sel]]
    return out

  def __iter__(self) -> Iterator[Batch]:
    return self

  def next_global_indices(self) -> np.ndarray:
    """Record indices of the whole next global batch; advances the position.

    For data held whole on the devices, which gather the batch themselves.
    """
    idx = self.global_indices(self.position)
    self.position += self.global_batch_size
    return idx

  def __next__(self) -> Batch:
    global_idx = self.next_global_indices()
    per_process = self.global_batch_size // self.process_count
    idx = global_idx[self.process_index * per_process:(self.process_index + 1) * per_process]
    batch = take(self.split, idx, global_idx)
    batch['weights'] = np.ones(len(idx), np.float32)
    return batch

  def get_state(self) -> dict:
    return {'position': int(self.position), 'seed': int(self.seed),
            'num_examples': int(self._n),
            'global_batch_size': int(self.global_batch_size)}

  def set_state(self, state: dict) -> None:
    """Resumes at a saved position; a ConfigError if the stream it was saved from differs."""
    for key, mine in (('seed', self.seed), ('num_examples', self._n),
                      ('global_batch_size', self.global_batch_size)):
      if state[key] != mine:
        raise ConfigError(
            f'the checkpoint\'s data position was saved with {key}={state[key]}, but this '
            f'run has {key}={mine}; use a new workdir, or the config and data the run '
            'was started with')
    self.position = int(state['position'])


class SeedIterators:
  """The train streams of a run's N >= 1 replicas (one seed each), advanced together.

  Replica k draws exactly the batches that `TrainIterator(seed=seeds[k])`
  draws; batches are stacked on a leading replica axis: [N, B, ...]. Replicas
  of the same seed (grid points) draw the same batches.
  """

  def __init__(self, split, global_batch_size: int, seeds, process_index: int = 0,
               process_count: int = 1):
    self.iterators = [TrainIterator(split, global_batch_size, int(s),
                                    process_index=process_index,
                                    process_count=process_count) for s in seeds]

  @property
  def position(self) -> int:
    return self.iterators[0].position

  def __iter__(self) -> Iterator[Batch]:
    return self

  def next_global_indices(self) -> np.ndarray:
    """[N, B] record indices of every replica's next global batch."""
    return np.stack([it.next_global_indices() for it in self.iterators])

  def __next__(self) -> Batch:
    return stack_padded([next(it) for it in self.iterators])

  def get_state(self) -> dict:
    """The shared position (every replica's) and each replica's stream."""
    return {'position': int(self.position),
            'replicas': [it.get_state() for it in self.iterators]}

  def set_state(self, state: dict) -> None:
    """Resumes every replica's stream; a ConfigError if the saved ones differ."""
    replicas = state.get('replicas')
    if not isinstance(replicas, list):
      raise ConfigError('the checkpoint holds a data position without a replica axis '
                        '(written before every run had one); use a new workdir')
    if len(replicas) != len(self.iterators):
      raise ConfigError(f'the checkpoint holds the data position of {len(replicas)} '
                        f'replica(s), this run has {len(self.iterators)} (num_seeds='
                        f'{len(self.iterators)} without a grid); use a new workdir or the '
                        'num_seeds and replicas the run was started with')
    for it, s in zip(self.iterators, replicas):
      it.set_state(s)


def stack_padded(batches: list[Batch]) -> Batch:
  """Batches -> one batch with a leading axis; each array zero-padded to the largest shape.

  Replicas with bucketed data can draw batches padded to different lengths;
  the padding is masked by `lengths`, so it does not change a result.
  """
  out = {}
  for key in batches[0]:
    arrays = [b[key] for b in batches]
    shape = np.max([a.shape for a in arrays], axis=0)
    out[key] = np.stack([np.pad(a, [(0, int(n) - m) for n, m in zip(shape, a.shape)])
                         for a in arrays])
  return out


def eval_batches(split, global_batch_size: int,
                 process_index: int = 0, process_count: int = 1
                 ) -> Iterator[Batch]:
  """Every example exactly once; the last batch is zero-padded with weight 0."""
  n = num_examples(split)
  per_process = global_batch_size // process_count
  for start in range(0, n, global_batch_size):
    global_idx = np.arange(start, min(start + global_batch_size, n))
    idx = np.arange(start, start + global_batch_size)
    idx = idx[process_index * per_process:(process_index + 1) * per_process]
    real = idx < n
    batch = take(split, np.where(real, idx, 0), global_idx)
    batch = {k: np.where(_expand(real, v.ndim), v, np.zeros((), v.dtype))
             for k, v in batch.items()}
    batch['weights'] = real.astype(np.float32)
    yield batch


def _expand(mask: np.ndarray, ndim: int) -> np.ndarray:
  return mask.reshape(mask.shape + (1,) * (ndim - 1))
