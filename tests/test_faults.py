"""Faults injected into real training processes: signals, and what survives them."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from conftest import CONFIG_DIR, REPO
from test_train import checkpoint_arrays


def cli(workdir, *overrides):
  return [sys.executable, '-m', 'cnn_vs_rnn.train', '--config',
          os.path.join(CONFIG_DIR, 'mnist1d_cnn.py'), '--workdir', workdir,
          '--config.num_train_steps=1500', '--config.data.batch_size=8',
          '--config.data.eval_batch_size=200', '--config.log_every_steps=100',
          '--config.eval_every_steps=100000', '--config.checkpoint_every_steps=1000',
          *overrides]


def start_and_signal(workdir, signum, *overrides, after_step=200):
  """Starts a run, sends `signum` once it has logged `after_step`; (returncode, stdout, stderr)."""
  proc = subprocess.Popen(cli(workdir, *overrides), cwd=REPO, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)
  lines = []
  deadline = time.time() + 180
  for line in proc.stdout:
    lines.append(line)
    if line.startswith(f'step {after_step}/') or time.time() > deadline:
      break
  time.sleep(0.05)  # Into the middle of the next steps.
  proc.send_signal(signum)
  out, err = proc.communicate(timeout=180)
  return proc.returncode, ''.join(lines) + out, err


@pytest.mark.parametrize('signum,code,loop', [(signal.SIGTERM, 143, 1),
                                              (signal.SIGINT, 130, 1),
                                              (signal.SIGTERM, 143, 10)])
def test_signal_saves_a_checkpoint_and_resume_is_bitwise_identical(tmp_path, mnist1d,
                                                                   signum, code, loop):
  loop_flag = f'--config.steps_per_loop={loop}'
  stopped = str(tmp_path / 'stopped')
  rc, out, err = start_and_signal(stopped, signum, loop_flag)
  assert rc == code, err
  assert 'Traceback' not in err
  errors = [l for l in err.splitlines() if l.startswith('error: ')]
  assert len(errors) == 1 and f'stopped by {signal.Signals(signum).name} at step' in errors[0]
  step = int(errors[0].split(' at step ')[1].split(';')[0])
  assert 200 <= step < 1000 and step % loop == 0  # Before the first periodic checkpoint.
  assert os.listdir(os.path.join(stopped, 'checkpoints')) == [str(step)]
  rows = [json.loads(l) for l in open(os.path.join(stopped, 'metrics.jsonl'))]
  assert rows[-1]['step'] == (step // 100) * 100  # Flushed up to the last log step.

  resumed = subprocess.run(cli(stopped, loop_flag), cwd=REPO, capture_output=True, text=True)
  assert resumed.returncode == 0, resumed.stderr
  assert f'Resuming from step {step}' in resumed.stdout
  ref = str(tmp_path / 'ref')
  subprocess.run(cli(ref, loop_flag), cwd=REPO, check=True, capture_output=True)
  for a, b in zip(checkpoint_arrays(ref, 1500), checkpoint_arrays(stopped, 1500)):
    np.testing.assert_array_equal(a, b)
  for name in ('final_metrics.json', 'metrics.jsonl'):
    assert (open(os.path.join(ref, name)).read() ==
            open(os.path.join(stopped, name)).read()), name
