"""Device mesh and batch sharding: data parallelism over a `data` axis.

Parameters and optimizer state are replicated; every batch is split along
its leading axis over the mesh. One device is a mesh of size one, so the
same compiled step runs on a laptop, a GPU or a multi-host TPU slice.
"""

from __future__ import annotations

import functools
import os

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from cnn_vs_rnn.errors import ConfigError


def maybe_initialize_distributed() -> None:
  """Multi-host runs (TPU pods) set CNN_VS_RNN_DISTRIBUTED=1 on every host."""
  if os.environ.get('CNN_VS_RNN_DISTRIBUTED') == '1':
    jax.distributed.initialize()


def make_mesh(devices=None) -> Mesh:
  devices = jax.devices() if devices is None else list(devices)
  return Mesh(np.array(devices), ('data',))


def replicated(mesh: Mesh) -> NamedSharding:
  return NamedSharding(mesh, P())


def batch_sharded(mesh: Mesh, lead: int = 0) -> NamedSharding:
  """Split over `data` along axis `lead` (after `lead` leading axes: steps, seeds)."""
  return NamedSharding(mesh, P(*(None,) * lead, 'data'))


def check_batch_size(key: str, batch_size: int, mesh: Mesh) -> None:
  n = mesh.devices.size
  if batch_size % n:
    raise ConfigError(
        f'{key}={batch_size} is not divisible by the {n} devices; use a '
        f'multiple of {n}')


def shard_batch(batch: dict, mesh: Mesh, lead: int = 0) -> dict:
  """This process's slice of a global batch -> global arrays sharded over `data`.

  `lead`: leading axes before the batch axis (1 for a [N, B, ...] seed axis).
  """
  sharding = batch_sharded(mesh, lead)
  return {k: jax.make_array_from_process_local_data(sharding, v)
          for k, v in batch.items()}


def device_resident(split: dict, mesh: Mesh) -> dict:
  """A split held whole on every device (every process passes the same arrays)."""
  return {k: jax.make_array_from_process_local_data(replicated(mesh), v)
          for k, v in split.items()}


def gather_batch(arrays: dict, idx) -> dict:
  """The batch at record indices `idx` ([B], or [N, B] for N replicas) of resident arrays.

  Runs on the devices, inside the jitted step or loop that consumes it, so no
  batch crosses from the host during training.
  """
  batch = {k: jnp.take(v, idx, axis=0) for k, v in arrays.items()}
  batch['weights'] = jnp.ones(idx.shape, jnp.float32)
  return batch


def resident_batches(arrays: dict, mesh: Mesh, lead: int = 0):
  """indices -> a sharded batch gathered from resident `arrays` (one step at a time)."""
  gather = jax.jit(gather_batch, out_shardings=batch_sharded(mesh, lead))
  return lambda idx: gather(arrays, idx)
