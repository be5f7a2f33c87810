"""Best-step selection on a held-out split, and the test report made once at the end.

When a run evaluates on a split other than 'test' and the data has a test
split, every evaluated step is offered to WORKDIR/best_checkpoint, where
orbax keeps the best by the task's validation metric (tasks.selection). With
num_seeds > 1 the replicas' mean metric picks one step for all of them. At the
end of the run the best step is evaluated on the validation split and, once,
on test.
"""

from __future__ import annotations

import jax
import numpy as np

from cnn_vs_rnn import replicas, tasks
from cnn_vs_rnn.actions import check_params_finite
from cnn_vs_rnn.checkpointing import Checkpointer


def best_checkpointer(config, dataset, workdir) -> Checkpointer | None:
  """The best-step checkpoints (WORKDIR/best_checkpoint, by the task's validation metric),
  when the run evaluates on a split other than 'test' and the data has a test split.

  With num_seeds > 1 the replicas' mean metric picks one step for all of them.
  """
  if config.data.eval_split == 'test' or 'test' not in dataset.splits:
    return None
  return Checkpointer(workdir, 1, 'best_checkpoint',
                      best_mode=tasks.selection(dataset.spec.task)[1])


class BestStep:
  """Offers evaluated states to the best-step checkpoints; reports the best on test once.

  `main`: the run's own checkpointer, whose save must finish before this one
  starts with several processes (orbax's multi-host barriers allow one save
  in flight at a time).
  """

  def __init__(self, ckpt: Checkpointer, task_name: str, config_dict: dict,
               main: Checkpointer):
    self.ckpt, self.main, self.config_dict = ckpt, main, config_dict
    self.metric = tasks.selection(task_name)[0]
    self._reported = False

  @classmethod
  def create(cls, config, dataset, workdir, main: Checkpointer) -> 'BestStep | None':
    ckpt = best_checkpointer(config, dataset, workdir)
    if ckpt is None:
      return None
    return cls(ckpt, dataset.spec.task, config.to_dict(), main)

  def offer(self, step: int, state, per_seed: list[dict]) -> None:
    """Saves `state` as a candidate; orbax keeps the best by the selection metric."""
    check_params_finite(step, state)
    if jax.process_count() > 1:
      self.main.wait()
    self.ckpt.save(step, state, {'config': self.config_dict},
                   metric=float(np.mean([m[self.metric] for m in per_seed])))

  def wait(self) -> None:
    self.ckpt.wait()

  def close(self) -> None:
    self.ckpt.close()

  def report(self, final_per_seed: list[dict], evaluate, abstract_state, splits: dict,
             seeds, writer, write_at: int | None, split_name: str) -> int:
    """Evaluates the best step on each of `splits` (prefix -> split: 'val' and 'test').

    Adds `prefix/metric` keys to each replica's dict of `final_per_seed`, writes
    the best step and test/* to metrics.jsonl at `write_at` (None: a finished
    run's line is there already), prints them, and returns the best step. Made
    once per run: the test split is looked at once.
    """
    if self._reported:
      raise RuntimeError('the best step is reported on test once per run')
    self._reported = True
    self.ckpt.wait()
    best_step = self.ckpt.best_step()
    best_state, _ = self.ckpt.restore(best_step, abstract_state)
    for prefix, split in splits.items():
      for out, m in zip(final_per_seed, evaluate(best_state, split)):
        out.update({f'{prefix}/{k}': v for k, v in m.items()})
    summary = replicas.seed_summary(final_per_seed, seeds)
    if write_at is not None:
      writer.write(write_at, {'best_step': best_step,
                              **{k: v for k, v in summary.items() if k.startswith('test/')}})
    print(f'best step by {split_name}: {best_step}; test: ' + ', '.join(
        f'{k} {v:.4f}' for k, v in summary.items()
        if k.startswith('test/') and '/seed_' not in k), flush=True)
    return best_step
