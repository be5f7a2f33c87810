"""Every config in configs/ trains end to end for a few steps."""

import math
import os

import pytest

from cnn_vs_rnn import configlib, train
from conftest import config_paths, tiny
from tfds_fakes import real_data


def test_there_are_configs():
  names = {os.path.basename(p) for p in config_paths()}
  assert {'default.py', 'mnist1d_cnn.py', 'mnist1d_gru.py'} <= names


@pytest.mark.parametrize('path', config_paths(), ids=os.path.basename)
def test_config_trains_end_to_end(path, tmp_path, mnist1d):
  config = configlib.load_config_file(path)
  for key in ('seed', 'num_train_steps', 'log_every_steps', 'eval_every_steps',
              'checkpoint_every_steps', 'model.name', 'data.name', 'data.batch_size',
              'optim.name', 'optim.learning_rate', 'optim.grad_clip_norm'):
    node = config
    for part in key.split('.'):
      node = node[part]
  module_doc = open(path).read().split('"""')[1]
  assert f'--config configs/{os.path.basename(path)}' in module_doc
  assert 'Expected' in module_doc
  if config.data.name == 'ucr':  # The optional extra `ucr` (cnn_vs_rnn/data/ucr.py).
    pytest.importorskip('aeon')
  with real_data(config) as config:  # Mocked or fake copies of real TFDS datasets.
    final = train.train_and_evaluate(tiny(config, steps=3, every=2), str(tmp_path / 'run'))
  assert final['step'] == 3
  assert math.isfinite(final['eval/loss'])
  if 'eval/accuracy' in final:
    assert 0.0 <= final['eval/accuracy'] <= 1.0
  assert final['num_params'] > 0
