"""Train / validation / test for every dataset; generated data never goes stale."""

import dataclasses
import hashlib
import os

import ml_collections
import numpy as np
import pytest

from cnn_vs_rnn import configlib, data
from cnn_vs_rnn.data import procedural, splits
from cnn_vs_rnn.data.pipeline import num_examples, take
from cnn_vs_rnn.errors import ConfigError
import tfds_fakes

# Small variants of the generated datasets (fields of config.data), to keep tests fast.
SMALL = {
    'adding': dict(seq_len=10, num_train=50, num_test=20),
    'copy_memory': dict(seq_len=10, num_train=50, num_test=20),
    'mackey_glass': dict(window=8, horizon=2),
    'keywords': dict(num_train=40, num_test=20),
    'moving_digits': dict(num_train=40, num_test=20, num_frames=4, canvas=12),
    'stdlib_text': dict(seq_len=64),
    'synthetic': dict(shape=(3, 2), num_classes=3, num_examples=40),
    'imdb_reviews': dict(max_len=16),
    'tiny_shakespeare': dict(seq_len=8),
    'dates': dict(num_train=50, num_test=20),
    'reverse': dict(num_train=50, num_test=20),
    'arithmetic': dict(num_train=50, num_test=20),
    'shapes_segmentation': dict(size=8, num_train=50, num_test=20),
}
# Real datasets whose splits come from the TFDS catalog: train and validation
# are the same pool where validation is carved out of train; the catalog's
# own splits (and mock_data's random stand-ins for them) are not compared.
CARVED_FROM_CATALOG_TRAIN = ('mnist', 'fashion_mnist', 'cifar10', 'imdb_reviews')
CATALOG_SPLITS = ('tiny_shakespeare', 'speech_commands')


def data_config(name, data_dir='', **fields):
  return ml_collections.ConfigDict({'name': name, 'data_dir': data_dir,
                                    **SMALL.get(name, {}), **fields})


def user_file(data_dir: str) -> str:
  """For 'arrays': a user's .npz of 60 examples in data_dir (the same each time)."""
  rng = np.random.default_rng(0)
  os.makedirs(data_dir, exist_ok=True)
  path = os.path.join(data_dir, 'user.npz')
  np.savez(path, inputs=rng.normal(size=(60, 5, 2)), targets=np.arange(60) % 3)
  return path


def load(name, data_dir='', **fields):
  if name == 'ucr':  # The optional extra `ucr`.
    pytest.importorskip('aeon')
    fields = {'dataset': 'GunPoint', **fields}
  if name == 'arrays':
    fields = {'path': user_file(data_dir or '.'), **fields}
  config = data_config(name, data_dir, **fields)
  if name == 'speech_commands':
    config.data_dir = tfds_fakes.fake_speech_commands_dir()
  with tfds_fakes.real_data(ml_collections.ConfigDict({'data': config})) as wrapped:
    return data.load(wrapped.data)


def row_hashes(split) -> list[str]:
  """One sha256 per example over the bytes of all its arrays (inputs, targets, ...)."""
  arrays = take(split, np.arange(num_examples(split)))
  keys = sorted(arrays)
  return [hashlib.sha256(b''.join(np.ascontiguousarray(arrays[k][i]).tobytes()
                                  for k in keys)).hexdigest()
          for i in range(num_examples(split))]


def pools_of(name):
  """Pairs of splits that come from one pool, so must share no example."""
  if name in CATALOG_SPLITS:
    return []
  if name in CARVED_FROM_CATALOG_TRAIN:
    return [('train', 'validation')]
  return [('train', 'validation'), ('train', 'test'), ('validation', 'test')]


def test_every_registered_dataset_is_covered():
  offline = set(data.DATASETS) - set(tfds_fakes.REAL)
  assert {'mnist1d', 'adding', 'mnist_5k', 'sunspots', 'co2', 'synthetic'} <= offline
  assert set(tfds_fakes.REAL) <= set(data.DATASETS)


@pytest.mark.parametrize('name', sorted(data.DATASETS))
def test_three_disjoint_splits_and_a_fixed_validation_carve_out(name, tmp_path):
  dataset = load(name, str(tmp_path / 'a'))
  assert {'train', 'validation', 'test'} <= set(dataset.splits)
  hashes = {s: row_hashes(dataset.split(s)) for s in ('train', 'validation', 'test')}
  for s, h in hashes.items():
    assert h, f'{name}: the {s} split is empty'
  for a, b in pools_of(name):
    shared = set(hashes[a]) & set(hashes[b])
    assert not shared, f'{name}: {len(shared)} example(s) in both {a} and {b}'
  # The same examples again, also when generated afresh into another directory.
  again = load(name, str(tmp_path / 'b'))
  for s in ('train', 'validation'):
    assert row_hashes(again.split(s)) == hashes[s]


# (dataset, whether its inputs do not depend on the train split's statistics)
@pytest.mark.parametrize('name,fixed_scaling', [('mnist1d', True), ('digits', True),
                                                ('mnist', True), ('mnist_5k', False),
                                                ('sunspots', False)])
def test_validation_fraction_zero_keeps_train_whole(name, fixed_scaling, tmp_path):
  carved = load(name, str(tmp_path))
  whole = load(name, str(tmp_path), validation_fraction=0)
  assert set(whole.splits) == {'train', 'test'}
  assert num_examples(whole.split('train')) == (num_examples(carved.split('train'))
                                                + num_examples(carved.split('validation')))
  if fixed_scaling:
    assert set(row_hashes(carved.split('train'))) < set(row_hashes(whole.split('train')))
  with pytest.raises(ConfigError, match="unknown split 'validation'"):
    whole.split('validation')


@pytest.mark.parametrize('value', [-0.1, 1.0, 1.5, float('nan'), True, 'a'])
def test_bad_validation_fraction_is_a_config_error(value):
  with pytest.raises(ConfigError, match='data.validation_fraction'):
    splits.validation_fraction(ml_collections.ConfigDict({'validation_fraction': value}))


def test_eval_split_defaults_to_validation():
  assert configlib.base_config().data.eval_split == 'validation'


# ---------------------------------------------------------------------------
# The carve-out itself.


@pytest.mark.parametrize('n,fraction,k', [(4000, 0.1, 400), (1437, 0.1, 144), (25, 0.1, 2),
                                          (4, 0.1, 1), (10, 0.25, 2), (10, 0.35, 4)])
def test_carve_takes_round_fraction_by_the_fixed_permutation(n, fraction, k):
  train_idx, val_idx = splits.carve_indices(n, fraction)
  assert len(val_idx) == k and len(train_idx) == n - k
  np.testing.assert_array_equal(np.sort(np.concatenate([train_idx, val_idx])), np.arange(n))
  assert np.all(np.diff(train_idx) > 0) and np.all(np.diff(val_idx) > 0)
  order = np.random.default_rng(splits.VALIDATION_SEED).permutation(n)
  np.testing.assert_array_equal(val_idx, np.sort(order[:k]))


def test_carve_of_a_single_example_is_a_config_error():
  with pytest.raises(ConfigError, match='too few to carve'):
    splits.carve_indices(1, 0.1)


def test_mnist1d_train_and_validation_partition_the_reference_train_split(mnist1d):
  from mnist1d.data import get_dataset_args, make_dataset
  ref = make_dataset(get_dataset_args())
  train_idx, val_idx = splits.carve_indices(4000, 0.1)
  np.testing.assert_array_equal(mnist1d.split('train')['inputs'][..., 0],
                                ref['x'][train_idx].astype(np.float32))
  np.testing.assert_array_equal(mnist1d.split('validation')['inputs'][..., 0],
                                ref['x'][val_idx].astype(np.float32))
  np.testing.assert_array_equal(mnist1d.split('validation')['targets'], ref['y'][val_idx])
  np.testing.assert_array_equal(mnist1d.split('test')['targets'], ref['y_test'])


def test_text_validation_is_the_end_of_the_train_text():
  text = np.arange(100, dtype=np.uint8)
  parts = splits.carve_text(text, 0.1)
  np.testing.assert_array_equal(parts['train'], np.arange(90))
  np.testing.assert_array_equal(parts['validation'], np.arange(90, 100))


def test_forecast_splits_partition_the_target_times_chronologically():
  series = np.arange(100, dtype=np.float64)  # value = time: targets name their times
  parts = splits.forecast_splits(series, window=5, horizon=3, validation_fraction=0.1,
                                 test_fraction=0.2)
  mean, std = np.arange(70).mean(), np.arange(70).std()  # the train period: times 0..69
  times = {}
  for name, p in parts.items():
    x, y = p['inputs'][..., 0] * std + mean, p['targets'] * std + mean
    np.testing.assert_allclose(y - x[:, -1:], [[1, 2, 3]] * len(y), atol=1e-4)
    np.testing.assert_allclose(np.diff(x, axis=1), 1, atol=1e-4)
    times[name] = np.round(y).astype(int)
  # Every target time of a split lies in its period; each period is filled.
  assert times['train'].min() == 5 and times['train'].max() == 69
  assert times['validation'].min() == 70 and times['validation'].max() == 79
  assert times['test'].min() == 80 and times['test'].max() == 99
  assert [len(parts[s]['targets']) for s in ('train', 'validation', 'test')] == [63, 8, 18]


def test_imdb_validation_reviews_are_carved_before_the_vocabulary_is_built():
  from test_tfds_sources import mocked_records  # pylint: disable=g-import-not-at-top
  texts = [f'word{i} shared'.encode() for i in range(20)]
  records = {'train': [{'text': t, 'label': i % 2} for i, t in enumerate(texts)],
             'test': [{'text': b'shared', 'label': 1}]}
  with mocked_records(records):
    dataset = data.load(data_config('imdb_reviews', tokenizer='word', vocab_size=100))
  train_idx, val_idx = splits.carve_indices(20, 0.1)
  val, train_split = dataset.split('validation'), dataset.split('train')
  np.testing.assert_array_equal(val['targets'], val_idx % 2)
  np.testing.assert_array_equal(train_split['targets'], train_idx % 2)
  # 'shared' (in all 18 train reviews) is id 2; a validation review's own word
  # is unknown (1): it never reached the vocabulary.
  np.testing.assert_array_equal(val['inputs'][:, :2], [[1, 2]] * 2)
  assert np.all(train_split['inputs'][:, 0] > 2) and np.all(train_split['inputs'][:, 1] == 2)


# ---------------------------------------------------------------------------
# No stale data: every generation parameter and the code name the cache.

# (dataset, small base fields, one changed generation parameter at a time)
CHANGES = [
    ('adding', SMALL['adding'], [('seq_len', 11), ('num_train', 60), ('num_test', 21),
                                 ('validation_fraction', 0.2)]),
    ('copy_memory', SMALL['copy_memory'], [('seq_len', 11), ('num_train', 60),
                                           ('validation_fraction', 0.2)]),
    ('mackey_glass', SMALL['mackey_glass'], [('window', 9), ('horizon', 3), ('noise_std', 0.1),
                                             ('validation_fraction', 0.2)]),
    ('keywords', dict(num_train=20, num_test=10), [('style', 'hard'), ('num_train', 30),
                                                   ('num_test', 11),
                                                   ('validation_fraction', 0.2)]),
    ('digits', {}, [('validation_fraction', 0.2)]),
    ('stdlib_text', {}, [('validation_fraction', 0.2)]),
    ('dates', SMALL['dates'], [('target_style', 'iso'), ('num_train', 60)]),
    ('shapes_segmentation', SMALL['shapes_segmentation'],
     [('max_shapes', 2), ('noise_std', 0.1), ('min_size', 2.0)]),
]


def variant_dirs(data_dir) -> set[str]:
  """data_dir/<builder>/<config> directories that hold a prepared dataset."""
  out = set()
  for root, _, files in os.walk(data_dir):
    if 'dataset_info.json' in files:
      out.add(os.path.relpath(os.path.dirname(root), data_dir))
  return out


def arrays_of(dataset) -> dict:
  return {s: dataset.split(s) for s in dataset.splits}


def same_data(a, b) -> bool:
  a, b = arrays_of(a), arrays_of(b)
  return a.keys() == b.keys() and all(
      a[s].keys() == b[s].keys() and all(np.array_equal(a[s][k], b[s][k]) for k in a[s])
      for s in a)


@pytest.mark.parametrize('name,base,changes', CHANGES, ids=[c[0] for c in CHANGES])
def test_each_generation_parameter_makes_its_own_cache(name, base, changes, tmp_path,
                                                       monkeypatch):
  root = str(tmp_path)
  first = data.load(ml_collections.ConfigDict({'name': name, 'data_dir': root, **base}))
  dirs = variant_dirs(root)
  assert len(dirs) == 1
  for key, value in changes:
    other = data.load(ml_collections.ConfigDict({'name': name, 'data_dir': root,
                                                 **{**base, key: value}}))
    new = variant_dirs(root) - dirs
    assert len(new) == 1, f'{name}: changing {key} made no new cache directory'
    dirs |= new
    assert not same_data(first, other), f'{name}: changing {key} changed no data'
  # The same config again: its directory is read, nothing is generated.
  def refuse(*args, **kwargs):
    raise AssertionError('regenerated a prepared dataset')
  monkeypatch.setattr(procedural.tfds.core.DatasetBuilder, 'download_and_prepare', refuse)
  again = data.load(ml_collections.ConfigDict({'name': name, 'data_dir': root, **base}))
  assert variant_dirs(root) == dirs
  assert same_data(first, again)


def generated_config_classes():
  classes, todo = [], [procedural.GeneratedConfig]
  while todo:
    cls = todo.pop()
    classes.append(cls)
    todo.extend(cls.__subclasses__())
  return classes


def changed(value):
  if isinstance(value, bool):
    return not value
  if isinstance(value, (int, float)):
    return value + 1
  return value + 'x'


@pytest.mark.parametrize('cls', generated_config_classes(), ids=lambda c: c.__name__)
def test_every_config_field_is_in_the_name(cls):
  base = procedural.named(cls(name=''), 'label')
  params = procedural.generation_params(base)
  assert 'validation_fraction' in params
  for key, value in params.items():
    other = procedural.named(dataclasses.replace(base, **{key: changed(value)}), 'label')
    assert other.name != base.name, f'{cls.__name__}.{key} is not in the config name'
  assert procedural.named(dataclasses.replace(base), 'label').name == base.name


def test_an_edit_of_the_generator_code_makes_a_new_cache(tmp_path, monkeypatch):
  root = str(tmp_path)
  fields = {'name': 'adding', 'data_dir': root, **SMALL['adding']}
  data.load(ml_collections.ConfigDict(fields))
  source = procedural.inspect.getsource
  procedural.generator_digest.cache_clear()
  try:
    with monkeypatch.context() as m:
      m.setattr(procedural.inspect, 'getsource', lambda module: source(module) + '\n# edited\n')
      edited_digest = procedural.generator_digest()
      data.load(ml_collections.ConfigDict(fields))
  finally:
    procedural.generator_digest.cache_clear()
  assert edited_digest != procedural.generator_digest()
  assert len(variant_dirs(root)) == 2
