"""Generate text from a byte-level language-model checkpoint (RNN, LRU or causal TCN).

  python -m cnn_vs_rnn.sample --workdir DIR --prompt TEXT --length N --temperature T [--seed S]

The model reads the last `seq_len` bytes (the training window) and samples
the next byte from softmax(logits / T); temperature 0 takes the argmax.
"""

from __future__ import annotations

import sys

import jax
import jax.numpy as jnp
import numpy as np

from cnn_vs_rnn import cli
from cnn_vs_rnn.errors import ConfigError
from cnn_vs_rnn.evaluate import load_workdir
from cnn_vs_rnn import errors, hostmem, train


def next_token_logits_fn(apply_fn):
  """jitted (variables, tokens [1, T], length) -> logits at position length-1.

  The window is right-padded; a recurrent model ignores steps past `length`
  and a causal TCN never looks ahead, so the padding does not change the logits.
  """

  @jax.jit
  def logits(variables, tokens_1xT, length):
    out_1xTxV = apply_fn(variables, tokens_1xT, lengths=length[None], train=False)
    return out_1xTxV[0, length - 1].astype(jnp.float32)

  return logits


def generate(run, state, prompt: bytes, length: int, temperature: float, seed: int) -> bytes:
  window = run.dataset.spec.input_shape[0]
  logits_fn = next_token_logits_fn(state.apply_fn)
  variables = {'params': state.params, **state.model_state}
  tokens = list(prompt) or [ord('\n')]
  rng = jax.random.key(seed)
  out = []
  for i in range(length):
    context = tokens[-window:]
    padded = np.zeros((1, window), np.int32)
    padded[0, :len(context)] = context
    logits = logits_fn(variables, jnp.asarray(padded), jnp.asarray(len(context), jnp.int32))
    if temperature == 0:
      token = int(jnp.argmax(logits))
    else:
      token = int(jax.random.categorical(jax.random.fold_in(rng, i), logits / temperature))
    tokens.append(token)
    out.append(token)
  return bytes(out)


def main(argv=None) -> int:
  parser = cli.parser_of('sample', __doc__)
  parser.add_argument('--workdir', required=True)
  parser.add_argument('--prompt', default='')
  parser.add_argument('--length', type=int, default=200)
  parser.add_argument('--temperature', type=float, default=0.8)
  parser.add_argument('--seed', type=int, default=0)
  parser.add_argument('--step', type=int, default=None)
  parser.add_argument('--replica', type=int, default=0,
                      help='Which replica of a run of several (0 = the first; '
                      'replicas.py orders them point major).')

  def body(args):
    if args.length < 1:
      raise ConfigError(f'--length={args.length} must be a positive integer')
    if not 0 <= args.temperature < float('inf'):  # Also false for nan.
      raise ConfigError(f'--temperature={args.temperature} must be a finite number >= 0 '
                        '(0 = greedy)')
    run, state, _ = load_workdir(args.workdir, args.step)
    if not 0 <= args.replica < run.num_replicas:
      raise ConfigError(f'--replica={args.replica} must be in [0, {run.num_replicas}): the '
                        f'run has {run.num_replicas} replica(s)')
    state = train.replica(state, args.replica)
    spec = run.dataset.spec
    if spec.task != 'language_model' or spec.vocab_size != 256:
      raise ConfigError(f'workdir {args.workdir!r} holds a {spec.task!r} model on '
                        f'{run.config.data.name!r}; sample needs a byte-level language model')
    text = generate(run, state, args.prompt.encode('utf-8'), args.length, args.temperature,
                    args.seed)
    sys.stdout.write(args.prompt + text.decode('utf-8', errors='replace') + '\n')

  return cli.argparse_command(parser, argv, body)


if __name__ == '__main__':
  hostmem.keep_freed_memory()  # Only as a program: see hostmem.py.
  errors.as_program()
  sys.exit(main())
