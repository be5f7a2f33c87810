"""Encoder-decoder networks for sequence-to-sequence transduction, with attention.

  encoder   'lstm', 'gru' or 'elman' (models/rnn.py's `Recurrence` per layer and
            direction; `bidirectional`, `num_layers`), or 'tcn' (models/tcn.py's
            causal residual blocks, `channels`, `kernel_size`): features
            h_1..h_S of the source and a summary of it: the final states of
            an RNN (both directions' when bidirectional), the TCN's features
            at the last valid step.
  decoder   an LSTM or GRU cell (`decoder_cell`; models/rnn.py's cells, gates
            from one matmul of the input and one of the state), its state
            initialised from the summary (s_0 = tanh(W h_summary); an LSTM's
            cell also from it, without the tanh). It reads the previous target
            token (embedded with `decoder_embed_dim`, one-hot when 0).
  attention (`attention`), at decoder step t with the previous state s_{t-1}
            and the new one s_t:
    'additive' Bahdanau et al. (2015): e_ti = v^T tanh(W_q s_{t-1} + W_k h_i);
               a_t = softmax(e_t) over the valid source steps; c_t = sum_i a_ti h_i
               enters the cell with the token, s_t = cell(s_{t-1}, [y_{t-1}; c_t]);
               the output is o_t = tanh(W_c [s_t; c_t]).
    'dot'      Luong et al. (2015) ("general" score, so that the encoder and
               decoder widths may differ): e_ti = s_t . (W_k h_i), computed after
               the cell step; o_t = tanh(W_c [s_t; c_t]); o_t is fed to the next
               step with the token (input feeding), s_t = cell(s_{t-1}, [y_{t-1}; o_{t-1}]).
    'none'     no attention (the control): o_t = s_t, and everything the decoder
               knows of the source passes through s_0.
  logits_t = W_o o_t, over the target vocabulary (`num_outputs`).

Calling convention (models/__init__.py), with the targets that the seq2seq
task hands over (tasks.model_inputs):

  model.apply(variables, source_BxS, lengths=None, train=False, targets=None)
    -> logits [B, T, V]

* train=True with targets [B, T] (token ids ending in EOS, then PAD):
  teacher forcing. The decoder reads [BOS, y_1, ..., y_{T-1}], the targets
  shifted right by one, so the logits at position t depend on the targets
  before t only.
* otherwise: greedy decoding, in one `nn.scan` of T steps (targets.shape[1],
  or `target_length` without targets: the data's target length, set by
  models.build): the decoder reads BOS, then the argmax of its own previous
  logits. It runs all T steps; what follows the first EOS is masked by the
  task. Evaluation therefore scores what the model generates.

Attention weights [B, T, S] are sown as `intermediates/attention` (both
modes; 'none' sows nothing):

  logits, state = model.apply(variables, src, lengths=l, targets=t,
                              mutable=['intermediates'])
  weights_BxTxS = state['intermediates']['attention'][0]

Source padding (steps >= lengths) never changes an output: the RNN encoders
skip it, the TCN is causal, and attention gives it weight 0.

Token conventions of the data (data/transduction.py): PAD 0, BOS 1, EOS 2
(`bos_id`). With a computation dtype (models/precision.py) the matmuls run in
it, while the decoder state, attention scores and softmax stay float32.
"""

from __future__ import annotations

import functools
from typing import Any, Sequence

import jax
import jax.numpy as jnp
import flax.linen as nn

from cnn_vs_rnn.errors import ConfigError
from cnn_vs_rnn.models.precision import cast, state_dtype
from cnn_vs_rnn.models.registry import register
from cnn_vs_rnn.models.rnn import CELLS, Recurrence, input_bias_init, reverse_padded
from cnn_vs_rnn.models.tcn import TemporalBlock

ENCODERS = ('lstm', 'gru', 'elman', 'tcn')
DECODER_CELLS = ('lstm', 'gru')
ATTENTIONS = ('additive', 'dot', 'none')
BOS = 1


def shift_right(targets_BxT, bos: int = BOS):
  """Decoder inputs for teacher forcing: [BOS, y_1, ..., y_{T-1}]."""
  bos_Bx1 = jnp.full(targets_BxT.shape[:1] + (1,), bos, targets_BxT.dtype)
  return jnp.concatenate([bos_Bx1, targets_BxT[:, :-1]], axis=1)


MASKED_SCORE = -1e30  # exp(MASKED_SCORE - max) is exactly 0; finite for an all-padding row.


def attention_weights(scores_BxS, valid_BxS):
  """softmax over the valid source steps, in float32; invalid steps get weight 0."""
  scores = jnp.where(valid_BxS, scores_BxS.astype(jnp.float32), MASKED_SCORE)
  return jax.nn.softmax(scores, axis=-1)


def context(weights_BxS, values_BxSxE, dtype):
  """sum_i a_i h_i: [B, E]."""
  return jnp.einsum('bs,bse->be', cast(weights_BxS, dtype or values_BxSxE.dtype),
                    cast(values_BxSxE, dtype))


class DecoderStep(nn.Module):
  """One decoder step: (carry, token, memory) -> (carry, (logits, attention weights)).

  carry = (cell state, o_{t-1}, the argmax of the previous logits). With
  `greedy` the step reads that argmax and ignores `token_B`; else it reads
  `token_B` (teacher forcing). memory = (values [B, S, E], keys [B, S, A],
  valid [B, S]); keys are the encoder features projected once, before the loop.
  """
  num_outputs: int
  cell_name: str
  hidden_size: int
  attention: str
  attention_size: int
  embed_dim: int
  greedy: bool
  dtype: Any = None

  @nn.compact
  def __call__(self, carry, token_B, memory):
    state, feed_BxH, prev_B = carry
    values_BxSxE, keys_BxSxA, valid_BxS = memory
    token_B = prev_B if self.greedy else token_B
    if self.embed_dim:
      y_BxD = nn.Embed(self.num_outputs, self.embed_dim, dtype=self.dtype,
                       name='embed')(token_B)
    else:
      y_BxD = jax.nn.one_hot(token_B, self.num_outputs, dtype=self.dtype or jnp.float32)
    h_prev = state[1] if self.cell_name == 'lstm' else state
    weights_BxS = None
    parts = [y_BxD]
    if self.attention == 'additive':
      query_BxA = nn.Dense(self.attention_size, use_bias=False, dtype=self.dtype,
                           name='attn_query')(cast(h_prev, self.dtype))
      energy_BxSxA = jnp.tanh(keys_BxSxA + query_BxA[:, None, :])
      scores_BxS = nn.Dense(1, use_bias=False, dtype=self.dtype,
                            name='attn_score')(energy_BxSxA)[..., 0]
      weights_BxS = attention_weights(scores_BxS, valid_BxS)
      ctx_BxE = context(weights_BxS, values_BxSxE, self.dtype)
      parts.append(ctx_BxE)
    elif self.attention == 'dot':
      parts.append(feed_BxH)  # input feeding: o_{t-1}
    gates = CELLS[self.cell_name].gates
    x_in = jnp.concatenate([cast(p, self.dtype or jnp.float32) for p in parts], axis=-1)
    xproj = nn.Dense(gates * self.hidden_size, dtype=self.dtype, name='input',
                     bias_init=input_bias_init(self.cell_name, self.hidden_size))(x_in)
    state, h_BxH = CELLS[self.cell_name](self.hidden_size, dtype=self.dtype,
                                         name='cell')(state, xproj)
    if self.attention == 'dot':
      scores_BxS = jnp.einsum('bh,bsh->bs', cast(h_BxH, self.dtype),
                              cast(keys_BxSxA, self.dtype))
      weights_BxS = attention_weights(scores_BxS, valid_BxS)
      ctx_BxE = context(weights_BxS, values_BxSxE, self.dtype)
    if self.attention == 'none':
      out_BxH = h_BxH
    else:
      both = jnp.concatenate([cast(h_BxH, self.dtype or jnp.float32),
                              cast(ctx_BxE, self.dtype or jnp.float32)], axis=-1)
      out_BxH = jnp.tanh(nn.Dense(self.hidden_size, dtype=self.dtype, name='combine')(both))
    logits_BxV = nn.Dense(self.num_outputs, dtype=self.dtype, name='out')(out_BxH)
    next_B = jnp.argmax(logits_BxV, axis=-1).astype(prev_B.dtype)
    feed_BxH = out_BxH.astype(feed_BxH.dtype)
    outputs = (logits_BxV,) if weights_BxS is None else (logits_BxV, weights_BxS)
    return (state, feed_BxH, next_B), outputs


@register('seq2seq', widths=('hidden_size', 'attention_size', 'channels',
                             'decoder_embed_dim'))
class Seq2Seq(nn.Module):
  """RNN or TCN encoder, LSTM/GRU decoder, additive, dot-product or no attention."""
  num_outputs: int
  encoder: str = 'lstm'             # 'lstm', 'gru', 'elman' or 'tcn'
  hidden_size: int = 64             # RNN encoder (per direction) and decoder width
  num_layers: int = 1               # RNN encoder layers
  bidirectional: bool = False       # RNN encoder only
  channels: Sequence[int] = (64, 64, 64)  # TCN encoder: one width per level
  kernel_size: int = 3              # TCN encoder
  decoder_cell: str = 'lstm'        # 'lstm' or 'gru'
  attention: str = 'additive'       # 'additive' (Bahdanau), 'dot' (Luong), 'none'
  attention_size: int = 64          # additive attention's hidden width
  decoder_embed_dim: int = 32       # target-token embedding; 0: one-hot
  bos_id: int = BOS
  target_length: int = 16           # steps decoded without targets (set by models.build)
  dtype: Any = None                 # computation dtype (models/precision.py)

  def sizing_widths(self) -> dict:
    """The widths param_budget scales: only the ones this configuration uses."""
    out = {'hidden_size': self.hidden_size}
    if self.attention == 'additive':
      out['attention_size'] = self.attention_size
    if self.encoder == 'tcn':
      out['channels'] = tuple(self.channels)
    if self.decoder_embed_dim:
      out['decoder_embed_dim'] = self.decoder_embed_dim
    return out

  def check_input(self, input_shape):
    for key, value, valid in (('encoder', self.encoder, ENCODERS),
                              ('decoder_cell', self.decoder_cell, DECODER_CELLS),
                              ('attention', self.attention, ATTENTIONS)):
      if value not in valid:
        raise ConfigError(f'unknown model.{key} {value!r}; valid: {", ".join(valid)}')
    if len(input_shape) != 2:
      raise ConfigError(f'seq2seq takes source sequences of shape (S,) tokens or (S, C), '
                        f'not {tuple(input_shape)}')
    if self.encoder == 'tcn' and (self.bidirectional or self.num_layers != 1):
      raise ConfigError('model.bidirectional and model.num_layers apply to RNN encoders; '
                        "the 'tcn' encoder has model.channels (one width per level)")
    if self.encoder == 'tcn' and not self.channels:
      raise ConfigError('model.channels must hold at least one level for the tcn encoder')

  def encode(self, x_BxSxC, lengths_B):
    """Encoder features [B, S, E] and the source summary [B, E']."""
    if self.encoder == 'tcn':
      h = cast(x_BxSxC, self.dtype)
      for level, features in enumerate(self.channels):
        h = TemporalBlock(int(features), self.kernel_size, 2 ** level, 0.0, True,
                          self.dtype, name=f'encoder_level{level}')(h, False)
      idx_B = (jnp.full(h.shape[:1], h.shape[1]) if lengths_B is None else lengths_B) - 1
      last = jnp.take_along_axis(h, jnp.maximum(idx_B, 0)[:, None, None], axis=1)[:, 0]
      return h, last
    direction = functools.partial(Recurrence, self.encoder, self.hidden_size,
                                  dtype=self.dtype)
    h = x_BxSxC
    for layer in range(self.num_layers):
      out, last = direction(name=f'encoder{layer}_fwd')(h, lengths_B)
      if self.bidirectional:
        rev, last_rev = direction(name=f'encoder{layer}_bwd')(
            reverse_padded(h, lengths_B), lengths_B)
        out = jnp.concatenate([out, reverse_padded(rev, lengths_B)], axis=-1)
        last = jnp.concatenate([last, last_rev], axis=-1)
      h = out
    return h, last

  def initial_state(self, summary_BxE):
    """The decoder's first state, from the source summary (float32)."""
    acc = state_dtype(self.dtype or jnp.float32)
    h = jnp.tanh(nn.Dense(self.hidden_size, dtype=self.dtype, name='bridge_h')(summary_BxE))
    if self.decoder_cell == 'lstm':
      c = nn.Dense(self.hidden_size, dtype=self.dtype, name='bridge_c')(summary_BxE)
      return (c.astype(acc), h.astype(acc))
    return h.astype(acc)

  @nn.compact
  def __call__(self, x_BxSxC, lengths=None, train: bool = False, targets=None):
    B, S = x_BxSxC.shape[:2]
    lengths_B = None if lengths is None else jnp.asarray(lengths, jnp.int32)
    values_BxSxE, summary = self.encode(x_BxSxC, lengths_B)
    valid_BxS = (jnp.ones((B, S), bool) if lengths_B is None else
                 jnp.arange(S)[None, :] < lengths_B[:, None])
    if self.attention == 'additive':
      keys = nn.Dense(self.attention_size, dtype=self.dtype, name='attn_keys')(values_BxSxE)
    elif self.attention == 'dot':
      keys = nn.Dense(self.hidden_size, use_bias=False, dtype=self.dtype,
                      name='attn_keys')(values_BxSxE)
    else:
      keys = jnp.zeros((B, S, 0), values_BxSxE.dtype)
    teacher = train and targets is not None
    T = targets.shape[1] if targets is not None else self.target_length
    tokens_BxT = (shift_right(jnp.asarray(targets, jnp.int32), self.bos_id) if teacher
                  else jnp.zeros((B, T), jnp.int32))
    acc = state_dtype(self.dtype or jnp.float32)
    carry = (self.initial_state(summary), jnp.zeros((B, self.hidden_size), acc),
             jnp.full((B,), self.bos_id, jnp.int32))
    scan = nn.scan(DecoderStep, variable_broadcast='params', split_rngs={'params': False},
                   in_axes=(1, nn.broadcast), out_axes=1, length=T)
    _, outputs = scan(self.num_outputs, self.decoder_cell, self.hidden_size, self.attention,
                      self.attention_size, self.decoder_embed_dim, greedy=not teacher,
                      dtype=self.dtype, name='decoder')(
                          carry, tokens_BxT, (values_BxSxE, keys, valid_BxS))
    if self.attention != 'none':
      self.sow('intermediates', 'attention', outputs[1])
    return outputs[0]
