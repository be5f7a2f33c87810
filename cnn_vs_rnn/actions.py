"""What the train loop does after each compiled call, in the idiom of clu's periodic_actions.

The loop calls the compiled step (or K-step loop), hands its metrics to
`StepMetrics`, then calls each action with `(step, prev_step, state)`: the step
the call ended at, the step it started from, and the new state. Each action
holds its own state and decides when it fires: `every` steps (a call that
passes a multiple fires, at the step it ends at) and, if `on_last`, at the
last step. The order of the list is the order of the side effects:
diagnostics, log, evaluate (and offer the best step), checkpoint, preemption.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from cnn_vs_rnn import replicas, tasks
from cnn_vs_rnn.errors import NonFiniteLossError
from cnn_vs_rnn.preemption import Preempted, StopSignals


def all_finite(tree) -> jax.Array:
  return jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree)]))


_all_finite = jax.jit(all_finite)


def check_params_finite(step: int, state) -> None:
  """A NonFiniteLossError at `step` unless every parameter is finite."""
  if not bool(_all_finite(state.params)):
    raise NonFiniteLossError(step, 'finite, but the parameters are not')


def save_window(window: dict) -> dict:
  """The log window's metric sums as JSON (float64 values round-trip exactly)."""
  return {k: np.asarray(v, np.float64).tolist() for k, v in window.items()}


def restore_window(data_state: dict) -> dict:
  return {k: np.asarray(v, np.float64) for k, v in data_state.get('log_window', {}).items()}


class StepMetrics:
  """Train metrics dispatched but not yet fetched, and the log window's sums.

  `push` is called once the next call is dispatched, so the metrics of step
  N are fetched after step N+1 is dispatched: no host sync in the hot loop.
  `drain` fetches them, checks the loss is finite (naming the step, and the
  replica's seed and, in a grid, its learning rate), and adds the metric sums
  ([N] per replica) to the window. `seeds` and `learning_rates`: each replica's.
  """

  def __init__(self, seeds: list[int], window: dict | None = None,
               learning_rates: list[float] | None = None):
    self.seeds = list(seeds)
    self.learning_rates = None if learning_rates is None else list(learning_rates)
    self.window: dict[str, np.ndarray] = dict(window or {})  # Sums since the last log.
    self._pending = []  # (first step, device metrics [K, ...])

  def push(self, first_step: int, metrics) -> None:
    """Checks the earlier calls, then holds `metrics` ([K, ...], from `first_step`)."""
    self.drain()
    self._pending.append((first_step, metrics))

  def drain(self) -> None:
    for first, m in self._pending:
      m = jax.device_get(m)
      for i in range(len(m['loss'])):
        self._check(first + i, np.asarray(m['loss'][i]), np.asarray(m['grad_norm'][i]))
        for key, v in m['sums'].items():
          self.window[key] = self.window.get(key, 0.0) + np.asarray(v[i], np.float64)
    self._pending.clear()

  def _check(self, step: int, loss: np.ndarray, gnorm: np.ndarray) -> None:
    bad = ~(np.isfinite(loss) & np.isfinite(gnorm))
    if not bad.any():
      return
    k = int(np.argmax(bad.reshape(-1)))
    l, g = float(loss.reshape(-1)[k]), float(gnorm.reshape(-1)[k])
    desc = l if not np.isfinite(l) else f'{l} with grad_norm={g}'
    if len(self.seeds) > 1:
      desc = f'{desc} in the replica with seed {self.seeds[k]}'
      if self.learning_rates is not None:
        desc = f'{desc} and learning rate {self.learning_rates[k]!r}'
    raise NonFiniteLossError(step, desc)

  def take_means(self, task) -> list[dict]:
    """Every replica's metric means over the window, which starts anew."""
    self.drain()
    means = [tasks.means(task, w)
             for w in replicas.split_replicas(self.window, len(self.seeds))]
    self.window.clear()
    return means


class PeriodicAction:
  """Fires when a call passes a multiple of `every` (and at `last_step` if `on_last`)."""

  def __init__(self, every: int, last_step: int, on_last: bool = True):
    self.every, self.last_step, self.on_last = every, last_step, on_last

  def fires(self, step: int, prev_step: int) -> bool:
    return (step // self.every > prev_step // self.every
            or (self.on_last and step == self.last_step))

  def __call__(self, step: int, prev_step: int, state) -> None:
    if self.fires(step, prev_step):
      self.run(step, state)

  def run(self, step: int, state) -> None:
    raise NotImplementedError


class Diagnostics(PeriodicAction):
  """diag/* metrics from `probe(state)` (read-only: no RNG, data or parameter change)."""

  def __init__(self, every: int, probe, writer):
    super().__init__(every, last_step=-1, on_last=False)
    self.probe, self.writer = probe, writer

  def run(self, step, state):
    self.writer.write(step, self.probe(state))


def headline(out: dict, key: str) -> dict:
  """The `key` entries of a summary a progress line shows: each point's mean, no /std, /seed_S."""
  return {k: v for k, v in out.items()
          if (k == key or k.startswith(key + '/')) and '/seed_' not in k
          and not k.endswith('/std')}


class LogTrain(PeriodicAction):
  """train/* means over the steps since the last log, the learning rate, a progress line.

  `summarize`: per-replica metrics -> their keys (replicas.summary);
  `lr_keys`: step -> the train/learning_rate keys.
  """

  def __init__(self, every, last_step, metrics: StepMetrics, task, summarize, lr_keys,
               writer, progress):
    super().__init__(every, last_step)
    self.metrics, self.task, self.summarize = metrics, task, summarize
    self.lr_keys, self.writer, self.progress = lr_keys, writer, progress

  def run(self, step, state):
    summary = self.summarize(self.metrics.take_means(self.task))
    out = {f'train/{k}': v for k, v in summary.items()}
    out.update(self.lr_keys(step))
    self.writer.write(step, out)
    print(self.progress.line(step, headline(out, 'train/loss')), flush=True)


class Evaluate(PeriodicAction):
  """eval/* on the eval split (with the trivial baselines); offers the step as the best.

  `last` holds the latest evaluation, one dict per replica; `summarize` turns
  it into metrics.jsonl's keys (replicas.summary).
  """

  def __init__(self, every, last_step, metrics: StepMetrics, evaluator, split, writer,
               baselines: dict, summarize, best=None):
    super().__init__(every, last_step)
    self.metrics, self.evaluator, self.split = metrics, evaluator, split
    self.writer, self.baselines, self.best = writer, baselines, best
    self.summarize = summarize
    self.last: list[dict] | None = None

  def run(self, step, state):
    self.metrics.drain()
    self.last = self.evaluator(state, self.split)
    out = {f'eval/{k}': v for k, v in self.summarize(self.last).items()}
    self.writer.write(step, {**out, **self.baselines})
    if self.best is not None:
      self.best.offer(step, state, self.last)
    print(f'eval at step {step}: ' + ', '.join(
        f'{k} {v:.4f}' for k, v in out.items() if '/seed_' not in k), flush=True)


class Checkpoint(PeriodicAction):
  """Saves the state with the data position, the log window and the config.

  `saved_step` is the step of the latest save. `wait_for`: checkpointers whose
  saves must finish first with several processes (orbax's multi-host barriers
  allow one save in flight at a time).
  """

  def __init__(self, every, last_step, ckpt, metrics: StepMetrics, train_iter, config,
               wait_for=()):
    super().__init__(every, last_step)
    self.ckpt, self.metrics, self.train_iter = ckpt, metrics, train_iter
    self.config, self.wait_for = config, list(wait_for)
    self.saved_step: int | None = None

  def run(self, step, state):
    self.metrics.drain()
    check_params_finite(step, state)
    if jax.process_count() > 1:
      for other in self.wait_for:
        other.wait()
    self.ckpt.save(step, state, {**self.train_iter.get_state(),
                                 'log_window': save_window(self.metrics.window),
                                 'config': self.config.to_dict()})
    self.saved_step = step


def stop_requested(signals: StopSignals) -> bool:
  """Whether a stop signal arrived, on any process (all of them stop at the same step)."""
  stop = signals.signum is not None
  if jax.process_count() > 1:
    from jax.experimental import multihost_utils  # pylint: disable=g-import-not-at-top
    flags = multihost_utils.process_allgather(np.int32(signals.signum or 0))
    signals.signum = signals.signum or int(np.max(flags)) or None
    stop = signals.signum is not None
  return stop


class Preemption:
  """After a stop signal (before the last step): saves unless saved, raises Preempted."""

  def __init__(self, signals: StopSignals, checkpoint: Checkpoint, last_step: int):
    self.signals, self.checkpoint, self.last_step = signals, checkpoint, last_step

  def __call__(self, step: int, prev_step: int, state) -> None:
    del prev_step
    if stop_requested(self.signals) and step != self.last_step:
      if self.checkpoint.saved_step != step:
        self.checkpoint.run(step, state)
      raise Preempted(step, self.signals.signum, self.checkpoint.ckpt.directory)

