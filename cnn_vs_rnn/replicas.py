"""The replicas of one program (config.num_seeds): seeds, RNGs, vmap, summaries.

Replica k trains with seed `config.seed + k`. With one replica the state has
no replica axis; with N > 1 every array carries a leading [N] axis.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np


def seeds_of(config) -> list[int]:
  """The seeds of the run's replicas: seed, seed + 1, ..., seed + num_seeds - 1."""
  return [config.seed + k for k in range(config.get('num_seeds', 1))]


def replica_rngs(config):
  """(init rng, train rng): split(key(seed)), stacked over the replicas if num_seeds > 1."""
  pairs = [jax.random.split(jax.random.key(s)) for s in seeds_of(config)]
  if len(pairs) == 1:
    return pairs[0][0], pairs[0][1]
  stacked = jnp.stack(pairs)
  return stacked[:, 0], stacked[:, 1]


def over_seeds(fn, num_seeds: int, in_axes=0):
  """`fn` on one replica -> on a leading seed axis of N replicas (itself for N = 1)."""
  return fn if num_seeds == 1 else jax.vmap(fn, in_axes=in_axes)


def seed_lead(num_seeds: int) -> int:
  """Leading axes before a batch's example axis: 1 for the seed axis of N > 1 replicas."""
  return int(num_seeds > 1)


def replica(tree, k: int):
  """Replica k of a tree with a leading seed axis."""
  return jax.tree.map(lambda x: x[k], tree)


def split_replicas(values: dict, num_seeds: int) -> list[dict]:
  """A dict of host arrays ([N, ...] with N > 1 replicas) -> one dict per replica."""
  if num_seeds == 1:
    return [values]
  return [{k: v[i] for k, v in values.items()} for i in range(num_seeds)]


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


def final_record(step: int, per_seed: list[dict], seeds, num_params: int) -> dict:
  """final_metrics.json: the last evaluation; with replicas also per_seed, mean and std."""
  if len(per_seed) == 1:
    return {'step': int(step), **per_seed[0], 'num_params': num_params}
  table = {k: np.asarray([m[k] for m in per_seed], np.float64) for k in per_seed[0]}
  mean = {k: float(v.mean()) for k, v in table.items()}
  return {'step': int(step), **mean, 'num_params': num_params,
          'num_seeds': len(per_seed), 'seeds': list(seeds),
          'per_seed': {k: [float(x) for x in v] for k, v in table.items()},
          'mean': mean, 'std': {k: float(v.std(ddof=1)) for k, v in table.items()}}
