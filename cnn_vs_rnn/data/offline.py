"""Loaders for the datasets the package generates itself (cnn_vs_rnn.data.procedural).

Each is built into data_dir as ArrayRecord files on first use, read back
through TFDS's data source (no TensorFlow), and held in memory. Splits:
train / validation / test, validation carved as splits.py describes
(`data.validation_fraction`, default 0.1; 0 = no validation split).
"""

from __future__ import annotations

import numpy as np

from cnn_vs_rnn.data import (DataSpec, Dataset, positive_field, prepared_builder, read_all,
                             register)
from cnn_vs_rnn.data import procedural
from cnn_vs_rnn.data.splits import validation_fraction
from cnn_vs_rnn.errors import ConfigError, choose


def _read_splits(builder) -> dict[str, dict[str, np.ndarray]]:
  return {name: read_all(source) for name, source in builder.as_data_source().items()}


@register('mnist1d')
def mnist1d(data_config) -> Dataset:
  """MNIST-1D, 4000 train (3600 + 400 validation) / 1000 test sequences of length 40."""
  config = procedural.mnist1d_config(validation_fraction(data_config))
  splits = {name: {'inputs': rec['x'].astype(np.float32)[..., None],
                   'targets': rec['label'].astype(np.int32)}
            for name, rec in _read_splits(prepared_builder(procedural.Mnist1d, data_config,
                                                           config=config)).items()}
  return Dataset(DataSpec(input_shape=(40, 1), task='classification', num_outputs=10), splits)


@register('adding')
def adding(data_config) -> Dataset:
  """Adding problem of length data.seq_len (regression; predicting 1 gives MSE 1/6)."""
  T = positive_field(data_config, 'seq_len', 200)
  config = procedural.sequence_config(T, positive_field(data_config, 'num_train', 50_000),
                                      positive_field(data_config, 'num_test', 1_000),
                                      validation_fraction(data_config))
  builder = prepared_builder(procedural.AddingProblem, data_config, config=config)
  splits = {name: {'inputs': rec['x'].astype(np.float32),
                   'targets': rec['y'].astype(np.float32)[:, None]}
            for name, rec in _read_splits(builder).items()}
  return Dataset(DataSpec(input_shape=(T, 2), task='regression', num_outputs=1), splits)


@register('copy_memory')
def copy_memory(data_config) -> Dataset:
  """Copy memory with T = data.seq_len blanks: tokens 0..9, per-step targets."""
  T = positive_field(data_config, 'seq_len', 100)
  config = procedural.sequence_config(T, positive_field(data_config, 'num_train', 10_000),
                                      positive_field(data_config, 'num_test', 1_000),
                                      validation_fraction(data_config))
  builder = prepared_builder(procedural.CopyMemory, data_config, config=config)
  splits = {name: {'inputs': rec['x'].astype(np.int32), 'targets': rec['y'].astype(np.int32)}
            for name, rec in _read_splits(builder).items()}
  return Dataset(DataSpec(input_shape=(T + 20,), task='per_step_classification',
                          num_outputs=10, per_step=True, vocab_size=10), splits)


@register('mackey_glass')
def mackey_glass(data_config) -> Dataset:
  """Forecast data.horizon steps of the Mackey-Glass series from data.window steps."""
  W, H = positive_field(data_config, 'window', 64), positive_field(data_config, 'horizon', 16)
  noise = float(data_config.get('noise_std', 0.0))
  config = procedural.forecast_config(W, H, noise, validation_fraction(data_config))
  builder = prepared_builder(procedural.MackeyGlass, data_config, config=config)
  splits = {name: {'inputs': rec['x'].astype(np.float32), 'targets': rec['y'].astype(np.float32)}
            for name, rec in _read_splits(builder).items()}
  return Dataset(DataSpec(input_shape=(W, 1), task='forecasting', num_outputs=H), splits)


@register('digits')
def digits(data_config) -> Dataset:
  """The 8x8 UCI digits from scikit-learn: images [8, 8, 1] in [0, 1], 10 classes."""
  config = procedural.digits_config(validation_fraction(data_config))
  splits = {name: {'inputs': rec['x'].astype(np.float32), 'targets': rec['y'].astype(np.int32)}
            for name, rec in _read_splits(prepared_builder(procedural.Digits, data_config,
                                                           config=config)).items()}
  return Dataset(DataSpec(input_shape=(8, 8, 1), task='classification', num_outputs=10), splits)


def lm_windows(text_N: np.ndarray, seq_len: int) -> dict[str, np.ndarray]:
  """Non-overlapping windows of seq_len+1 tokens: inputs w[:-1], targets w[1:]."""
  n = (len(text_N) - 1) // seq_len
  if n < 1:
    raise ConfigError(f'data.seq_len={seq_len} is longer than the text ({len(text_N)} tokens)')
  idx = np.arange(n)[:, None] * seq_len + np.arange(seq_len + 1)[None, :]
  windows = text_N[idx].astype(np.int32)
  return {'inputs': windows[:, :-1], 'targets': windows[:, 1:]}


@register('stdlib_text')
def stdlib_text(data_config) -> Dataset:
  """Byte-level language modelling on Python standard-library docstrings."""
  T = positive_field(data_config, 'seq_len', 128)
  config = procedural.text_config(validation_fraction(data_config))
  splits = {name: lm_windows(rec['text'][0], T)
            for name, rec in _read_splits(prepared_builder(procedural.StdlibText, data_config,
                                                           config=config)).items()}
  return Dataset(DataSpec(input_shape=(T,), task='language_model', num_outputs=256,
                          per_step=True, vocab_size=256), splits)


@register('keywords')
def keywords(data_config) -> Dataset:
  """Synthetic keyword spotting: log-mel frames [frames, mels] (or [frames, mels, 1]).

  `data.style` picks the recordings: 'clean' or 'hard' (procedural.KEYWORD_STYLES);
  `data.num_train` (3000, validation carved from them) and `data.num_test` (600).
  Standardised with the mean and std of the train split's features.
  """
  from cnn_vs_rnn.data import audio  # pylint: disable=g-import-not-at-top
  num_mels = positive_field(data_config, 'num_mels', 40)
  style = data_config.get('style', 'clean')
  choose('data.style', style, procedural.KEYWORD_STYLES)
  config = procedural.keywords_config(style, positive_field(data_config, 'num_train', 3000),
                                      positive_field(data_config, 'num_test', 600),
                                      validation_fraction(data_config))
  builder = prepared_builder(procedural.SyntheticKeywords, data_config, config=config)
  splits = {}
  for name, rec in _read_splits(builder).items():
    feats = audio.log_mel_spectrogram(rec['x'].astype(np.float32) / 32767.0,
                                      procedural.SAMPLE_RATE, num_mels=num_mels)
    splits[name] = {'inputs': feats.astype(np.float32), 'targets': rec['y'].astype(np.int32)}
  mean, std = splits['train']['inputs'].mean(), splits['train']['inputs'].std()
  for split in splits.values():
    split['inputs'] = (split['inputs'] - mean) / std
    if data_config.get('as_image', False):
      split['inputs'] = split['inputs'][..., None]
  shape = splits['train']['inputs'].shape[1:]
  return Dataset(DataSpec(input_shape=shape, task='classification',
                          num_outputs=len(procedural.KEYWORDS)), splits)


@register('moving_digits')
def moving_digits(data_config) -> Dataset:
  """Clips [num_frames, canvas, canvas, 1] of a UCI digit moving and bouncing.

  `data.target='label'` (the default): 40 classes, 4 * digit + direction
  (procedural.MOVING_DIGITS_DIRECTION_NAMES: right, left, down, up: the
  motion from frame 0 to frame 1). `data.target='next_frame'`: the target is
  the frame after the last, [canvas, canvas, 1] in [0, 1] (the
  'pixel_regression' task), and the inputs are the 'label' variant's clips.
  Inputs in [0, 1]. `data.num_frames` (8), `data.canvas` (24),
  `data.digit_scale` (1: 8x8 digits), `data.max_speed` (3 pixels per frame),
  `data.num_train` (6000, validation carved from them), `data.num_test`
  (1000). `data.view='shuffled'` gives every clip its own frame order: the
  digit and the axis of motion survive, the direction's sign does not (about
  0.5 accuracy at best).
  """
  T = positive_field(data_config, 'num_frames', 8)
  canvas = positive_field(data_config, 'canvas', 24)
  scale = positive_field(data_config, 'digit_scale', 1)
  speed = positive_field(data_config, 'max_speed', 3)
  target = data_config.get('target', 'label')
  choose('data.target', target, {t: t for t in procedural.MOVING_DIGITS_TARGETS})
  if canvas - 8 * scale < speed:
    raise ConfigError(f'data.canvas={canvas} leaves the {8 * scale}x{8 * scale} digit '
                      f'{canvas - 8 * scale} pixels to move: fewer than data.max_speed={speed}')
  config = procedural.moving_digits_config(
      T, canvas, scale, speed, positive_field(data_config, 'num_train', 6000),
      positive_field(data_config, 'num_test', 1000), validation_fraction(data_config),
      target=target)
  builder = prepared_builder(procedural.MovingDigits, data_config, config=config)
  next_frame = target == 'next_frame'
  splits = {name: {'inputs': rec['x'].astype(np.float32) / 16.0,
                   'targets': (rec['y'].astype(np.float32) / 16.0 if next_frame
                               else rec['y'].astype(np.int32))}
            for name, rec in _read_splits(builder).items()}
  if next_frame:
    spec = DataSpec(input_shape=(T, canvas, canvas, 1), task='pixel_regression',
                    num_outputs=1, output_shape=(canvas, canvas, 1))
  else:
    spec = DataSpec(input_shape=(T, canvas, canvas, 1), task='classification',
                    num_outputs=10 * len(procedural.MOVING_DIGITS_DIRECTIONS))
  return Dataset(spec, splits)
