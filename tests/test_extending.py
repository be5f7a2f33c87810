"""The Extending page's example (docs/extending.md), run exactly as written: a model,
a dataset and a task from a module outside the package train, resume and evaluate."""

import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from conftest import REPO


def example_files() -> dict:
  """The code blocks of docs/extending.md whose first line is '# FILENAME'."""
  text = open(os.path.join(REPO, 'docs', 'extending.md')).read()
  blocks = re.findall(r'```python\n# (\S+)\n(.*?)```', text, re.S)
  return {name: body for name, body in blocks}


def run(cwd, *args):
  env = {**os.environ, 'PYTHONPATH': REPO}
  return subprocess.run([sys.executable, '-m', *args], cwd=cwd, env=env,
                        capture_output=True, text=True, timeout=300)


def test_the_extending_example_trains_resumes_and_evaluates(tmp_path):
  files = example_files()
  assert set(files) == {'my_ext.py', 'parity_mlp.py'}
  for name, body in files.items():
    (tmp_path / name).write_text(body)
  first = run(tmp_path, 'cnn_vs_rnn.train', '--config', 'parity_mlp.py', '--workdir', 'run')
  assert first.returncode == 0, first.stderr
  record = json.loads((tmp_path / 'run' / 'config.json').read_text())
  assert record['config']['imports'] == 'my_ext'
  # An interruption after the step-750 checkpoint: resume with the same command.
  final = json.loads((tmp_path / 'run' / 'final_metrics.json').read_text())
  assert final['test/accuracy'] > 0.9, final  # Parity of 8 bits is learnable by an MLP.
  steps = sorted(int(s) for s in os.listdir(tmp_path / 'run' / 'checkpoints'))
  assert steps[-1] == 1000
  shutil.rmtree(tmp_path / 'run' / 'checkpoints' / '1000')
  os.remove(tmp_path / 'run' / 'final_metrics.json')
  again = run(tmp_path, 'cnn_vs_rnn.train', '--config', 'parity_mlp.py', '--workdir', 'run')
  assert again.returncode == 0, again.stderr
  assert 'Resuming from step 750' in again.stdout
  assert json.loads((tmp_path / 'run' / 'final_metrics.json').read_text()) == final
  # evaluate re-imports my_ext from config.json; run it from elsewhere, with the
  # module's directory on the path as a user's installed package would be.
  env_dir = tmp_path / 'elsewhere'
  env_dir.mkdir()
  env = {**os.environ, 'PYTHONPATH': f'{REPO}{os.pathsep}{tmp_path}'}
  out = subprocess.run([sys.executable, '-m', 'cnn_vs_rnn.evaluate', '--workdir',
                        str(tmp_path / 'run'), '--best'], cwd=env_dir, env=env,
                       capture_output=True, text=True, timeout=300)
  assert out.returncode == 0, out.stderr
  metrics = json.loads(out.stdout.strip().splitlines()[-1])
  assert metrics['eval/accuracy'] == pytest.approx(final['test/accuracy'])
