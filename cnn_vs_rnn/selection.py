"""Best-step selection on a held-out split, and the test report made once at the end.

When a run evaluates on a split other than 'test' and the data has a test
split, every evaluated step is offered to the best-step checkpoints, where
orbax keeps the best by the task's validation metric (tasks.selection). The
step is picked per point (replicas.py): the mean metric over a point's seeds
picks one step for all of them. One point keeps WORKDIR/best_checkpoint; a
grid one WORKDIR/best_checkpoint_lr_R per point, each holding that point's
replicas only. At the end of the run each point's best step is evaluated on
the validation split and, once, on test.
"""

from __future__ import annotations

import jax
import numpy as np

from cnn_vs_rnn import replicas, tasks
from cnn_vs_rnn.actions import check_params_finite
from cnn_vs_rnn.checkpointing import Checkpointer


def selects(config, dataset) -> bool:
  """Whether the run selects a best step: it evaluates on a split other than an existing test."""
  return config.data.eval_split != 'test' and 'test' in dataset.splits


def best_subdirs(config) -> list[str]:
  """The best-step checkpoint directory of each point, under the workdir."""
  labels = replicas.point_labels(config)
  return ['best_checkpoint'] if labels is None else [f'best_checkpoint_{l}' for l in labels]


def best_checkpointer(config, dataset, workdir, point: int = 0) -> Checkpointer | None:
  """The best-step checkpoints of one point (by the task's validation metric), or None
  when the run selects no step (selects)."""
  if not selects(config, dataset):
    return None
  return Checkpointer(workdir, 1, best_subdirs(config)[point],
                      best_mode=tasks.selection(dataset.spec.task)[1])


def point_slice(tree, point: int, num_seeds: int):
  """The replicas of one point: [num_seeds, ...] out of the replica axis."""
  return jax.tree.map(lambda x: x[point * num_seeds:(point + 1) * num_seeds], tree)


def point_abstract(abstract_state, num_seeds: int):
  """Shapes and shardings of one point's replicas, for restoring its best checkpoint."""
  return jax.tree.map(lambda s: jax.ShapeDtypeStruct((num_seeds,) + tuple(s.shape[1:]),
                                                     s.dtype, sharding=s.sharding),
                      abstract_state)


class BestStep:
  """Offers one point's evaluated replicas to its best-step checkpoints; reports on test once.

  `main`: the run's own checkpointer, whose save must finish before this one
  starts with several processes (orbax's multi-host barriers allow one save
  in flight at a time).
  """

  def __init__(self, ckpt: Checkpointer, task_name: str, config_dict: dict,
               main: Checkpointer):
    self.ckpt, self.main, self.config_dict = ckpt, main, config_dict
    self.metric = tasks.selection(task_name)[0]
    self._reported = False

  def offer(self, step: int, state, per_seed: list[dict]) -> None:
    """Saves `state` as a candidate; orbax keeps the best by the seeds' mean metric."""
    check_params_finite(step, state)
    if jax.process_count() > 1:
      self.main.wait()
    self.ckpt.save(step, state, {'config': self.config_dict},
                   metric=float(np.mean([m[self.metric] for m in per_seed])))

  def wait(self) -> None:
    self.ckpt.wait()

  def delete_after(self, step: int) -> None:
    self.ckpt.delete_after(step)

  def close(self) -> None:
    self.ckpt.close()

  def evaluate_best(self, final_per_seed: list[dict], evaluate, abstract_state,
                    splits: dict) -> int:
    """The best step, with `prefix/metric` keys of it added to each replica's dict."""
    if self._reported:
      raise RuntimeError('the best step is reported on test once per run')
    self._reported = True
    self.ckpt.wait()
    best_step = self.ckpt.best_step()
    best_state, _ = self.ckpt.restore(best_step, abstract_state)
    for prefix, split in splits.items():
      for out, m in zip(final_per_seed, evaluate(best_state, split)):
        out.update({f'{prefix}/{k}': v for k, v in m.items()})
    return best_step

  def report(self, final_per_seed: list[dict], evaluate, abstract_state, splits: dict,
             seeds, writer, write_at: int | None, split_name: str) -> int:
    """Evaluates the best step on each of `splits` (prefix -> split: 'val' and 'test').

    Adds `prefix/metric` keys to each replica's dict of `final_per_seed`, writes
    the best step and test/* to metrics.jsonl at `write_at` (None: a finished
    run's line is there already), prints them, and returns the best step. Made
    once per run: the test split is looked at once.
    """
    best_step = self.evaluate_best(final_per_seed, evaluate, abstract_state, splits)
    write_report(writer, write_at, split_name, {'best_step': best_step},
                 replicas.seed_summary(final_per_seed, seeds))
    return best_step


def write_report(writer, write_at: int | None, split_name: str, step_keys: dict,
                 summary: dict) -> None:
  """The best steps and test/* to metrics.jsonl at `write_at` (unless None), and a line."""
  if write_at is not None:
    writer.write(write_at, {**step_keys,
                            **{k: v for k, v in summary.items() if k.startswith('test/')}})
  tests = ', '.join(f'{k} {v:.4f}' for k, v in summary.items()
                    if k.startswith('test/') and '/seed_' not in k)
  print(f'best step by {split_name}: ' + ', '.join(str(v) for v in step_keys.values())
        + (f'; test: {tests}' if tests else ' (test not evaluated: report_test=False)'),
        flush=True)


class PointsBest:
  """A best step per point of a grid: one BestStep each, offered its point's replicas.

  Each point's checkpoints hold that point's replicas only; the report writes
  `best_step/lr_R` and the per-point test/* keys (replicas.summary).
  """

  def __init__(self, points: list[BestStep], config):
    self.points, self.config = points, config
    self.num_seeds = len(replicas.seeds_of(config))

  def offer(self, step: int, state, per_replica: list[dict]) -> None:
    chunks = replicas.points(per_replica, self.num_seeds)
    for p, (best, chunk) in enumerate(zip(self.points, chunks)):
      if jax.process_count() > 1 and p:
        self.points[p - 1].wait()  # One save in flight at a time across hosts.
      best.offer(step, point_slice(state, p, self.num_seeds), chunk)

  def wait(self) -> None:
    for best in self.points:
      best.wait()

  def delete_after(self, step: int) -> None:
    for best in self.points:
      best.delete_after(step)

  def close(self) -> None:
    for best in self.points:
      best.close()

  def report(self, final_per_replica: list[dict], evaluate, abstract_state, splits: dict,
             seeds, writer, write_at: int | None, split_name: str) -> list[int]:
    """Each point's BestStep.evaluate_best, then one report of them all; each point's step."""
    del seeds  # The config's.
    abstract = point_abstract(abstract_state, self.num_seeds)
    chunks = replicas.points(final_per_replica, self.num_seeds)
    steps = [best.evaluate_best(chunk, evaluate, abstract, splits)
             for best, chunk in zip(self.points, chunks)]
    labels = replicas.point_labels(self.config)
    write_report(writer, write_at, split_name,
                 {f'best_step/{label}': s for label, s in zip(labels, steps)},
                 replicas.summary(final_per_replica, self.config))
    return steps


def create(config, dataset, workdir, main: Checkpointer):
  """A BestStep (one point), a PointsBest (a grid), or None if the run selects no step."""
  if not selects(config, dataset):
    return None
  points = [BestStep(best_checkpointer(config, dataset, workdir, p), dataset.spec.task,
                     config.to_dict(), main) for p in range(len(best_subdirs(config)))]
  return points[0] if replicas.point_labels(config) is None else PointsBest(points, config)
