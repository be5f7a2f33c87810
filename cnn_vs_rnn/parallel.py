"""Device mesh and batch sharding: data parallelism over a `data` axis.

Parameters and optimizer state are replicated; every batch is split along
its leading axis over the mesh. One device is a mesh of size one, so the
same compiled step runs on a laptop, a GPU or a multi-host TPU slice.
"""

from __future__ import annotations

import contextlib
import functools
import os

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from cnn_vs_rnn.errors import ConfigError


ENV_DISTRIBUTED = 'CNN_VS_RNN_DISTRIBUTED'
ENV_COORDINATOR = 'CNN_VS_RNN_COORDINATOR'
ENV_NUM_PROCESSES = 'CNN_VS_RNN_NUM_PROCESSES'
ENV_PROCESS_ID = 'CNN_VS_RNN_PROCESS_ID'


def distributed_settings(environ) -> dict | None:
  """jax.distributed.initialize's keyword arguments from `environ`; None: one process.

  CNN_VS_RNN_COORDINATOR=host:port with CNN_VS_RNN_NUM_PROCESSES and
  CNN_VS_RNN_PROCESS_ID name every argument (e.g. several processes on one
  machine); CNN_VS_RNN_DISTRIBUTED=1 alone leaves them to JAX's
  auto-detection (Cloud TPU VMs, SLURM).
  """
  coordinator = environ.get(ENV_COORDINATOR, '')
  if not coordinator:
    return {} if environ.get(ENV_DISTRIBUTED) == '1' else None
  if ':' not in coordinator:
    raise ConfigError(f'{ENV_COORDINATOR}={coordinator!r} must be host:port, e.g. '
                      'localhost:12345')
  num = _env_int(environ, ENV_NUM_PROCESSES, low=1)
  pid = _env_int(environ, ENV_PROCESS_ID, low=0)
  if pid >= num:
    raise ConfigError(f'{ENV_PROCESS_ID}={pid} must be below {ENV_NUM_PROCESSES}={num}')
  return {'coordinator_address': coordinator, 'num_processes': num, 'process_id': pid}


def _env_int(environ, key: str, low: int) -> int:
  value = environ.get(key, '')
  try:
    number = int(value)
  except ValueError:
    number = None
  if number is None or number < low:
    raise ConfigError(f'{key}={value!r} must be an integer >= {low} (set with '
                      f'{ENV_COORDINATOR})')
  return number


def may_use_cpu(platforms: str | None) -> bool:
  """Whether JAX may run on the CPU: jax_platforms ($JAX_PLATFORMS) unset or naming cpu.

  Decided from the setting alone: initialize must come before any backend starts.
  """
  return not platforms or 'cpu' in [p.strip() for p in platforms.split(',')]


def maybe_initialize_distributed(environ=None) -> None:
  """Joins a multi-process run when the environment asks for one (see distributed_settings).

  Call before anything touches a JAX device. Cross-process collectives of the
  CPU backend go through gloo (so fake CPU devices on one machine work).
  """
  kwargs = distributed_settings(os.environ if environ is None else environ)
  if kwargs is None:
    return
  if may_use_cpu(jax.config.jax_platforms):
    # Only the CPU backend's collectives: harmless where an accelerator runs.
    jax.config.update('jax_cpu_collectives_implementation', 'gloo')
  jax.distributed.initialize(**kwargs)


def is_primary() -> bool:
  """Process 0: the one that writes run files and prints progress."""
  return jax.process_index() == 0


@contextlib.contextmanager
def stdout_on_primary_only():
  """Within it, what processes other than 0 print to stdout goes to /dev/null."""
  if is_primary():
    yield
    return
  with open(os.devnull, 'w') as null, contextlib.redirect_stdout(null):
    yield


def sync(name: str) -> None:
  """A barrier of all processes (nothing with one process); `name` must be unique per use."""
  if jax.process_count() > 1:
    from jax.experimental import multihost_utils  # pylint: disable=g-import-not-at-top
    multihost_utils.sync_global_devices(name)


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
