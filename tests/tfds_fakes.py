"""Stand-ins for the real TFDS datasets, which cannot be downloaded in tests.

* mnist, fashion_mnist, cifar10, imdb_reviews, tiny_shakespeare:
  `tfds.testing.mock_data(policy=USE_CODE)`, which fakes `tfds.data_source`
  from the datasets' own feature specs, without TensorFlow.
* speech_commands: its TFDS builder imports TensorFlow, so it cannot be
  mocked. `prepare_fake_speech_commands` writes a small prepared copy instead
  (a GeneratorBasedBuilder with the same splits and storage: int16 samples and
  a 12-name ClassLabel, as ArrayRecord files), then, by default, rewrites the
  audio entry of features.json to the `Audio` feature that the real builder
  records, so reading goes through the same path as a real prepared copy.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile

import numpy as np
import tensorflow_datasets as tfds

MOCKED = ('mnist', 'fashion_mnist', 'cifar10', 'imdb_reviews', 'tiny_shakespeare')
REAL = MOCKED + ('speech_commands',)

SPEECH_LABELS = ['down', 'go', 'left', 'no', 'off', 'on', 'right', 'stop', 'up', 'yes',
                 '_silence_', '_unknown_']
SPEECH_SPLIT_SIZES = {'train': 24, 'validation': 8, 'test': 12}
# What the real builder's tfds.features.Audio(file_format='wav',
# sample_rate=16000, dtype=np.int16) writes to features.json.
REAL_AUDIO_FEATURE = {
    'pythonClassName': 'tensorflow_datasets.core.features.audio_feature.Audio',
    'audio': {'shape': {'dimensions': ['-1']}, 'dtype': 'int16', 'fileFormat': 'wav',
              'sampleRate': '16000', 'encoding': 'NONE'},
}


def fake_clip(index: int, split: str) -> tuple[np.ndarray, int]:
  """int16 clip of 0.5-1.06 s: a tone whose pitch encodes the label, plus noise."""
  rng = np.random.default_rng([index, len(split)])
  label = index % len(SPEECH_LABELS)
  n = int(rng.integers(8000, 17000))
  t = np.arange(n) / 16000
  tone = 0.3 * np.sin(2 * np.pi * (300 + 250 * label) * t)
  audio = tone + 0.01 * rng.standard_normal(n)
  return np.round(audio * 32767).astype(np.int16), label


class FakeSpeechCommands(tfds.core.GeneratorBasedBuilder, skip_registration=True):
  """A few clips with speech_commands' name, version, splits and storage."""
  name = 'speech_commands'
  VERSION = tfds.core.Version('0.0.3')

  def _info(self):
    # DatasetInfo directly: dataset_info_from_configs looks for package metadata.
    return tfds.core.DatasetInfo(
        builder=self,
        features=tfds.features.FeaturesDict({
            'audio': tfds.features.Tensor(shape=(None,), dtype=np.int16),
            'label': tfds.features.ClassLabel(names=SPEECH_LABELS),
        }),
        supervised_keys=('audio', 'label'))

  def _split_generators(self, dl_manager):
    del dl_manager
    return {split: self._generate_examples(split, n)
            for split, n in SPEECH_SPLIT_SIZES.items()}

  def _generate_examples(self, split, n):
    for i in range(n):
      audio, label = fake_clip(i, split)
      yield i, {'audio': audio, 'label': label}


def prepare_fake_speech_commands(data_dir: str, audio_feature: bool = True) -> str:
  """Writes the fake copy under data_dir; returns its version directory."""
  builder = FakeSpeechCommands(data_dir=data_dir, file_format='array_record')
  builder.download_and_prepare()
  path = builder.data_dir
  if audio_feature:
    features_path = os.path.join(path, 'features.json')
    with open(features_path) as f:
      features = json.load(f)
    features['featuresDict']['features']['audio'] = REAL_AUDIO_FEATURE
    with open(features_path, 'w') as f:
      json.dump(features, f, indent=4)
  return path


_SPEECH_DIR = None


def fake_speech_commands_dir() -> str:
  """A data_dir holding the fake speech_commands, prepared once per process."""
  global _SPEECH_DIR
  if _SPEECH_DIR is None:
    root = tempfile.mkdtemp(prefix='fake_speech_commands_')
    tfds.disable_progress_bar()
    prepare_fake_speech_commands(root)
    _SPEECH_DIR = root
  return _SPEECH_DIR


def mock_examples(data_config) -> int:
  """Mocked records per split: tiny_shakespeare's are 10-20 characters each."""
  if data_config.name == 'tiny_shakespeare':
    return 2 * data_config.get('seq_len', 128)
  return 24


@contextlib.contextmanager
def real_data(config):
  """Yields a copy of `config` whose real dataset (if any) reads a stand-in."""
  config = config.copy_and_resolve_references()
  name = config.data.name
  if name in MOCKED:
    with tfds.testing.mock_data(num_examples=mock_examples(config.data),
                                policy=tfds.testing.MockPolicy.USE_CODE):
      yield config
  elif name == 'speech_commands':
    config.data.data_dir = fake_speech_commands_dir()
    yield config
  else:
    yield config
