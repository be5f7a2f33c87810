"""Probes of the trained runs of the spatial-hierarchies study (run.sh's sweeps).

  python experiments/spatial_hierarchies/analyze.py RUNS_DIR [--out DIR]
      [--probe_steps N] [--probe_examples N] [--rf_examples N] [--shift_examples N]

For every model (the learning rate chosen on validation, as summarize.py does)
and every replica (seed), at the step validation selected (best_checkpoint):

- linear probes: multinomial logistic regression on the frozen features of
  each layer (a CNN's convolutions after their ReLU, a ResNet's residual
  stream after each block, an MLP's hidden layers, the row-LSTM's hidden
  state after each row), fitted on train (full-batch L-BFGS, optax), the L2
  weight chosen on validation, accuracy reported on test. A feature map
  [H, W, C] is probed twice: averaged over windows down to a grid of at most
  7x7 ('grid', <= 49 C inputs) and averaged over all positions ('global', C
  inputs). Both are linear maps of the features, so each probe is a lower
  bound on the probe of the whole map.
- translation: test accuracy with the images shifted by k = 0..4 pixels
  up, down, left and right (vacated pixels get the background value),
  averaged over the four directions, and consistency (the share of test
  images whose predicted class is that of the unshifted image).
- receptive fields (2D CNNs): analytic, measured (where the input gradient of
  the centre unit, over --rf_examples test digits, is non-zero;
  cnn_vs_rnn.diagnostics.receptive_field) and
  effective (the central interval that holds 95% of that gradient's mass,
  along rows and along columns, averaged; Luo et al. 2016).

Writes RUNS_DIR/analysis.json and, with --out, filters.png and
feature_maps.png (replica 0 of each 2D CNN). Each workdir's result is cached
in WORKDIR/spatial_analysis.json (recomputed when the options change).
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax

from cnn_vs_rnn import diagnostics, plot, sweep, train
from cnn_vs_rnn.data.pipeline import take
from cnn_vs_rnn.evaluate import load_workdir
from cnn_vs_rnn.models.cnn2d import ConvStack2D, PreActResNet, resnet_widths
from cnn_vs_rnn.models.mlp import MLP
from cnn_vs_rnn.models.rnn import RNN

SECTIONS = ('cnn', 'deep', 'baselines')
PREFIX = 'mnist5k_'
L2S = (1e-4, 1e-3, 1e-2, 1e-1)
SHIFTS = (0, 1, 2, 3, 4)
DIRECTIONS = ((1, 0), (-1, 0), (0, 1), (0, -1))  # (rows, columns) per pixel of shift
GRID = 7
MASS = 0.95


# ---------------------------------------------------------------------------
# Which runs.


def chosen_points(runs: str) -> list[dict]:
  """Each section's points with the learning rate chosen on validation accuracy."""
  points = []
  for section in SECTIONS:
    path = os.path.join(runs, section, 'results.json')
    if os.path.exists(path):
      points += sweep.select_on_validation(plot.load_results(path)['points'],
                                           ('optim.learning_rate',), 'val/accuracy', 'max')
  return points


def model_name(point: dict) -> str:
  return plot.config_name(point).removeprefix(PREFIX)


# ---------------------------------------------------------------------------
# Layers and their features.


def layers_of(model) -> list[dict]:
  """The probed layers of a model: name, module path, depth (weight layers up to it), kind."""
  if isinstance(model, ConvStack2D):
    out, depth = [], 0
    for b, widths in enumerate(model.blocks):
      for i, _ in enumerate(widths):
        depth += 1
        out.append({'name': f'block{b}_conv{i}', 'path': ('features', f'block{b}_conv{i}'),
                    'depth': depth, 'kind': 'map', 'relu': model.norm == 'none'})
    return out
  if isinstance(model, PreActResNet):
    out = [{'name': 'stem', 'path': ('stem',), 'depth': 1, 'kind': 'map', 'relu': False}]
    depth = 1
    for s, n in enumerate(model.stage_sizes):
      for i in range(int(n)):
        depth += 2
        out.append({'name': f'stage{s}_block{i}', 'path': (f'stage{s}_block{i}',),
                    'depth': depth, 'kind': 'map', 'relu': False})
    return out
  if isinstance(model, MLP):
    return [{'name': f'dense{i}', 'path': (f'dense{i}',), 'depth': i + 1, 'kind': 'vector',
             'relu': True} for i in range(len(model.features))]
  if isinstance(model, RNN):
    return [{'name': 'layer0_fwd', 'path': ('layer0_fwd',), 'depth': 1, 'kind': 'rows',
             'relu': False}]
  raise ValueError(f'no probed layers for {type(model).__name__}')


def capture_fn(model, layers):
  """jitted (variables, x) -> [features of each layer]."""
  names = {l['path'][-1] for l in layers}
  want = lambda mdl, method: method == '__call__' and mdl.name in names

  @jax.jit
  def fn(variables, x):
    _, inter = model.apply(variables, x, train=False, capture_intermediates=want,
                           mutable=['intermediates'])
    outs = []
    for l in layers:
      node = inter['intermediates']
      for key in l['path']:
        node = node[key]
      h = node['__call__'][0]
      if l['kind'] == 'rows':
        h = h[0]  # (outputs [B, T, H], last state)
      outs.append(jax.nn.relu(h) if l['relu'] else h)
    return outs
  return fn


def grid_pool(h_NxHxWxC, grid: int = GRID):
  """Average over windows so that the map is at most grid x grid (ceil-sized windows)."""
  n, hh, ww, c = h_NxHxWxC.shape
  wh, wc = -(-hh // grid), -(-ww // grid)
  if wh == 1 and wc == 1:
    return h_NxHxWxC
  ph, pw = -(-hh // wh) * wh - hh, -(-ww // wc) * wc - ww
  h = jnp.pad(h_NxHxWxC, ((0, 0), (0, ph), (0, pw), (0, 0)))
  return h.reshape(n, h.shape[1] // wh, wh, h.shape[2] // wc, wc, c).mean(axis=(2, 4))


def probe_features(layer: dict, h) -> dict[str, jax.Array]:
  """Named feature matrices [N, D] of one layer's output."""
  if layer['kind'] == 'map':
    return {'grid': grid_pool(h).reshape(h.shape[0], -1), 'global': jnp.mean(h, axis=(1, 2))}
  if layer['kind'] == 'vector':
    return {'full': h.reshape(h.shape[0], -1)}
  return {f'row{t}': h[:, t] for t in range(h.shape[1])}


def features(fn, variables, inputs, batch_size: int = 500) -> list:
  """fn over `inputs` in batches; per layer, the concatenated outputs."""
  parts = [fn(variables, jnp.asarray(inputs[i:i + batch_size]))
           for i in range(0, len(inputs), batch_size)]
  return [jnp.concatenate(p, axis=0) for p in zip(*parts)]


# ---------------------------------------------------------------------------
# Logistic regression.


def standardise(train_x, *others):
  """Every column to train mean 0 and std 1 (a constant column: to 0)."""
  mu, sd = jnp.mean(train_x, axis=0), jnp.std(train_x, axis=0) + 1e-6
  return [(x - mu) / sd for x in (train_x, *others)]


def fit_logistic(x, y, num_classes: int, l2s, steps: int):
  """[len(l2s), D + 1, K] weights (last row: bias) minimising mean CE + l2/2 |W|^2."""
  onehot = jax.nn.one_hot(y, num_classes)

  def loss(w, l2):
    logits = x @ w[:-1] + w[-1]
    ce = -jnp.mean(jnp.sum(onehot * jax.nn.log_softmax(logits), axis=-1))
    return ce + 0.5 * l2 * jnp.sum(jnp.square(w[:-1]))

  def one(l2):
    solver = optax.lbfgs()
    f = lambda w: loss(w, l2)
    value_and_grad = optax.value_and_grad_from_state(f)
    w0 = jnp.zeros((x.shape[1] + 1, num_classes), x.dtype)

    def body(_, carry):
      w, state = carry
      value, grad = value_and_grad(w, state=state)
      updates, state = solver.update(grad, state, w, value=value, grad=grad, value_fn=f)
      return optax.apply_updates(w, updates), state

    w, _ = jax.lax.fori_loop(0, steps, body, (w0, solver.init(w0)))
    return w
  return jax.vmap(one)(jnp.asarray(l2s, x.dtype))


@jax.jit
def _accuracy(w, x, y):
  return jnp.mean(jnp.argmax(x @ w[:-1] + w[-1], axis=-1) == y)


_fit = jax.jit(fit_logistic, static_argnums=(2, 4))


def padded_dim(d: int) -> int:
  """The next power of two >= max(d, 64): features are zero-padded to it, so that
  one compiled fit serves every layer of about that size."""
  return max(64, 1 << (int(d) - 1).bit_length())


def linear_probe(xs: dict, ys: dict, num_classes: int, steps: int, l2s=L2S) -> dict:
  """Fit on train, choose the L2 weight on validation, report test (and train, val).

  Zero columns (the padding) standardise to zero and get zero weights under
  the L2 penalty, so they change nothing.
  """
  dim = int(xs['train'].shape[1])
  pad = lambda x: jnp.pad(jnp.asarray(x, jnp.float32), ((0, 0), (0, padded_dim(dim) - dim)))
  tr, va, te = standardise(*(pad(xs[s]) for s in ('train', 'validation', 'test')))
  ws = _fit(tr, jnp.asarray(ys['train']), num_classes, tuple(l2s), steps)
  val = [float(_accuracy(w, va, ys['validation'])) for w in ws]
  best = int(np.argmax(val))
  return {'l2': l2s[best], 'val': val[best], 'test': float(_accuracy(ws[best], te, ys['test'])),
          'train': float(_accuracy(ws[best], tr, ys['train'])), 'dim': dim}


# ---------------------------------------------------------------------------
# Translation.


def shift_images(x_NxHxW, dy: int, dx: int, fill: float):
  """Images moved by (dy, dx) pixels; vacated pixels get `fill`."""
  n, h, w = x_NxHxW.shape
  out = np.full_like(x_NxHxW, fill)
  src = x_NxHxW[:, max(-dy, 0):h - max(dy, 0), max(-dx, 0):w - max(dx, 0)]
  out[:, max(dy, 0):max(dy, 0) + src.shape[1], max(dx, 0):max(dx, 0) + src.shape[2]] = src
  return out


def translation(predict, inputs, targets, fill: float, shifts=SHIFTS) -> dict:
  """Accuracy and consistency per shift, averaged over DIRECTIONS."""
  shape = inputs.shape
  side = int(round(np.sqrt(np.prod(shape[1:]))))
  images = inputs.reshape(len(inputs), side, side)
  base = predict(inputs)
  acc, cons = [], []
  for k in shifts:
    a, c = [], []
    for dy, dx in DIRECTIONS:
      pred = predict(shift_images(images, dy * k, dx * k, fill).reshape(shape))
      a.append(float(np.mean(pred == targets)))
      c.append(float(np.mean(pred == base)))
    acc.append(float(np.mean(a)))
    cons.append(float(np.mean(c)))
  return {'shifts': list(shifts), 'accuracy': acc, 'consistency': cons}


def predictor(model, batch_size: int = 500):
  """(variables) -> (inputs -> predicted classes), one compiled program for every replica."""
  apply = jax.jit(lambda v, x: jnp.argmax(model.apply(v, x, train=False), axis=-1))
  def bind(variables):
    def predict(x):
      return np.concatenate([np.asarray(apply(variables, jnp.asarray(x[i:i + batch_size])))
                             for i in range(0, len(x), batch_size)])
    return predict
  return bind


# ---------------------------------------------------------------------------
# Receptive fields.


def resnet_probes(model: PreActResNet, hw) -> list:
  """Analytic geometry of the stem and of every block's output (its convolution path)."""
  layers = [diagnostics.Layer(3, 1, 1)]
  size = hw[0]
  probes = [diagnostics.Probe('stem', ('stem',), *diagnostics.geometry(layers)[-1])]
  for s, (n, _) in enumerate(zip(model.stage_sizes,
                                 resnet_widths(model.stage_sizes, model.width,
                                               model.stage_widths))):
    for i in range(int(n)):
      stride = 2 if s > 0 and i == 0 else 1
      lo = jax.lax.padtype_to_pads((size, size), (3, 3), (stride, stride), 'SAME')[0][0]
      layers += [diagnostics.Layer(3, stride, lo), diagnostics.Layer(3, 1, 1)]
      size = -(-size // stride)
      probes.append(diagnostics.Probe(f'stage{s}_block{i}', (f'stage{s}_block{i}',),
                                      *diagnostics.geometry(layers)[-1]))
  return probes


def effective_extent(footprint_HxW, mass: float = MASS) -> float:
  """Width of the central interval holding `mass` of the footprint, rows and columns averaged."""
  g = np.asarray(footprint_HxW, np.float64)
  if g.sum() <= 0:
    return 0.0
  widths = []
  for marginal in (g.sum(axis=1), g.sum(axis=0)):
    cdf = np.cumsum(marginal) / marginal.sum()
    lo = int(np.searchsorted(cdf, (1 - mass) / 2, side='right'))  # first row past the tail
    hi = int(np.searchsorted(cdf, 1 - (1 - mass) / 2 - 1e-12))
    widths.append(hi - lo + 1)
  return float(np.mean(widths))


def receptive_fields(model, variables, batch: dict) -> list[dict] | None:
  if isinstance(model, ConvStack2D):
    probes = None
  elif isinstance(model, PreActResNet):
    probes = resnet_probes(model, batch['inputs'].shape[1:3])
  else:
    return None
  result = diagnostics.receptive_field(model, variables, batch, probes=probes)
  out = []
  for layer in result['layers']:
    extents = [e for e in layer['measured_extent'] if e is not None]
    out.append({'name': layer['name'], 'analytic': layer['analytic_rf'],
                'analytic_clipped': [hi - lo + 1 for lo, hi in layer['analytic_interval']],
                'measured': float(np.mean(extents)) if extents else 0.0,
                'effective': effective_extent(layer['footprint'])})
  return out


# ---------------------------------------------------------------------------
# One workdir.


def spread(total: int, n: int) -> np.ndarray:
  """n indices evenly spread over range(total) (all of them for n = 0 or n >= total):
  the splits keep the source's order, which is sorted by class."""
  if not n or n >= total:
    return np.arange(total)
  return np.linspace(0, total - 1, n).round().astype(int)


def splits_of(run) -> dict:
  return {name: take(run.dataset.split(name), np.arange(len(run.dataset.split(name)['targets'])))
          for name in ('train', 'validation', 'test')}


def replica_variables(run, state, k: int) -> dict:
  return {'params': train.replica(state.params, k), **train.replica(state.model_state, k)}


def analyze_replica(run, variables, data: dict, options: dict, compiled=None) -> dict:
  """Probes, translation and receptive fields of one replica; `compiled`: compiled_fns(model)."""
  model = run.model
  layers, fn, predict = compiled or compiled_fns(model)
  keep = spread(len(data['train']['targets']), options['probe_examples'])
  sub = {s: {k: v[keep] if s == 'train' else v for k, v in d.items()} for s, d in data.items()}
  feats = {s: features(fn, variables, sub[s]['inputs']) for s in sub}
  ys = {s: jnp.asarray(sub[s]['targets']) for s in sub}
  probes = []
  for i, layer in enumerate(layers):
    named = {s: probe_features(layer, feats[s][i]) for s in sub}
    for kind in named['train']:
      result = linear_probe({s: named[s][kind] for s in sub}, ys, run.dataset.spec.num_outputs,
                            options['probe_steps'])
      probes.append({'layer': layer['name'], 'depth': layer['depth'], 'kind': kind, **result})
  fill = float(np.min(data['train']['inputs']))
  test = data['test']
  shown = spread(len(test['targets']), options['shift_examples'])
  shifted = translation(predict(variables), test['inputs'][shown], test['targets'][shown], fill)
  rf_batch = {'inputs': test['inputs'][spread(len(test['targets']), options['rf_examples'])]}
  return {'probes': probes, 'translation': shifted,
          'receptive_fields': receptive_fields(model, variables, rf_batch)}


def compiled_fns(model) -> tuple:
  """(probed layers, their capture function, predictor): jitted once per model."""
  layers = layers_of(model)
  return layers, capture_fn(model, layers), predictor(model)


def analyze_workdir(workdir: str, options: dict, loaded=None) -> dict:
  """analyze_replica for every replica at the best step; `loaded`: load_workdir's result."""
  cache = os.path.join(workdir, 'spatial_analysis.json')
  if os.path.exists(cache):
    with open(cache) as f:
      cached = json.load(f)
    if cached.get('options') == options:
      return cached
  run, state, step = loaded or load_workdir(workdir, best=True)
  data = splits_of(run)
  compiled = compiled_fns(run.model)
  replicas = [analyze_replica(run, replica_variables(run, state, k), data, options, compiled)
              for k in range(run.num_seeds)]
  result = {'options': options, 'step': int(step), 'seeds': train.seeds_of(run.config),
            'replicas': replicas}
  with open(cache, 'w') as f:
    json.dump(result, f)
  return result


def input_probes(data: dict, num_classes: int, options: dict) -> list[dict]:
  """Probes on the pixels themselves (depth 0): all 784, the 7x7 grid, the global mean."""
  keep = spread(len(data['train']['targets']), options['probe_examples'])
  pick = lambda s, v: v[keep] if s == 'train' else v
  xs = {s: jnp.asarray(pick(s, d['inputs']), jnp.float32) for s, d in data.items()}
  ys = {s: jnp.asarray(pick(s, d['targets'])) for s, d in data.items()}
  side = int(round(np.sqrt(np.prod(xs['test'].shape[1:]))))
  maps = {s: x.reshape(len(x), side, side, 1) for s, x in xs.items()}
  kinds = {'pixels': {s: x.reshape(len(x), -1) for s, x in xs.items()},
           'grid': {s: grid_pool(m).reshape(len(m), -1) for s, m in maps.items()},
           'global': {s: jnp.mean(m, axis=(1, 2)) for s, m in maps.items()}}
  return [{'layer': 'input', 'depth': 0, 'kind': kind,
           **linear_probe(x, ys, num_classes, options['probe_steps'])}
          for kind, x in kinds.items()]


# ---------------------------------------------------------------------------
# Figures of replica 0.


def pyplot():
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  return plt


def first_kernel(model, params):
  if isinstance(model, ConvStack2D):
    return np.asarray(params['features']['block0_conv0']['kernel'])
  return np.asarray(params['stem']['kernel'])


def figures(entries: list[tuple[str, object, dict]], test_inputs, out: str,
            num_maps: int = 8, num_examples: int = 3) -> list[str]:
  """filters.png (first-layer kernels) and feature_maps.png (first and last probed map)."""
  plt = pyplot()
  cnns = [(n, m, v) for n, m, v in entries if isinstance(m, (ConvStack2D, PreActResNet))]
  if not cnns:
    return []
  cols = max(first_kernel(m, v['params']).shape[-1] for _, m, v in cnns)
  fig, axes = plt.subplots(len(cnns), cols, figsize=(0.7 * cols, 0.9 * len(cnns) + 0.3),
                           squeeze=False)
  for r, (name, model, variables) in enumerate(cnns):
    k = first_kernel(model, variables['params'])[:, :, 0]  # [kh, kw, F]
    for c in range(cols):
      ax = axes[r][c]
      ax.axis('off')
      if c < k.shape[-1]:
        lim = np.abs(k[..., c]).max() or 1.0
        ax.imshow(k[..., c], cmap='RdBu_r', vmin=-lim, vmax=lim)
    axes[r][0].set_title(name, fontsize='small', loc='left')
  fig.suptitle('first-layer 3x3 filters (replica 0; red +, blue -)', fontsize='small')
  fig.tight_layout()
  fig.savefig(os.path.join(out, 'filters.png'), dpi=110)
  plt.close(fig)

  x = test_inputs[:num_examples]
  rows = []
  for name, model, variables in cnns:
    layers = layers_of(model)
    maps = capture_fn(model, [layers[0], layers[-1]])(variables, jnp.asarray(x))
    for e in range(num_examples):
      rows.append((f'{name}, digit {e}', x[e, ..., 0], [np.asarray(m[e]) for m in maps],
                   (layers[0]['name'], layers[-1]['name'])))
  fig, axes = plt.subplots(len(rows), 1 + 2 * num_maps,
                           figsize=(0.75 * (1 + 2 * num_maps), 0.85 * len(rows) + 0.4),
                           squeeze=False)
  for r, (label, image, maps, names) in enumerate(rows):
    axes[r][0].imshow(image, cmap='gray')
    axes[r][0].set_title(label, fontsize=6, loc='left')
    for j, m in enumerate(maps):
      for c in range(num_maps):
        ax = axes[r][1 + j * num_maps + c]
        if c < m.shape[-1]:
          ax.imshow(m[..., c], cmap='viridis')
        if r % num_examples == 0 and c == 0:
          ax.set_title(names[j], fontsize=6, loc='left')
    for ax in axes[r]:
      ax.axis('off')
  fig.suptitle(f'input | {num_maps} channels of the first probed layer | {num_maps} of the '
               'last (replica 0)', fontsize='small')
  fig.tight_layout()
  fig.savefig(os.path.join(out, 'feature_maps.png'), dpi=110)
  plt.close(fig)
  return ['filters.png', 'feature_maps.png']


# ---------------------------------------------------------------------------


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('runs')
  parser.add_argument('--out', default=None, help='where filters.png and feature_maps.png go')
  parser.add_argument('--probe_steps', type=int, default=200, help='L-BFGS iterations')
  parser.add_argument('--probe_examples', type=int, default=0,
                      help='train examples for the probes, evenly spread (0: all)')
  parser.add_argument('--rf_examples', type=int, default=64)
  parser.add_argument('--shift_examples', type=int, default=0,
                      help='test examples for the translation test, evenly spread (0: all)')
  args = parser.parse_args(argv)
  if (min(args.probe_steps, args.rf_examples) < 1
      or min(args.probe_examples, args.shift_examples) < 0):
    print('analyze.py: --probe_steps and --rf_examples must be >= 1, --probe_examples and '
          '--shift_examples >= 0', file=sys.stderr)
    return 2
  options = {'probe_steps': args.probe_steps, 'probe_examples': args.probe_examples,
             'rf_examples': args.rf_examples, 'shift_examples': args.shift_examples,
             'l2s': list(L2S), 'shifts': list(SHIFTS)}
  points = chosen_points(args.runs)
  if not points:
    print(f'analyze.py: no finished sweep under {args.runs!r} (sections: {", ".join(SECTIONS)})',
          file=sys.stderr)
    return 2
  models, entries, data = {}, [], None
  for p in points:
    name = model_name(p)
    print(f'analyzing {name} ({p["workdir"]})', flush=True)
    loaded = load_workdir(p['workdir'], best=True)
    run, state, _ = loaded
    models[name] = {'workdir': p['workdir'], 'num_params': p['num_params'],
                    'learning_rate': p['grid']['optim.learning_rate'],
                    **analyze_workdir(p['workdir'], options, loaded)}
    if data is None and len(run.dataset.spec.input_shape) == 3:
      data = splits_of(run)
      num_classes = run.dataset.spec.num_outputs
    entries.append((name, run.model, replica_variables(run, state, 0)))
  result = {'options': options, 'models': models,
            'input_probes': input_probes(data, num_classes, options) if data else []}
  with open(os.path.join(args.runs, 'analysis.json'), 'w') as f:
    json.dump(result, f)
  written = []
  if args.out and data is not None:
    os.makedirs(args.out, exist_ok=True)
    written = figures(entries, data['test']['inputs'], args.out)
  print(json.dumps({'analysis': os.path.join(args.runs, 'analysis.json'), 'figures': written}))
  return 0


if __name__ == '__main__':
  sys.exit(main())
