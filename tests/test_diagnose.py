"""Diagnostics probes against closed forms, and the diagnose command line.

A ReLU Elman net fed positive inputs through positive weights never leaves
the linear regime, so it is the linear RNN h_t = h_{t-1} M + u_t: its
gradients through time and its step Jacobian (M^T) are known exactly.
"""

import json
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cnn_vs_rnn import configlib, diagnose, diagnostics as D, train
from cnn_vs_rnn.errors import ConfigError
from cnn_vs_rnn.models.cnn import CNN1D
from cnn_vs_rnn.models.cnn2d import ConvStack2D
from cnn_vs_rnn.models.lru import LRUNet
from cnn_vs_rnn.models.rnn import RNN
from cnn_vs_rnn.models.tcn import TCN, receptive_field
from conftest import CONFIG_DIR, REPO, tiny

B, T, C, H, K = 3, 12, 2, 4, 2


def init(model, x):
  return jax.jit(model.init)(jax.random.key(0), x)


def positive_batch(seed=1):
  rng = np.random.default_rng(seed)
  return {'inputs': jnp.asarray(rng.uniform(0.1, 1.0, (B, T, C)), jnp.float32),
          'targets': jnp.asarray(rng.normal(size=(B, K)), jnp.float32)}


def linear_rnn(recurrent_HxH, bidirectional=False):
  """A ReLU IRNN whose recurrent kernels are `recurrent_HxH` and whose input
  weights are positive: linear on positive inputs."""
  model = RNN('elman', K, hidden_size=H, activation='relu', irnn_init=True,
              bidirectional=bidirectional)
  batch = positive_batch()
  params = init(model, batch['inputs'])['params']
  def fix(path, leaf):
    name = jax.tree_util.keystr(path)
    if "['recurrent']['kernel']" in name:
      return jnp.asarray(recurrent_HxH, jnp.float32)
    if "['input']['kernel']" in name:
      return jnp.abs(leaf)
    return leaf
  return model, jax.tree_util.tree_map_with_path(fix, params), batch


def regression_head_grad(params, batch, h_BxD):
  """dL/dh at the readout for L = mean((h A + a - y)^2): 2 (y_hat - y) A^T / (B K)."""
  A = np.asarray(params['head']['out']['kernel'], np.float64)
  a = np.asarray(params['head']['out']['bias'], np.float64)
  err = h_BxD @ A + a - np.asarray(batch['targets'], np.float64)
  return 2.0 * err @ A.T / err.size


def unroll(params_dir, x_BxTxC, M):
  """h_t = h_{t-1} M + x_t W + b_x + b_h in float64; [B, T, H]."""
  W = np.asarray(params_dir['input']['kernel'], np.float64)
  b = (np.asarray(params_dir['input']['bias'], np.float64)
       + np.asarray(params_dir['scan']['cell']['recurrent']['bias'], np.float64))
  h, out = np.zeros((x_BxTxC.shape[0], M.shape[0])), []
  for t in range(x_BxTxC.shape[1]):
    h = h @ M + np.asarray(x_BxTxC[:, t], np.float64) @ W + b
    out.append(h)
  return np.stack(out, 1)


@pytest.mark.parametrize('scale', [1.0, 0.8])
def test_linear_rnn_gradient_through_time_is_the_closed_form(scale):
  """dL/dh_t = g_T (M^T)^(T-1-t) with M = scale * I: the identity-initialised RNN
  passes the gradient unchanged (scale 1), a scaled one shrinks it by scale^k."""
  M = scale * np.eye(H)
  model, params, batch = linear_rnn(M)
  h_BxTxH = unroll(params['layer0_fwd'], batch['inputs'], M)
  assert h_BxTxH.min() > 0  # Linear regime: every ReLU passes.
  g_T = regression_head_grad(params, batch, h_BxTxH[:, -1])
  grads, loss = D.state_gradients(model, params, batch, 'regression')
  want = np.stack([g_T * scale ** (T - 1 - t) for t in range(T)], 1)
  np.testing.assert_allclose(grads['layer0_fwd'], want, rtol=1e-5, atol=1e-8)
  result = D.grad_through_time(model, params, batch, 'regression')
  norm_T = np.linalg.norm(g_T) * scale ** (T - 1 - np.arange(T))
  np.testing.assert_allclose(result['grad_norm'], norm_T, rtol=1e-5)
  summary = D.grad_summary(result['per_example'])
  np.testing.assert_allclose(summary['grad_ratio_1_over_T'], scale ** (T - 1), rtol=1e-5)
  np.testing.assert_allclose(summary['grad_norm_tmid'], norm_T[T // 2], rtol=1e-5)


def test_linear_rnn_general_matrix_gradients_and_jacobian_spectrum():
  """A positive recurrent matrix M: dL/dh_t = g_T (M^T)^(T-1-t), and the step
  Jacobian is M^T at every step, so its singular values are M's."""
  M = np.random.default_rng(0).uniform(0.0, 0.35, (H, H))
  model, params, batch = linear_rnn(M)
  h_BxTxH = unroll(params['layer0_fwd'], batch['inputs'], M)
  g_T = regression_head_grad(params, batch, h_BxTxH[:, -1])
  want = [g_T @ np.linalg.matrix_power(M.T, T - 1 - t) for t in range(T)]
  grads, _ = D.state_gradients(model, params, batch, 'regression')
  np.testing.assert_allclose(grads['layer0_fwd'], np.stack(want, 1), rtol=1e-4, atol=1e-9)
  jac = D.step_jacobians(model, params, batch, max_examples=2)['layer0_fwd']
  assert jac.shape == (2, T, H, H)
  np.testing.assert_allclose(jac, np.broadcast_to(M.T, jac.shape), rtol=1e-6, atol=1e-7)
  sv = D.jacobian_spectrum(model, params, batch, max_examples=B)['singular_values']['layer0_fwd']
  assert sv.shape == (B, T, H)
  np.testing.assert_allclose(sv, np.broadcast_to(np.linalg.svd(M, compute_uv=False),
                                                 sv.shape), rtol=1e-5)


def test_bidirectional_backward_direction_is_reported_in_original_time():
  """Both directions c * I: the forward state's gradient shrinks by c per step before
  T - 1, the backward one's (read out at t = 0) by c per step after 0."""
  c = 0.7
  model, params, batch = linear_rnn(c * np.eye(H), bidirectional=True)
  per_state = D.grad_through_time(model, params, batch, 'regression')['per_state']
  fwd, bwd = np.asarray(per_state['layer0_fwd']), np.asarray(per_state['layer0_bwd'])
  np.testing.assert_allclose(fwd, fwd[-1] * c ** (T - 1 - np.arange(T)), rtol=1e-5)
  np.testing.assert_allclose(bwd, bwd[0] * c ** np.arange(T), rtol=1e-5)


@pytest.mark.parametrize('model', [
    RNN('lstm', K, hidden_size=H), RNN('gru', K, hidden_size=H),
    RNN('elman', K, hidden_size=H, recurrence='fused'),
    RNN('elman', K, hidden_size=H, layer_norm=True, recurrent_init='normal',
        recurrent_init_scale=2.0),
    LRUNet(K, d_model=H, d_state=3, num_layers=1)],
    ids=['lstm', 'gru', 'elman', 'elman_layer_norm', 'lru'])
def test_every_recurrent_family_obeys_the_chain_rule(model):
  """One layer read out at the last step: h_{t-1} reaches the loss only through
  h_t, so dL/dh_{t-1} = dL/dh_t dh_t/dh_{t-1}: the perturbation gradients and
  the cell-step Jacobians agree (LSTM: (c, h); LRU: (Re x, Im x))."""
  batch = {'inputs': jax.random.normal(jax.random.key(1), (B, T, C)),
           'targets': jnp.array([0, 1, 1])}
  variables = init(model, batch['inputs'])
  assert set(variables) == {'params'}  # No perturbation outside the diagnostics.
  grads, _ = D.state_gradients(model, variables, batch, 'classification')
  (name, g_BxTxS), = grads.items()
  jac = D.step_jacobians(model, variables, batch, max_examples=B)[name]
  assert jac.shape == g_BxTxS.shape + g_BxTxS.shape[-1:]
  chained = jnp.einsum('bts,btsr->btr', g_BxTxS[:, 1:], jac[:, 1:])
  np.testing.assert_allclose(g_BxTxS[:, :-1], chained, rtol=2e-4,
                             atol=2e-6 * float(jnp.abs(g_BxTxS).max()))


def test_perturbations_leave_outputs_unchanged_and_cover_every_layer():
  model = RNN('gru', K, hidden_size=H, num_layers=2, bidirectional=True)
  x = jax.random.normal(jax.random.key(1), (B, T, C))
  variables = init(model, x)
  out, zeros = jax.jit(lambda v: model.apply(v, x, mutable=['perturbations']))(variables)
  apply = jax.jit(lambda v: model.apply(v, x))
  np.testing.assert_array_equal(out, apply(variables))
  np.testing.assert_array_equal(out, apply({**variables, **zeros}))
  result = D.grad_through_time(model, variables, {'inputs': x, 'targets': jnp.zeros(B, int)},
                               'classification')
  assert set(result['per_state']) == {'layer0_fwd', 'layer0_bwd', 'layer1_fwd', 'layer1_bwd'}
  total = np.sqrt(sum(np.square(v) for v in result['per_state'].values()))
  np.testing.assert_allclose(result['grad_norm'], total, rtol=1e-6)


def test_tcn_footprint_equals_its_receptive_field_and_sensitivity_stops_there():
  kernel_size, levels = 2, 3
  model = TCN(K, channels=(8,) * levels, kernel_size=kernel_size)
  rf = receptive_field(kernel_size, levels)
  n = rf + 5
  x = jax.random.normal(jax.random.key(1), (8, n, C))
  variables = init(model, x)
  layers = D.receptive_field(model, variables, {'inputs': x})['layers']
  for level, layer in enumerate(layers):
    rf_l = receptive_field(kernel_size, level + 1)
    assert layer['analytic_rf'] == rf_l
    assert layer['analytic_interval'] == [[n - rf_l, n - 1]]
    assert layer['measured_interval'] == layer['analytic_interval'], layer['name']
  s = D.sensitivity(model, variables, {'inputs': x})
  assert s['sensitivity'].shape == (n,)
  assert np.all(s['sensitivity'][rf:] == 0.0)  # Exactly: no path reaches past rf.
  assert np.all(s['sensitivity'][:rf] > 0.0)
  assert s['effective_context'] == rf == model.receptive_field()


def test_cnn1d_footprint_matches_the_formula():
  """rf_l = rf_{l-1} + (k_l - 1) * prod(strides before l): kernels 3, 5, 3 and strides
  1, 2, 2 give 3, 7, 11; the unit in the middle of each layer sees exactly that."""
  model = CNN1D(K, features=(8, 8, 8), kernel_sizes=(3, 5, 3), strides=(1, 2, 2), padding=1)
  x = jax.random.normal(jax.random.key(1), (8, 40, C))
  variables = init(model, x)
  layers = D.receptive_field(model, variables, {'inputs': x})['layers']
  assert [l['analytic_rf'] for l in layers] == [3, 7, 11] and model.receptive_field() == 11
  for layer in layers:
    (lo, hi), = layer['analytic_interval']
    assert hi - lo + 1 == layer['analytic_rf']  # Away from the edges: not clipped.
    assert layer['measured_interval'] == layer['analytic_interval'], layer['name']


def test_cnn2d_footprint_matches_the_formula_through_pooling():
  """conv3 SAME (rf 3), avg-pool 2 (rf 4, jump 2), conv3 SAME (rf 4 + 2 * 2 = 8)."""
  model = ConvStack2D(K, blocks=((4,), (4,)), dense=(), padding='SAME', pooling='avg')
  x = jax.random.normal(jax.random.key(1), (4, 12, 12, 1))
  variables = init(model, x)
  layers = D.receptive_field(model, variables, {'inputs': x})['layers']
  assert [l['analytic_rf'] for l in layers] == [3, 8]
  for layer in layers:
    assert layer['measured_interval'] == layer['analytic_interval'], layer['name']
    assert layer['footprint'].shape == (12, 12)


def test_probes_that_do_not_apply_say_so_in_one_line():
  with pytest.raises(ConfigError, match="probe 'jacobian_spectrum' applies to recurrent "
                     r"families .* not to model 'tcn'; valid for it: grad_through_time, "
                     'receptive_field, sensitivity'):
    D.check_applicable('jacobian_spectrum', TCN(K), 'tcn')
  with pytest.raises(ConfigError, match="probe 'receptive_field' applies to convolutional"):
    D.check_applicable('receptive_field', RNN('gru', K), 'gru')
  with pytest.raises(ConfigError, match="unknown probe 'nope'; valid: grad_through_time"):
    D.check_applicable('nope', RNN('gru', K), 'gru')


def test_diagnose_command_line(tmp_path, capsys):
  """A tiny GRU trained for 2 steps, then `python -m cnn_vs_rnn.diagnose`."""
  config = tiny(configlib.load_config_file(os.path.join(CONFIG_DIR, 'adding_gru.py')),
                steps=2, every=2)
  config.data.seq_len = 10
  config.model.hidden_size = 6
  workdir = str(tmp_path / 'run')
  train.train_and_evaluate(config, workdir)
  env = {**os.environ, 'PYTHONPATH': REPO + os.pathsep + os.environ.get('PYTHONPATH', '')}
  proc = subprocess.run([sys.executable, '-m', 'cnn_vs_rnn.diagnose', '--workdir', workdir,
                         '--batch_size', '4'], capture_output=True, text=True, env=env,
                        cwd=REPO, timeout=300)
  assert proc.returncode == 0, proc.stderr
  summary = json.loads(proc.stdout.strip().splitlines()[-1])
  assert summary['step'] == 2
  assert summary['probes'] == ['grad_through_time', 'jacobian_spectrum', 'sensitivity']
  out = tmp_path / 'run' / 'diagnostics'
  for probe in summary['probes']:
    assert (out / f'{probe}_step2.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
  gtt = json.loads((out / 'grad_through_time_step2.json').read_text())
  T = config.data.seq_len
  assert gtt['kind'] == 'hidden_state' and len(gtt['grad_norm']) == T
  assert set(gtt['per_state']) == {'layer0_fwd'} and gtt['batch_size'] == 4
  jac = json.loads((out / 'jacobian_spectrum_step2.json').read_text())
  assert np.asarray(jac['singular_values']['layer0_fwd']).shape == (2, T, 6)  # 2 examples
  sens = json.loads((out / 'sensitivity_step2.json').read_text())
  assert len(sens['sensitivity']) == T and 1 <= sens['effective_context'] <= T

  # Bad input: one line naming the bad value and the valid ones, exit 2 (in process).
  for argv, message in [
      (['--workdir', workdir, '--probe', 'receptive_field'],
       "probe 'receptive_field' applies to convolutional families"),
      (['--workdir', workdir, '--probe', 'bogus'], "unknown probe 'bogus'; valid: "),
      (['--workdir', str(tmp_path / 'none')], 'holds no run'),
      (['--workdir', workdir, '--step', '7'], '--step=7 has no checkpoint'),
  ]:
    assert diagnose.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err


def test_grad_summary_reads_each_example_at_its_own_middle_and_last_step():
  per_example = jnp.array([[1.0, 2.0, 3.0, 0.0], [4.0, 5.0, 0.0, 0.0]])
  s = D.grad_summary(per_example, lengths=jnp.array([3, 2]))
  np.testing.assert_allclose([s['grad_norm_t1'], s['grad_norm_tmid'], s['grad_norm_tT']],
                             np.sqrt([1 + 16, 4 + 25, 9 + 25]), rtol=1e-6)
  np.testing.assert_allclose(s['grad_ratio_1_over_T'], np.sqrt(17 / 34), rtol=1e-6)
  s = D.grad_summary(per_example)  # No lengths: steps 0, 2 and 3 of every example.
  np.testing.assert_allclose([s['grad_norm_t1'], s['grad_norm_tmid'], s['grad_norm_tT']],
                             np.sqrt([17, 9, 0]), rtol=1e-6)


def test_padding_changes_no_state_gradient_at_valid_steps():
  """A bidirectional GRU on a sequence padded from 7 to T steps: the gradients at
  the 7 valid steps (both directions, original time order) are those of the
  unpadded sequence. A padded step passes its state on unchanged to the final
  state each direction reads out, so its gradient is that final state's."""
  model = RNN('gru', K, hidden_size=H, bidirectional=True)
  x = jax.random.normal(jax.random.key(1), (1, T, C))
  variables = init(model, x)
  padded = {'inputs': x.at[:, 7:].set(0.0), 'lengths': jnp.array([7]),
            'targets': jnp.array([1])}
  short = {'inputs': x[:, :7], 'targets': jnp.array([1])}
  g_pad, _ = D.state_gradients(model, variables, padded, 'classification')
  g_short, _ = D.state_gradients(model, variables, short, 'classification')
  for name, final in (('layer0_fwd', 6), ('layer0_bwd', 0)):
    np.testing.assert_allclose(g_pad[name][:, :7], g_short[name], rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(g_pad[name][:, 7:],
                                  np.broadcast_to(g_pad[name][:, final:final + 1], (1, T - 7, H)))
