"""Gradient and context probes of a trained run (cnn_vs_rnn/diagnostics.py).

  python -m cnn_vs_rnn.diagnose --workdir DIR [--probe NAME ...] [--step N | --best]
      [--split SPLIT] [--batch_size B] [--replica K]

Restores the run's checkpoint as `evaluate` does (the config from
DIR/config.json, the dataset and model registries), takes the first B
examples of `--split` (default: the run's data.eval_split) and writes, per
probe, DIR/diagnostics/PROBE_stepN.json and PROBE_stepN.png (matplotlib's Agg
canvas). Probes (definitions in diagnostics.py): grad_through_time (every
family), jacobian_spectrum (recurrent: elman, lstm, gru, lru),
receptive_field (cnn1d, tcn, cnn2d, vgg, lenet), sensitivity (sequence
models). Without --probe, every probe that applies to the model runs.
`--replica K` picks replica K of a run of several (default 0; replicas.py
orders them point major; with --best in a grid, of the first point's).

Prints one JSON line: the step and the files written. Exit codes: 0
success; 2 usage error (no run in DIR, an unknown probe, a probe that does
not apply to the model, an unknown split or step); 1 an unreadable checkpoint.
"""

from __future__ import annotations

import io
import json
import sys

import jax
import numpy as np

from cnn_vs_rnn import cli, diagnostics, fileio, models, plot, train
from cnn_vs_rnn.errors import ConfigError, show
from cnn_vs_rnn.evaluate import load_workdir
from cnn_vs_rnn import errors, hostmem

DEFINITIONS = {
    'grad_through_time': 'recurrent: ||dL/dh_t|| over the batch and the state units (all '
                         'layers and directions; per_state: each one), h_t the state a step '
                         'passes on, L the mean task loss; other families: ||dL/dx_t||, the '
                         'gradient with respect to the (embedded) input at step t',
    'jacobian_spectrum': 'singular values of the step Jacobian dh_t/dh_{t-1} of each layer '
                         'and direction along the batch trajectory (backward directions: '
                         'dh_t/dh_{t+1}, original time order)',
    'receptive_field': 'per layer: input positions where the gradient of one unit (all its '
                       'channels, summed over the batch) is non-zero, next to the analytic '
                       'receptive field',
    'sensitivity': 'S(k) = ||d y_last / d x_{last-k}|| (Jacobian norm, mean over the batch); '
                   'effective_context = 1 + the largest k with S(k) > rel_tol * max S',
}


def jsonable(x):
  if isinstance(x, dict):
    return {str(k): jsonable(v) for k, v in x.items()}
  if isinstance(x, (list, tuple)):
    return [jsonable(v) for v in x]
  if isinstance(x, (np.ndarray, jax.Array)):
    return np.asarray(x, np.float64).tolist() if np.asarray(x).dtype.kind in 'fc' else \
        np.asarray(x).tolist()
  if isinstance(x, (np.floating,)):
    return float(x)
  if isinstance(x, (np.integer,)):
    return int(x)
  return x


def diagnostic_batch(run, split_name: str, batch_size: int) -> dict:
  """The first `batch_size` examples of a split (weights 1)."""
  if split_name not in run.dataset.splits:
    raise ConfigError(f'unknown split {show(split_name)}; valid: '
                      + ', '.join(sorted(run.dataset.splits)))
  return diagnostics.fixed_batch(run.dataset.split(split_name), batch_size)


# ---------------------------------------------------------------------------
# Figures.


def _log_plot(ax, y, **kwargs):
  y = np.asarray(y, np.float64)
  ax.plot(np.arange(len(y)), np.where(y > 0, y, np.nan), **kwargs)
  if np.any(y > 0):
    ax.set_yscale('log')


def figure(probe: str, result: dict, title: str):
  if probe == 'grad_through_time':
    fig, (ax,) = plot.new_figure()
    _log_plot(ax, result['grad_norm'], label='total', color='black', linewidth=2)
    if len(result['per_state']) > 1:
      for name, v in result['per_state'].items():
        _log_plot(ax, v, label=name)
    ax.set_xlabel('step t')
    ax.set_ylabel('||dL/dh_t||' if result['kind'] == 'hidden_state' else '||dL/dx_t||')
    ax.legend(fontsize='small')
  elif probe == 'jacobian_spectrum':
    names = list(result['top'])
    fig, axes = plot.new_figure(len(names), height=3.0)
    for ax, name in zip(axes, names):
      sv = np.asarray(result['singular_values'][name])[0]  # [T, S], the first example
      for s in range(sv.shape[1]):
        ax.plot(np.arange(sv.shape[0]), sv[:, s], color='tab:blue', alpha=0.3, linewidth=0.8)
      ax.plot(result['top'][name], color='tab:red', label='largest (mean over examples)')
      ax.plot(result['bottom'][name], color='tab:green', label='smallest')
      ax.axhline(1.0, color='gray', linestyle=':')
      ax.set_title(name, fontsize='small')
      ax.set_xlabel('step t')
      ax.set_ylabel('singular values')
      ax.legend(fontsize='small')
  elif probe == 'receptive_field':
    layers = result['layers']
    two_d = len(result['input_shape']) == 2
    fig, axes = plot.new_figure(len(layers), height=2.2 if not two_d else 3.0)
    for ax, layer in zip(axes, layers):
      fp = np.asarray(layer['footprint'], np.float64)
      fp = fp / fp.max() if fp.max() > 0 else fp
      if two_d:
        ax.imshow(fp, cmap='viridis')
        (r0, r1), (c0, c1) = layer['analytic_interval']
        ax.add_patch(_rectangle((c0 - 0.5, r0 - 0.5), c1 - c0 + 1, r1 - r0 + 1))
      else:
        ax.bar(np.arange(len(fp)), fp, width=1.0, color='tab:blue')
        lo, hi = layer['analytic_interval'][0]
        ax.axvspan(lo - 0.5, hi + 0.5, color='tab:red', alpha=0.15, label='analytic')
        ax.set_xlim(-0.5, len(fp) - 0.5)
        ax.legend(fontsize='small')
      ax.set_title(f"{layer['name']}: analytic rf {layer['analytic_rf']}, measured extent "
                   f"{layer['measured_extent']}", fontsize='small')
  elif probe == 'sensitivity':
    fig, (ax,) = plot.new_figure()
    _log_plot(ax, result['sensitivity'], color='tab:blue')
    ax.axvline(result['effective_context'] - 0.5, color='tab:red', linestyle='--',
               label=f"effective context {result['effective_context']}")
    if result.get('analytic_rf'):
      ax.axvline(result['analytic_rf'] - 0.5, color='gray', linestyle=':',
                 label=f"analytic receptive field {result['analytic_rf']}")
    ax.set_xlabel('k (steps before the last)')
    ax.set_ylabel('||d y_last / d x_{last-k}||')
    ax.legend(fontsize='small')
  else:
    raise ValueError(probe)
  fig.suptitle(title, fontsize='small')
  return fig


def _rectangle(xy, w, h):
  from matplotlib.patches import Rectangle  # pylint: disable=g-import-not-at-top
  return Rectangle(xy, w, h, fill=False, edgecolor='red', linewidth=1.5)


def png_bytes(fig) -> bytes:
  buffer = io.BytesIO()
  fig.savefig(buffer, format='png', dpi=100)
  return buffer.getvalue()


# ---------------------------------------------------------------------------
# The command.


def diagnose_workdir(workdir: str, probes=None, step: int | None = None, best: bool = False,
                     split: str | None = None, batch_size: int = 16,
                     replica: int = 0) -> dict:
  """Runs `probes` (default: all that apply) on a run's checkpoint; the files written."""
  if not workdir:
    raise ConfigError('--workdir is required: --workdir DIR')
  for p in probes or ():
    if p not in diagnostics.PROBES:
      raise ConfigError(f'unknown probe {show(p)}; valid: {", ".join(diagnostics.PROBES)}')
  if batch_size < 1:
    raise ConfigError(f'--batch_size={batch_size} must be >= 1')
  run, state, step = load_workdir(workdir, step, best)
  n = len(jax.tree.leaves(state.params)[0])  # With --best in a grid: the first point's.
  if not 0 <= replica < n:
    raise ConfigError(f'--replica={replica} must be in [0, {n - 1}] '
                      f'(the checkpoint holds {n} replica(s))')
  params = train.replica(state.params, replica)
  model_state = train.replica(state.model_state, replica)
  variables = {'params': params, **model_state}
  split = split or run.config.data.eval_split
  batch = diagnostic_batch(run, split, batch_size)
  model, name = run.model, run.config.model.name
  ndim = len(run.dataset.spec.input_shape) + 1 + (1 if run.dataset.spec.vocab_size else 0)
  if probes:
    for p in probes:
      diagnostics.check_applicable(p, model, name, ndim)
  else:
    probes = [p for p in diagnostics.PROBES if diagnostics.applicable(p, model, ndim) is None]
  out_dir = fileio.as_path(workdir) / 'diagnostics'
  rf = models.receptive_field(model)
  written = []
  for probe in dict.fromkeys(probes):
    result = diagnostics.run_probe(probe, model, variables, batch, run.task)
    if probe == 'sensitivity' and rf is not None:
      result['analytic_rf'] = rf
    record = {'probe': probe, 'definition': DEFINITIONS[probe], 'step': int(step),
              'model': name, 'data': run.config.data.name, 'split': split,
              'batch_size': int(batch['inputs'].shape[0]), 'replica': replica,
              **jsonable(result)}
    stem = out_dir / f'{probe}_step{step}'
    fileio.write_json(f'{stem}.json', record)
    fig = figure(probe, result, f'{name} on {run.config.data.name} ({split}), step {step}: '
                 f'{probe}')
    fileio.write_bytes(f'{stem}.png', png_bytes(fig))
    written += [f'{stem}.json', f'{stem}.png']
  return {'step': int(step), 'probes': list(dict.fromkeys(probes)), 'files': written}


def main(argv=None) -> int:
  parser = cli.parser_of('diagnose', __doc__)
  parser.add_argument('--workdir', required=True)
  parser.add_argument('--probe', nargs='+', action='extend', default=None,
                      metavar='NAME', help='One or more of: ' + ', '.join(diagnostics.PROBES))
  parser.add_argument('--step', type=int, default=None)
  parser.add_argument('--best', action='store_true',
                      help='The step that validation selected, not the newest.')
  parser.add_argument('--split', default=None,
                      help="The split the batch comes from (default: the run's eval split).")
  parser.add_argument('--batch_size', type=int, default=16)
  parser.add_argument('--replica', type=int, default=0)

  def body(args):
    print(json.dumps(diagnose_workdir(args.workdir, args.probe, args.step, args.best,
                                      args.split, args.batch_size, args.replica)))

  return cli.argparse_command(parser, argv, body)


if __name__ == '__main__':
  hostmem.keep_freed_memory()  # Only as a program: see hostmem.py.
  errors.as_program()
  sys.exit(main())
