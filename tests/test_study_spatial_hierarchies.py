"""experiments/spatial_hierarchies: its run.sh plans every sweep, its pipeline runs
end to end at a tiny size, and its probes measure what they claim."""

import importlib.util
import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from conftest import REPO, jit_init
from test_studies import TINY, run_study

from cnn_vs_rnn import diagnostics
from cnn_vs_rnn.models.cnn2d import PreActResNet


def load_analyze():
  path = os.path.join(REPO, 'experiments', 'spatial_hierarchies', 'analyze.py')
  spec = importlib.util.spec_from_file_location('spatial_analyze', path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


analyze = load_analyze()


def test_plans_every_sweep(tmp_path):
  result = run_study('spatial_hierarchies', tmp_path / 'runs', '--dry-run',
                     STUDY_OUT=str(tmp_path / 'out'))
  assert result.returncode == 0, result.stderr[-2000:]
  counts = [l for l in result.stdout.splitlines() if l.endswith(' runs')]
  # cnn, deep, baselines: 2 configs x 2 learning rates each.
  assert [int(l.split()[0]) for l in counts] == [4, 4, 4]


def test_one_part_and_a_bad_part(tmp_path):
  result = run_study('spatial_hierarchies', tmp_path / 'runs', '--dry-run', PART='deep')
  assert result.returncode == 0, result.stderr[-2000:]
  assert [int(l.split()[0]) for l in result.stdout.splitlines() if l.endswith(' runs')] == [4]
  assert 'mnist5k_vgg' in result.stdout and 'mnist5k_mlp' not in result.stdout
  bad = run_study('spatial_hierarchies', tmp_path / 'runs', PART='nope')
  assert bad.returncode == 2 and 'unknown PART=nope' in bad.stderr


def test_pipeline_at_a_tiny_size(tmp_path):
  out = tmp_path / 'out'
  result = run_study('spatial_hierarchies', tmp_path / 'runs', *TINY,
                     ONLY='cnn2d_gap|lstm_rows', LRS='1e-2,3e-2', STUDY_OUT=str(out),
                     PROBE_ARGS=('--probe_steps 3 --probe_examples 100 --rf_examples 4 '
                                 '--shift_examples 100'))
  assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
  with open(out / 'results.json') as f:
    results = json.load(f)
  assert {r['model'] for r in results['accuracy']} == {'cnn2d_gap', 'lstm_rows'}
  for row in results['accuracy']:
    best = max(t['val/accuracy'] for t in row['tried'])
    assert row['val_accuracy']['mean'] == best and len(row['tried']) == 2  # Chosen on val.
    assert len(row['test_accuracy']['per_seed']) == 3
  cnn = [r for r in results['probes'] if r['model'] == 'cnn2d_gap']
  assert {(r['layer'], r['kind']) for r in cnn} == {
      (f'block{b}_conv0', k) for b in range(3) for k in ('grid', 'global')}
  assert all(len(r['test']['per_seed']) == 3 for r in cnn)
  # Convolutions at 28x28, 14x14 and 7x7 (before their pooling): grids of 7x7 per channel.
  dims = {(r['layer'], r['kind']): r['dim'] for r in cnn}
  assert all(dims[(l, 'grid')] == 49 * dims[(l, 'global')] for l, _ in dims)
  lstm = [r for r in results['probes'] if r['model'] == 'lstm_rows']
  assert sorted(int(r['kind'][3:]) for r in lstm) == list(range(28))
  assert {r['kind'] for r in results['probes'] if r['model'] == 'input'} == {
      'pixels', 'grid', 'global'}
  rfs = [r for r in results['receptive_fields'] if r['model'] == 'cnn2d_gap']
  assert [r['analytic'] for r in rfs] == [3, 8, 18]
  assert all(r['measured']['mean'] <= min(r['analytic'], 28) for r in rfs)
  (shift,) = [r for r in results['translation'] if r['model'] == 'cnn2d_gap']
  assert shift['shifts'] == [0, 1, 2, 3, 4] and shift['consistency'][0]['mean'] == 1.0
  assert '| lstm (rows) |' in result.stdout and 'Translation' in result.stdout
  for png in ('probes.png', 'translation.png', 'receptive_fields.png', 'filters.png',
              'feature_maps.png'):
    with open(out / png, 'rb') as f:
      assert f.read(8) == b'\x89PNG\r\n\x1a\n', png


def test_shift_moves_pixels_and_fills_the_border():
  x = np.arange(2 * 4 * 4, dtype=np.float32).reshape(2, 4, 4)
  down_right = analyze.shift_images(x, 1, 2, -1.0)
  np.testing.assert_array_equal(down_right[:, 1:, 2:], x[:, :3, :2])
  assert (down_right[:, 0] == -1).all() and (down_right[:, :, :2] == -1).all()
  up = analyze.shift_images(x, -1, 0, 0.0)
  np.testing.assert_array_equal(up[:, :3], x[:, 1:])
  np.testing.assert_array_equal(analyze.shift_images(x, 0, 0, 0.0), x)


def test_spread_covers_the_split():
  np.testing.assert_array_equal(analyze.spread(10, 0), np.arange(10))
  np.testing.assert_array_equal(analyze.spread(10, 3), [0, 4, 9])  # Not just the first class.
  np.testing.assert_array_equal(analyze.spread(3, 5), np.arange(3))


def test_grid_pool_averages_windows():
  h = jnp.arange(28 * 28, dtype=jnp.float32).reshape(1, 28, 28, 1)
  g = analyze.grid_pool(h)
  assert g.shape == (1, 7, 7, 1)
  np.testing.assert_allclose(g[0, 0, 0, 0], np.asarray(h[0, :4, :4, 0]).mean())
  assert analyze.grid_pool(h[:, :7, :7]).shape == (1, 7, 7, 1)  # Already small: unchanged.
  assert analyze.grid_pool(jnp.ones((1, 14, 14, 3))).shape == (1, 7, 7, 3)


def test_effective_extent_of_a_box_and_a_point():
  g = np.zeros((28, 28))
  g[10:15, 8:11] = 1.0  # 5 rows x 3 columns, uniform mass.
  assert analyze.effective_extent(g, mass=1.0) == 4.0
  point = np.zeros((28, 28))
  point[3, 4] = 1.0
  assert analyze.effective_extent(point) == 1.0
  assert analyze.effective_extent(np.zeros((5, 5))) == 0.0


def test_linear_probe_separates_separable_classes_and_not_noise():
  rng = np.random.default_rng(0)
  def split(n, informative):
    y = rng.integers(0, 3, n)
    x = rng.standard_normal((n, 5)).astype(np.float32)
    if informative:
      x[:, 0] += 4.0 * y
    return jnp.asarray(x), jnp.asarray(y)
  for informative, lo, hi in ((True, 0.95, 1.0), (False, 0.0, 0.6)):
    data = {s: split(n, informative) for s, n in (('train', 300), ('validation', 100),
                                                   ('test', 300))}
    result = analyze.linear_probe({s: d[0] for s, d in data.items()},
                                  {s: d[1] for s, d in data.items()}, 3, steps=50)
    assert lo <= result['test'] <= hi, result
    assert result['l2'] in analyze.L2S and result['dim'] == 5


@pytest.mark.parametrize('stage_sizes', [(1, 1, 1), (2, 1)])
def test_resnet_analytic_receptive_field_bounds_the_measured_one(stage_sizes):
  model = PreActResNet(num_outputs=3, stage_sizes=stage_sizes, width=4, norm='none')
  x = jax.random.normal(jax.random.key(0), (2, 28, 28, 1))
  variables = jit_init(model, jax.random.key(1), x)
  probes = analyze.resnet_probes(model, (28, 28))
  assert probes[0].rf == 3 and [p.name for p in probes][-1].startswith('stage')
  # The conv path of block i adds 2 * 2 * jump; a stride-2 block doubles the jump after it.
  rf, jump = 3, 1
  for s, n in enumerate(stage_sizes):
    for i in range(n):
      stride = 2 if s > 0 and i == 0 else 1
      rf += 2 * jump + 2 * jump * stride
      jump *= stride
  assert probes[-1].rf == rf
  result = diagnostics.receptive_field(model, variables, {'inputs': x}, probes=probes)
  for probe, layer in zip(probes, result['layers']):
    (r0, r1), (c0, c1) = layer['measured_interval']
    (a0, a1), (b0, b1) = layer['analytic_interval']
    assert a0 <= r0 and r1 <= a1 and b0 <= c0 and c1 <= b1, (probe, layer)
  # With no ReLU dead everywhere, the measured footprint reaches the analytic edge.
  assert result['layers'][0]['measured_extent'] == [3, 3]
