"""Model selection on a held-out split, test reported once; predictions on disk."""

import json
import os

import numpy as np
import pytest

from cnn_vs_rnn import configlib, evaluate, train
from conftest import CONFIG_DIR, tiny


def selecting(num_seeds=1, eval_split='validation'):
  config = tiny(configlib.load_config_file(os.path.join(CONFIG_DIR, 'mnist1d_cnn.py')),
                steps=12, every=2, batch_size=8)
  config.optim.learning_rate = 0.05  # Noisy enough that the best step is not always the last.
  config.num_seeds = num_seeds
  config.data.eval_split = eval_split
  return config


def eval_rows(workdir):
  rows = [json.loads(l) for l in open(os.path.join(workdir, 'metrics.jsonl'))]
  return [r for r in rows if 'eval/accuracy' in r]


@pytest.mark.parametrize('num_seeds', [1, 2])
def test_the_best_validation_step_is_evaluated_once_on_test(tmp_path, mnist1d, num_seeds):
  split = 'validation' if 'validation' in mnist1d.splits else 'train'
  config = selecting(num_seeds, split)
  workdir = str(tmp_path / 'run')
  final = train.train_and_evaluate(config, workdir)
  rows = eval_rows(workdir)
  best = max(rows, key=lambda r: (r['eval/accuracy'], -r['step']))  # First of the ties.
  assert final['best_step'] == best['step']
  assert final['val/accuracy'] == pytest.approx(best['eval/accuracy'])
  assert final['eval/accuracy'] == rows[-1]['eval/accuracy']  # The last evaluation.
  assert os.listdir(os.path.join(workdir, 'best_checkpoint')) == [str(best['step'])]
  again = evaluate.evaluate_workdir(workdir, 'test', best=True)
  assert again['step'] == best['step']
  assert final['test/accuracy'] == pytest.approx(again['eval/accuracy'])
  assert final['test/loss'] == pytest.approx(again['eval/loss'], rel=1e-6)
  if num_seeds > 1:
    assert final['per_seed']['test/accuracy'] == [
        again[f'eval/accuracy/seed_{s}'] for s in final['seeds']]


def test_evaluating_on_test_keeps_no_best_checkpoint(tmp_path, mnist1d):
  config = selecting(eval_split='test')
  workdir = str(tmp_path / 'run')
  final = train.train_and_evaluate(config, workdir)
  assert 'best_step' not in final and 'test/accuracy' not in final
  assert not os.path.exists(os.path.join(workdir, 'best_checkpoint'))


@pytest.mark.parametrize('num_seeds', [1, 2])
def test_saved_predictions_reproduce_the_metrics(tmp_path, mnist1d, num_seeds):
  config = selecting(num_seeds, eval_split='test')
  workdir = str(tmp_path / 'run')
  train.train_and_evaluate(config, workdir)
  path = str(tmp_path / 'pred.npz')
  metrics = evaluate.evaluate_workdir(workdir, 'test', save_predictions=path)
  saved = np.load(path)
  n = len(mnist1d.split('test')['targets'])
  np.testing.assert_array_equal(saved['indices'], np.arange(n))
  np.testing.assert_array_equal(saved['targets'], mnist1d.split('test')['targets'])
  outputs = saved['outputs']
  assert outputs.shape == ((num_seeds,) if num_seeds > 1 else ()) + (n, 10)
  accuracy = (outputs.argmax(-1) == saved['targets']).mean(axis=-1)
  assert np.mean(accuracy) == pytest.approx(metrics['eval/accuracy'], abs=1e-9)


class FakeBest:
  """The parts of a Checkpointer that BestStep.report reads."""

  def wait(self):
    pass

  def best_step(self):
    return 4

  def restore(self, step, abstract_state):
    return {'step': step}, {}


class Lines:

  def __init__(self):
    self.rows = []

  def write(self, step, metrics):
    self.rows.append({'step': step, **metrics})


def test_the_test_split_is_reported_once(capsys):
  from cnn_vs_rnn import selection  # pylint: disable=g-import-not-at-top
  best = selection.BestStep(FakeBest(), 'classification', {}, main=None)
  evaluate = lambda state, split: [{'accuracy': split * state['step']}]
  per_seed, lines = [{'eval/accuracy': 0.5}], Lines()
  assert best.report(per_seed, evaluate, None, {'val': 0.1, 'test': 0.2}, [0], lines, 12,
                     'validation') == 4
  assert per_seed == [{'eval/accuracy': 0.5, 'val/accuracy': 0.4, 'test/accuracy': 0.8}]
  assert lines.rows == [{'step': 12, 'best_step': 4, 'test/accuracy': 0.8}]
  assert 'best step by validation: 4; test: test/accuracy 0.8000' in capsys.readouterr().out
  with pytest.raises(RuntimeError, match='once'):
    best.report(per_seed, evaluate, None, {'test': 0.2}, [0], lines, 12, 'validation')
