"""Test setup: 4 fake CPU devices and a private TFDS data directory.

Both must be set before jax or tensorflow_datasets are imported. Under
pytest-xdist (the README's test command runs 2 workers), each worker gets
its own data directory, so no two processes prepare one dataset at once.

Faster compilation at a lower LLVM optimisation level was tried and dropped
(`--xla_backend_optimization_level`): at 1 the suite's test_configs ran in
0.83x the time, but a VGG with group norm got gradients unlike the default
build's (tests/test_cnn2d_benchmark.py), and at 0 a float64 finite-difference
check got a NaN. The tests compile as the programs do.

No test is ever rerun, and a crashed worker fails the suite. Crashes were
seen on this 2-core machine when the all-reduce of the 4 simulated devices
(XLA's in-process rendezvous) deadlocked, 3 of the 4 device threads waiting
for a fourth that never arrived, until XLA aborted the process after 40 s
(SIGABRT). Both causes found were removed: batched LAPACK QRs of a vmapped
orthogonal init holding both XLA pool threads (kernels/init.py,
`orthogonal_init`), and overlapping evaluation batches (one evaluation batch
in flight at a time: train.evaluate_per_seed).
"""

import os
import shutil
import tempfile

os.environ['XLA_FLAGS'] = (os.environ.get('XLA_FLAGS', '') +
                           ' --xla_force_host_platform_device_count=4').strip()
os.environ.setdefault('JAX_PLATFORMS', 'cpu')
_WORKER = os.environ.get('PYTEST_XDIST_WORKER', '')
if 'TFDS_DATA_DIR' not in os.environ or os.environ.get('CNN_VS_RNN_TEST_TFDS') == 'temp':
  # Ours (a temp dir), not the user's: a fresh one per process, workers included.
  os.environ['TFDS_DATA_DIR'] = tempfile.mkdtemp(prefix=f'cnn_vs_rnn_tfds_{_WORKER}')
  os.environ['CNN_VS_RNN_TEST_TFDS'] = 'temp'

# One persistent compilation cache for the whole run: the xdist workers and the
# processes the tests start (train, resume, evaluate, sweeps, 2-process runs)
# inherit it, so a program compiled once (the same step after a resume, in the
# second process of a multi-host run, in the next test that builds the same
# config) is read back instead of compiled again. On test_faults.py and
# test_train.py it cut the wall time to 0.69x (330 s -> 226 s, 2 workers). The
# cache is this run's own (a fresh temp dir, removed at the end) unless
# JAX_COMPILATION_CACHE_DIR is already set, so no run reuses another's programs.
_OWN_CACHE = 'JAX_COMPILATION_CACHE_DIR' not in os.environ
if _OWN_CACHE:
  os.environ['JAX_COMPILATION_CACHE_DIR'] = tempfile.mkdtemp(prefix='cnn_vs_rnn_jax_cache_')
  os.environ.setdefault('JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS', '0.2')

import glob  # pylint: disable=g-import-not-at-top,wrong-import-position

import pytest  # pylint: disable=g-import-not-at-top,wrong-import-position


def pytest_unconfigure(config):
  del config
  if _OWN_CACHE:  # The process that made it (xdist's controller, or pytest alone).
    shutil.rmtree(os.environ['JAX_COMPILATION_CACHE_DIR'], ignore_errors=True)


REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# The `slow` tier (`pytest -m "not slow"` leaves it out): the test functions that
# train whole processes, studies or every config end to end, or compile many
# models, chosen by their measured time under --durations=0 on a quiet 2-core
# Intel Xeon (2026-12-08: the tier of 617 tests took 273 s; with 22 more of its
# costliest functions here, 561 tests in 172 s). '*' marks a whole file.
SLOW = {
    'test_arrays.py': ('test_a_good_file_trains', 'test_no_config_file_is_needed',
        'test_the_command_line_gives_the_same_line'),
    'test_bad_inputs.py': ('test_bad_input', 'test_the_command_line_gives_the_same_line'),
    'test_checkpointing.py': ('test_training_stops_with_exit_code_1_and_one_line',),
    'test_cli.py': ('test_bad_config_values', 'test_workdir_of_another_config'),
    'test_cnn2d_benchmark.py': ('test_bench_config_runs_one_step',
        'test_conv_impls_and_batch_chunks_compute_the_same_function'),
    'test_compare.py': ('test_a_tiny_comparison_tests_once_and_a_rerun_trains_nothing',),
    'test_configs.py': ('test_config_trains_end_to_end',),
    'test_diagnose.py': ('test_diagnose_command_line',
        'test_every_recurrent_family_obeys_the_chain_rule'),
    'test_diagnostics_every_steps.py': ('test_diagnostics_with_replicas_report_mean_std_and_each_seed',),
    'test_dtype.py': ('test_bfloat16_train_steps_decrease_the_loss',
        'test_every_matmul_and_convolution_runs_in_bfloat16',
        'test_float32_is_the_inferred_function_and_bfloat16_is_close_to_it',
        'test_fused_and_scan_recurrences_agree_in_bfloat16',
        'test_padding_does_not_change_bfloat16_results'),
    'test_extending.py': ('test_the_extending_example_trains_resumes_and_evaluates',),
    'test_faults.py': ('test_a_full_disk_stops_with_one_line_and_keeps_the_checkpoints_before_it',
        'test_a_read_only_file_system_is_one_line',
        'test_a_read_only_workdir_for_an_unprivileged_user_is_one_line',
        'test_a_second_run_on_a_workdir_in_use_exits_2_naming_the_first',
        'test_evaluate_of_a_flipped_bit_by_step_is_one_line',
        'test_evaluate_skips_a_flipped_bit_with_one_warning',
        'test_every_checkpoint_damaged_stops_with_one_error_then_starts_over',
        'test_garbled_metrics_are_reported_in_one_line_and_the_readable_ones_kept',
        'test_signal_saves_a_checkpoint_and_resume_is_bitwise_identical'),
    'test_fcn.py': ('test_every_parameter_gets_a_gradient',
        'test_forward_pass_is_the_reviews_equations',
        'test_gradients_match_finite_differences',
        'test_lstm_fcn_gradients_match_finite_differences', 'test_output_shapes',
        'test_padding_changes_neither_training_outputs_nor_batch_statistics'),
    'test_hybrids.py': ('test_conv3d_is_flax_conv_values_and_gradients',
        'test_output_shape_and_a_gradient_for_every_parameter',
        'test_padding_never_changes_an_output'),
    'test_kernels.py': ('test_cnn1d_conv_impls_are_one_function',
        'test_fused_recurrence_equals_autodiff_of_the_equations',
        'test_im2col_conv2d_equals_lax_conv_values_and_gradients',
        'test_im2col_values_and_gradients_equal_lax_autodiff',
        'test_orthogonal_init_is_jax_orthogonal_and_vmaps_one_matrix_at_a_time',
        'test_tcn_conv_impls_are_one_function',
        'test_values_and_gradients_equal_lax_autodiff'),
    'test_models.py': ('test_elman_recurrent_inits_and_their_spectral_radius',
        'test_fused_recurrence_equals_scan_values_and_gradients',
        'test_gradients_match_finite_differences', 'test_padding_does_not_change_results'),
    'test_multihost.py': ('test_a_corrupt_checkpoint_is_quarantined_once_by_process_0',
        'test_only_process_0_prints_and_writes_run_files',
        'test_two_processes_train_bucketed_imdb_like_one_process',
        'test_two_processes_train_the_default_config_like_one_process'),
    'test_next_frame.py': ('test_a_next_frame_config_trains_and_logs_the_baselines',
        'test_convlstm_pixel_head_reads_each_cell_of_the_final_state',
        'test_param_budget_sizes_the_pixel_heads',
        'test_pixel_head_output_shape_and_a_gradient_for_every_parameter'),
    'test_padding.py': ('test_padding_never_changes_an_output',),
    'test_replica_grid.py': ('test_a_grid_with_warmup_and_cosine_under_adam_matches_single_runs',
        'test_a_replica_reproduces_the_single_run_with_its_seed_and_learning_rate',
        'test_the_best_step_is_picked_per_point'),
    'test_seeds_loops.py': ('test_a_loop_shortens_itself_to_log_steps_that_k_does_not_divide',
        'test_replica_k_reproduces_the_run_with_seed_plus_k',
        'test_seed_axis_on_four_devices_equals_one_device',
        'test_steps_per_loop_50_equals_one_step_per_call_after_1000_steps'),
    'test_selection.py': ('test_the_best_validation_step_is_evaluated_once_on_test',),
    'test_seq2seq_dense.py': ('test_every_parameter_gets_a_gradient',),
    'test_sizing.py': ('test_budget_is_met_within_five_percent',
        'test_seq2seq_budget_scales_only_the_widths_its_configuration_uses'),
    'test_splits.py': ('test_each_generation_parameter_makes_its_own_cache',
        'test_three_disjoint_splits_and_a_fixed_validation_carve_out',
        'test_validation_fraction_zero_keeps_train_whole'),
    'test_studies.py': ('test_grids_vs_sequences_pipeline_at_a_tiny_size',
        'test_recurrence_context_hidden_states_are_what_the_head_reads',
        'test_recurrence_context_pipeline_at_a_tiny_size',
        'test_recurrence_context_plans_every_sweep',
        'test_vanishing_exploding_pipeline_at_a_tiny_size'),
    'test_study_cnns_for_sequences.py': ('test_pipeline_at_a_tiny_size',),
    'test_study_cost.py': '*',
    'test_study_spatial_hierarchies.py': '*',
    'test_study_use_cases.py': ('test_use_cases_pipeline_at_a_tiny_size',),
    'test_sweep_plot.py': ('test_results_equal_each_runs_final_metrics',
        'test_second_invocation_skips_finished_runs', 'test_seed_runs_crash_and_resume'),
    'test_tasks_data.py': ('test_keywords_are_balanced_and_separable',
        'test_sample_padding_does_not_change_next_token_logits'),
    'test_tcn_lru.py': ('test_associative_scan_equals_sequential',
        'test_causal_conv_is_flax_conv_values_and_gradients',
        'test_lru_dropout_only_when_training', 'test_lru_model_scan_types_agree',
        'test_lru_padding_does_not_change_results',
        'test_lru_recurrence_custom_vjp_equals_autodiff_of_the_scan',
        'test_registry_builds_from_config_dict',
        'test_tcn_gradients_match_finite_differences', 'test_tcn_is_causal',
        'test_tcn_receptive_field_matches_gradient_probe'),
    'test_tfds_sources.py': ('test_a_bucketed_config_trains_end_to_end',),
    'test_train.py': ('test_four_devices_give_the_same_loss_and_gradients_as_one',
        'test_sigkill_then_resume_is_bitwise_identical'),
    'test_ucr.py': ('test_a_variable_length_set_trains',),
}


def pytest_collection_modifyitems(config, items):
  del config
  for item in items:
    names = SLOW.get(os.path.basename(str(item.fspath)), ())
    if names == '*' or getattr(item, 'originalname', item.name) in names:
      item.add_marker(pytest.mark.slow)

CONFIG_DIR = os.path.join(REPO, 'configs')


def config_paths():
  return sorted(glob.glob(os.path.join(CONFIG_DIR, '*.py')))


def tiny(config, steps=4, every=2, batch_size=8):
  """A copy of `config` shrunk to a few steps (batch divisible by 4 devices)."""
  config = config.copy_and_resolve_references()
  config.num_train_steps = steps
  config.log_every_steps = every
  config.eval_every_steps = every
  config.checkpoint_every_steps = every
  config.data.batch_size = batch_size
  config.data.eval_batch_size = 16
  if 'num_train' in config.data:  # Procedural datasets: generate a small variant.
    config.data.num_train, config.data.num_test = 64, 40
  return config


@pytest.fixture(scope='session')
def mnist1d():
  """MNIST-1D generated once into the session's TFDS_DATA_DIR."""
  from cnn_vs_rnn import data  # pylint: disable=g-import-not-at-top
  from cnn_vs_rnn.configlib import load_config_file  # pylint: disable=g-import-not-at-top
  return data.load(load_config_file(os.path.join(CONFIG_DIR, 'mnist1d_cnn.py')).data)


def jit_init(module, rng, *args, **kwargs):
  """`module.init(rng, *args, **kwargs)` as one compiled program.

  Called eagerly, flax's init dispatches every primitive on its own, and on
  XLA:CPU each distinct one compiles (0.03-0.04 s apiece: 191 compiles and
  7.3 s for one small LRU). Array keyword arguments are traced; any other
  (train=False, a string) is static.
  """
  import functools  # pylint: disable=g-import-not-at-top
  import jax  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  arrays = {k: v for k, v in kwargs.items() if isinstance(v, (jax.Array, np.ndarray))}
  static = {k: v for k, v in kwargs.items() if k not in arrays}
  return jax.jit(functools.partial(module.init, **static))(rng, *args, **arrays)


def jit_apply(module):
  """`module.apply` compiled, with `train` static (one program per shape and mode)."""
  import jax  # pylint: disable=g-import-not-at-top
  return jax.jit(module.apply, static_argnames='train')


def outputs_and_vjp(f, x, w, cotangent):
  """f(x, w) and the cotangents of (x, w) for `cotangent`, as one compiled program."""
  import jax  # pylint: disable=g-import-not-at-top

  def both(x, w, cotangent):
    out, pullback = jax.vjp(f, x, w)
    return out, pullback(cotangent)
  return jax.jit(both)(x, w, cotangent)


def check_vjp(f, args, eps=1e-4, atol=None, rtol=None):
  """jax.test_util.check_grads(f, args, order=1, modes=['rev']) as one compiled program.

  The same check with the same draws: a central difference of `f` along a
  random tangent (numpy RandomState(0), drawn as check_grads draws it),
  projected on a random cotangent, against that cotangent's VJP projected on
  the tangent, within check_grads' tolerance (its default for the dtype, 1e-5
  for float64, times the size). check_grads does the tree arithmetic op by op,
  and on XLA:CPU every leaf shape then compiles programs of its own.
  """
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  rng = np.random.RandomState(0)
  draw = lambda a: np.asarray(rng.randn(*np.shape(a)), a.dtype)
  tangent = jax.tree.map(draw, args)
  cotangent = jax.tree.map(draw, jax.eval_shape(f, *args))

  @jax.jit
  def projections(args, tangent, cotangent):
    moved = lambda s: jax.tree.map(lambda a, t: a + s * t, args, tangent)
    numerical = jax.tree.map(lambda hi, lo: (hi - lo) * (0.5 / eps),
                             f(*moved(eps)), f(*moved(-eps)))
    _, pullback = jax.vjp(f, *args)
    dot = lambda xs, ys: sum(jnp.vdot(x, y).real for x, y in
                             zip(jax.tree.leaves(xs), jax.tree.leaves(ys)))
    return dot(tangent, pullback(cotangent)), dot(numerical, cotangent)

  autodiff, numerical = projections(args, tangent, cotangent)
  default = {np.dtype(np.float64): 1e-5, np.dtype(np.float32): 2e-3}[np.asarray(autodiff).dtype]
  np.testing.assert_allclose(autodiff, numerical, atol=atol or default, rtol=rtol or default,
                             err_msg='cotangent projection')


def check_model_grads_float64(model, x):
  """check_vjp of `model.apply` at random N(0, 0.5) float64 parameters.

  Call under jax.enable_x64(True), with x in float64: finite differences are
  then exact enough, and random non-zero parameters keep ReLU inputs off
  their kinks.
  """
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  import jax.test_util  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  params = jit_init(model, jax.random.key(0), x)['params']
  rng = np.random.default_rng(0)
  params = jax.tree.map(lambda l: jnp.asarray(rng.normal(0, 0.5, l.shape)), params)
  f = jax.jit(lambda p, x: model.apply({'params': p}, x))
  assert f(params, x).dtype == jnp.float64
  check_vjp(f, (params, x), eps=1e-6)
