"""Parameter-matched sizing lands within 5% of the budget for every family."""

import ml_collections
import pytest

from cnn_vs_rnn import models
from cnn_vs_rnn.data import DataSpec
from cnn_vs_rnn.errors import ConfigError
from cnn_vs_rnn.models import sizing

SEQUENCE = DataSpec(input_shape=(40, 1), task='classification', num_outputs=10)
IMAGE = DataSpec(input_shape=(28, 28, 1), task='classification', num_outputs=10)
VIDEO = DataSpec(input_shape=(4, 16, 16, 1), task='classification', num_outputs=10)
# Models with outputs of their own shape: source tokens -> target tokens, image -> pixels.
SEQ2SEQ = DataSpec(input_shape=(17,), task='seq2seq', num_outputs=73, vocab_size=73,
                   variable_length=True, output_shape=(18, 73))
DENSE = DataSpec(input_shape=(32, 32, 1), task='dense', num_outputs=4,
                 output_shape=(32, 32, 4))
FAMILIES = sorted(sizing.WIDTH_FIELDS)


def spec_for(name):
  """Its task's data for a model with outputs of their own shape; else sequences, or
  images or video clips for a model that does not take sequences."""
  special = {'seq2seq': SEQ2SEQ, 'unet': DENSE, 'renet': DENSE}
  if name in special:
    return special[name]
  for spec in (SEQUENCE, IMAGE, VIDEO):
    try:
      models.build(ml_collections.ConfigDict({'name': name}), spec)
      return spec
    except ConfigError:
      pass
  raise AssertionError(f'model {name!r} takes none of the test shapes')


def test_every_registered_model_can_be_sized():
  assert set(FAMILIES) == set(models.MODELS)


@pytest.mark.parametrize('budget', [5_000, 70_000, 1_000_000])
@pytest.mark.parametrize('name', FAMILIES)
def test_budget_is_met_within_five_percent(name, budget):
  spec = spec_for(name)
  model = models.build(ml_collections.ConfigDict({'name': name, 'param_budget': budget}), spec)
  assert abs(models.param_count(model, spec) - budget) <= 0.05 * budget


def test_seq2seq_budget_scales_only_the_widths_its_configuration_uses():
  cfg = dict(name='seq2seq', param_budget=30_000, encoder='tcn', channels=(32, 32, 32),
             attention='dot', decoder_cell='gru', decoder_embed_dim=0)
  model = models.build(ml_collections.ConfigDict(cfg), SEQ2SEQ)
  assert abs(models.param_count(model, SEQ2SEQ) - 30_000) <= 0.05 * 30_000
  backbone = model.backbone
  assert all(c < 32 for c in backbone.channels)  # scaled with hidden_size
  assert backbone.decoder_embed_dim == 0   # one-hot stays one-hot
  assert backbone.attention_size == 64     # unused by dot attention: left at its default


def test_sizing_keeps_the_shape_of_the_net():
  spec = SEQUENCE
  config = ml_collections.ConfigDict({'name': 'cnn1d', 'features': (8, 16, 32),
                                      'param_budget': 70_000})
  model = models.build(config, spec)
  assert len(model.features) == 3
  assert model.features[0] < model.features[1] < model.features[2]


def test_an_unreachable_budget_is_a_config_error():
  with pytest.raises(ConfigError, match='param_budget=10 is below the smallest'):
    models.build(ml_collections.ConfigDict({'name': 'gru', 'param_budget': 10}), SEQUENCE)
