"""`python -m cnn_vs_rnn.train` with two test hooks, for tests/test_multihost.py.

  python tests/multihost_main.py [--mock_tfds=N] --config ... --workdir DIR [...]

--mock_tfds=N (first argument): run under tfds.testing.mock_data with N
  examples per split, as tests/tfds_fakes.py does in process (imdb_reviews...).
$CNN_VS_RNN_TEST_WRITE_LOG: a file that gets one line per path this process
  opens for writing under DIR or $TFDS_DATA_DIR, except under DIR/checkpoints/ and
  DIR/best_checkpoint/
  (where orbax's multi-host protocol has every process write its own part).

Run it with PYTHONPATH at the repository, so that this checkout's package is
the one imported.
"""

import builtins
import contextlib
import os
import sys

from cnn_vs_rnn import hostmem, train


def _workdir(argv) -> str:
  for i, arg in enumerate(argv):
    if arg.startswith('--workdir='):
      return arg.split('=', 1)[1]
    if arg == '--workdir':
      return argv[i + 1]
  raise SystemExit('--workdir is required')


def record_writes(roots, skipped, log_path: str) -> None:
  """Appends to `log_path` each path opened for writing under `roots`, except under `skipped`."""
  roots = [os.path.abspath(r) + os.sep for r in roots]
  skipped = tuple(os.path.abspath(d) + os.sep for d in skipped)
  real_open, real_os_open = builtins.open, os.open

  def note(path):
    if isinstance(path, int):
      return
    path = os.path.abspath(os.fspath(path))
    if any(path.startswith(r) for r in roots) and not path.startswith(skipped):
      with real_open(log_path, 'a') as f:
        f.write(path + '\n')

  def open_(file, mode='r', *args, **kwargs):
    if any(c in mode for c in 'wax+'):
      note(file)
    return real_open(file, mode, *args, **kwargs)

  def os_open(path, flags, *args, **kwargs):
    if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND):
      note(path)
    return real_os_open(path, flags, *args, **kwargs)

  builtins.open, os.open = open_, os_open


def main(argv) -> int:
  mock = contextlib.nullcontext()
  if argv[1:] and argv[1].startswith('--mock_tfds='):
    import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
    mock = tfds.testing.mock_data(num_examples=int(argv[1].split('=', 1)[1]),
                                  policy=tfds.testing.MockPolicy.USE_CODE)
    argv = argv[:1] + argv[2:]
    sys.argv = argv  # config_flags reads sys.argv for the --config.KEY overrides.
  log_path = os.environ.get('CNN_VS_RNN_TEST_WRITE_LOG')
  if log_path:
    open(log_path, 'w').close()
    workdir = _workdir(argv)
    roots = [workdir] + ([os.environ['TFDS_DATA_DIR']] if 'TFDS_DATA_DIR' in os.environ else [])
    # Orbax writes both checkpoint trees from every process.
    record_writes(roots, [os.path.join(workdir, d) for d in ('checkpoints', 'best_checkpoint')],
                  log_path)
  with mock:
    return train.main(argv)


if __name__ == '__main__':
  hostmem.keep_freed_memory()
  sys.exit(main(sys.argv))
