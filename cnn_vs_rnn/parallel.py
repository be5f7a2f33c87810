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


def batch_sharded(mesh: Mesh) -> NamedSharding:
  return NamedSharding(mesh, P('data'))


def check_batch_size(key: str, batch_size: int, mesh: Mesh) -> None:
  n = mesh.devices.size
  if batch_size % n:
    raise ConfigError(
        f'{key}={batch_size} is not divisible by the {n} devices; use a '
        f'multiple of {n}')


def shard_batch(batch: dict, mesh: Mesh) -> dict:
  """This process's slice of a global batch -> global arrays sharded over `data`."""
  sharding = batch_sharded(mesh)
  return {k: jax.make_array_from_process_local_data(sharding, v)
          for k, v in batch.items()}


def device_resident(split: dict, mesh: Mesh):
  """Holds a split whole on every device; returns indices [B] -> a sharded batch.

  Every process passes the same global indices; the gather runs on the
  devices, so no batch crosses from the host during training.
  """
  arrays = {k: jax.make_array_from_process_local_data(replicated(mesh), v)
            for k, v in split.items()}

  @functools.partial(jax.jit, out_shardings=batch_sharded(mesh))
  def gather(arrays, idx_B):
    batch = {k: jnp.take(v, idx_B, axis=0) for k, v in arrays.items()}
    batch['weights'] = jnp.ones(idx_B.shape, jnp.float32)
    return batch

  return lambda idx_B: gather(arrays, idx_B)
