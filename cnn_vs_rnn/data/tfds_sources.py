"""Real datasets by their TFDS names, read from prepared ArrayRecord files.

Reading needs no TensorFlow: `tfds.data_source(NAME, data_dir=...,
download=False)` (and, for speech_commands, the prepared directory through
`tfds.builder_from_directory`'s ReadOnlyBuilder) read ArrayRecord files with
NumPy. Preparing them once does need the TFDS builders, which use TensorFlow:

  pip install -e '.[prepare]'
  tfds build NAME --data_dir DIR --file_format=array_record

A dataset that is not prepared raises a ConfigError (exit 2) naming the
directory and that command.

Splits: train / validation / test. tiny_shakespeare and speech_commands
have a validation split in the TFDS catalog; for mnist, fashion_mnist,
cifar10 and imdb_reviews it is carved out of the catalog's train split by
the fixed permutation of splits.carve (`data.validation_fraction`, default
0.1: 6,000 of MNIST's 60,000, 5,000 of CIFAR-10's 50,000, 2,500 of IMDB's
25,000 reviews), and train keeps the rest.

Datasets and their `config.data` fields:
  mnist, fashion_mnist, cifar10
      images [H, W, C] float32: pixels / 255, standardised with fixed
      per-dataset mean and std (IMAGE_STATS); labels int32; held in memory.
      `view` ('rows', 'pixels', 'permuted') turns them into sequences.
  imdb_reviews
      sentiment, 2 classes. `tokenizer`: 'byte' (UTF-8 bytes + 1, 0 = padding:
      vocabulary 257) or 'word' (lowercase, `<br />` removed, words matched by
      WORD_RE; the `vocab_size` most frequent words of the train split (after
      the validation carve-out) get ids 2.., 0 = padding, 1 = unknown:
      vocabulary vocab_size + 2). The first
      `max_len` tokens are kept, zero-padded; batches carry 'lengths'.
      `buckets` (e.g. (128, 256, 512), ending at max_len): each batch is padded
      only to the smallest bucket >= its longest example, so at most
      len(buckets) input shapes get compiled.
  tiny_shakespeare
      character (byte) language modelling, vocabulary 256. The text of a split
      is cut into consecutive, non-overlapping chunks of `seq_len` bytes; the
      targets are the same chunks shifted by one byte (every byte after the
      first is predicted exactly once). Splits train / validation / test.
  speech_commands
      keyword spotting, 12 classes. Clips are cropped / zero-padded to 1 s at
      16 kHz and turned into `num_mels` log-mel energies per 10 ms
      (audio.log_mel_spectrogram: 98 frames), standardised per clip; inputs
      [98, num_mels], or [98, num_mels, 1] with `as_image` (for 2D CNNs).
      Read lazily: features are computed per batch.
"""

from __future__ import annotations

import collections
import json
import os
import re
import shlex

import numpy as np

from cnn_vs_rnn import fileio
from cnn_vs_rnn.data import DataSpec, Dataset, data_dir, positive_field, read_all, register
from cnn_vs_rnn.data.offline import lm_windows
from cnn_vs_rnn.data.audio import log_mel_spectrogram, num_frames
from cnn_vs_rnn.data.pipeline import MappedSource
from cnn_vs_rnn.data.splits import carve, carve_indices, validation_fraction
from cnn_vs_rnn.errors import ConfigError

# `tfds build` targets (imdb_reviews: only the config that is read).
BUILD_TARGETS = {
    'mnist': 'mnist', 'fashion_mnist': 'fashion_mnist', 'cifar10': 'cifar10',
    'imdb_reviews': 'imdb_reviews/plain_text', 'tiny_shakespeare': 'tiny_shakespeare',
    'speech_commands': 'speech_commands',
}
# What `tfds build` needs beyond tensorflow-datasets (all: the `prepare` extra).
PREPARE_NEEDS = {
    'speech_commands': 'its builder imports TensorFlow and decodes WAVs with pydub',
}

# ---------------------------------------------------------------------------
# Opening TFDS data sources.


def data_dir_origin(data_config) -> str:
  if data_config.get('data_dir'):
    return 'config.data.data_dir'
  if os.environ.get('TFDS_DATA_DIR'):
    return '$TFDS_DATA_DIR'
  return 'the default; set $TFDS_DATA_DIR or config.data.data_dir to change it'


def not_prepared_error(name: str, data_config, detail: str = '') -> ConfigError:
  """One line: the dataset, where it was looked for, the command that prepares it."""
  root = data_dir(data_config)
  needs = PREPARE_NEEDS.get(name, 'needs TensorFlow')
  return ConfigError(
      f'dataset {name!r} is not prepared as ArrayRecord files in {root} '
      f'({data_dir_origin(data_config)}){detail}; prepare it once with: '
      f'tfds build {BUILD_TARGETS[name]} --data_dir {shlex.quote(root)} '
      f"--file_format=array_record ({needs}: pip install -e '.[prepare]'; "
      'training afterwards does not)')


class Records:
  """Batched random access to a TFDS data source (what read_all and MappedSource use).

  A real ArrayRecord source reads a batch of records at once (several times
  faster than one by one). Under `tfds.testing.mock_data` of
  tensorflow-datasets 4.9.10 the mock's `__getitems__` is unbound and raises
  TypeError; there the records are read one at a time.
  """

  def __init__(self, source):
    self.source = source
    self._batched = True
    if len(source):
      try:
        source.__getitems__([0])
      except TypeError:
        self._batched = False

  def __len__(self) -> int:
    return len(self.source)

  def __getitems__(self, keys) -> list:
    keys = [int(k) for k in keys]
    if not keys:
      return []
    if self._batched:
      return list(self.source.__getitems__(keys))
    return [self.source[k] for k in keys]


def open_split(name: str, split: str, data_config) -> Records:
  """`tfds.data_source(name, split=split)` from data_dir, never downloading."""
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  try:
    source = tfds.data_source(name, split=split, data_dir=data_dir(data_config),
                              download=False)
  except (NotImplementedError, FileNotFoundError) as e:
    # tensorflow-datasets 4.9.10 raises NotImplementedError ("Random access data
    # source for file format FileFormat.TFRECORD is not supported") both when
    # nothing is prepared and when the dataset was prepared as TFRecord.
    raise not_prepared_error(name, data_config) from e
  return Records(source)


def read_records(source: Records) -> list:
  return source.__getitems__(range(len(source)))


def as_bytes(text) -> bytes:
  """A Text feature's value: bytes from ArrayRecord files, str under mock_data."""
  return text.encode('utf-8') if isinstance(text, str) else bytes(text)


# ---------------------------------------------------------------------------
# Images.

# Per-channel mean and std of the train pixels scaled to [0, 1].
IMAGE_STATS = {
    'mnist': ((0.1307,), (0.3081,)),
    'fashion_mnist': ((0.2860,), (0.3530,)),
    'cifar10': ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
}
IMAGE_SHAPES = {'mnist': (28, 28, 1), 'fashion_mnist': (28, 28, 1), 'cifar10': (32, 32, 3)}


def standardise_images(images_NxHxWxC: np.ndarray, name: str) -> np.ndarray:
  """uint8 images -> float32 (x / 255 - mean) / std, with `name`'s constants."""
  mean, std = (np.asarray(s, np.float32) for s in IMAGE_STATS[name])
  x = images_NxHxWxC.astype(np.float32)
  x *= np.float32(1 / 255)
  x -= mean
  x /= std
  return x


def _image_loader(name: str):
  def load(data_config) -> Dataset:
    fraction = validation_fraction(data_config)
    splits = {}
    for split in ('train', 'test'):
      rec = read_all(open_split(name, split, data_config))
      splits[split] = {'inputs': standardise_images(rec['image'], name),
                       'targets': rec['label'].astype(np.int32)}
    splits.update(carve(splits['train'], fraction))
    spec = DataSpec(input_shape=IMAGE_SHAPES[name], task='classification', num_outputs=10)
    return Dataset(spec, splits)
  load.__name__ = name
  load.__doc__ = (f'{name}: images [H, W, C] standardised, 10 classes, train / validation '
                  '(carved from train) / test.')
  return load


for _name in IMAGE_STATS:
  register(_name)(_image_loader(_name))

# ---------------------------------------------------------------------------
# IMDB reviews: byte or word tokens, truncated, padded, optionally bucketed.

TOKENIZERS = ('byte', 'word')
WORD_RE = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_BREAK_RE = re.compile(rb'<br\s*/?>', re.IGNORECASE)
PAD, UNKNOWN = 0, 1


def words(text) -> list[str]:
  """Lowercase words of a review, HTML line breaks removed."""
  text = _BREAK_RE.sub(b' ', as_bytes(text)).decode('utf-8', errors='replace')
  return WORD_RE.findall(text.lower())


def build_vocab(texts, size: int) -> dict[str, int]:
  """The `size` most frequent words of `texts` -> ids 2.. (ties: alphabetical)."""
  counts = collections.Counter()
  for text in texts:
    counts.update(words(text))
  top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:size]
  return {w: i + 2 for i, (w, _) in enumerate(top)}


def encode_words(text, vocab: dict[str, int]) -> np.ndarray:
  return np.asarray([vocab.get(w, UNKNOWN) for w in words(text)], np.int32)


def encode_bytes(text) -> np.ndarray:
  """UTF-8 bytes shifted by one: ids 1..256, 0 stays free for padding."""
  return np.frombuffer(as_bytes(text), np.uint8).astype(np.int32) + 1


def pad_tokens(seqs, max_len: int) -> tuple[np.ndarray, np.ndarray]:
  """Token lists -> (ids [N, max_len] int32, zero-padded, first max_len kept; lengths [N])."""
  tokens = np.zeros((len(seqs), max_len), np.int32)
  lengths = np.zeros(len(seqs), np.int32)
  for i, seq in enumerate(seqs):
    seq = seq[:max_len]
    tokens[i, :len(seq)] = seq
    lengths[i] = len(seq)
  return tokens, lengths


def check_buckets(buckets, max_len: int) -> tuple[int, ...]:
  buckets = tuple(buckets or ())
  if buckets and (any(isinstance(b, bool) or not isinstance(b, int) or b < 1 for b in buckets)
                  or list(buckets) != sorted(set(buckets)) or buckets[-1] != max_len):
    raise ConfigError(f'data.buckets={buckets!r} must be increasing positive lengths '
                      f'ending at data.max_len={max_len}, e.g. '
                      f'({max_len // 4}, {max_len // 2}, {max_len})')
  return buckets


def bucket_length(longest: int, buckets: tuple[int, ...]) -> int:
  """The smallest bucket >= longest."""
  return buckets[int(np.searchsorted(buckets, longest))]


class Rows:
  """Arrays held in memory as a random-access source of records (one dict per row)."""

  def __init__(self, arrays: dict[str, np.ndarray]):
    self.arrays = arrays

  def __len__(self) -> int:
    return len(next(iter(self.arrays.values())))

  def __getitems__(self, keys) -> list:
    return [{k: v[int(i)] for k, v in self.arrays.items()} for i in keys]


def bucketed(split: dict[str, np.ndarray], buckets: tuple[int, ...]) -> MappedSource:
  """A padded split whose batches are cut to the smallest bucket that holds them.

  The bucket comes from the longest example of the whole global batch, so
  every process cuts its slice to the same length.
  """
  def to_arrays(records):
    return {k: np.stack([r[k] for r in records]) for k in records[0]}

  def inputs_length(batch_indices: np.ndarray) -> int:
    return bucket_length(int(split['lengths'][batch_indices].max(initial=1)), buckets)

  return MappedSource(Rows(split), to_arrays, inputs_length, targets=split['targets'])


@register('imdb_reviews')
def imdb_reviews(data_config) -> Dataset:
  """IMDB sentiment (25,000 train / 25,000 test reviews), byte or word tokens."""
  tokenizer = data_config.get('tokenizer', 'word')
  if tokenizer not in TOKENIZERS:
    raise ConfigError(f'unknown data.tokenizer {tokenizer!r}; valid: {", ".join(TOKENIZERS)}')
  max_len = positive_field(data_config, 'max_len', 256)
  buckets = check_buckets(data_config.get('buckets', ()), max_len)
  fraction = validation_fraction(data_config)
  records = {split: read_records(open_split('imdb_reviews', split, data_config))
             for split in ('train', 'test')}
  if fraction:
    train_idx, val_idx = carve_indices(len(records['train']), fraction)
    records['validation'] = [records['train'][i] for i in val_idx]
    records['train'] = [records['train'][i] for i in train_idx]
  if tokenizer == 'word':
    size = positive_field(data_config, 'vocab_size', 20000)
    vocab = build_vocab((r['text'] for r in records['train']), size)  # train only
    encode = lambda text: encode_words(text, vocab)
    vocab_size = size + 2
  else:
    encode, vocab_size = encode_bytes, 257
  splits = {}
  for split, recs in records.items():
    tokens, lengths = pad_tokens([encode(r['text']) for r in recs], max_len)
    arrays = {'inputs': tokens, 'targets': np.asarray([r['label'] for r in recs], np.int32),
              'lengths': lengths}
    splits[split] = bucketed(arrays, buckets) if buckets else arrays
  spec = DataSpec(input_shape=(max_len,), task='classification', num_outputs=2,
                  vocab_size=vocab_size, variable_length=True)
  return Dataset(spec, splits)


# ---------------------------------------------------------------------------
# Tiny Shakespeare: byte-level language modelling.


@register('tiny_shakespeare')
def tiny_shakespeare(data_config) -> Dataset:
  """Tiny Shakespeare bytes, cut into `seq_len`-byte next-byte prediction examples."""
  seq_len = positive_field(data_config, 'seq_len', 128)
  splits = {}
  for split in ('train', 'validation', 'test'):
    # One record per split holds the whole text; join all records regardless.
    text = b''.join(as_bytes(r['text'])
                    for r in read_records(open_split('tiny_shakespeare', split, data_config)))
    if len(text) < seq_len + 1:
      raise ConfigError(f'data.seq_len={seq_len} is too long: the tiny_shakespeare '
                        f'{split!r} split has {len(text)} bytes')
    splits[split] = lm_windows(np.frombuffer(text, np.uint8), seq_len)
  spec = DataSpec(input_shape=(seq_len,), task='language_model', num_outputs=256,
                  per_step=True, vocab_size=256)
  return Dataset(spec, splits)


# ---------------------------------------------------------------------------
# Speech Commands: log-mel features computed per batch.

SPEECH_SAMPLE_RATE = 16000
_AUDIO_CLASS = 'tensorflow_datasets.core.features.audio_feature.Audio'
_TENSOR_CLASS = 'tensorflow_datasets.core.features.tensor_feature.Tensor'


def newest_version_dir(root: str) -> str | None:
  """root/<version> with the highest version that holds a dataset_info.json."""
  from tensorflow_datasets.core import utils  # pylint: disable=g-import-not-at-top
  root_path = fileio.as_path(root)
  if not root_path.is_dir():
    return None
  versions = [utils.Version(entry.name) for entry in root_path.iterdir()
              if utils.Version.is_valid(entry.name)
              and (entry / 'dataset_info.json').is_file()]
  return os.fspath(root_path / str(max(versions))) if versions else None


def without_audio_features(features_json: dict) -> dict:
  """features.json with every eagerly decoded `Audio` feature as the equal `Tensor`.

  `tfds.features.Audio`'s constructor imports TensorFlow. Non-lazy Audio with
  no encoding is stored exactly as a Tensor of its shape and dtype, so reading
  it as one gives the same int16 samples.
  """
  def convert(node):
    if isinstance(node, dict):
      if node.get('pythonClassName') == _AUDIO_CLASS:
        audio = node['audio']
        if audio.get('lazyDecode') or str(audio.get('encoding', 'none')).lower() != 'none':
          raise ConfigError('this speech_commands copy stores encoded audio (lazy_decode '
                            'or an encoding), which cannot be read without TensorFlow')
        return {'pythonClassName': _TENSOR_CLASS,
                'tensor': {'shape': audio['shape'], 'dtype': audio['dtype'],
                           'encoding': 'none'}}
      return {k: convert(v) for k, v in node.items()}
    if isinstance(node, list):
      return [convert(v) for v in node]
    return node
  return convert(features_json)


def builder_from_directory(path: str):
  """`tfds.builder_from_directory(path)`, with Audio features read as Tensors."""
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  from tensorflow_datasets.core import dataset_info, read_only_builder  # pylint: disable=g-import-not-at-top
  content = fileio.read_json(fileio.as_path(path) / 'features.json')
  if _AUDIO_CLASS not in json.dumps(content):
    return tfds.builder_from_directory(path)
  features = tfds.features.FeatureConnector.from_json(without_audio_features(content))
  info = dataset_info.read_proto_from_builder_dir(path)
  info.features.CopyFrom(features.to_proto())
  return read_only_builder.ReadOnlyBuilder(path, info_proto=info)


def fixed_length(audio, num_samples: int) -> np.ndarray:
  """int16 samples cropped or zero-padded at the end to num_samples, as float in [-1, 1)."""
  out = np.zeros(num_samples, np.float32)
  audio = np.asarray(audio).reshape(-1)[:num_samples]
  out[:len(audio)] = audio.astype(np.float32) / 32768.0
  return out


def speech_features(audio_BxN: np.ndarray, num_mels: int) -> np.ndarray:
  """Log-mel [B, frames, num_mels], standardised per clip (zero mean, unit std)."""
  feats = log_mel_spectrogram(audio_BxN, SPEECH_SAMPLE_RATE, num_mels=num_mels)
  mean = feats.mean(axis=(1, 2), keepdims=True)
  std = feats.std(axis=(1, 2), keepdims=True)
  return ((feats - mean) / np.maximum(std, 1e-5)).astype(np.float32)


@register('speech_commands')
def speech_commands(data_config) -> Dataset:
  """Speech Commands v0.02, 12 classes, log-mel features per batch."""
  num_mels = positive_field(data_config, 'num_mels', 40)
  as_image = bool(data_config.get('as_image', False))
  root = os.fspath(fileio.as_path(data_dir(data_config)) / 'speech_commands')
  path = newest_version_dir(root)
  if path is None:
    raise not_prepared_error('speech_commands', data_config,
                             f': no {root}/<version>/dataset_info.json')
  builder = builder_from_directory(path)
  try:
    sources = builder.as_data_source()
  except NotImplementedError as e:  # Prepared, but as TFRecord.
    raise not_prepared_error('speech_commands', data_config,
                             f': {path} holds another file format') from e
  num_classes = builder.info.features['label'].num_classes
  frames = num_frames(SPEECH_SAMPLE_RATE, SPEECH_SAMPLE_RATE)

  def to_arrays(records):
    audio = np.stack([fixed_length(r['audio'], SPEECH_SAMPLE_RATE) for r in records])
    x = speech_features(audio, num_mels)
    return {'inputs': x[..., None] if as_image else x,
            'targets': np.asarray([r['label'] for r in records], np.int32)}

  splits = {name: MappedSource(Records(source), to_arrays)
            for name, source in sources.items()}
  shape = (frames, num_mels, 1) if as_image else (frames, num_mels)
  return Dataset(DataSpec(input_shape=shape, task='classification',
                          num_outputs=num_classes), splits)
