"""Tables, figures and results.json of the vanishing/exploding study.

  python experiments/vanishing_exploding/summarize.py RUNS_DIR [--out DIR]

Three parts:
  1. The step Jacobian under each initialisation of the Elman recurrence
     (orthogonal, identity, normal with scales 0.5, 1, 2; tanh and ReLU), on
     freshly initialised models: the eigenvalues of W_h, the singular values
     of dh_t/dh_{t-1} along a batch's trajectory and ||dL/dh_t|| against t
     (cnn_vs_rnn.diagnostics). No training.
  2. ||dL/dh_t|| against t for every family at initialisation (seed 0) and
     after training (each run's best checkpoint, every seed), and the logged
     ratio ||dL/dh_1|| / ||dL/dh_T|| over training (diag/* of metrics.jsonl).
  3. The cures: per point of run.sh's sweeps, each seed's outcome (solved:
     test MSE < 0.01 at the step validation selected; not solved; diverged:
     stopped by the non-finite guard), and the validation-loss curves.
Writes results.json, spectra.png, grad_time.png and curves.png to --out and
prints the README's tables.
"""

from __future__ import annotations

import argparse
import glob
import json
import math
import os
import re

import jax
import jax.numpy as jnp
import numpy as np

from cnn_vs_rnn import configlib, data, diagnostics, fileio, models, plot, sweep, tasks, train
from cnn_vs_rnn.evaluate import run_config

HERE = os.path.dirname(os.path.abspath(__file__))
CONFIGS = os.path.join(os.path.dirname(os.path.dirname(HERE)), 'configs')
SUCCESS_MSE = 0.01  # Solved: test MSE below this (the trivial baseline is about 0.167).
BATCH = 64  # Examples in the probes' batch (the first of the validation split).
SPECTRUM_EXAMPLES = 2  # Trajectories whose step Jacobians are decomposed.
INITS = (('orthogonal', 1.0), ('identity', 1.0), ('normal', 0.5), ('normal', 1.0),
         ('normal', 2.0))
ACTIVATIONS = ('tanh', 'relu')

# The families of the gradient-through-time figure: (label, config, model
# overrides, where the trained run is: (sweep, grid filter)).
FAMILIES = (
    ('tanh Elman', 'adding_elman.py', {}, ('plain', {})),
    ('ReLU Elman, normal init', 'adding_elman.py',
     {'activation': 'relu', 'recurrent_init': 'normal'}, ('relu_normal', {})),
    ('IRNN', 'adding_elman.py', {'activation': 'relu', 'recurrent_init': 'identity'},
     ('irnn', {'optim.learning_rate': '3e-4'})),
    ('LSTM', 'adding_lstm.py', {}, ('gating', {'config': 'adding_lstm'})),
    ('GRU', 'adding_gru.py', {}, ('gating', {'config': 'adding_gru'})),
    ('LRU', 'adding_lru.py', {}, ('lru', {'model.r_min': '0.9'})),
    ('TCN', 'adding_tcn.py', {}, ('tcn', {})),
)
SWEEPS = ('plain', 'gating', 'irnn', 'relu_normal', 'relu_normal_half', 'clipping',
          'clipping_adam', 'layer_norm', 'lru', 'tcn')


# ---------------------------------------------------------------------------
# Models, data and probes.


def load_config(name: str, model: dict | None = None, seq_len: int | None = None):
  c = configlib.load_config_file(os.path.join(CONFIGS, name))
  for k, v in (model or {}).items():
    c.model[k] = v
  if seq_len:
    c.data.seq_len = seq_len
  return c


def probe_batch(seq_len: int) -> tuple[dict, object]:
  """The first BATCH validation examples of the adding problem at `seq_len`, and its spec."""
  c = load_config('adding_gru.py', seq_len=seq_len)
  c.data.num_train = 10 * BATCH  # A small copy: the same distribution, generated fast.
  dataset = data.load(c.data)
  return diagnostics.fixed_batch(dataset.split('validation'), BATCH), dataset.spec


def init_variables(config, spec, seed: int = 0):
  model = models.build(config.model, spec)
  x = jnp.zeros((1,) + tuple(spec.input_shape), spec.input_dtype)
  return model, jax.jit(lambda k: model.init(k, x))(jax.random.key(seed))


def grad_fn(model):
  """variables -> (||dL/dh_t|| [T], L): one compiled program per model."""
  task = tasks.get('regression')
  fn = jax.jit(lambda v, b: diagnostics.grad_arrays(model, task, v, b))
  return lambda variables, batch: tuple(
      np.asarray(x, np.float64) for x in (lambda r: (r['grad_norm'], r['loss']))(
          fn(diagnostics.as_variables(variables), diagnostics._with_weights(batch))))


def finite_or_none(x):
  x = float(x)
  return x if math.isfinite(x) else None


def ratio_first_last(g_T) -> float | None:
  """||dL/dh_1|| / ||dL/dh_T||: < 1 vanishing, > 1 exploding (None if non-finite)."""
  if not (np.isfinite(g_T[0]) and np.isfinite(g_T[-1])) or g_T[-1] == 0:
    return None
  return float(g_T[0] / g_T[-1])


def per_step_factor(g_T) -> float | None:
  """The mean factor by which ||dL/dh_t|| changes per step back from T:
  (g_t0 / g_T)^(1 / (T - 1 - t0)), t0 the first step where g is positive and
  finite (float32 underflows to 0 after about 45 decades). None if g_T is not."""
  g = np.asarray(g_T, np.float64)
  ok = np.flatnonzero(np.isfinite(g) & (g > 0))
  if not np.isfinite(g[-1]) or g[-1] <= 0 or len(ok) < 2:
    return None
  t0 = ok[0]
  return float((g[t0] / g[-1]) ** (1.0 / (len(g) - 1 - t0)))


def spectra(batch, spec, seq_len) -> list[dict]:
  """Part 1: the Elman step Jacobian under every (activation, init, scale)."""
  rows = []
  for activation in ACTIVATIONS:
    for init, scale in INITS:
      c = load_config('adding_elman.py', {'activation': activation, 'recurrent_init': init,
                                          'recurrent_init_scale': scale}, seq_len)
      model, variables = init_variables(c, spec)
      w = np.asarray(variables['params']['layer0_fwd']['scan']['cell']['recurrent']['kernel'],
                     np.float64)
      eig = np.linalg.eigvals(w)
      sv = diagnostics.jacobian_spectrum(model, variables, batch,
                                         max_examples=SPECTRUM_EXAMPLES)['singular_values']
      sv = np.asarray(sv['layer0_fwd'], np.float64)  # [B', T, H]
      g, loss = grad_fn(model)(variables, batch)
      top = sv[..., 0]
      rows.append({
          'activation': activation, 'init': init, 'scale': scale,
          'spectral_radius': float(np.abs(eig).max()),
          'norm_W': float(np.linalg.svd(w, compute_uv=False)[0]),
          'eigenvalues': [[float(e.real), float(e.imag)] for e in eig],
          'jacobian_top_sv_mean': finite_or_none(np.mean(top)),
          # log of the product of the top singular values: an upper bound on
          # log ||prod_t J_t||, per step (the Lyapunov-like growth rate).
          'jacobian_log_top_sv_per_step': finite_or_none(np.mean(np.log(top))),
          'jacobian_top_sv_over_t': [finite_or_none(v) for v in top.mean(axis=0)],
          'jacobian_bottom_sv_over_t': [finite_or_none(v) for v in sv[..., -1].mean(axis=0)],
          'loss': finite_or_none(loss),
          'grad_norm': [finite_or_none(v) for v in g],
          'grad_ratio_1_over_T': ratio_first_last(g), 'per_step_factor': per_step_factor(g)})
  return rows


def lru_lambda_moduli(variables) -> list[float]:
  from cnn_vs_rnn.models.lru import lru_lambda  # pylint: disable=g-import-not-at-top
  params = variables['params']
  return sorted(float(a) for block in sorted(k for k in params if k.startswith('block'))
                for a in np.abs(np.asarray(lru_lambda(params[block]['lru']['nu_log'],
                                                      params[block]['lru']['theta_log']))))


def grads_at_init(batch, spec, seq_len) -> list[dict]:
  rows = []
  for label, config_name, overrides, _ in FAMILIES:
    model, variables = init_variables(load_config(config_name, overrides, seq_len), spec)
    g, loss = grad_fn(model)(variables, batch)
    row = {'family': label, 'kind': 'hidden_state' if diagnostics.is_recurrent(model)
           else 'input', 'loss': finite_or_none(loss),
           'grad_norm': [finite_or_none(v) for v in g], 'grad_ratio_1_over_T':
           ratio_first_last(g), 'per_step_factor': per_step_factor(g)}
    if config_name == 'adding_lru.py':
      row['lambda_moduli'] = lru_lambda_moduli(variables)
    rows.append(row)
  return rows


# ---------------------------------------------------------------------------
# Runs.


def sweep_points(runs: str, name: str) -> list[dict]:
  path = os.path.join(runs, name, 'results.json')
  return plot.load_results(path)['points'] if os.path.exists(path) else []


def matches(point: dict, where: dict) -> bool:
  for k, v in where.items():
    value = plot.config_name(point) if k == 'config' else point['grid'].get(k)
    if value is None or not _same(value, v):
      return False
  return True


def _same(a: str, b: str) -> bool:
  try:
    return float(a) == float(b)
  except ValueError:
    return a == b


def read_json(path: str):
  try:
    with open(path) as f:
      return json.load(f)
  except (OSError, ValueError):
    return None


NONFINITE = re.compile(r'non-finite loss at step (\d+) \((.*)\)')


def divergence(workdir: str) -> dict | None:
  """{'step', 'detail', 'seed'} from the non-finite guard's line in WORKDIR/train.log."""
  line = sweep.last_error(workdir)
  m = NONFINITE.search(line)
  if not m:
    return None
  seed = re.search(r'replica with seed (\d+)', m.group(2))
  return {'step': int(m.group(1)), 'detail': m.group(2)[:200],
          'seed': int(seed.group(1)) if seed else None}


def outcomes(point: dict) -> list[dict]:
  """One record per seed: status solved / not solved / diverged / stopped / missing."""
  out = []
  for run in point['runs']:
    workdir = run['workdir']
    final = read_json(os.path.join(workdir, 'final_metrics.json'))
    seeds = _run_seeds(run, final)
    if final is not None:
      per_seed = final.get('per_seed') or {k: [v] for k, v in final.items()
                                            if isinstance(v, (int, float))}
      for i, s in enumerate(seeds):
        test, val = per_seed['test/mse'][i], per_seed['val/mse'][i]
        out.append({'seed': s, 'status': 'solved' if test < SUCCESS_MSE else 'not solved',
                    'test_mse': test, 'val_mse': val, 'best_step': final.get('best_step')})
      continue
    stop = divergence(workdir)
    for s in seeds:
      if stop is None:
        status = 'missing'
      elif stop['seed'] is None or stop['seed'] == s:
        status = 'diverged'
      else:
        status = 'stopped'  # A sibling replica diverged and stopped the program.
      out.append({'seed': s, 'status': status, 'test_mse': None, 'val_mse': None,
                  'diverged_at': stop['step'] if stop and status == 'diverged' else None,
                  'detail': stop['detail'] if stop and status == 'diverged' else None})
  return out


def _run_seeds(run: dict, final) -> list[int]:
  if final is not None and 'seeds' in final:
    return list(final['seeds'])
  m = re.search(r'seed_(\d+)$', run['workdir'].rstrip('/'))
  if m:
    return [int(m.group(1))]
  config = read_json(os.path.join(run['workdir'], 'config.json'))
  if config:
    c = config['config']
    return [c['seed'] + k for k in range(c.get('num_seeds', 1))]
  return []


def label_of(sweep_name: str, point: dict) -> str:
  g, o = point['grid'], point['overrides']
  model = plot.config_name(point).removeprefix('adding_')
  if sweep_name == 'plain':
    return 'tanh Elman (orthogonal)'
  if sweep_name == 'gating':
    return {'gru': 'GRU', 'lstm': 'LSTM'}[model]
  if sweep_name == 'lru':
    return f"LRU, |lambda| in [{g['model.r_min']}, {g['model.r_max']}]"
  if sweep_name == 'tcn':
    return 'TCN'
  if sweep_name == 'layer_norm':
    return 'tanh Elman + layer norm'
  if sweep_name == 'irnn':
    return f"IRNN (identity), lr {g['optim.learning_rate']}"
  if sweep_name in ('relu_normal', 'relu_normal_half'):
    scale = o.get('model.recurrent_init_scale', '1')
    return f"ReLU Elman, normal init x{float(scale):g}, lr {o['optim.learning_rate']}"
  if sweep_name == 'clipping_adam':
    return f"IRNN, Adam lr {o['optim.learning_rate']}, no clipping"
  if sweep_name == 'clipping':
    clip = float(g['optim.grad_clip_norm'])
    return f"IRNN, SGD lr {o['optim.learning_rate']}, " + (
        f'clipped at {clip:g}' if clip > 0 else 'no clipping')
  return point['name']


def optimiser_of(point: dict) -> str:
  c = read_json(os.path.join(_first_workdir(point), 'config.json'))
  if not c:
    return ''
  o = c['config']['optim']
  clip = f", clip {o['grad_clip_norm']:g}" if o['grad_clip_norm'] else ', no clip'
  return f"{o['name']} {o['learning_rate']:g}{clip}"


def _first_workdir(point: dict) -> str:
  return point['runs'][0]['workdir'] if point['runs'] else point['workdir']


def cure_rows(runs: str) -> list[dict]:
  rows = []
  for name in SWEEPS:
    for p in sweep_points(runs, name):
      seeds = outcomes(p)
      finished = [s['test_mse'] for s in seeds if s['test_mse'] is not None]
      rows.append({
          'sweep': name, 'label': label_of(name, p), 'config': p['config'],
          'grid': p['grid'], 'overrides': p['overrides'], 'optimiser': optimiser_of(p),
          'num_params': p['num_params'], 'seeds': seeds,
          'solved': sum(s['status'] == 'solved' for s in seeds),
          'diverged': sum(s['status'] == 'diverged' for s in seeds),
          'stopped': sum(s['status'] == 'stopped' for s in seeds),
          'num_seeds': len(seeds),
          'test_mse': sweep.seed_stats(finished) if finished else None,
          'wall_s': p['wall_s'], 'workdir': p['workdir'],
          'runs': [r['workdir'] for r in p['runs']]})
  return rows


def fmt_g(x) -> str:
  return '–' if x is None else (f'{x:.3g}' if abs(x) < 0.01 or abs(x) >= 1000 else f'{x:.3f}')


def in_table(row: dict, sweeps: tuple[str, ...]) -> bool:
  """`sweeps` names sweeps, or 'SWEEP:LABEL' for one row of a sweep."""
  return row['sweep'] in sweeps or f"{row['sweep']}:{row['label']}" in sweeps


def cure_table(rows: list[dict], sweeps: tuple[str, ...]) -> str:
  lines = ['| model | optimiser | params | solved (test MSE < 0.01) | diverged | '
           'test MSE, finished seeds (mean ± std) | per seed |', '|---|---|---|---|---|---|---|']
  for r in rows:
    if not in_table(r, sweeps):
      continue
    per_seed = ', '.join(
        fmt_g(s['test_mse']) if s['test_mse'] is not None else
        (f"NaN@{s['diverged_at']}" if s['status'] == 'diverged' else s['status'])
        for s in r['seeds'])
    diverged = f"{r['diverged']}/{r['num_seeds']}" + (
        f" (+{r['stopped']} stopped with it)" if r['stopped'] else '')
    params = f"{r['num_params']:,}" if r['num_params'] else '–'
    lines.append(f"| {r['label']} | {r['optimiser']} | {params} | "
                 f"{r['solved']}/{r['num_seeds']} | {diverged} | "
                 f"{sweep.format_mean_std(r['test_mse']) if r['test_mse'] else '–'} | "
                 f'{per_seed} |')
  return '\n'.join(lines)


# ---------------------------------------------------------------------------
# Curves and trained gradients.


def seed_curves(workdirs: list[str], key: str) -> dict[int, tuple[np.ndarray, np.ndarray]]:
  """seed -> (steps, values) of `key` over the runs (replicas read from KEY/seed_S)."""
  out = {}
  for w in workdirs:
    if not os.path.exists(os.path.join(w, 'metrics.jsonl')):
      continue
    records = plot.read_metrics(w)
    names = plot.seed_keys(records, key)
    if names:
      for n in names:
        rows = [(r['step'], r[n]) for r in records if n in r]
        out[int(n.rsplit('_', 1)[1])] = tuple(np.asarray(v, np.float64) for v in zip(*rows))
    else:
      rows = [(r['step'], r[key]) for r in records if key in r]
      if rows:
        m = re.search(r'seed_(\d+)$', w.rstrip('/'))
        seed = int(m.group(1)) if m else read_json(os.path.join(w, 'config.json'))[
            'config']['seed']
        out[seed] = tuple(np.asarray(v, np.float64) for v in zip(*rows))
  return out


def restore_best(workdir: str):
  """(model, [variables per replica]) of a run's best checkpoint; None if it has none."""
  config = run_config(workdir)
  config.data.num_train = 10 * BATCH  # The model does not depend on the data's size.
  run = train.build_run(config)
  ckpt = train.best_checkpointer(config, run.dataset, workdir)
  try:
    step = ckpt.best_step() if ckpt is not None else None
    if step is None:
      return None
    state, _ = ckpt.restore(step, run.abstract_state)
  finally:
    if ckpt is not None:
      ckpt.close()
  params, model_state = state.params, state.model_state
  replicas = [{'params': train.replica(params, k), **train.replica(model_state, k)}
              for k in range(run.num_seeds)]
  return run.model, replicas, step


def grads_trained(runs: str, batch) -> list[dict]:
  rows = []
  for label, _, _, (name, where) in FAMILIES:
    points = [p for p in sweep_points(runs, name) if matches(p, where)]
    per_seed, fn, model = [], None, None
    for point in points:
      for run in point['runs']:  # Finished runs only (not those the guard stopped).
        restored = restore_best(run['workdir']) if os.path.exists(
            os.path.join(run['workdir'], 'final_metrics.json')) else None
        if restored is None:
          continue
        model, replicas, step = restored
        fn = fn or grad_fn(model)
        for k, variables in enumerate(replicas):
          g, loss = fn(variables, batch)
          per_seed.append({'workdir': run['workdir'], 'replica': k, 'step': step,
                           'loss': finite_or_none(loss),
                           'grad_norm': [finite_or_none(v) for v in g],
                           'grad_ratio_1_over_T': ratio_first_last(g),
                           'per_step_factor': per_step_factor(g)})
    row = {'family': label, 'sweep': name, 'where': where, 'per_seed': per_seed}
    if per_seed and label == 'LRU':
      row['lambda_moduli_seed0'] = lru_lambda_moduli(restore_best(
          per_seed[0]['workdir'])[1][0])
    rows.append(row)
  return rows


def diag_ratio_curves(runs: str) -> dict:
  """family -> {seed: (steps, ||dL/dh_1|| / ||dL/dh_T||)} from the runs' diag/* logs."""
  out = {}
  for label, _, _, (name, where) in FAMILIES:
    dirs = [r['workdir'] for p in sweep_points(runs, name) if matches(p, where)
            for r in p['runs']]
    out[label] = seed_curves(dirs, 'diag/grad_ratio_1_over_T')
  return out


# ---------------------------------------------------------------------------
# Figures.


def pyplot():
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  return plt


def _positive(v):
  a = np.asarray([np.nan if x is None else x for x in v], np.float64)
  return np.where(a > 0, a, np.nan)


def finish_panel(ax) -> None:
  """A light grid, and a legend when the panel has labelled lines."""
  ax.grid(alpha=0.3)
  if ax.get_legend_handles_labels()[0]:
    ax.legend(fontsize='x-small')


def save_figure(fig, out: str, name: str) -> None:
  fig.tight_layout()
  fig.savefig(os.path.join(out, name), dpi=110)
  pyplot().close(fig)


def spectra_figure(rows: list[dict], out: str) -> None:
  plt = pyplot()
  fig, axes = plt.subplots(1, 3, figsize=(16, 4.6))
  circle = np.exp(1j * np.linspace(0, 2 * np.pi, 200))
  ax = axes[0]
  ax.plot(circle.real, circle.imag, color='k', lw=0.8, ls=':')
  for r in rows:
    if r['activation'] != 'tanh':
      continue
    e = np.asarray(r['eigenvalues'])
    ax.scatter(e[:, 0], e[:, 1], s=6, label=f"{r['init']} x{r['scale']:g} "
               f"(radius {r['spectral_radius']:.2f})")
  ax.set_aspect('equal')
  ax.set_title('eigenvalues of W_h at initialisation (H = 77)', fontsize='medium')
  ax.legend(fontsize='x-small', loc='lower left')
  for ax, activation in zip(axes[1:], ACTIVATIONS):
    for r in rows:
      if r['activation'] != activation:
        continue
      g = _positive(r['grad_norm'])
      ax.plot(np.arange(len(g)), g / g[-1] if np.isfinite(g[-1]) else g,
              label=f"{r['init']} x{r['scale']:g}: ratio {fmt_g(r['grad_ratio_1_over_T'])}")
    ax.set_yscale('log')
    ax.set_xlabel('step t')
    ax.set_ylabel('||dL/dh_t|| / ||dL/dh_T||')
    ax.set_title(f'{activation} Elman at initialisation, adding T = {len(rows[0]["grad_norm"])}',
                 fontsize='medium')
    finish_panel(ax)
  save_figure(fig, out, 'spectra.png')


def grad_figure(init_rows, trained_rows, ratio_curves, out: str) -> None:
  plt = pyplot()
  fig, axes = plt.subplots(1, 3, figsize=(17, 4.8))
  colors = {label: f'C{i}' for i, (label, *_) in enumerate(FAMILIES)}
  for r in init_rows:
    g = _positive(r['grad_norm'])
    axes[0].plot(np.arange(len(g)), g / g[-1] if np.isfinite(g[-1]) else g,
                 color=colors[r['family']], label=r['family'] + (
                     ' (dL/dx_t)' if r['kind'] == 'input' else ''))
  for r in trained_rows:
    for i, s in enumerate(r['per_seed']):
      g = _positive(s['grad_norm'])
      axes[1].plot(np.arange(len(g)), g / g[-1] if np.isfinite(g[-1]) else g,
                   color=colors[r['family']], alpha=0.8 if i == 0 else 0.25, lw=1.2 if i == 0
                   else 0.7, label=r['family'] if i == 0 else None)
  for label, curves in ratio_curves.items():
    for i, (seed, (steps, v)) in enumerate(sorted(curves.items())):
      axes[2].plot(steps, _positive(v), color=colors[label], alpha=0.8 if i == 0 else 0.3,
                   marker='.', label=label if i == 0 else None)
  titles = ('at initialisation (seed 0)', 'after training (best checkpoint, every seed)',
            'during training: ||dL/dh_1|| / ||dL/dh_T||')
  for ax, title in zip(axes, titles):
    ax.set_yscale('log')
    ax.set_title(title, fontsize='medium')
    finish_panel(ax)
  for ax in axes[:2]:
    ax.set_xlabel('step t')
    ax.set_ylabel('||dL/dh_t|| / ||dL/dh_T||')
  axes[2].set_xlabel('training step')
  save_figure(fig, out, 'grad_time.png')


PANELS = (
    ('gating vs plain', ('plain', 'gating'), 'eval/mse'),
    ('initialisation (ReLU: identity vs normal; tanh: orthogonal)',
     ('irnn', 'relu_normal', 'relu_normal_half', 'plain'), 'eval/mse'),
    ('clipping (the IRNN under SGD and Adam): train loss',
     ('clipping', 'clipping_adam', 'irnn:IRNN (identity), lr 3e-4'), 'train/loss'),
    ('LRU, layer norm, TCN', ('lru', 'layer_norm', 'tcn', 'plain'), 'eval/mse'),
)


def curves_figure(rows: list[dict], out: str) -> None:
  plt = pyplot()
  fig, axes = plt.subplots(2, 2, figsize=(15, 9.5))
  for ax, (title, sweeps, key) in zip(axes.flat, PANELS):
    color = 0
    for r in rows:
      if not in_table(r, sweeps):
        continue
      curves = seed_curves(r['runs'], key)
      c = f'C{color % 10}'
      color += 1
      first = True
      for seed in sorted(curves):
        steps, v = curves[seed]
        ax.plot(steps, _positive(v), color=c, lw=0.9, alpha=0.7,
                label=f"{r['label']}: {r['solved']}/{r['num_seeds']} solved" if first else None)
        first = False
      for s in r['seeds']:
        if s['status'] == 'diverged' and s.get('diverged_at'):
          ax.scatter([s['diverged_at']], [1.0], marker='x', color=c, s=40,
                     label=(f"{r['label']}: non-finite (x)" if first else None), zorder=5)
          first = False
    ax.axhline(0.167, color='k', ls='--', lw=0.8)
    ax.axhline(SUCCESS_MSE, color='gray', ls=':', lw=0.8)
    ax.set_yscale('log')
    if key.startswith('eval'):
      ax.set_ylim(1e-4, 3.0)  # A transient blow-up (1e21) would flatten the rest.
    ax.set_title(title, fontsize='medium')
    ax.set_xlabel('step')
    ax.set_ylabel(key + (' (validation)' if key.startswith('eval') else ''))
    finish_panel(ax)
  save_figure(fig, out, 'curves.png')


# ---------------------------------------------------------------------------


def spectra_table(rows: list[dict]) -> str:
  lines = ['| activation | init | spectral radius of W_h | norm of W_h | mean top singular '
           'value of dh_t/dh_{t-1} | ||dL/dh_1|| / ||dL/dh_T|| | per-step factor | loss |',
           '|---|---|---|---|---|---|---|---|']
  for r in rows:
    lines.append(f"| {r['activation']} | {r['init']} x{r['scale']:g} | "
                 f"{r['spectral_radius']:.3f} | {r['norm_W']:.3f} | "
                 f"{fmt_g(r['jacobian_top_sv_mean'])} | {fmt_g(r['grad_ratio_1_over_T'])} | "
                 f"{fmt_g(r['per_step_factor'])} | {fmt_g(r['loss'])} |")
  return '\n'.join(lines)


def grad_table(init_rows, trained_rows) -> str:
  lines = ['| family | at init: ratio | at init: per-step factor | after training: ratio, '
           'median (min - max) | after training: per-step factor, median | seeds |',
           '|---|---|---|---|---|---|']
  trained = {r['family']: r for r in trained_rows}

  def median_range(values):
    v = [x for x in values if x is not None]
    return (f'{fmt_g(float(np.median(v)))} ({fmt_g(min(v))} - {fmt_g(max(v))})' if v else '–',
            fmt_g(float(np.median(v))) if v else '–')

  for r in init_rows:
    per_seed = trained.get(r['family'], {}).get('per_seed', [])
    ratio, _ = median_range([s['grad_ratio_1_over_T'] for s in per_seed])
    _, factor = median_range([s['per_step_factor'] for s in per_seed])
    lines.append(f"| {r['family']} | {fmt_g(r['grad_ratio_1_over_T'])} | "
                 f"{fmt_g(r['per_step_factor'])} | {ratio} | {factor} | {len(per_seed)} |")
  return '\n'.join(lines)


def seq_len_of(runs: str) -> int:
  for path in glob.glob(os.path.join(runs, '*', '*', 'config.json')) + glob.glob(
      os.path.join(runs, '*', '*', 'seed_*', 'config.json')):
    c = read_json(path)
    if c:
      return int(c['config']['data']['seq_len'])
  return 200


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('runs')
  parser.add_argument('--out', default=None, help='where results.json and the figures go '
                      '(default: RUNS_DIR)')
  args = parser.parse_args()
  out = args.out or args.runs
  os.makedirs(out, exist_ok=True)
  seq_len = seq_len_of(args.runs)
  batch, spec = probe_batch(seq_len)
  spectrum_rows = spectra(batch, spec, seq_len)
  init_rows = grads_at_init(batch, spec, seq_len)
  trained_rows = grads_trained(args.runs, batch)
  rows = cure_rows(args.runs)
  ratios = diag_ratio_curves(args.runs)
  results = {
      'seq_len': seq_len, 'probe_batch': BATCH, 'success_mse': SUCCESS_MSE,
      'spectra': spectrum_rows, 'grad_at_init': init_rows, 'grad_after_training': trained_rows,
      'cures': rows,
      'grad_ratio_during_training': {k: {str(s): [c[0].tolist(), c[1].tolist()]
                                         for s, c in v.items()} for k, v in ratios.items()}}
  fileio.write_json(os.path.join(out, 'results.json'), results, indent=1)
  print('### Jacobian spectra and gradients at initialisation (Elman, no training)\n')
  print(spectra_table(spectrum_rows))
  print('\n### ||dL/dh_1|| / ||dL/dh_T|| (TCN: ||dL/dx_1|| / ||dL/dx_T||)\n')
  print(grad_table(init_rows, trained_rows))
  for title, sweeps in (('gating', ('plain', 'gating')),
                        ('initialisation',
                         ('plain', 'irnn', 'relu_normal', 'relu_normal_half')),
                        ('clipping', ('clipping', 'clipping_adam',
                                      'irnn:IRNN (identity), lr 3e-4')),
                        ('LRU, layer norm, TCN',
                                                      ('lru', 'layer_norm', 'tcn'))):
    print(f'\n### {title}\n')
    print(cure_table(rows, sweeps))
  spectra_figure(spectrum_rows, out)
  grad_figure(init_rows, trained_rows, ratios, out)
  if rows:
    curves_figure(rows, out)
  total = sum(r['wall_s'] or 0.0 for r in rows)
  print(f'\nwall time of every run: {total:.0f} s')


if __name__ == '__main__':
  main()
