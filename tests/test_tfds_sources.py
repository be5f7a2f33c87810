"""Real TFDS datasets read without TensorFlow, on mocked or fake prepared data."""

import contextlib
import os
import sys

import ml_collections
import numpy as np
import pytest
import tensorflow_datasets as tfds

from cnn_vs_rnn import configlib, data, models, train
from cnn_vs_rnn.data import audio, tfds_sources
from cnn_vs_rnn.data.pipeline import TrainIterator, eval_batches, num_examples, take
from cnn_vs_rnn.errors import ConfigError
from conftest import CONFIG_DIR, tiny
import tfds_fakes

NEW_CONFIGS = ('mnist_cnn2d', 'mnist_lstm_rows', 'pmnist_lstm', 'fashion_mnist_cnn2d',
               'cifar10_resnet', 'imdb_cnn1d', 'imdb_lstm', 'imdb_bytes_cnn1d',
               'shakespeare_lstm', 'speech_commands_cnn2d', 'speech_commands_gru')


def data_config(**fields):
  c = ml_collections.ConfigDict({'data_dir': '', 'eval_split': 'test'})
  c.update(fields)
  return c


def mocked(n=6):
  return tfds.testing.mock_data(num_examples=n, policy=tfds.testing.MockPolicy.USE_CODE)


class ListSource:
  """A random-access source over a list of records (as a TFDS data source)."""

  def __init__(self, records):
    self.records = list(records)

  def __len__(self):
    return len(self.records)

  def __getitem__(self, i):
    return self.records[i]

  def __getitems__(self, keys):
    return [self.records[k] for k in keys]


@contextlib.contextmanager
def mocked_records(records_per_split):
  """tfds.data_source(...) returns exactly these records for each split."""
  def as_data_source(self, split, **kwargs):
    del self, kwargs
    return ListSource(records_per_split[split])
  with tfds.testing.mock_data(policy=tfds.testing.MockPolicy.USE_CODE,
                              as_data_source_fn=as_data_source):
    yield


# ---------------------------------------------------------------------------
# Images.


@pytest.mark.parametrize('name,shape', [('mnist', (28, 28, 1)), ('fashion_mnist', (28, 28, 1)),
                                        ('cifar10', (32, 32, 3))])
def test_images_are_standardised_float32_with_int32_labels(name, shape):
  with mocked(6):
    dataset = data.load(data_config(name=name))
    raw = [tfds.data_source(name, split='test', data_dir='', download=False)[i]
           for i in range(6)]
  assert dataset.spec == data.DataSpec(input_shape=shape, task='classification',
                                       num_outputs=10)
  assert set(dataset.splits) == {'train', 'validation', 'test'}  # validation: 1 of 6 train
  assert [len(dataset.split(s)['targets']) for s in ('train', 'validation')] == [5, 1]
  test = dataset.split('test')
  assert test['inputs'].shape == (6,) + shape and test['inputs'].dtype == np.float32
  assert test['targets'].dtype == np.int32
  mean, std = tfds_sources.IMAGE_STATS[name]
  for i, record in enumerate(raw):
    want = (record['image'] / 255.0 - np.array(mean)) / np.array(std)
    np.testing.assert_allclose(test['inputs'][i], want, rtol=1e-5, atol=1e-5)
    assert test['targets'][i] == record['label']


def test_image_views_give_row_pixel_and_permuted_sequences():
  with mocked(4):
    images = data.load(data_config(name='mnist')).split('train')['inputs']
    rows = data.load(data_config(name='mnist', view='rows'))
    pixels = data.load(data_config(name='mnist', view='pixels'))
    permuted = data.load(data_config(name='mnist', view='permuted', permutation_seed=3))
  assert rows.spec.input_shape == (28, 28)
  assert pixels.spec.input_shape == (784, 1) == permuted.spec.input_shape
  np.testing.assert_array_equal(rows.split('train')['inputs'], images[..., 0])
  flat = images.reshape(len(images), 784, 1)  # 3 of the 4: one is validation
  np.testing.assert_array_equal(pixels.split('train')['inputs'], flat)
  perm = np.random.default_rng(3).permutation(784)
  np.testing.assert_array_equal(permuted.split('train')['inputs'], flat[:, perm])


# ---------------------------------------------------------------------------
# IMDB.

TRAIN_TEXTS = [b'Good good movie.<br /><br />GREAT acting', b'good plot, bad ending',
               b'Bad. Bad! awful', b'good']
TEST_TEXTS = [b'zebra good zebra', b'awful bad unseen words here ok again']


def imdb_records():
  return {'train': [{'text': t, 'label': i % 2} for i, t in enumerate(TRAIN_TEXTS)],
          'test': [{'text': t, 'label': 1} for t in TEST_TEXTS]}


def test_word_vocabulary_is_built_from_the_train_split_only():
  with mocked_records(imdb_records()):
    dataset = data.load(data_config(name='imdb_reviews', tokenizer='word', vocab_size=3,
                                    max_len=6, validation_fraction=0))
  # Train counts: good 4, bad 3, movie/great/acting/plot/ending/awful 1.
  vocab = tfds_sources.build_vocab(TRAIN_TEXTS, 3)
  assert vocab == {'good': 2, 'bad': 3, 'acting': 4}  # ties alphabetically
  assert dataset.spec.vocab_size == 5 and dataset.spec.variable_length
  assert dataset.spec.input_shape == (6,) and dataset.spec.input_dtype == np.int32
  train_split, test = dataset.split('train'), dataset.split('test')
  # 'Good good movie.<br /><br />GREAT acting' -> good good movie great acting
  np.testing.assert_array_equal(train_split['inputs'][0], [2, 2, 1, 1, 4, 0])
  # 'zebra' appears only in test: unknown (1), never in the vocabulary.
  np.testing.assert_array_equal(test['inputs'][0], [1, 2, 1, 0, 0, 0])
  np.testing.assert_array_equal(test['lengths'], [3, 6])  # second one truncated
  np.testing.assert_array_equal(test['inputs'][1], [1, 3, 1, 1, 1, 1])
  assert test['targets'].dtype == np.int32 and list(test['targets']) == [1, 1]


def test_byte_tokens_shift_utf8_bytes_by_one():
  records = {'train': [{'text': 'héllo'.encode(), 'label': 0}],
             'test': [{'text': b'ab', 'label': 1}]}
  with mocked_records(records):
    dataset = data.load(data_config(name='imdb_reviews', tokenizer='byte', max_len=4,
                                    validation_fraction=0))
  assert dataset.spec.vocab_size == 257
  np.testing.assert_array_equal(dataset.split('train')['inputs'][0],
                                np.frombuffer('héllo'.encode(), np.uint8)[:4] + 1)
  np.testing.assert_array_equal(dataset.split('test')['inputs'][0], [98, 99, 0, 0])
  np.testing.assert_array_equal(dataset.split('train')['lengths'], [4])
  np.testing.assert_array_equal(dataset.split('test')['lengths'], [2])


def test_buckets_pad_each_batch_to_the_smallest_bucket_that_holds_it():
  # Eval batches of 4 in this order need buckets 4, 8 and 16 in turn.
  lengths = [1, 2, 3, 2, 5, 7, 1, 4, 9, 12, 30, 16]
  texts = [b' '.join([b'w%d' % j for j in range(n)]) for n in lengths]
  records = {split: [{'text': t, 'label': i % 2} for i, t in enumerate(texts)]
             for split in ('train', 'test')}
  buckets = (4, 8, 16)
  with mocked_records(records):
    dataset = data.load(data_config(name='imdb_reviews', tokenizer='word', vocab_size=50,
                                    max_len=16, buckets=buckets))
  assert dataset.spec.input_shape == (16,)
  train_it = TrainIterator(dataset.split('train'), 4, seed=0)
  batches = [next(train_it) for _ in range(9)] + list(eval_batches(dataset.split('test'), 4))
  seen = set()
  for batch in batches:
    T = batch['inputs'].shape[1]
    assert T in buckets
    seen.add(T)
    real = batch['weights'] > 0
    assert T == min(b for b in buckets if b >= batch['lengths'].max())
    # Lengths are the true number of words, at most max_len; padding is 0.
    for row, n in zip(batch['inputs'][real], batch['lengths'][real]):
      assert np.all(row[:n] > 0) and np.all(row[n:] == 0)
  assert seen == set(buckets)
  expected = sorted(min(n, 16) for n in lengths)
  all_test = take(dataset.split('test'), np.arange(len(lengths)))
  assert sorted(all_test['lengths']) == expected


def test_every_process_pads_its_slice_to_the_bucket_of_the_whole_global_batch():
  # Global batches of 4: the first half of each is short, the second half long, so
  # each process's own slice would need a different bucket.
  lengths = [1, 2, 9, 12, 3, 2, 16, 5, 1, 4, 2, 7]
  texts = [b' '.join([b'w%d' % j for j in range(n)]) for n in lengths]
  records = {split: [{'text': t, 'label': i % 2} for i, t in enumerate(texts)]
             for split in ('train', 'test')}
  with mocked_records(records):
    dataset = data.load(data_config(name='imdb_reviews', tokenizer='word', vocab_size=50,
                                    max_len=16, buckets=(4, 8, 16)))
  split = dataset.split('test')

  def train_batches(process_index, process_count):
    it = TrainIterator(split, 4, seed=0, shuffle=False, process_index=process_index,
                       process_count=process_count)
    return [next(it) for _ in range(3)]

  def eval_(process_index, process_count):  # 12 examples in batches of 8: one padded
    return list(eval_batches(split, 8, process_index, process_count))

  for batches in (train_batches, eval_):
    whole = batches(0, 1)
    parts = [batches(0, 2), batches(1, 2)]
    for i, batch in enumerate(whole):
      real = batch['weights'] > 0
      assert batch['inputs'].shape[1] == min(b for b in (4, 8, 16)
                                             if b >= batch['lengths'][real].max())
      for part in (parts[0][i], parts[1][i]):
        assert part['inputs'].shape == (batch['inputs'].shape[0] // 2,
                                        batch['inputs'].shape[1])
      for key in batch:
        np.testing.assert_array_equal(
            np.concatenate([parts[0][i][key], parts[1][i][key]]), batch[key])
  # The first global batch: lengths (1, 2 | 9, 12) -> bucket 16 for both halves.
  assert [b['inputs'].shape for b in (train_batches(0, 2)[0], train_batches(1, 2)[0])] == [
      (2, 16), (2, 16)]


@pytest.mark.parametrize('buckets', [(8, 4, 16), (4, 8), (4, 8, 32), (0, 16)])
def test_bad_buckets_are_config_errors(buckets):
  with mocked(2), pytest.raises(ConfigError, match='data.buckets'):
    data.load(data_config(name='imdb_reviews', max_len=16, buckets=buckets))


def test_unknown_tokenizer_is_a_config_error():
  with mocked(2), pytest.raises(ConfigError, match="data.tokenizer 'bpe'; valid: byte, word"):
    data.load(data_config(name='imdb_reviews', tokenizer='bpe'))


def test_imdb_under_mock_data_has_the_expected_batch_keys():
  with mocked(8):
    dataset = data.load(data_config(name='imdb_reviews', tokenizer='word', vocab_size=100,
                                    max_len=32))
  batch = next(TrainIterator(dataset.split('train'), 4, seed=0))
  assert set(batch) == {'inputs', 'targets', 'lengths', 'weights'}
  assert batch['inputs'].dtype == np.int32 and batch['inputs'].shape == (4, 32)
  assert np.all((batch['lengths'] >= 1) & (batch['lengths'] <= 32))


# ---------------------------------------------------------------------------
# Tiny Shakespeare.


def test_tiny_shakespeare_chunks_every_split_into_next_byte_examples():
  text = {'train': b'0123456789abcdefghij', 'validation': b'ABCDEFGHIJ', 'test': 'xyzéw'}
  with mocked_records({k: [{'text': v}] for k, v in text.items()}):
    dataset = data.load(data_config(name='tiny_shakespeare', seq_len=4))
  assert dataset.spec == data.DataSpec(input_shape=(4,), task='language_model',
                                       num_outputs=256, per_step=True, vocab_size=256)
  assert set(dataset.splits) == {'train', 'validation', 'test'}
  train_split = dataset.split('train')
  assert train_split['inputs'].dtype == np.int32 and train_split['inputs'].shape == (4, 4)
  as_text = lambda a: bytes(a.astype(np.uint8).tolist())
  assert [as_text(x) for x in train_split['inputs']] == [b'0123', b'4567', b'89ab', b'cdef']
  assert [as_text(y) for y in train_split['targets']] == [b'1234', b'5678', b'9abc', b'defg']
  assert [as_text(x) for x in dataset.split('validation')['inputs']] == [b'ABCD', b'EFGH']
  assert as_text(dataset.split('test')['targets'][0]) == 'yzéw'.encode()[:4]


def test_tiny_shakespeare_seq_len_longer_than_a_split_is_a_config_error():
  records = {'train': [{'text': b'x' * 100}], 'validation': [{'text': b'short'}],
             'test': [{'text': b'x' * 100}]}
  with mocked_records(records), pytest.raises(ConfigError, match="'validation' split has 5"):
    data.load(data_config(name='tiny_shakespeare', seq_len=8))


# ---------------------------------------------------------------------------
# Speech Commands on a fake prepared copy.


@pytest.fixture(scope='module', params=[True, False], ids=['audio_feature', 'tensor_feature'])
def speech_dir(request, tmp_path_factory):
  root = str(tmp_path_factory.mktemp('speech'))
  path = tfds_fakes.prepare_fake_speech_commands(root, audio_feature=request.param)
  assert ('audio_feature.Audio' in open(os.path.join(path, 'features.json')).read()
          ) == request.param
  return root


@pytest.mark.parametrize('as_image', [False, True])
def test_speech_commands_reads_a_prepared_copy_as_log_mel_features(speech_dir, as_image):
  dataset = data.load(data_config(name='speech_commands', data_dir=speech_dir,
                                  num_mels=40, as_image=as_image))
  shape = (98, 40, 1) if as_image else (98, 40)
  assert dataset.spec == data.DataSpec(input_shape=shape, task='classification',
                                       num_outputs=12)
  assert {k: num_examples(v) for k, v in dataset.splits.items()} == (
      tfds_fakes.SPEECH_SPLIT_SIZES)
  batches = list(eval_batches(dataset.split('test'), 8))
  inputs = np.concatenate([b['inputs'][b['weights'] > 0] for b in batches])
  labels = np.concatenate([b['targets'][b['weights'] > 0] for b in batches])
  assert inputs.shape == (12,) + shape and inputs.dtype == np.float32
  assert labels.dtype == np.int32
  assert sorted(labels) == sorted(tfds_fakes.fake_clip(i, 'test')[1] for i in range(12))
  feats = inputs.reshape(12, 98, 40)
  np.testing.assert_allclose(feats.mean(axis=(1, 2)), 0, atol=1e-4)  # per clip
  np.testing.assert_allclose(feats.std(axis=(1, 2)), 1, atol=1e-3)
  # Each fake clip is a tone at 300 + 250 * label Hz: its band is the loudest.
  centers = audio.mel_centers_hz(40, 20, 8000)
  for x, label in zip(feats, labels):
    want = np.argmin(np.abs(centers - (300 + 250 * label)))
    assert abs(int(np.argmax(x.mean(axis=0))) - want) <= 1


def test_speech_commands_reads_the_newest_version(speech_dir, tmp_path):
  import shutil
  root = tmp_path / 'speech_commands'
  shutil.copytree(os.path.join(speech_dir, 'speech_commands', '0.0.3'), root / '0.0.3')
  (root / '0.0.10').mkdir()  # No dataset_info.json: not a prepared version.
  (root / 'incomplete.ABC_0.0.4').mkdir()
  assert tfds_sources.newest_version_dir(str(root)) == str(root / '0.0.3')
  shutil.copytree(root / '0.0.3', root / '0.0.20')
  assert tfds_sources.newest_version_dir(str(root)) == str(root / '0.0.20')


# ---------------------------------------------------------------------------
# Not prepared: one line naming the dataset, the directory and the command.


@pytest.mark.parametrize('name', tfds_fakes.REAL)
def test_unprepared_dataset_says_where_it_looked_and_how_to_prepare_it(name, tmp_path,
                                                                      monkeypatch):
  empty = str(tmp_path / 'empty tfds')
  os.makedirs(empty)
  monkeypatch.setenv('TFDS_DATA_DIR', empty)
  with pytest.raises(ConfigError) as info:
    data.load(data_config(name=name))
  msg = str(info.value)
  assert '\n' not in msg
  assert f'dataset {name!r} is not prepared' in msg
  assert empty in msg and '$TFDS_DATA_DIR' in msg
  target = 'imdb_reviews/plain_text' if name == 'imdb_reviews' else name
  assert f"tfds build {target} --data_dir '{empty}' --file_format=array_record" in msg
  assert "pip install -e '.[prepare]'" in msg
  assert os.listdir(empty) == []  # Nothing was written or downloaded.


def test_config_data_dir_is_named_as_the_place_it_looked(tmp_path):
  with pytest.raises(ConfigError, match=r'in .*elsewhere \(config\.data\.data_dir\)'):
    data.load(data_config(name='mnist', data_dir=str(tmp_path / 'elsewhere')))


# ---------------------------------------------------------------------------
# log_mel_spectrogram against independent checks.

SR = 16000


def mel(f):  # HTK mel scale, written out again here.
  return 2595 * np.log10(1 + np.asarray(f, float) / 700)


def inv_mel(m):
  return 700 * (10 ** (np.asarray(m, float) / 2595) - 1)


@pytest.mark.parametrize('n,frames', [(16000, 98), (8000, 48), (400, 1), (100, 1), (560, 2)])
def test_log_mel_shapes(n, frames):
  out = audio.log_mel_spectrogram(np.zeros((3, n)), SR, num_mels=24)
  assert out.shape == (3, frames, 24) and out.dtype == np.float32
  assert audio.num_frames(n, SR) == frames


def test_silence_gives_the_floor_value():
  out = audio.log_mel_spectrogram(np.zeros((2, 16000), np.float32), SR)
  np.testing.assert_allclose(out, np.log(audio.LOG_FLOOR), rtol=1e-6)


@pytest.mark.parametrize('band', [0, 5, 17, 30, 39])
def test_a_sine_puts_its_energy_in_the_band_centred_on_its_frequency(band):
  edges = inv_mel(np.linspace(mel(20), mel(8000), 42))
  f = edges[band + 1]  # centre of `band`
  t = np.arange(SR) / SR
  out = audio.log_mel_spectrogram(np.sin(2 * np.pi * f * t)[None], SR)
  profile = out[0].mean(axis=0)
  assert int(np.argmax(profile)) == band
  far = [b for b in range(40) if abs(b - band) >= 3]
  assert profile[band] > profile[far].max() + 5  # > e^5 ~ 150x the energy


def test_louder_by_2x_adds_log_4():
  t = np.arange(SR) / SR
  x = np.sin(2 * np.pi * 1000 * t)[None]
  a, b = audio.log_mel_spectrogram(x, SR), audio.log_mel_spectrogram(2 * x, SR)
  loud = a > np.log(audio.LOG_FLOOR) + 10
  np.testing.assert_allclose((b - a)[loud], np.log(4), atol=1e-3)


def test_mel_filters_are_triangles_that_sum_to_one_between_the_outer_centres():
  n_fft = 512
  fb = audio.mel_filterbank(40, n_fft, SR, 20.0, 8000.0)
  assert fb.shape == (257, 40) and fb.min() >= 0 and fb.max() <= 1
  assert np.all(fb.sum(axis=0) > 0)  # every band sees some FFT bin
  edges = inv_mel(np.linspace(mel(20), mel(8000), 42))
  bins = np.arange(257) * SR / n_fft
  inner = (bins >= edges[1]) & (bins <= edges[-2])
  np.testing.assert_allclose(fb[inner].sum(axis=1), 1.0, atol=1e-5)
  outside = (bins <= edges[0]) | (bins >= edges[-1])
  assert np.all(fb[outside] == 0)
  with pytest.raises(ValueError):
    fb[0, 0] = 1.0  # cached and shared: read-only


# ---------------------------------------------------------------------------
# Reading needs no TensorFlow; the new configs fit their data.


def test_real_datasets_load_without_importing_tensorflow():
  for name in tfds_fakes.MOCKED:
    with tfds_fakes.real_data(ml_collections.ConfigDict(
        {'data': data_config(name=name, seq_len=8, max_len=8)})) as config:
      data.load(config.data)
  data.load(data_config(name='speech_commands', data_dir=tfds_fakes.fake_speech_commands_dir()))
  assert 'tensorflow' not in sys.modules


@pytest.mark.parametrize('name', NEW_CONFIGS)
def test_new_config_fits_its_data(name):
  """Data and model agree; tests/test_configs.py trains each of these end to end."""
  config = configlib.load_config_file(os.path.join(CONFIG_DIR, name + '.py'))
  assert config.data.name in tfds_fakes.REAL
  with tfds_fakes.real_data(config) as config:
    dataset = data.load(config.data)
  models.build(config.model, dataset.spec)  # raises unless the model fits the data
  batch = next(TrainIterator(dataset.split('train'), 8, seed=0))
  assert batch['inputs'].shape[1:] == dataset.spec.input_shape or (
      config.data.get('buckets') and batch['inputs'].shape[1] in config.data.buckets)
  assert batch['inputs'].dtype == dataset.spec.input_dtype
  assert ('lengths' in batch) == dataset.spec.variable_length


def test_a_bucketed_config_trains_end_to_end(tmp_path):
  config = configlib.load_config_file(os.path.join(CONFIG_DIR, 'imdb_lstm.py'))
  config.data.max_len, config.data.buckets = 16, (4, 8, 16)
  with tfds_fakes.real_data(config) as config:
    config = tiny(config, steps=2, every=2)
    config.data.eval_batch_size = 8
    final = train.train_and_evaluate(config, str(tmp_path / 'run'))
  assert final['step'] == 2
  assert np.isfinite(final['eval/loss']) and 0.0 <= final['eval/accuracy'] <= 1.0
