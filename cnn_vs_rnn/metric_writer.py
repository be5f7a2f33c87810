"""metrics.jsonl, TensorBoard events (tensorboardX, no TensorFlow) and progress lines."""

from __future__ import annotations

import datetime
import json
import os
import time

from tensorboardX import SummaryWriter


class MetricWriter:
  """Appends one JSON object per logged step; on resume, drops lines past `resume_step`.

  A killed run may have logged steps after its last checkpoint; those steps are
  recomputed after resuming, so their old lines are removed first.
  """

  def __init__(self, workdir: str, resume_step: int = 0):
    self.path = os.path.join(workdir, 'metrics.jsonl')
    if os.path.exists(self.path):
      with open(self.path) as f:
        lines = [l for l in f if l.strip()]
      kept = []
      for line in lines:
        try:
          if json.loads(line)['step'] <= resume_step:
            kept.append(line)
        except (ValueError, KeyError):
          break  # A line cut off by a kill: the rest is recomputed.
      with open(self.path, 'w') as f:
        f.writelines(kept)
    self._tb = SummaryWriter(os.path.join(workdir, 'tensorboard'),
                             purge_step=resume_step + 1 if resume_step else None)

  def write(self, step: int, metrics: dict) -> None:
    record = {'step': int(step), **{k: float(v) for k, v in metrics.items()}}
    with open(self.path, 'a') as f:
      f.write(json.dumps(record) + '\n')
    for k, v in metrics.items():
      self._tb.add_scalar(k, float(v), step)

  def close(self) -> None:
    self._tb.close()


class Progress:
  """'step 1200/6000 | loss 0.3512 | 812.3 steps/s | ETA 0:00:06'."""

  def __init__(self, start_step: int, total_steps: int):
    self.total = total_steps
    self._last_step = start_step
    self._last_time = time.perf_counter()

  def line(self, step: int, metrics: dict) -> str:
    now = time.perf_counter()
    rate = (step - self._last_step) / max(now - self._last_time, 1e-9)
    self._last_step, self._last_time = step, now
    eta = datetime.timedelta(seconds=round((self.total - step) / max(rate, 1e-9)))
    parts = [f'step {step}/{self.total}']
    parts += [f'{k.split("/")[-1]} {v:.4f}' for k, v in metrics.items()]
    parts += [f'{rate:.1f} steps/s', f'ETA {eta}']
    return ' | '.join(parts)
