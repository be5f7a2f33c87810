"""The replicas of one program: (seed, hyper-parameters) pairs, their RNGs, vmap, summaries.

A point is one value of the hyper-parameters config.replicas names (today the
peak learning rate: `replicas.learning_rate = (1e-3, 3e-3)`; empty, the one
point optim.learning_rate). Each point is trained by num_seeds replicas, with
seeds seed .. seed + num_seeds - 1: N = points x num_seeds replicas, point
major (replica k is point k // num_seeds, seed seed + k % num_seeds). Every
array of the train state, the RNGs and the batches carries a leading [N]
replica axis, N >= 1.

Summaries keep the keys of one point as they were (`key` for one replica;
`key`, `key/std`, `key/seed_S` for N seeds) and give a grid's per point:
`key/lr_R`, `key/lr_R/std`, `key/lr_R/seed_S` (R: the rate as Python writes
it, e.g. lr_0.003).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np


def seeds_of(config) -> list[int]:
  """The seeds of each point's replicas: seed, seed + 1, ..., seed + num_seeds - 1."""
  return [config.seed + k for k in range(config.get('num_seeds', 1))]


def grid_rates(config) -> tuple:
  """config.replicas.learning_rate: the grid's rates, () for no grid."""
  return tuple(config.get('replicas', {}).get('learning_rate', ()) or ())


def learning_rates(config) -> list[float]:
  """The peak learning rate of each point (one point, optim.learning_rate, without a grid)."""
  return [float(lr) for lr in grid_rates(config) or (config.optim.learning_rate,)]


def point_labels(config) -> list[str] | None:
  """Each point's key suffix ('lr_0.003'), or None without a grid (today's keys)."""
  if not grid_rates(config):
    return None
  return [f'lr_{lr!r}' for lr in learning_rates(config)]


def num_replicas(config) -> int:
  return len(learning_rates(config)) * config.get('num_seeds', 1)


def replica_seeds(config) -> list[int]:
  """The seed of each replica, point major."""
  return [s for _ in learning_rates(config) for s in seeds_of(config)]


def replica_learning_rates(config) -> list[float]:
  """The peak learning rate of each replica, point major."""
  return [lr for lr in learning_rates(config) for _ in seeds_of(config)]


def replica_names(config) -> list[str]:
  """Each replica as an error message names it: 'seed 5' or 'seed 5 and learning rate 0.003'."""
  rates = ([f' and learning rate {lr!r}' for lr in replica_learning_rates(config)]
           if grid_rates(config) else [''] * num_replicas(config))
  return [f'seed {s}{r}' for s, r in zip(replica_seeds(config), rates)]


def replica_rngs(config):
  """(init rngs [N], train rngs [N]): split(key(seed)) of each replica's seed."""
  pairs = jnp.stack([jax.random.split(jax.random.key(s)) for s in replica_seeds(config)])
  return pairs[:, 0], pairs[:, 1]


def _replica_count(args, axes) -> set:
  return {x.shape[0] for a, ax in zip(args, axes) if ax == 0 for x in jax.tree.leaves(a)}


def over_replicas(fn, in_axes=0):
  """`fn` on one replica -> on a leading replica axis (vmap; `in_axes` as vmap's).

  With one replica (an axis of size 1, known when traced) `fn` runs on the
  replica itself, and its outputs gain the axis back: the same numbers as an
  un-vmapped program, so a one-seed run computes what it always has.
  """
  vmapped = jax.vmap(fn, in_axes=in_axes)

  def call(*args):
    axes = in_axes if isinstance(in_axes, (tuple, list)) else (in_axes,) * len(args)
    if _replica_count(args, axes) != {1}:
      return vmapped(*args)
    one = [replica(a, 0) if ax == 0 else a for a, ax in zip(args, axes)]
    return jax.tree.map(lambda x: jnp.expand_dims(x, 0), fn(*one))

  return call


@functools.partial(jax.jit, static_argnums=1)
def replica(tree, k: int):
  """Replica k of a tree with a leading replica axis (one program for the whole tree,
  not one small one per leaf shape)."""
  return jax.tree.map(lambda x: x[k], tree)


def stack_replicas(trees: list):
  """Trees of single replicas -> one tree with a leading replica axis."""
  return jax.tree.map(lambda *xs: jnp.stack(xs), *trees)


def split_replicas(values: dict, num: int) -> list[dict]:
  """A dict of host arrays with a leading [N] replica axis -> one dict per replica."""
  return [{k: v[i] for k, v in values.items()} for i in range(num)]


def points(per_replica: list, num_seeds: int) -> list[list]:
  """Per-replica values -> one list per point (each of num_seeds replicas)."""
  return [per_replica[i:i + num_seeds] for i in range(0, len(per_replica), num_seeds)]


def seed_summary(per_seed: list[dict], seeds=None) -> dict:
  """One replica's metrics as they are; N replicas' as mean, `/std` and `/seed_S` keys.

  The std is the sample standard deviation over the replicas (ddof=1).
  """
  if len(per_seed) == 1:
    return dict(per_seed[0])
  seeds = list(range(len(per_seed))) if seeds is None else list(seeds)
  out = {}
  for key in per_seed[0]:
    values = np.asarray([m[key] for m in per_seed], np.float64)
    out[key] = float(values.mean())
    out[f'{key}/std'] = float(values.std(ddof=1))
    out.update({f'{key}/seed_{s}': float(v) for s, v in zip(seeds, values)})
  return out


def point_summary(per_seed: list[dict], seeds, label: str) -> dict:
  """seed_summary of one point's replicas, `/label` after each metric's key."""
  out = {}
  for key in per_seed[0]:
    one = seed_summary([{key: m[key]} for m in per_seed], seeds)
    out.update({f'{key}/{label}{k[len(key):]}': v for k, v in one.items()})
  return out


def summary(per_replica: list[dict], config) -> dict:
  """Every replica's metrics: seed_summary for one point, point_summary per grid point."""
  seeds, labels = seeds_of(config), point_labels(config)
  if labels is None:
    return seed_summary(per_replica, seeds)
  out = {}
  for label, chunk in zip(labels, points(per_replica, len(seeds))):
    out.update(point_summary(chunk, seeds, label))
  return out


def _seed_table(per_seed: list[dict]) -> dict:
  return {k: np.asarray([m[k] for m in per_seed], np.float64) for k in per_seed[0]}


def seeds_record(per_seed: list[dict], seeds) -> dict:
  """One point's replicas for final_metrics.json: num_seeds, seeds, per_seed, mean, std."""
  table = _seed_table(per_seed)
  return {'num_seeds': len(per_seed), 'seeds': list(seeds),
          'per_seed': {k: [float(x) for x in v] for k, v in table.items()},
          'mean': {k: float(v.mean()) for k, v in table.items()},
          'std': {k: float(v.std(ddof=1)) if len(v) > 1 else None
                  for k, v in table.items()}}


def final_record(step: int, per_replica: list[dict], config, num_params: int) -> dict:
  """final_metrics.json's last evaluation.

  One replica: its metrics. N seeds: the mean, with num_seeds, seeds,
  per_seed, mean and std. A grid: `summary`'s keys, the learning rates, and
  `points`, one seeds_record per point with its learning_rate.
  """
  seeds, labels = seeds_of(config), point_labels(config)
  if labels is None and len(per_replica) == 1:
    return {'step': int(step), **per_replica[0], 'num_params': num_params}
  if labels is None:
    record = seeds_record(per_replica, seeds)
    return {'step': int(step), **record['mean'], 'num_params': num_params, **record}
  chunks = points(per_replica, len(seeds))
  return {'step': int(step), **summary(per_replica, config), 'num_params': num_params,
          'num_seeds': len(seeds), 'seeds': seeds, 'learning_rates': learning_rates(config),
          'points': [{'learning_rate': lr, 'label': label, **seeds_record(chunk, seeds)}
                     for lr, label, chunk in zip(learning_rates(config), labels, chunks)]}
