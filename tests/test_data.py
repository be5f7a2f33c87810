"""The MNIST-1D builder and the deterministic, checkpointable batching."""

import numpy as np
import pytest

from cnn_vs_rnn.data.pipeline import TrainIterator, eval_batches, num_examples
from cnn_vs_rnn.errors import ConfigError


def toy_split(n=10):
  return {'inputs': np.arange(n, dtype=np.float32)[:, None] * 10,
          'targets': np.arange(n, dtype=np.int32)}


def test_mnist1d_matches_the_reference_generator(mnist1d):
  from mnist1d.data import get_dataset_args, make_dataset
  ref = make_dataset(get_dataset_args())
  assert mnist1d.spec.input_shape == (40, 1)
  train, test = mnist1d.split('train'), mnist1d.split('test')
  validation = mnist1d.split('validation')
  assert num_examples(train) == 3600 and num_examples(validation) == 400
  assert num_examples(test) == 1000
  # Train and validation together are the reference's 4000 train examples.
  joined = np.concatenate([train['inputs'], validation['inputs']])[..., 0]
  order = np.lexsort(joined.T)
  np.testing.assert_array_equal(joined[order], np.asarray(ref['x'], np.float32)[
      np.lexsort(np.asarray(ref['x'], np.float32).T)])
  np.testing.assert_array_equal(test['inputs'][..., 0], ref['x_test'].astype(np.float32))
  np.testing.assert_array_equal(test['targets'], ref['y_test'])


def test_train_iterator_visits_every_example_once_per_epoch():
  it = TrainIterator(toy_split(10), global_batch_size=4, seed=3)
  seen = np.concatenate([next(it)['targets'] for _ in range(5)])  # 20 = two epochs
  assert sorted(seen[:10]) == list(range(10))
  assert sorted(seen[10:]) == list(range(10))
  assert not np.array_equal(seen[:10], seen[10:])  # reshuffled per epoch


def test_train_iterator_state_resumes_the_same_stream():
  a = TrainIterator(toy_split(10), global_batch_size=4, seed=3)
  for _ in range(3):
    next(a)
  b = TrainIterator(toy_split(10), global_batch_size=4, seed=3)
  b.set_state(a.get_state())
  for _ in range(4):
    np.testing.assert_array_equal(next(a)['targets'], next(b)['targets'])


@pytest.mark.parametrize('key,saved,current,kwargs', [
    ('seed', 3, 4, dict(seed=4)),
    ('num_examples', 10, 12, dict(split=toy_split(12))),
    ('global_batch_size', 4, 2, dict(global_batch_size=2)),
])
def test_train_iterator_refuses_a_state_saved_from_another_stream(key, saved, current, kwargs):
  saved_state = TrainIterator(toy_split(10), global_batch_size=4, seed=3, position=8).get_state()
  assert saved_state[key] == saved
  args = dict(split=toy_split(10), global_batch_size=4, seed=3)
  it = TrainIterator(**{**args, **kwargs})
  with pytest.raises(ConfigError) as e:
    it.set_state(saved_state)
  message = str(e.value)
  assert f'saved with {key}={saved}, but this run has {key}={current}' in message
  assert 'use a new workdir, or the config and data the run was started with' in message
  assert '\n' not in message
  assert it.position == 0  # Left where it was.


def test_process_slices_make_up_the_global_batch():
  whole = next(TrainIterator(toy_split(10), 4, seed=1))['targets']
  parts = [next(TrainIterator(toy_split(10), 4, seed=1, process_index=i,
                              process_count=2))['targets'] for i in range(2)]
  np.testing.assert_array_equal(np.concatenate(parts), whole)


def test_eval_batches_pad_and_mask_the_last_batch():
  batches = list(eval_batches(toy_split(10), 4))
  assert [len(b['targets']) for b in batches] == [4, 4, 4]
  weights = np.concatenate([b['weights'] for b in batches])
  targets = np.concatenate([b['targets'] for b in batches])
  np.testing.assert_array_equal(weights, [1] * 10 + [0, 0])
  np.testing.assert_array_equal(targets[weights == 1], np.arange(10))
