"""The train loop's periodic actions (cnn_vs_rnn/actions.py), one at a time."""

import numpy as np
import pytest

from cnn_vs_rnn import actions
from cnn_vs_rnn.errors import NonFiniteLossError


class Recorder(actions.PeriodicAction):

  def __init__(self, every, last_step, on_last=True):
    super().__init__(every, last_step, on_last)
    self.steps = []

  def run(self, step, state):
    self.steps.append(step)


def calls(stops):
  """(step, prev_step) of calls that end at `stops`, starting from 0."""
  return list(zip(stops, [0] + stops[:-1]))


def test_an_action_fires_at_the_end_of_each_call_that_passes_a_multiple():
  every_4 = Recorder(4, last_step=10)
  for step, prev in calls([3, 5, 8, 9, 10]):
    every_4(step, prev, None)
  assert every_4.steps == [5, 8, 10]  # 10: the last step.
  not_on_last = Recorder(4, last_step=10, on_last=False)
  for step, prev in calls([3, 5, 8, 9, 10]):
    not_on_last(step, prev, None)
  assert not_on_last.steps == [5, 8]


def test_a_resumed_run_fires_where_the_uninterrupted_one_does():
  full, resumed = Recorder(2, 6), Recorder(2, 6)
  for step, prev in calls([1, 2, 3, 4, 5, 6]):
    full(step, prev, None)
  for step, prev in [(3, 2), (4, 3), (5, 4), (6, 5)]:  # Resumed from step 2.
    resumed(step, prev, None)
  assert resumed.steps == [s for s in full.steps if s > 2]


def metrics(losses, grad_norms=None):
  losses = np.asarray(losses, np.float32)
  grad_norms = np.ones_like(losses) if grad_norms is None else np.asarray(grad_norms)
  return {'loss': losses, 'grad_norm': grad_norms,
          'sums': {'loss': losses, 'count': np.ones_like(losses)}}


def test_step_metrics_are_fetched_one_call_late_and_summed_in_the_window():
  m = actions.StepMetrics([0])
  m.push(1, metrics([1.0, 2.0]))
  assert m.window == {}  # Not fetched until the next call is dispatched.
  m.push(3, metrics([3.0]))
  assert m.window['loss'] == 3.0 and m.window['count'] == 2.0
  m.drain()
  assert m.window['loss'] == 6.0 and m.window['count'] == 3.0
  restored = actions.restore_window({'log_window': actions.save_window(m.window)})
  assert restored == m.window


def test_a_non_finite_loss_names_its_step_and_the_replica_seed():
  m = actions.StepMetrics([0])
  m.push(5, metrics([1.0, np.nan]))
  with pytest.raises(NonFiniteLossError) as e:
    m.drain()
  assert e.value.step == 6
  seeds = actions.StepMetrics([7, 8])
  seeds.push(1, metrics([[1.0, 1.0]], grad_norms=[[1.0, np.inf]]))
  with pytest.raises(NonFiniteLossError, match='replica with seed 8') as e:
    seeds.drain()
  assert e.value.step == 1
