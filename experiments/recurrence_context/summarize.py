"""Tables, figures and results.json of the recurrence-and-context study (CPU, from checkpoints).

  python experiments/recurrence_context/summarize.py RUNS_DIR [--out DIR] [--batch-size B]
  python experiments/recurrence_context/summarize.py --prepare-data --delays 10 20 ...

RUNS_DIR is run.sh's: RUNS_DIR/charlm/FAMILY, RUNS_DIR/copy/FAMILY/TDELAY (2000
steps) and RUNS_DIR/copy_long/FAMILY/TDELAY (8000 steps), one sweep each (3 seeds
as replicas of one run). For every character LM:

- hidden-state trajectory: the bytes of SENTENCE through the trained model
  (replica 0, the validation-selected step); h_t is the state the last
  recurrent layer passes on (the LSTM's h, not its cell c), or the TCN's last
  level output; a PCA of the len(SENTENCE) states of that sentence, to 2
  components (trajectory.png);
- sensitivity (cnn_vs_rnn.diagnostics.sensitivity): S(k) = ||d y_last / d
  x_{last-k}||, y_last the logits at the last of a 128-byte window, x the
  embedded bytes, averaged over the first B windows of the validation split;
  at initialisation (the run's own init, `run.init` of its seeds) and at the
  validation-selected step. Effective context: 1 + the largest k with
  S(k) > tol * max S, for tol = 1e-2 and 1e-3 (the probe's default).

For copy memory: recall accuracy, the fraction of the 10 symbols of the last
10 steps that the argmax output gets right, over the whole test split, at the
validation-selected step, overall and per recalled position (the training
metric eval/accuracy counts the T + 10 blank steps as well; 1/8 is chance for
the recall).

Each run's analysis is cached in WORKDIR/recurrence_context_analysis.json (keyed
by what it depends on), so summarizing again recomputes nothing.

--prepare-data builds the corpus and the copy datasets of the given delays
once (run.sh does it before several sweeps read them side by side).
"""

from __future__ import annotations

import argparse
import json
import math
import os

import numpy as np

SENTENCE = 'The quick brown fox jumps over the lazy dog.'
FAMILIES = ('lstm', 'gru', 'elman', 'tcn')
COLORS = {'lstm': 'tab:blue', 'gru': 'tab:orange', 'elman': 'tab:green', 'tcn': 'tab:red'}
# The longer copy-memory budget: colours of their own, so the two budgets never share one.
LONG_COLORS = {'lstm': 'tab:purple', 'gru': 'tab:brown', 'elman': 'tab:olive', 'tcn': 'tab:pink'}
TOLERANCES = (1e-2, 1e-3)
RECALL = 10  # Symbols to recall at the end of a copy-memory sequence.
ANALYSIS = 'recurrence_context_analysis.json'  # Per workdir: summarize.py's cached analysis.
# Copy-memory sections of run.sh: directory -> what its budget is called.
COPY_SECTIONS = {'copy': 'copy_memory', 'copy_long': 'copy_memory_long'}
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))


# ---------------------------------------------------------------------------
# Reading the sweeps.


def sweep_point(sweep_dir: str) -> dict | None:
  """The one point of a sweep directory (None if it has not run or did not finish).

  Its workdir is taken relative to the sweep directory, so a RUNS_DIR copied
  from another machine reads the same.
  """
  path = os.path.join(sweep_dir, 'results.json')
  if not os.path.exists(path):
    return None
  from cnn_vs_rnn import plot  # pylint: disable=g-import-not-at-top
  points = [p for p in plot.load_results(path)['points'] if p['status'] == 'ok']
  if not points:
    return None
  point = dict(points[0])
  point['workdir'] = os.path.join(sweep_dir, point['name'])
  return point


def stats(values) -> dict:
  from cnn_vs_rnn import sweep  # pylint: disable=g-import-not-at-top
  return sweep.seed_stats(values)


def replica_variables(state, k: int, num_seeds: int) -> dict:
  from cnn_vs_rnn import train  # pylint: disable=g-import-not-at-top
  del num_seeds  # Every state has a replica axis.
  return {'params': train.replica(state.params, k), **train.replica(state.model_state, k)}


def load(workdir: str):
  """(run, trained state at the validation-selected step, that step, initial state)."""
  from cnn_vs_rnn import train  # pylint: disable=g-import-not-at-top
  from cnn_vs_rnn.evaluate import load_workdir  # pylint: disable=g-import-not-at-top
  run, state, step = load_workdir(workdir, best=True)
  init = run.init(train.replica_rngs(run.config)[0])
  return run, state, int(step), init


def cached(point: dict, key: dict, compute):
  """compute() once per workdir and `key` (the step and options it depends on): the
  analysis is kept in WORKDIR/ANALYSIS, so summarizing again costs no recomputation."""
  path = os.path.join(point['workdir'], ANALYSIS)
  key = {'version': 1, **key, 'best_step': point['best_step']}
  if os.path.exists(path):
    with open(path) as f:
      record = json.load(f)
    if record.get('key') == key:
      return record['value']
  value = json.loads(json.dumps(compute()))  # As a cached value reads back (tuples -> lists).
  with open(path, 'w') as f:
    json.dump({'key': key, 'value': value}, f)
  return value


def widths(model) -> dict:
  from cnn_vs_rnn import diagnostics  # pylint: disable=g-import-not-at-top
  backbone = diagnostics.backbone_of(model)
  return {k: getattr(backbone, k) for k in ('hidden_size', 'channels', 'kernel_size')
          if hasattr(backbone, k) and not (k == 'kernel_size' and not hasattr(backbone,
                                                                                 'channels'))}


# ---------------------------------------------------------------------------
# Character LMs: trajectory and sensitivity.


def hidden_states(model, variables, tokens_T: np.ndarray) -> np.ndarray:
  """h_t [T, H] of one sequence: the last recurrent layer's states, or the TCN's last level."""
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  from cnn_vs_rnn import diagnostics  # pylint: disable=g-import-not-at-top
  from cnn_vs_rnn.models.rnn import RNN  # pylint: disable=g-import-not-at-top
  c = diagnostics.continuous(model, variables, {'inputs': jnp.asarray(tokens_T)[None]})
  backbone = c.backbone
  if isinstance(backbone, RNN):
    target = f'layer{backbone.num_layers - 1}_fwd'
  else:
    target = f'level{len(backbone.channels) - 1}'
  want = lambda mdl, name: name == '__call__' and mdl.name == target
  _, inter = backbone.apply(c.variables, c.x, train=False, capture_intermediates=want,
                            mutable=['intermediates'])
  out = inter['intermediates'][target]['__call__'][0]
  if isinstance(out, tuple):  # A recurrence returns (outputs [B, T, H], final h).
    out = out[0]
  return np.asarray(out[0], np.float64)


def pca(x_TxH: np.ndarray, n: int = 2) -> tuple[np.ndarray, np.ndarray]:
  """(projections [T, n] on the first n principal components, their explained variance ratio)."""
  centred = x_TxH - x_TxH.mean(axis=0)
  _, s, vt = np.linalg.svd(centred, full_matrices=False)
  var = s ** 2
  ratio = var[:n] / var.sum() if var.sum() > 0 else np.zeros(n)
  return centred @ vt[:n].T, ratio


def context(s_K: np.ndarray, tol: float) -> int:
  """1 + the largest k with S(k) > tol * max S (0 if S is 0): the probe's effective context."""
  above = np.flatnonzero(s_K > tol * s_K.max()) if s_K.max() > 0 else np.array([], int)
  return int(above[-1] + 1) if above.size else 0


def lm_row(family: str, point: dict, batch_size: int) -> dict:
  return cached(point, {'kind': 'charlm', 'batch_size': batch_size, 'sentence': SENTENCE},
                lambda: compute_lm_row(family, point, batch_size))


def compute_lm_row(family: str, point: dict, batch_size: int) -> dict:
  from cnn_vs_rnn import diagnostics, models  # pylint: disable=g-import-not-at-top
  run, state, step, init = load(point['workdir'])
  batch = diagnostics.fixed_batch(run.dataset.split('validation'), batch_size)
  seeds = list(point['seeds'])
  sens = {}
  for which, st in (('init', init), ('trained', state)):
    curves = []
    for k in range(run.num_seeds):
      s = diagnostics.sensitivity(run.model, replica_variables(st, k, run.num_seeds),
                                  batch)['sensitivity']
      curves.append(np.asarray(s, np.float64))
    normed = [c / c.max() if c.max() > 0 else c for c in curves]
    sens[which] = {
        'per_seed': [c.tolist() for c in curves],
        'normalised_mean': np.mean(normed, axis=0).tolist(),
        **{f'context_{tol:g}': stats([context(c, tol) for c in curves]) for tol in TOLERANCES}}
  tokens = np.frombuffer(SENTENCE.encode('utf-8'), np.uint8).astype(np.int32)
  h = hidden_states(run.model, replica_variables(state, 0, run.num_seeds), tokens)
  proj, ratio = pca(h)
  m = point['metrics']
  return {
      'family': family, 'num_params': point['num_params'], 'widths': widths(run.model),
      'receptive_field': models.receptive_field(run.model), 'seeds': seeds,
      'selected_step': step, 'best_step': point['best_step'],
      'learning_rate': float(run.config.optim.learning_rate),
      'test_bits_per_char': m.get('test/bits_per_char'),
      'val_bits_per_char': m.get('val/bits_per_char'),
      'sensitivity_batch': int(batch['inputs'].shape[0]), 'window': int(batch['inputs'].shape[1]),
      'sensitivity': sens,
      'trajectory': {'text': SENTENCE, 'replica': 0, 'state_size': int(h.shape[1]),
                     'pcs': proj.tolist(), 'explained_variance': ratio.tolist()},
      'wall_s': point['wall_s']}


# ---------------------------------------------------------------------------
# Copy memory: recall accuracy.


def recall_accuracy(run, state) -> list[list[float]]:
  """Per replica, per recalled position (the 10 last steps): the fraction right on the test split."""
  import jax  # pylint: disable=g-import-not-at-top
  split = run.dataset.split('test')
  x, y = np.asarray(split['inputs']), np.asarray(split['targets'])
  apply = jax.jit(lambda v, x: run.model.apply(v, x, train=False))
  out = []
  for k in range(run.num_seeds):
    variables = replica_variables(state, k, run.num_seeds)
    correct = np.zeros(RECALL)
    for i in range(0, len(x), 500):
      pred = np.argmax(np.asarray(apply(variables, x[i:i + 500])), -1)
      correct += np.sum(pred[:, -RECALL:] == y[i:i + 500, -RECALL:], axis=0)
    out.append((correct / len(x)).tolist())
  return out


def copy_row(family: str, delay: int, point: dict) -> dict:
  return cached(point, {'kind': 'copy', 'version': 2},
                lambda: compute_copy_row(family, delay, point))


def compute_copy_row(family: str, delay: int, point: dict) -> dict:
  run, state, step, _ = load(point['workdir'])
  m = point['metrics']
  by_position = np.asarray(recall_accuracy(run, state))  # [seeds, 10]
  baseline = RECALL * math.log(8) / (delay + 20)
  return {
      'family': family, 'delay': delay, 'num_params': point['num_params'],
      'widths': widths(run.model), 'receptive_field': point['receptive_field'],
      'seeds': point['seeds'], 'steps': point['step'], 'selected_step': step,
      'best_step': point['best_step'], 'recall_accuracy': stats(by_position.mean(axis=1)),
      'recall_by_position': {'per_seed': by_position.tolist(),
                             'mean': by_position.mean(axis=0).tolist()},
      'test_loss': m.get('test/loss'), 'test_accuracy_all_steps': m.get('test/accuracy'),
      'trivial_loss': baseline, 'wall_s': point['wall_s']}


# ---------------------------------------------------------------------------
# Tables and figures.


def fmt(s: dict | None, digits: int = 3) -> str:
  from cnn_vs_rnn import sweep  # pylint: disable=g-import-not-at-top
  return sweep.format_mean_std(s, digits) if s else '–'


def fmt_int(s: dict | None) -> str:
  if not s:
    return '–'
  return f"{s['mean']:.0f}" + ('' if s['std'] is None else f" ± {s['std']:.0f}")


def lm_table(rows: list[dict]) -> str:
  lines = ['| family | params | widths | test bits/char | effective context at init '
           '(1e-2 / 1e-3) | after training (1e-2 / 1e-3) | receptive field |',
           '|---|---|---|---|---|---|---|']
  for r in rows:
    w = ', '.join(f"{k} {'(' + ', '.join(map(str, v)) + ')' if isinstance(v, list) else v}"
                  for k, v in r['widths'].items())
    ctx = lambda which: (f"{fmt_int(r['sensitivity'][which]['context_0.01'])} / "
                         f"{fmt_int(r['sensitivity'][which]['context_0.001'])}")
    lines.append(f"| {r['family']} | {r['num_params']:,} | {w} | "
                 f"{fmt(r['test_bits_per_char'])} | {ctx('init')} | {ctx('trained')} | "
                 f"{r['receptive_field'] or 'all steps'} |")
  return '\n'.join(lines)


def copy_table(rows: list[dict], key: str = 'recall_accuracy') -> str:
  delays = sorted({r['delay'] for r in rows})
  families = [f for f in FAMILIES if any(r['family'] == f for r in rows)]
  by = {(r['family'], r['delay']): r for r in rows}
  lines = ['| family | params | ' + ' | '.join(f'T = {t}' for t in delays) + ' |',
           '|---|---|' + '---|' * len(delays)]
  for f in families:
    params = next(r['num_params'] for r in rows if r['family'] == f)
    cells = []
    for t in delays:
      r = by.get((f, t))
      if r is None:
        cells.append('–')
      elif key == 'loss_ratio':
        cells.append(f"{r['test_loss']['mean'] / r['trivial_loss']:.3g}" if r['test_loss']
                     else '–')
      else:
        cells.append(fmt(r[key]))
    lines.append(f'| {f} | {params:,} | ' + ' | '.join(cells) + ' |')
  return '\n'.join(lines)


def position_table(rows: list[dict]) -> str:
  """Recall accuracy of each of the 10 recalled symbols (mean over seeds), a row per run."""
  lines = ['| family | T | ' + ' | '.join(str(i + 1) for i in range(RECALL)) + ' |',
           '|---|---|' + '---|' * RECALL]
  for f in FAMILIES:
    for r in sorted((r for r in rows if r['family'] == f), key=lambda r: r['delay']):
      lines.append(f"| {f} | {r['delay']} | " + ' | '.join(
          f'{v:.2f}' for v in r['recall_by_position']['mean']) + ' |')
  return '\n'.join(lines)


def new_figure(rows: int, cols: int, width: float, height: float):
  from matplotlib.backends.backend_agg import FigureCanvasAgg  # pylint: disable=g-import-not-at-top
  from matplotlib.figure import Figure  # pylint: disable=g-import-not-at-top
  fig = Figure(figsize=(width, height), layout='constrained')
  FigureCanvasAgg(fig)
  return fig, fig.subplots(rows, cols, squeeze=False)


def trajectory_figure(rows: list[dict], path: str) -> None:
  cols = 2 if len(rows) > 1 else 1
  n = (len(rows) + cols - 1) // cols
  fig, axes = new_figure(n, cols, 6.5 * cols, 5.2 * n)
  for ax in axes.flat[len(rows):]:
    ax.set_visible(False)
  for ax, r in zip(axes.flat, rows):
    t = r['trajectory']
    xy = np.asarray(t['pcs'])
    ax.plot(xy[:, 0], xy[:, 1], color='0.75', lw=0.8, zorder=1)
    sc = ax.scatter(xy[:, 0], xy[:, 1], c=np.arange(len(xy)), cmap='viridis', s=18, zorder=2)
    for (x, y), ch in zip(xy, t['text']):
      ax.annotate('␣' if ch == ' ' else ch, (x, y), xytext=(3, 3), textcoords='offset points',
                  fontsize=9, color='darkred' if ch in ' .' else 'black')
    ev = t['explained_variance']
    ax.set_xlabel(f'PC1 ({ev[0]:.0%} of the variance)')
    ax.set_ylabel(f'PC2 ({ev[1]:.0%})')
    ax.set_title(f"{r['family']} ({r['num_params']:,} params, state {t['state_size']}): "
                 f"h_t after each character", fontsize='medium')
    fig.colorbar(sc, ax=ax, label='t (character index)', shrink=0.8)
  fig.suptitle(f'"{SENTENCE}" through the trained character LMs (seed 0): PCA of h_t')
  fig.savefig(path, dpi=110)


def sensitivity_figure(rows: list[dict], path: str) -> None:
  fig, axes = new_figure(1, 2, 13, 4.6)
  for ax, which, title in zip(axes[0], ('init', 'trained'),
                              ('at initialisation', 'after training (validation-selected step)')):
    for r in rows:
      s = r['sensitivity'][which]
      color = COLORS.get(r['family'], None)
      for curve in s['per_seed']:
        c = np.asarray(curve)
        c = c / c.max() if c.max() > 0 else c
        ax.plot(np.arange(len(c)), np.where(c > 0, c, np.nan), color=color, lw=0.6, alpha=0.35)
      mean = np.asarray(s['normalised_mean'])
      ax.plot(np.arange(len(mean)), np.where(mean > 0, mean, np.nan), color=color, lw=2,
              label=f"{r['family']} (context {fmt_int(s['context_0.001'])} at 1e-3)")
      if r['receptive_field']:
        ax.axvline(r['receptive_field'] - 0.5, color=color, ls=':', lw=1.2)
    for tol in TOLERANCES:
      ax.axhline(tol, color='gray', ls='--', lw=0.8)
    ax.set_yscale('log')
    ax.set_ylim(bottom=1e-6)
    ax.set_xlabel('k: bytes before the predicted position')
    ax.set_ylabel('S(k) / max S  (seeds thin, mean thick)')
    ax.set_title(title, fontsize='medium')
    ax.legend(fontsize='small', loc='lower left')
  fig.suptitle('Sensitivity of the last logits to the byte k steps back (128-byte '
               'validation windows); dotted: the TCN receptive field, dashed: tolerances')
  fig.savefig(path, dpi=110)


def copy_figure(rows: list[dict], long_rows: list[dict], path: str) -> None:
  """Recall accuracy and cross-entropy / trivial against the delay; the longer budget
  dashed, in colours of its own."""
  fig, axes = new_figure(1, 2, 12, 5.2)
  ax, ax2 = axes[0]
  for section, style, colors in ((rows, '-', COLORS), (long_rows, '--', LONG_COLORS)):
    for f in FAMILIES:
      here = sorted((r for r in section if r['family'] == f), key=lambda r: r['delay'])
      if not here:
        continue
      t = [r['delay'] for r in here]
      label = f"{f}, {here[0]['steps']} steps"
      ax.errorbar(t, [r['recall_accuracy']['mean'] for r in here],
                  yerr=[r['recall_accuracy']['std'] or 0.0 for r in here], marker='o', ls=style,
                  capsize=3, color=colors[f], label=label)
      ratio = [r['test_loss']['mean'] / r['trivial_loss'] if r['test_loss'] else np.nan
               for r in here]
      ax2.plot(t, ratio, marker='o', ls=style, color=colors[f], label=label)
  ax.axhline(1 / 8, color='gray', ls=':', lw=1, label='chance (1/8)')
  ax.set_ylim(0, 1.02)
  ax.set_xlabel('delay T (blanks between the symbols and the recall)')
  ax.set_ylabel('recall accuracy, test (mean ± std, 3 seeds)')
  ax.set_title('copy memory: the 10 recalled symbols', fontsize='medium')
  ax2.axhline(1.0, color='gray', ls=':', lw=1, label='trivial: 10 ln 8 / (T + 20)')
  ax2.set_yscale('log')
  ax2.set_xlabel('delay T')
  ax2.set_ylabel('test cross-entropy / trivial baseline')
  ax2.set_title('cross-entropy over all T + 20 steps', fontsize='medium')
  ticks = sorted({r['delay'] for r in rows + long_rows})
  for a in (ax, ax2):
    a.set_xscale('log')
    a.minorticks_off()
    a.set_xticks(ticks, [str(t) for t in ticks])
    a.legend(fontsize='x-small', ncol=3, loc='upper center', bbox_to_anchor=(0.5, -0.16))
  fig.suptitle('Copy memory at 16k parameters, batch 32, lr 3e-3 for every family and delay')
  fig.savefig(path, dpi=110)


# ---------------------------------------------------------------------------


def prepare_data(delays: list[int]) -> None:
  from cnn_vs_rnn import data  # pylint: disable=g-import-not-at-top
  from cnn_vs_rnn.configlib import load_config_file  # pylint: disable=g-import-not-at-top
  data.load(load_config_file(os.path.join(REPO, 'configs/charlm_lstm.py')).data)
  for t in delays:
    c = load_config_file(os.path.join(REPO, 'configs/copy_gru.py'))
    c.data.seq_len = int(t)
    data.load(c.data)


def copy_rows(section_dir: str) -> list[dict]:
  """A row per family and delay of one copy section (SECTION/FAMILY/TDELAY sweeps)."""
  rows = []
  for f in FAMILIES:
    fam_dir = os.path.join(section_dir, f)
    if not os.path.isdir(fam_dir):
      continue
    subs = [s for s in os.listdir(fam_dir) if s.startswith('T') and s[1:].isdigit()]
    for sub in sorted(subs, key=lambda s: int(s[1:])):
      p = sweep_point(os.path.join(fam_dir, sub))
      if p is not None:
        rows.append(copy_row(f, int(sub[1:]), p))
  return rows


def summarize(runs: str, out: str, batch_size: int) -> dict:
  lm_rows = []
  for f in FAMILIES:
    p = sweep_point(os.path.join(runs, 'charlm', f))
    if p is not None:
      lm_rows.append(lm_row(f, p, batch_size))
  copy = {name: copy_rows(os.path.join(runs, sub)) for sub, name in COPY_SECTIONS.items()}
  os.makedirs(out, exist_ok=True)
  results = {'sentence': SENTENCE, 'tolerances': list(TOLERANCES), 'charlm': lm_rows, **copy}
  with open(os.path.join(out, 'results.json'), 'w') as f:
    json.dump(results, f, indent=1)
  if lm_rows:
    print('\n### Character LMs (stdlib_text, 128-byte windows)\n')
    print(lm_table(lm_rows))
    print('\nPCA of the sentence trajectory, explained variance (PC1, PC2): ' + ', '.join(
        f"{r['family']} {r['trajectory']['explained_variance'][0]:.2f}/"
        f"{r['trajectory']['explained_variance'][1]:.2f}" for r in lm_rows))
    trajectory_figure(lm_rows, os.path.join(out, 'trajectory.png'))
    sensitivity_figure(lm_rows, os.path.join(out, 'sensitivity.png'))
  for name, rows in copy.items():
    if not rows:
      continue
    steps = ', '.join(sorted({str(r['steps']) for r in rows}))
    print(f'\n### Copy memory, {steps} steps: recall accuracy (test, last 10 steps)\n')
    print(copy_table(rows))
    print(f'\n### Copy memory, {steps} steps: test cross-entropy / trivial 10 ln 8 / (T + 20)\n')
    print(copy_table(rows, 'loss_ratio'))
    print(f'\n### Copy memory, {steps} steps: recall accuracy by position of the symbol\n')
    print(position_table(rows))
  if any(copy.values()):
    copy_figure(copy['copy_memory'], copy['copy_memory_long'],
                os.path.join(out, 'copy_memory.png'))
  total = sum(r['wall_s'] or 0.0 for r in lm_rows + [r for rows in copy.values() for r in rows])
  print(f'\nwall time of the training runs (subprocesses, added up): {total:.0f} s')
  return results


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('runs', nargs='?')
  parser.add_argument('--out', default=None,
                      help='where results.json and the figures go (default: RUNS_DIR)')
  parser.add_argument('--batch-size', type=int, default=16,
                      help='validation windows the sensitivity averages over')
  parser.add_argument('--prepare-data', action='store_true',
                      help='only build the datasets of the study (for parallel sweeps)')
  parser.add_argument('--delays', type=int, nargs='*', default=[10, 20, 50, 100, 200])
  args = parser.parse_args()
  if args.prepare_data:
    prepare_data(args.delays)
    return
  if not args.runs:
    parser.error('RUNS_DIR is required')
  summarize(args.runs, args.out or args.runs, args.batch_size)


if __name__ == '__main__':
  main()
