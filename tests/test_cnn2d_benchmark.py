"""2D CNNs, the synthetic dataset, and the benchmark entry point and its configs."""

import glob
import json
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from cnn_vs_rnn import benchmark, configlib, data, models, optim, parallel, tasks, train
from cnn_vs_rnn.data import DataSpec
from cnn_vs_rnn.data.pipeline import MappedSource
from cnn_vs_rnn.models import cnn2d
from cnn_vs_rnn.errors import ConfigError
from conftest import CONFIG_DIR, REPO, check_vjp, jit_apply, jit_init, tiny

MNIST = DataSpec(input_shape=(28, 28, 1), task='classification', num_outputs=10)
BENCH_DIR = os.path.join(CONFIG_DIR, 'bench')


def build(spec=MNIST, **cfg):
  return models.build(ml_collections.ConfigDict(cfg), spec)


def init(model, shape, batch=2):
  return jit_init(model, jax.random.key(0), jnp.zeros((batch,) + tuple(shape)))


def abstract_init(model, shape, batch=2):
  """(variables, outputs) as shapes only: nothing is compiled."""
  x = jax.ShapeDtypeStruct((batch,) + tuple(shape), jnp.float32)
  out, variables = jax.eval_shape(
      lambda x: model.init_with_output(jax.random.key(0), x), x)
  return variables, out


def conv_params(k, cin, cout):
  return k * k * cin * cout + cout


def dense_params(fin, fout):
  return fin * fout + fout


# ---------------------------------------------------------------------------
# Shapes and parameter counts.


def test_cnn2d_default_is_the_torch_cnn_mnist_model():
  # torch_reference.py cnn_mnist: Conv2d(1, 32, 3), Conv2d(32, 64, 3), maxpool 2,
  # Linear(9216, 128), Linear(128, 10): 28 -> 26 -> 24 -> 12, 12 * 12 * 64 = 9216.
  want = (conv_params(3, 1, 32) + conv_params(3, 32, 64) + dense_params(12 * 12 * 64, 128)
          + dense_params(128, 10))
  assert want == 1_199_882
  variables, _ = abstract_init(build(name='cnn2d'), (28, 28, 1))
  assert models.count_params(variables['params']) == want
  assert set(variables) == {'params'}  # norm='none': no batch_stats.
  assert variables['params']['dense0']['kernel'].shape == (9216, 128)


def test_lenet_is_lenet5():
  # 28 -SAME conv-> 28 -pool-> 14 -VALID conv-> 10 -pool-> 5: 5 * 5 * 16 = 400 features.
  want = (conv_params(5, 1, 6) + conv_params(5, 6, 16) + dense_params(400, 120)
          + dense_params(120, 84) + dense_params(84, 10))
  assert want == 61_706
  variables, _ = abstract_init(build(name='lenet'), (28, 28, 1))
  assert models.count_params(variables['params']) == want


@pytest.mark.parametrize('cfg', [
    dict(name='cnn2d'),
    dict(name='cnn2d', norm='layer', pool='mean', dense=()),
    dict(name='lenet'),
    dict(name='vgg', blocks=((8, 8), (16,)), norm='group', norm_groups=4),
    dict(name='vgg', blocks=((8,),), norm='batch', pool='max'),
    dict(name='resnet', stage_sizes=(1, 1), width=8),
    dict(name='resnet', stage_sizes=(1, 2, 1), width=4, norm='group', norm_groups=2),
    dict(name='resnet', stage_sizes=(1,), width=4, norm='none'),
], ids=str)
@pytest.mark.parametrize('shape', [(28, 28, 1), (32, 32, 3)], ids=str)
def test_output_shapes(cfg, shape):
  spec = DataSpec(input_shape=shape, task='classification', num_outputs=7)
  model = build(spec, **cfg)
  variables, out = abstract_init(model, shape, batch=3)
  assert out.shape == (3, 7)
  eval_out = jax.eval_shape(lambda v, x: model.apply(v, x), variables,
                            jax.ShapeDtypeStruct((3,) + shape, jnp.float32))
  assert eval_out.shape == (3, 7)
  assert ('batch_stats' in variables) == (cfg.get('norm', 'batch' if cfg['name'] == 'resnet'
                                                  else 'none') == 'batch')


def test_resnet_layout():
  params = abstract_init(build(name='resnet', stage_sizes=(2, 2), width=8), (16, 16, 3)
                         )[0]['params']
  assert 'shortcut' not in params['stage0_block0']       # Same width, stride 1.
  assert params['stage1_block0']['shortcut']['kernel'].shape == (1, 1, 8, 16)
  assert params['stage1_block0']['conv0']['kernel'].shape == (3, 3, 8, 16)
  assert 'bias' not in params['stage1_block0']['conv0']  # Normalised: no conv bias.
  assert params['out']['kernel'].shape == (16, 10)


@pytest.mark.parametrize('cfg,shape,message', [
    (dict(name='cnn2d'), (40, 1), 'cnn2d takes images of shape (H, W, C), not (40, 1)'),
    (dict(name='resnet'), (40, 1), 'resnet takes images'),
    (dict(name='cnn2d', norm='weight'), (28, 28, 1),
     "unknown model.norm 'weight'; valid: batch, layer, group, none"),
    (dict(name='vgg', norm='group', norm_groups=8, blocks=((12,),)), (28, 28, 1),
     'model.norm_groups=8 must divide every normalised width; it does not divide 12'),
    (dict(name='vgg', blocks=((4,),) * 6), (28, 28, 1),
     'pooling after block 4 leaves no output'),
    (dict(name='lenet', padding='VALID', blocks=((6,), (16,), (32,))), (28, 28, 1),
     'conv 0 of block 2 (5x5 VALID) leaves no output'),
    (dict(name='cnn2d', pooling='sum'), (28, 28, 1), "unknown model.pooling 'sum'"),
    (dict(name='cnn2d', padding=('SAME', 'VALID')), (28, 28, 1), 'needs one entry per block'),
    (dict(name='cnn2d', dropout=1.0), (28, 28, 1), 'model.dropout=1.0 must be in [0, 1)'),
    (dict(name='cnn2d', stage_sizes=(1,)), (28, 28, 1),
     "model 'cnn2d' has no field(s) stage_sizes"),
    (dict(name='cnn2d', conv_impl='winograd'), (28, 28, 1),
     "unknown model.conv_impl 'winograd'; valid: auto, canonical, im2col, lax, native"),
    (dict(name='resnet', conv_impl='fft'), (28, 28, 1), "unknown model.conv_impl 'fft'"),
    (dict(name='cnn2d', batch_chunk=-1), (28, 28, 1), 'model.batch_chunk=-1 must hold integers >= 0'),
    (dict(name='vgg', norm='batch', batch_chunk=4), (28, 28, 1),
     "model.batch_chunk=4 needs a per-example norm: norm='batch' normalises over"),
])
def test_bad_configs(cfg, shape, message):
  spec = DataSpec(input_shape=shape, task='classification', num_outputs=10)
  with pytest.raises(ConfigError) as e:
    build(spec, **cfg)
  assert message in str(e.value)
  assert '\n' not in str(e.value)


def test_check_grads_tiny_lenet():
  # 8 -SAME conv-> 8 -pool-> 4 -VALID conv-> 2 -pool-> 1: tanh, average pooling.
  model = build(DataSpec((8, 8, 1), 'classification', 3), name='lenet', kernel_size=3,
                blocks=((2,), (3,)), dense=(4,))
  x = np.random.default_rng(1).normal(size=(2, 8, 8, 1))
  with jax.enable_x64(True):
    params = jax.tree.map(lambda p: p.astype(jnp.float64), init(model, (8, 8, 1))['params'])
    f = jax.jit(lambda p, x: jnp.sum(jnp.sin(model.apply({'params': p}, x))))
    check_vjp(f, (params, jnp.asarray(x, jnp.float64)))


# ---------------------------------------------------------------------------
# Convolution implementations, pooling and batch chunks: the same function.



@pytest.mark.parametrize('pooling,flax_pool', [('max', 'max_pool'), ('avg', 'avg_pool')])
@pytest.mark.parametrize('hw', [(8, 8), (9, 7)], ids=str)
def test_spatial_pool_equals_flax_pooling(pooling, flax_pool, hw):
  import flax.linen as nn
  x = jnp.asarray(np.random.default_rng(2).normal(size=(2, *hw, 3)), jnp.float32)
  want = getattr(nn, flax_pool)(x, (2, 2), strides=(2, 2))
  np.testing.assert_allclose(cnn2d.spatial_pool(x, pooling, 2), want, rtol=1e-6)


@pytest.mark.parametrize('cfg', [
    dict(name='cnn2d', blocks=((4, 6),), dense=(8,)),
    dict(name='vgg', blocks=((4,), (6,)), norm='group', norm_groups=2),
    dict(name='lenet', blocks=((3,), (4,)), dense=(6,)),
], ids=str)
def test_conv_impls_and_batch_chunks_compute_the_same_function(cfg):
  shape = (12, 12, 2)
  spec = DataSpec(input_shape=shape, task='classification', num_outputs=5)
  x = jnp.asarray(np.random.default_rng(3).normal(size=(7,) + shape), jnp.float32)
  ref_model = build(spec, **cfg, conv_impl='native')
  params = init(ref_model, shape)['params']
  loss = lambda model: jax.jit(jax.value_and_grad(
      lambda p: jnp.sum(jnp.sin(model.apply({'params': p}, x)))))(params)
  want_value, want_grads = loss(ref_model)
  # 7 examples in chunks of 3: the last chunk is padded, and the padding dropped.
  for impl, chunk in [('im2col', 0), ('native', 3), ('im2col', 3), ('im2col', 7)]:
    model = build(spec, **cfg, conv_impl=impl, batch_chunk=chunk)
    assert jax.tree.structure(init(model, shape)['params']) == jax.tree.structure(params)
    value, grads = loss(model)
    np.testing.assert_allclose(value, want_value, rtol=1e-4)
    for have, want in zip(jax.tree.leaves(grads), jax.tree.leaves(want_grads)):
      np.testing.assert_allclose(have, want, rtol=1e-3, atol=1e-4)


def test_resnet_conv_impls_agree():
  shape = (8, 8, 3)
  x = jnp.asarray(np.random.default_rng(4).normal(size=(2,) + shape), jnp.float32)
  spec = DataSpec(input_shape=shape, task='classification', num_outputs=4)
  cfg = dict(name='resnet', stage_sizes=(1, 1), width=4, norm='group', norm_groups=2)
  ref = build(spec, **cfg, conv_impl='native')
  variables = init(ref, shape)
  np.testing.assert_allclose(jax.jit(build(spec, **cfg, conv_impl='im2col').apply)(variables, x),
                             jax.jit(ref.apply)(variables, x), rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------------------
# BatchNorm and dropout through the train step.


def synthetic_config(shape, num_classes=5, num_examples=16):
  c = ml_collections.ConfigDict()
  c.name = 'synthetic'
  c.shape = shape
  c.num_classes = num_classes
  c.num_examples = num_examples
  return c


def state_and_step(model_cfg, shape=(6, 6, 2), batch_size=8):
  dataset = data.load(synthetic_config(shape))
  model = build(dataset.spec, **model_cfg)
  mesh = parallel.make_mesh()
  tx = optim.make_optimizer(ml_collections.ConfigDict(
      configlib.base_config().optim.to_dict()), 10)
  state = jax.jit(lambda r: train.create_train_state(model, tx, shape, r),
                  out_shardings=parallel.replicated(mesh))(jax.random.key(0))
  batch = {k: v[:batch_size] for k, v in dataset.split('train').items()}
  batch['weights'] = np.ones(batch_size, np.float32)
  p_step = train.jit_train_step(tasks.get('classification'), mesh)
  batch = parallel.shard_batch({k: v[None] for k, v in batch.items()}, mesh, 1)

  def step(state, batch, rng):  # One replica, through the program's replica axis.
    state, metrics = p_step(jax.tree.map(lambda x: x[None], state), batch, rng[None])
    return train.replica(state, 0), jax.tree.map(lambda x: x[0, 0], metrics)  # [K=1, N=1]

  return model, state, batch, step, dataset


def test_batch_norm_statistics_update_and_eval_uses_running_averages():
  model, state, batch, step, dataset = state_and_step(
      dict(name='cnn2d', blocks=((4,),), dense=(), norm='batch'))
  before = jax.tree.map(np.asarray, state.model_state)
  assert set(before) == {'batch_stats'}
  new_state, metrics = step(state, batch, jax.random.key(1))
  assert np.isfinite(metrics['loss'])
  flat_before = jax.tree_util.tree_flatten_with_path(before)[0]
  for (path, old), new in zip(flat_before, jax.tree.leaves(new_state.model_state)):
    assert not np.array_equal(old, np.asarray(new)), f'{jax.tree_util.keystr(path)} unchanged'
  # Eval: an example's output does not depend on the rest of the batch.
  variables = {'params': new_state.params, **new_state.model_state}
  x = dataset.split('test')['inputs'][:4]
  apply = jit_apply(model)
  together = apply(variables, x)
  for i in range(4):
    alone = apply(variables, x[i:i + 1])
    np.testing.assert_allclose(together[i], alone[0], rtol=1e-5, atol=1e-5)
  # Training mode normalises by batch statistics: there it does depend on the batch.
  mutable_apply = jax.jit(lambda v, x: model.apply(v, x, train=True, mutable=['batch_stats']))
  assert not np.allclose(mutable_apply(variables, x)[0][0],
                         mutable_apply(variables, x[:2])[0][0], atol=1e-4)


def test_batch_norm_model_trains_and_resumes_end_to_end(tmp_path):
  config = configlib.load_config_file(os.path.join(BENCH_DIR, 'cnn_mnist.py'))
  config.data.shape = (8, 8, 3)
  config.data.num_examples = 32
  config.model.norm = 'batch'
  config.model.batch_chunk = 0  # BatchNorm normalises over the whole batch.
  config.model.blocks = ((4,),)
  config.model.dense = (8,)
  config = tiny(config, steps=2, every=1, batch_size=8)
  config.data.eval_batch_size = 8
  final = train.train_and_evaluate(config, str(tmp_path / 'run'))
  assert final['step'] == 2 and np.isfinite(final['eval/loss'])
  # Again: restores step 2's checkpoint, batch_stats included, and evaluates it.
  assert train.train_and_evaluate(config, str(tmp_path / 'run')) == final


def test_dropout_only_in_training():
  model = build(DataSpec((8, 8, 1), 'classification', 4), name='cnn2d', blocks=((4,),),
                dense=(16,), dropout=0.5)
  x = jax.random.normal(jax.random.key(2), (4, 8, 8, 1))
  variables = init(model, (8, 8, 1))
  apply = jax.jit(lambda x: model.apply(variables, x))  # No dropout RNG needed.
  evals = [apply(x) for _ in range(2)]
  np.testing.assert_array_equal(evals[0], evals[1])
  train_apply = jax.jit(lambda x, k: model.apply(variables, x, train=True,
                                                 rngs={'dropout': jax.random.key(k)}))
  a, b = (train_apply(x, k) for k in (0, 1))
  assert not np.allclose(a, b)
  assert not np.allclose(a, evals[0])
  no_dropout = build(DataSpec((8, 8, 1), 'classification', 4), name='cnn2d',
                     blocks=((4,),), dense=(16,), dropout=0.0)
  np.testing.assert_allclose(jax.jit(lambda x: no_dropout.apply(variables, x, train=True))(x),
                             evals[0], rtol=1e-6)


# ---------------------------------------------------------------------------
# The synthetic dataset.


def test_synthetic_dataset():
  ds = data.load(synthetic_config((5, 3), num_classes=4, num_examples=10))
  assert ds.spec == DataSpec(input_shape=(5, 3), task='classification', num_outputs=4)
  train_split, test_split = ds.split('train'), ds.split('test')
  assert train_split['inputs'].shape == (10, 5, 3) and train_split['inputs'].dtype == np.float32
  assert train_split['targets'].dtype == np.int32
  assert test_split['inputs'].shape == (2, 5, 3)
  assert set(np.unique(train_split['targets'])) <= set(range(4))
  again = data.load(synthetic_config((5, 3), num_classes=4, num_examples=10))
  np.testing.assert_array_equal(again.split('train')['inputs'], train_split['inputs'])
  assert not np.array_equal(test_split['inputs'], train_split['inputs'][:2])
  # torch_reference.py's make_data: inputs, then labels, from default_rng(0).
  rng = np.random.default_rng(0)
  np.testing.assert_array_equal(train_split['inputs'],
                                rng.standard_normal((10, 5, 3), dtype=np.float32))
  np.testing.assert_array_equal(train_split['targets'], rng.integers(0, 4, size=(10,)))


@pytest.mark.parametrize('field,value,message', [
    ('shape', (), 'data.shape=() must be a non-empty tuple of positive ints'),
    ('shape', (0, 3), 'data.shape=(0, 3)'),
    ('num_classes', 1, 'data.num_classes=1 must be an integer >= 2'),
    ('num_examples', 0, 'data.num_examples=0 must be an integer >= 1'),
])
def test_synthetic_bad_fields(field, value, message):
  c = synthetic_config((4, 2))
  c[field] = value
  with pytest.raises(ConfigError, match=message.replace('(', r'\(').replace(')', r'\)')):
    data.load(c)


# ---------------------------------------------------------------------------
# The benchmark.

KEYS = {'config', 'compile_s', 'ms_per_step_median', 'ms_per_step_min', 'ms_per_step_max',
        'steps_per_s', 'examples_per_s', 'num_params', 'flops_per_step', 'gflops_per_s',
        'matmul_flops_per_step', 'peak_memory_bytes', 'device_kind', 'jax_version'}
TINY_GRU = [f'--config={os.path.join(BENCH_DIR, "gru_seq.py")}',
            '--config.data.shape=(6,8)', '--config.data.batch_size=8',
            '--config.model.hidden_size=8', '--steps=3', '--warmup=1']


def test_benchmark_prints_one_json_line(capsys):
  assert benchmark.main(['benchmark'] + TINY_GRU) == 0
  lines = capsys.readouterr().out.strip().splitlines()
  assert len(lines) == 1
  result = json.loads(lines[0])
  assert KEYS <= set(result), KEYS - set(result)
  assert result['config'] == 'bench/gru_seq'
  assert result['timed_steps'] == 3 and result['batch_size'] == 8
  assert result['ms_per_step_min'] <= result['ms_per_step_median'] <= result['ms_per_step_max']
  assert result['num_params'] == 3 * 8 * 8 + 3 * 8 * 8 + 2 * 3 * 8 + 8 * 10 + 10
  assert result['model_widths'] == {'hidden_size': 8}
  assert result['flops_per_step'] > 0 and result['peak_memory_bytes'] > 0
  # Recurrent matmuls alone: forward 2*B*H*3H per step, backward twice that.
  assert result['matmul_flops_per_step'] >= 3 * 6 * 2 * 8 * 8 * 24
  assert result['jax_version'] == jax.__version__


def test_matmul_flops_counts_every_scan_step():
  def f(h, w, n):
    return jax.lax.scan(lambda h, _: (jnp.tanh(h @ w), None), h, None, length=n)[0].sum()
  h, w = jnp.ones((4, 8)), jnp.ones((8, 8))
  for n in (1, 5):
    jaxpr = jax.make_jaxpr(jax.jit(f, static_argnums=2), static_argnums=2)(h, w, n).jaxpr
    assert benchmark.matmul_flops(jaxpr) == (2 * 4 * 8 * 8 * n, False)


def test_benchmark_runs_a_token_config():
  # charlm_lstm: int32 byte tokens embedded by the model (an embedding needs integer inputs).
  config = tiny(configlib.load_config_file(os.path.join(CONFIG_DIR, 'charlm_lstm.py')),
                steps=2, batch_size=8)
  config.data.seq_len, config.model.hidden_size = 16, 8
  result = benchmark.benchmark(config, steps=2, warmup=0)
  V, E, H = 256, config.model.embed_dim, 8
  assert result['num_params'] == (V * E + (E * 4 * H + 4 * H) + (H * 4 * H + 4 * H)
                                  + (H * V + V))
  assert np.isfinite(result['loss_first']) and np.isfinite(result['loss_last'])
  assert abs(result['loss_first'] - np.log(V)) < 0.5  # About uniform over 256 bytes at init.
  assert result['input_shape'] == [16] and result['dataset'] == 'stdlib_text'


def token_split(n=6, T=3):
  return {'inputs': np.arange(n * T, dtype=np.int32).reshape(n, T),
          'targets': np.arange(n * T, dtype=np.int32).reshape(n, T) + 1}


def test_fixed_batch_takes_the_first_examples_of_a_token_split():
  batch = benchmark.fixed_batch(token_split(), 4)
  assert batch['inputs'].dtype == np.int32
  np.testing.assert_array_equal(batch['inputs'], token_split()['inputs'][:4])
  np.testing.assert_array_equal(batch['targets'], token_split()['targets'][:4])
  np.testing.assert_array_equal(batch['weights'], np.ones(4, np.float32))


def test_fixed_batch_reads_a_mapped_source_like_a_dict():
  class Rows:
    def __init__(self, arrays):
      self.arrays = arrays

    def __len__(self):
      return len(self.arrays['inputs'])

    def __getitems__(self, keys):
      return [{k: v[i] for k, v in self.arrays.items()} for i in keys]

  stack = lambda records: {k: np.stack([r[k] for r in records]) for k in records[0]}
  mapped = MappedSource(Rows(token_split()), stack)
  want = benchmark.fixed_batch(token_split(), 4)
  got = benchmark.fixed_batch(mapped, 4)
  assert set(got) == set(want)
  for k in want:
    np.testing.assert_array_equal(got[k], want[k])


@pytest.mark.parametrize('split,message', [
    (token_split(), 'data.batch_size=8 is larger than the 6 training examples'),
    ([np.zeros(3)] * 10, 'not a list split'),
])
def test_fixed_batch_errors(split, message):
  with pytest.raises(ConfigError, match=message):
    benchmark.fixed_batch(split, 8)


@pytest.mark.parametrize('args,fragment', [
    (['--steps=abc'], "flag --steps=abc"),
    (['--steps=0'], '--steps=0 must be >= 1'),
    (['--config.model.hiden_size=3'], "unknown config key 'model.hiden_size'"),
    (['--config.data.batch_size=6'], 'data.batch_size=6 is not divisible by the 4 devices'),
    (['--config.data.batch_size=128'], 'data.batch_size=128 is larger than the 64'),
])
def test_benchmark_usage_errors(args, fragment, capsys):
  assert benchmark.main(['benchmark'] + TINY_GRU + args) == 2
  captured = capsys.readouterr()
  lines = captured.err.strip().splitlines()
  assert captured.out == ''
  assert len(lines) == 1 and lines[0].startswith('error: ') and fragment in lines[0], lines


def test_benchmark_command_line_bad_flag_exits_2():
  result = subprocess.run([sys.executable, '-m', 'cnn_vs_rnn.benchmark',
                           '--config', os.path.join(BENCH_DIR, 'gru_seq.py'), '--stepz=3'],
                          cwd=REPO, capture_output=True, text=True)
  assert result.returncode == 2, result.stderr
  assert result.stdout == ''
  assert result.stderr.strip().splitlines() == [
      "error: Unknown command line flag 'stepz'. Did you mean: steps ?"]


# The torch_reference.py models' parameter counts (PyTorch has two biases per gate).
TORCH_PARAMS = {
    'lstm_pixel': 4 * 128 * (1 + 128) + 2 * 4 * 128 + dense_params(128, 10),
    'gru_seq': 3 * 128 * (8 + 128) + 2 * 3 * 128 + dense_params(128, 10),
    'tcn_seq': (7 * 1 * 25 + 25) + (7 * 25 * 25 + 25) + (1 * 25 + 25)   # level 0 (+1x1)
               + 7 * 2 * (7 * 25 * 25 + 25) + dense_params(25, 10),
    'cnn_mnist': 1_199_882,
}


def bench_paths():
  return sorted(glob.glob(os.path.join(BENCH_DIR, '*.py')))


def test_every_torch_case_has_a_bench_config():
  assert {os.path.basename(p)[:-3] for p in bench_paths()} == set(TORCH_PARAMS)


@pytest.mark.parametrize('path', bench_paths(), ids=os.path.basename)
def test_bench_config_runs_one_step(path):
  name = os.path.basename(path)[:-3]
  doc = open(path).read().split('"""')[1]
  assert f'python -m cnn_vs_rnn.benchmark --config configs/bench/{name}.py' in doc
  assert f'--case {name}' in doc and 'Expected' in doc
  config = configlib.load_config_file(path)
  if config.model.name not in models.MODELS:
    pytest.skip(f'model {config.model.name!r} is not registered yet')
  assert config.data.name == 'synthetic' and config.optim.name == 'adam'
  assert config.optim.learning_rate == 1e-3
  spec = DataSpec(tuple(config.data.shape), 'classification', config.data.num_classes)
  variables, _ = abstract_init(models.build(config.model, spec), spec.input_shape)
  assert models.count_params(variables['params']) == TORCH_PARAMS[name]
  # The step itself on 16 steps instead of hundreds, or 12x12 images.
  config.data.shape = (16, config.data.shape[1]) if len(spec.input_shape) == 2 else (12, 12, 1)
  config.data.batch_size = 8
  result = benchmark.benchmark(config, steps=1, warmup=0)
  assert np.isfinite(result['loss_first']) and result['num_params'] > 0
