"""Character-level transduction pairs, generated offline: dates, reversal, arithmetic.

Three datasets for the 'seq2seq' task (tasks.py), each a TFDS builder in the
manner of procedural.py (ArrayRecord files in data_dir, named by a hash of
every generation parameter and of the generating code, no download):

  dates       a date between 1950-01-01 and 2049-12-31 written in one of
              several source styles -> the same date in the target style
              (`target_style`):
                iso      2026-11-26
                us       11/26/2026
                eu       26.11.2026
                short    Nov 26, 2026
                weekday  Thu, 26 Nov 2026
                long     26 November 2026
              'long' (the default target) or 'iso' as target; the sources use
              every other style, each (date, style) pair at most once.
  reverse     a string of `min_len`..`max_len` lowercase letters -> the same
              string reversed.
  arithmetic  2..`max_operands` integers in 0..`max_value` joined by +, - and *
              -> the value (usual precedence, left to right), e.g. 12+7*3 -> 33,
              4-9 -> -5.

Tokens (one vocabulary for sources and targets, VOCAB_SIZE = 73):
  PAD = 0, BOS = 1, EOS = 2, then CHARS (space , - . / : + *, digits, a-z, A-Z)
  from 3 on. A source is its characters, then PAD up to the source length S
  (`lengths` = the number of characters). A target is its characters, EOS,
  then PAD up to the target length T; `target_mask` is 1 on the characters and
  EOS. BOS never appears in the data: the decoder starts from it
  (models/seq2seq.py). S and T are fixed per dataset from its parameters
  (`source_length`, `target_length`): dates S = 17, T = 18 ('long') or 11
  ('iso'); reverse S = max_len, T = max_len + 1; arithmetic
  S = max_operands * digits(max_value) + max_operands - 1 and
  T = digits(max_value ** max_operands) + 2 (a sign and EOS).

Splits: `num_train` + `num_test` distinct sources are drawn (no source is in
two splits); the first `num_train` are the train pool, from which the
validation split is carved (splits.carve, `validation_fraction`), the rest
are the test split.
"""

from __future__ import annotations

import dataclasses
import datetime
import re
import string

import numpy as np
import tensorflow_datasets as tfds

from cnn_vs_rnn.data import (DataSpec, Dataset, positive_field, prepared_builder, read_all,
                             register)
from cnn_vs_rnn.data import procedural
from cnn_vs_rnn.data import splits as splits_lib
from cnn_vs_rnn.errors import ConfigError, choose

PAD, BOS, EOS = 0, 1, 2
CHARS = ' ,-./:+*' + string.digits + string.ascii_lowercase + string.ascii_uppercase
FIRST_CHAR = 3
VOCAB_SIZE = FIRST_CHAR + len(CHARS)
_IDS = {c: FIRST_CHAR + i for i, c in enumerate(CHARS)}

TASKS = ('dates', 'reverse', 'arithmetic')


def encode(text: str, length: int, eos: bool = False) -> np.ndarray:
  """Token ids of `text` (then EOS if asked), PAD up to `length`."""
  ids = [_IDS[c] for c in text] + ([EOS] if eos else [])
  if len(ids) > length:
    raise ValueError(f'{text!r} needs {len(ids)} tokens, more than {length}')
  return np.asarray(ids + [PAD] * (length - len(ids)), np.int32)


def decode(ids) -> str:
  """Characters of token ids up to the first EOS (PAD and BOS are skipped)."""
  out = []
  for i in np.asarray(ids).tolist():
    if i == EOS:
      break
    if i >= FIRST_CHAR:
      out.append(CHARS[i - FIRST_CHAR])
  return ''.join(out)


# ---------------------------------------------------------------------------
# Dates.

MONTHS = ('January', 'February', 'March', 'April', 'May', 'June', 'July', 'August',
          'September', 'October', 'November', 'December')
WEEKDAYS = ('Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun')
FIRST_DATE, LAST_DATE = datetime.date(1950, 1, 1), datetime.date(2049, 12, 31)


def format_date(d: datetime.date, style: str) -> str:
  """`d` in one of DATE_STYLES (English names, independent of the locale)."""
  mon = MONTHS[d.month - 1][:3]
  if style == 'iso':
    return f'{d.year:04d}-{d.month:02d}-{d.day:02d}'
  if style == 'us':
    return f'{d.month}/{d.day}/{d.year}'
  if style == 'eu':
    return f'{d.day:02d}.{d.month:02d}.{d.year}'
  if style == 'short':
    return f'{mon} {d.day}, {d.year}'
  if style == 'weekday':
    return f'{WEEKDAYS[d.weekday()]}, {d.day} {mon} {d.year}'
  if style == 'long':
    return f'{d.day} {MONTHS[d.month - 1]} {d.year}'
  raise ValueError(f'unknown date style {style!r}')


DATE_STYLES = ('iso', 'us', 'eu', 'short', 'weekday', 'long')
TARGET_STYLES = ('long', 'iso')


def date_pairs(n: int, target_style: str, seed) -> list[tuple[str, str]]:
  """n distinct (source, target) date pairs; sources in every style but the target's."""
  styles = [s for s in DATE_STYLES if s != target_style]
  days = (LAST_DATE - FIRST_DATE).days + 1
  if n > days * len(styles):
    raise ConfigError(f'only {days * len(styles)} distinct date sources exist; '
                      f'data.num_train + data.num_test = {n}')
  picks = np.random.default_rng(seed).choice(days * len(styles), size=n, replace=False)
  out = []
  for k in picks.tolist():
    d = FIRST_DATE + datetime.timedelta(days=k // len(styles))
    out.append((format_date(d, styles[k % len(styles)]), format_date(d, target_style)))
  return out


# ---------------------------------------------------------------------------
# Reversal and arithmetic: distinct sources by rejection.


def _distinct(n: int, draw, rng, what: str) -> list[str]:
  seen, out = set(), []
  for _ in range(50 * n + 1000):
    if len(out) == n:
      break
    s = draw(rng)
    if s not in seen:
      seen.add(s)
      out.append(s)
  if len(out) < n:
    raise ConfigError(f'could not draw {n} distinct {what} sources; widen the '
                      'data parameters or lower data.num_train / data.num_test')
  return out


def reverse_pairs(n: int, min_len: int, max_len: int, seed) -> list[tuple[str, str]]:
  letters = np.array(list(string.ascii_lowercase))

  def draw(rng):
    return ''.join(letters[rng.integers(0, 26, rng.integers(min_len, max_len + 1))])
  sources = _distinct(n, draw, np.random.default_rng(seed), 'reverse')
  return [(s, s[::-1]) for s in sources]


def evaluate_expression(text: str) -> int:
  """An expression of non-negative integers and + - *: products first, then sums in order."""
  numbers = [int(t) for t in re.split(r'[-+*]', text)]
  terms, signs = [numbers[0]], [1]
  for op, value in zip(re.findall(r'[-+*]', text), numbers[1:]):
    if op == '*':
      terms[-1] *= value
    else:
      terms.append(value)
      signs.append(1 if op == '+' else -1)
  return sum(s * t for s, t in zip(signs, terms))


def arithmetic_pairs(n: int, max_operands: int, max_value: int,
                     seed) -> list[tuple[str, str]]:
  def draw(rng):
    k = int(rng.integers(2, max_operands + 1))
    values = rng.integers(0, max_value + 1, k)
    ops = rng.choice(list('+-*'), k - 1)
    return str(values[0]) + ''.join(o + str(v) for o, v in zip(ops, values[1:]))
  sources = _distinct(n, draw, np.random.default_rng(seed), 'arithmetic')
  return [(s, str(evaluate_expression(s))) for s in sources]


# ---------------------------------------------------------------------------
# The builder.


@dataclasses.dataclass
class TransductionConfig(procedural.GeneratedConfig):
  """One transduction dataset: `task` and its parameters (the others stay at defaults)."""
  task: str = 'dates'
  num_train: int = 10_000
  num_test: int = 1_000
  target_style: str = 'long'   # dates
  min_len: int = 3             # reverse
  max_len: int = 12            # reverse
  max_operands: int = 3        # arithmetic
  max_value: int = 99          # arithmetic


def source_length(c: TransductionConfig) -> int:
  if c.task == 'dates':
    return 17
  if c.task == 'reverse':
    return c.max_len
  return c.max_operands * len(str(c.max_value)) + c.max_operands - 1


def target_length(c: TransductionConfig) -> int:
  if c.task == 'dates':
    return 18 if c.target_style == 'long' else 11
  if c.task == 'reverse':
    return c.max_len + 1
  return len(str(c.max_value ** c.max_operands)) + 2


def pairs(c: TransductionConfig) -> list[tuple[str, str]]:
  """num_train + num_test (source, target) pairs with distinct sources, in a fixed order."""
  n, seed = c.num_train + c.num_test, [TASKS.index(c.task), 11]
  if c.task == 'dates':
    return date_pairs(n, c.target_style, seed)
  if c.task == 'reverse':
    return reverse_pairs(n, c.min_len, c.max_len, seed)
  return arithmetic_pairs(n, c.max_operands, c.max_value, seed)


def transduction_config(task: str, data_config) -> TransductionConfig:
  """The builder config of `task` from config.data (only its own parameters)."""
  fields = dict(task=task, num_train=positive_field(data_config, 'num_train', 10_000),
                num_test=positive_field(data_config, 'num_test', 1_000),
                validation_fraction=splits_lib.validation_fraction(data_config))
  if task == 'dates':
    fields['target_style'] = data_config.get('target_style', 'long')
    choose('data.target_style', fields['target_style'], {s: s for s in TARGET_STYLES})
  elif task == 'reverse':
    fields['min_len'] = positive_field(data_config, 'min_len', 3)
    fields['max_len'] = positive_field(data_config, 'max_len', 12)
    if fields['min_len'] > fields['max_len']:
      raise ConfigError(f'data.min_len={fields["min_len"]} must be <= '
                        f'data.max_len={fields["max_len"]}')
  else:
    fields['max_operands'] = positive_field(data_config, 'max_operands', 3)
    fields['max_value'] = positive_field(data_config, 'max_value', 99)
    if fields['max_operands'] < 2:
      raise ConfigError(f'data.max_operands={fields["max_operands"]} must be >= 2')
  config = TransductionConfig(name='', **fields)
  label = '_'.join(f'{k}{v}' for k, v in fields.items() if k not in ('validation_fraction',))
  return procedural.named(config, label + '_' + procedural.fraction_label(
      config.validation_fraction))


class Transduction(procedural._ArraysBuilder):  # pylint: disable=protected-access
  """Character transduction pairs: x = source tokens [S], y = target tokens [T]."""

  VERSION = tfds.core.Version('1.0.0')
  RELEASE_NOTES = {'1.0.0': 'dates, reverse, arithmetic (cnn_vs_rnn.data.transduction).'}

  def _info(self):
    c = self.builder_config
    return self.dataset_info_from_configs(
        description=f'Character-level transduction: {c.task}.',
        features=tfds.features.FeaturesDict({
            'x': tfds.features.Tensor(shape=(source_length(c),), dtype=np.int32),
            'y': tfds.features.Tensor(shape=(target_length(c),), dtype=np.int32)}),
        disable_shuffling=True)

  def _splits(self):
    c = self.builder_config
    all_pairs = pairs(c)
    x = np.stack([encode(s, source_length(c)) for s, _ in all_pairs])
    y = np.stack([encode(t, target_length(c), eos=True) for _, t in all_pairs])
    pools = splits_lib.carve({'x': x[:c.num_train], 'y': y[:c.num_train]},
                             c.validation_fraction)
    out = {name: (p['x'], p['y']) for name, p in pools.items()}
    out['test'] = (x[c.num_train:], y[c.num_train:])
    return out


def _load(task: str, data_config) -> Dataset:
  config = transduction_config(task, data_config)
  builder = prepared_builder(Transduction, data_config, config=config)
  splits = {}
  for name, source in builder.as_data_source().items():
    rec = read_all(source)
    x, y = rec['x'].astype(np.int32), rec['y'].astype(np.int32)
    splits[name] = {'inputs': x, 'lengths': (x != PAD).sum(1).astype(np.int32),
                    'targets': y, 'target_mask': (y != PAD).astype(np.float32)}
  spec = DataSpec(input_shape=(source_length(config),), task='seq2seq',
                  num_outputs=VOCAB_SIZE, vocab_size=VOCAB_SIZE, variable_length=True,
                  output_shape=(target_length(config), VOCAB_SIZE))
  return Dataset(spec, splits)


@register('dates')
def dates(data_config) -> Dataset:
  """Dates in five source styles -> data.target_style ('long': 26 November 2026, or 'iso')."""
  return _load('dates', data_config)


@register('reverse')
def reverse(data_config) -> Dataset:
  """Lowercase strings of data.min_len..data.max_len letters -> reversed."""
  return _load('reverse', data_config)


@register('arithmetic')
def arithmetic(data_config) -> Dataset:
  """Expressions of 2..data.max_operands integers in 0..data.max_value with + - * -> value."""
  return _load('arithmetic', data_config)
