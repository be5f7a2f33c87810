"""config.diagnostics_every_steps: diag/* metrics during training, same trajectory."""

import json
import os

import numpy as np
import pytest

from cnn_vs_rnn import configlib, train
from cnn_vs_rnn.errors import ConfigError
from conftest import CONFIG_DIR, tiny

KEYS = ('diag/grad_norm_t1', 'diag/grad_norm_tmid', 'diag/grad_norm_tT',
        'diag/grad_ratio_1_over_T')


def small_gru(**overrides):
  config = tiny(configlib.load_config_file(os.path.join(CONFIG_DIR, 'adding_gru.py')),
                steps=4, every=2)
  config.data.seq_len = 10
  config.model.hidden_size = 6
  for key, value in overrides.items():
    config[key] = value
  return config


def records(workdir):
  with open(os.path.join(workdir, 'metrics.jsonl')) as f:
    return [json.loads(line) for line in f]


def test_diagnostics_are_logged_and_leave_the_trajectory_alone(tmp_path):
  assert configlib.base_config().diagnostics_every_steps == 0
  plain, probed = str(tmp_path / 'plain'), str(tmp_path / 'probed')
  final_plain = train.train_and_evaluate(small_gru(), plain)
  final_probed = train.train_and_evaluate(small_gru(diagnostics_every_steps=2), probed)
  assert final_plain == final_probed
  without = [r for r in records(probed) if not any(k.startswith('diag/') for k in r)]
  assert without == records(plain)  # Every loss, every step: exactly the same.
  diag = [r for r in records(probed) if 'diag/grad_norm_t1' in r]
  assert [r['step'] for r in diag] == [2, 4]
  for r in diag:
    assert set(r) == {'step', *KEYS}
    assert all(np.isfinite(r[k]) and r[k] > 0 for k in KEYS)
    np.testing.assert_allclose(r['diag/grad_ratio_1_over_T'],
                               r['diag/grad_norm_t1'] / r['diag/grad_norm_tT'], rtol=1e-5)


def test_diagnostics_with_replicas_report_mean_std_and_each_seed(tmp_path):
  workdir = str(tmp_path / 'seeds')
  train.train_and_evaluate(small_gru(num_seeds=2, diagnostics_every_steps=4), workdir)
  (r,) = [r for r in records(workdir) if 'diag/grad_norm_t1' in r]
  assert r['step'] == 4
  for key in KEYS:
    seeds = [r[f'{key}/seed_0'], r[f'{key}/seed_1']]
    assert seeds[0] != seeds[1]
    np.testing.assert_allclose(r[key], np.mean(seeds), rtol=1e-6)
    np.testing.assert_allclose(r[f'{key}/std'], np.std(seeds, ddof=1), rtol=1e-5)


@pytest.mark.parametrize('value', [-1, True])
def test_bad_diagnostics_every_steps_is_one_line(value):
  config = small_gru()
  config.diagnostics_every_steps = value
  with pytest.raises(ConfigError, match=r'^diagnostics_every_steps=.* must be an integer >= 0'):
    configlib.validate(config)
