"""Test setup: 4 fake CPU devices and a private TFDS data directory.

Both must be set before jax or tensorflow_datasets are imported. Under
pytest-xdist (the README's test command runs 2 workers), each worker gets
its own data directory, so no two processes prepare one dataset at once.

Faster compilation at a lower LLVM optimisation level was tried and dropped
(`--xla_backend_optimization_level`): at 1 the suite's test_configs ran in
0.83x the time, but a VGG with group norm got gradients unlike the default
build's (tests/test_cnn2d_benchmark.py), and at 0 a float64 finite-difference
check got a NaN. The tests compile as the programs do.

The suite reruns a test once if its worker process crashes (pyproject.toml:
`--reruns 1 --only-rerun 'crashed while running'`); an ordinary failure is
never rerun. The reason: on this 2-core machine, the all-reduce of the 4
simulated devices (XLA's in-process rendezvous) deadlocked now and then, 3 of
the 4 device threads waiting for a fourth that never arrived, and after 40 s
XLA aborted the process (SIGABRT). Two causes were found and removed: batched
LAPACK QRs of a vmapped orthogonal init holding both XLA pool threads
(kernels/init.py, `orthogonal_init`), and overlapping evaluation batches
(train.py, `evaluate_per_seed`). The reruns stay as a guard against a cause
not found; a crash that happens twice still fails the suite.
"""

import os
import shutil
import tempfile

os.environ['XLA_FLAGS'] = (os.environ.get('XLA_FLAGS', '') +
                           ' --xla_force_host_platform_device_count=4').strip()
os.environ.setdefault('JAX_PLATFORMS', 'cpu')
_WORKER = os.environ.get('PYTEST_XDIST_WORKER', '')
if 'TFDS_DATA_DIR' not in os.environ or os.environ.get('CNN_VS_RNN_TEST_TFDS') == 'temp':
  # Ours (a temp dir), not the user's: a fresh one per process, workers included.
  os.environ['TFDS_DATA_DIR'] = tempfile.mkdtemp(prefix=f'cnn_vs_rnn_tfds_{_WORKER}')
  os.environ['CNN_VS_RNN_TEST_TFDS'] = 'temp'

# One persistent compilation cache for the whole run: the xdist workers and the
# processes the tests start (train, resume, evaluate, sweeps, 2-process runs)
# inherit it, so a program compiled once (the same step after a resume, in the
# second process of a multi-host run, in the next test that builds the same
# config) is read back instead of compiled again. On test_faults.py and
# test_train.py it cut the wall time to 0.69x (330 s -> 226 s, 2 workers). The
# cache is this run's own (a fresh temp dir, removed at the end) unless
# JAX_COMPILATION_CACHE_DIR is already set, so no run reuses another's programs.
_OWN_CACHE = 'JAX_COMPILATION_CACHE_DIR' not in os.environ
if _OWN_CACHE:
  os.environ['JAX_COMPILATION_CACHE_DIR'] = tempfile.mkdtemp(prefix='cnn_vs_rnn_jax_cache_')
  os.environ.setdefault('JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS', '0.2')

import glob  # pylint: disable=g-import-not-at-top,wrong-import-position

import pytest  # pylint: disable=g-import-not-at-top,wrong-import-position


def pytest_unconfigure(config):
  del config
  if _OWN_CACHE:  # The process that made it (xdist's controller, or pytest alone).
    shutil.rmtree(os.environ['JAX_COMPILATION_CACHE_DIR'], ignore_errors=True)


REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG_DIR = os.path.join(REPO, 'configs')


def config_paths():
  return sorted(glob.glob(os.path.join(CONFIG_DIR, '*.py')))


def tiny(config, steps=4, every=2, batch_size=8):
  """A copy of `config` shrunk to a few steps (batch divisible by 4 devices)."""
  config = config.copy_and_resolve_references()
  config.num_train_steps = steps
  config.log_every_steps = every
  config.eval_every_steps = every
  config.checkpoint_every_steps = every
  config.data.batch_size = batch_size
  config.data.eval_batch_size = 200
  if 'num_train' in config.data:  # Procedural datasets: generate a small variant.
    config.data.num_train, config.data.num_test = 64, 40
  return config


@pytest.fixture(scope='session')
def mnist1d():
  """MNIST-1D generated once into the session's TFDS_DATA_DIR."""
  from cnn_vs_rnn import data  # pylint: disable=g-import-not-at-top
  from cnn_vs_rnn.configlib import load_config_file  # pylint: disable=g-import-not-at-top
  return data.load(load_config_file(os.path.join(CONFIG_DIR, 'mnist1d_cnn.py')).data)


def check_model_grads_float64(model, x):
  """check_grads of `model.apply` at random N(0, 0.5) float64 parameters.

  Call under jax.enable_x64(True), with x in float64: finite differences are
  then exact enough, and random non-zero parameters keep ReLU inputs off
  their kinks.
  """
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  import jax.test_util  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  params = model.init(jax.random.key(0), x)['params']
  rng = np.random.default_rng(0)
  params = jax.tree.map(lambda l: jnp.asarray(rng.normal(0, 0.5, l.shape)), params)
  f = jax.jit(lambda p, x: model.apply({'params': p}, x))
  assert f(params, x).dtype == jnp.float64
  jax.test_util.check_grads(f, (params, x), order=1, modes=['rev'], eps=1e-6)
