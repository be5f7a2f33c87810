"""Linear Recurrent Unit (Orvieto et al. 2023), stacked in residual blocks.

One LRU layer maps u_t in R^H to y_t in R^H through a complex diagonal
linear recurrence with N states:

  x_t = lambda * x_{t-1} + gamma * (B u_t),     x_0 = 0
  y_t = Re(C x_t) + D * u_t

with the stable exponential parameterisation
lambda = exp(-exp(nu_log) + i exp(theta_log)) (so |lambda| < 1 always),
ring initialisation (|lambda| uniform on the ring r_min..r_max by area, phase
uniform in 0..max_phase) and the normalisation gamma = exp(gamma_log),
gamma_log initialised to log(sqrt(1 - |lambda|^2)).

The recurrence is linear, so it runs either as a parallel
`jax.lax.associative_scan` with the operator
  (a_i, b_i) o (a_j, b_j) = (a_j a_i, a_j b_i + b_j)
(depth O(log T)) or, with scan_type='sequential', as a `jax.lax.scan` over
time with the same parameters. Both accumulate in complex64 whatever the
input dtype. The gradient is hand-written (`jax.custom_vjp`): the transpose
of a linear recurrence is the same recurrence run backwards in time over the
output cotangents, so the backward pass is one more scan of the same kind
instead of the transpose of every slice, pad and product of the forward
scan (far fewer XLA ops; experiments/speed).

With a computation dtype (`dtype`, models/precision.py) such as bfloat16,
the projections B u and C x, the LayerNorms, the GLU and the readout run in
it. lambda, gamma and the recurrence stay float32/complex64: with |lambda|
close to 1 the state sums hundreds of terms, and bfloat16's 8-bit mantissa
would both round lambda itself (|lambda| = 0.999 is not representable: it
becomes 1.0, a unit that never forgets) and lose every small term added to
a large state.

The model 'lru': a Dense encoder to d_model, then per layer
  x = x + dropout(mlp(dropout(gelu(LRU(LayerNorm(x))))))
(mlp 'glu': Dense(2 d_model) -> a * sigmoid(b); 'dense': Dense(d_model)),
a final LayerNorm and a readout. The recurrence is causal and inputs past an
example's length are set to zero, so padding never changes the outputs at
valid steps; 'last' reads step length - 1.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import jax
import jax.numpy as jnp
import flax.linen as nn

from cnn_vs_rnn.errors import ConfigError
from cnn_vs_rnn.models.heads import Readout, time_mask
from cnn_vs_rnn.models.precision import cast

SCAN_TYPES = ('associative', 'sequential')
MLPS = ('glu', 'dense')


# ---------------------------------------------------------------------------
# Initialisers and pure functions.


def nu_log_init(key, shape, r_min: float, r_max: float, dtype=jnp.float32):
  """log(-log|lambda|) with |lambda|^2 uniform in [r_min^2, r_max^2]."""
  u = jax.random.uniform(key, shape, dtype, minval=1e-7)
  return jnp.log(-0.5 * jnp.log(u * (r_max ** 2 - r_min ** 2) + r_min ** 2))


def theta_log_init(key, shape, max_phase: float, dtype=jnp.float32):
  """log(phase) with the phase uniform in [0, max_phase]."""
  u = jax.random.uniform(key, shape, dtype, minval=1e-12)
  return jnp.log(max_phase * u)


def lru_lambda(nu_log_N, theta_log_N):
  """The diagonal recurrence exp(-exp(nu_log) + i exp(theta_log)), complex64."""
  return jnp.exp(jax.lax.complex(-jnp.exp(nu_log_N.astype(jnp.float32)),
                                 jnp.exp(theta_log_N.astype(jnp.float32))))


def gamma_log_from_lambda(lambda_N):
  """log(sqrt(1 - |lambda|^2)): keeps E|x_t|^2 at the input's scale."""
  return jnp.log(jnp.sqrt(1.0 - jnp.abs(lambda_N) ** 2))


def binary_operator(e_i, e_j):
  """Composition of x -> a_i x + b_i followed by x -> a_j x + b_j."""
  a_i, b_i = e_i
  a_j, b_j = e_j
  return a_j * a_i, a_j * b_i + b_j


def linear_recurrence_TxN(lambda_N, bu_TxN, scan_type: str = 'associative',
                          reverse: bool = False):
  """x_t = lambda * x_{t-1} + bu_t from x_0 = 0, every t; one sequence.

  With reverse=True, backwards in time: x_t = lambda * x_{t+1} + bu_t from x_{T+1} = 0.
  """
  if scan_type == 'associative':
    a_TxN = jnp.broadcast_to(lambda_N, bu_TxN.shape)
    return jax.lax.associative_scan(binary_operator, (a_TxN, bu_TxN), reverse=reverse)[1]
  if scan_type == 'sequential':
    def step(x_N, bu_N):
      x_N = lambda_N * x_N + bu_N
      return x_N, x_N
    return jax.lax.scan(step, jnp.zeros_like(bu_TxN[0]), bu_TxN, reverse=reverse)[1]
  raise ValueError(f'unknown scan_type {scan_type!r}; valid: {", ".join(SCAN_TYPES)}')


def _recurrence_BxTxN(lambda_N, bu_BxTxN, scan_type: str, reverse: bool = False):
  return jax.vmap(linear_recurrence_TxN, in_axes=(None, 0, None, None))(
      lambda_N, bu_BxTxN, scan_type, reverse)


def _shift_right_BxTxN(x_BxTxN):
  """[x_0 = 0, x_1, ..., x_{T-1}]: the state each step starts from."""
  return jnp.pad(x_BxTxN[:, :-1], ((0, 0), (1, 0), (0, 0)))


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def linear_recurrence_BxTxN(lambda_N, bu_BxTxN, scan_type: str = 'associative'):
  """x_t = lambda * x_{t-1} + bu_t from x_0 = 0, every t and batch row."""
  return _recurrence_BxTxN(lambda_N, bu_BxTxN, scan_type)


def _recurrence_fwd(lambda_N, bu_BxTxN, scan_type):
  x_BxTxN = _recurrence_BxTxN(lambda_N, bu_BxTxN, scan_type)
  return x_BxTxN, (lambda_N, x_BxTxN)


def _recurrence_bwd(scan_type, residuals, dx_BxTxN):
  """x = L bu with L lower triangular, L[t, s] = lambda^(t - s): d bu = L^T dx.

  L^T dx is the recurrence backwards in time, g_t = lambda g_{t+1} + dx_t, and
  x_t = lambda x_{t-1} + bu_t gives d lambda = sum over t and batch of
  g_t x_{t-1}. JAX transposes complex linear maps without conjugation, and
  so does this.
  """
  lambda_N, x_BxTxN = residuals
  g_BxTxN = _recurrence_BxTxN(lambda_N, dx_BxTxN, scan_type, reverse=True)
  return jnp.sum(g_BxTxN * _shift_right_BxTxN(x_BxTxN), axis=(0, 1)), g_BxTxN


linear_recurrence_BxTxN.defvjp(_recurrence_fwd, _recurrence_bwd)


# ---------------------------------------------------------------------------
# Modules.


class LRU(nn.Module):
  """One LRU layer: [B, T, H] -> [B, T, H], with `d_state` complex states.

  The output is in `dtype` (float32 when None); the recurrence always runs in
  complex64.
  """
  d_state: int
  r_min: float = 0.0
  r_max: float = 1.0
  max_phase: float = 2 * math.pi
  scan_type: str = 'associative'
  dtype: Any = None

  @nn.compact
  def __call__(self, u_BxTxH):
    H, N = u_BxTxH.shape[-1], self.d_state
    nu_log = self.param('nu_log', nu_log_init, (N,), self.r_min, self.r_max)
    theta_log = self.param('theta_log', theta_log_init, (N,), self.max_phase)
    gamma_log = self.param('gamma_log', lambda _: gamma_log_from_lambda(
        lru_lambda(nu_log, theta_log)))
    b_init = nn.initializers.normal(1.0 / math.sqrt(2 * H))
    c_init = nn.initializers.normal(1.0 / math.sqrt(N))
    B_re = self.param('B_re', b_init, (N, H))
    B_im = self.param('B_im', b_init, (N, H))
    C_re = self.param('C_re', c_init, (H, N))
    C_im = self.param('C_im', c_init, (H, N))
    D = self.param('D', nn.initializers.normal(1.0), (H,))

    dtype = self.dtype or jnp.float32
    u = u_BxTxH.astype(dtype)
    gamma_N = jnp.exp(gamma_log)
    # B u in the computation dtype; its result, the recurrence's input, in float32.
    proj = lambda w_NxH: (u @ (w_NxH.T * gamma_N).astype(dtype)).astype(jnp.float32)
    bu_re, bu_im = proj(B_re), proj(B_im)
    if not self.is_initializing() and (self.is_mutable_collection('perturbations')
                                       or self.has_variable('perturbations', 'state')):
      # The diagnostics' handle on the state (cnn_vs_rnn/diagnostics.py): a zero
      # added to B u_t is a zero added to x_t, which the recurrence carries on,
      # so its gradient is dL/dx_t (real and imaginary parts).
      bu_re, bu_im = self.perturb('state', (bu_re, bu_im))
    bu_BxTxN = jax.lax.complex(bu_re, bu_im)
    x_BxTxN = linear_recurrence_BxTxN(lru_lambda(nu_log, theta_log), bu_BxTxN,
                                      self.scan_type)
    x_re, x_im = x_BxTxN.real.astype(dtype), x_BxTxN.imag.astype(dtype)
    return x_re @ C_re.T.astype(dtype) - x_im @ C_im.T.astype(dtype) + D.astype(dtype) * u


class LRUBlock(nn.Module):
  """Pre-norm residual block: x + dropout(mlp(dropout(gelu(LRU(norm(x))))))."""
  d_state: int
  r_min: float
  r_max: float
  max_phase: float
  scan_type: str
  mlp: str = 'glu'
  dropout: float = 0.0
  dtype: Any = None

  @nn.compact
  def __call__(self, x_BxTxH, train: bool = False):
    H = x_BxTxH.shape[-1]
    drop = nn.Dropout(self.dropout, deterministic=not train)
    h = nn.LayerNorm(dtype=self.dtype, name='norm')(x_BxTxH)
    h = LRU(self.d_state, self.r_min, self.r_max, self.max_phase, self.scan_type,
            self.dtype, name='lru')(h)
    h = drop(nn.gelu(h))
    if self.mlp == 'glu':
      a, b = jnp.split(nn.Dense(2 * H, dtype=self.dtype, name='glu')(h), 2, axis=-1)
      h = a * nn.sigmoid(b)
    else:
      h = nn.Dense(H, dtype=self.dtype, name='dense')(h)
    return x_BxTxH + drop(h)


class LRUNet(nn.Module):
  """Dense encoder, `num_layers` LRU blocks, LayerNorm, readout."""
  num_outputs: int
  d_model: int = 32
  d_state: int = 64
  num_layers: int = 2
  r_min: float = 0.0
  r_max: float = 1.0
  max_phase: float = 2 * math.pi
  scan_type: str = 'associative'
  mlp: str = 'glu'
  dropout: float = 0.0
  pool: str = 'last'
  dtype: Any = None  # computation dtype (models/precision.py)

  def check_input(self, input_shape):
    if len(input_shape) != 2:
      raise ConfigError(f'lru takes sequences of shape (T, C), not {tuple(input_shape)}')
    if self.scan_type not in SCAN_TYPES:
      raise ConfigError(f'unknown model.scan_type {self.scan_type!r}; '
                        f'valid: {", ".join(SCAN_TYPES)}')
    if self.mlp not in MLPS:
      raise ConfigError(f'unknown model.mlp {self.mlp!r}; valid: {", ".join(MLPS)}')
    if not 0.0 <= self.r_min < self.r_max <= 1.0:
      raise ConfigError(f'model.r_min={self.r_min} and model.r_max={self.r_max} '
                        'must satisfy 0 <= r_min < r_max <= 1')
    if self.max_phase <= 0:
      raise ConfigError(f'model.max_phase={self.max_phase} must be > 0')
    for key in ('d_model', 'd_state', 'num_layers'):
      if getattr(self, key) < 1:
        raise ConfigError(f'model.{key}={getattr(self, key)} must be >= 1')
    if not 0.0 <= self.dropout < 1.0:
      raise ConfigError(f'model.dropout={self.dropout} must be in [0, 1)')

  @nn.compact
  def __call__(self, x_BxTxC, lengths=None, train: bool = False):
    B, T, _ = x_BxTxC.shape
    lengths_B = (jnp.full((B,), T, jnp.int32) if lengths is None
                 else lengths.astype(jnp.int32))
    x_BxTxC = jnp.where(time_mask(lengths_B, T)[..., None], x_BxTxC, 0)
    h = nn.Dense(self.d_model, dtype=self.dtype, name='encoder')(x_BxTxC)
    for layer in range(self.num_layers):
      h = LRUBlock(self.d_state, self.r_min, self.r_max, self.max_phase, self.scan_type,
                   self.mlp, self.dropout, self.dtype, name=f'block{layer}')(h, train)
    h = nn.LayerNorm(dtype=self.dtype, name='norm_out')(h)
    return Readout(self.num_outputs, self.pool, self.dtype, name='head')(h, lengths_B)
