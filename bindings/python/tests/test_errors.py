"""Bad input raises the matching exception with the library's message, and never crashes."""

import ctypes

import numpy as np
import pytest

import trmdis
from trmdis import _lib

from helpers import tiny_config

B = 2


@pytest.fixture
def runner():
    config = tiny_config(time_embedding=True)
    with trmdis.Model(config, seed=1) as model, trmdis.Runner(model, B) as r:
        yield r


def good_tokens(runner):
    return np.zeros((runner.batch_size, runner.model.config.seq_len), dtype=np.int32)


def test_bad_preset():
    for make in (trmdis.ModelConfig.preset, trmdis.Model):
        with pytest.raises(trmdis.InvalidArgumentError) as info:
            make("no-such-preset")
        assert info.value.status == 1
        assert "trm_model_config_preset" in info.value.message and "no-such-preset" in info.value.message
        assert "sudoku-att" in str(info.value)  # lists the known names


@pytest.mark.parametrize("value", [-1, 5, 2**31 - 1, -(2**31)])
def test_token_out_of_range(runner, value):
    tokens = good_tokens(runner)
    tokens[1, 3] = value
    with pytest.raises(trmdis.InvalidArgumentError, match=r"trm_runner_step: token .* outside"):
        runner.step(tokens)
    assert runner.net_calls == 0  # the carry did not move


def test_puzzle_id_and_time_step_out_of_range(runner):
    with pytest.raises(trmdis.InvalidArgumentError, match="puzzle id 3"):
        runner.step(good_tokens(runner), puzzle_ids=np.array([0, 3]))
    with pytest.raises(trmdis.InvalidArgumentError, match="time step"):
        runner.step(good_tokens(runner), time_step=runner.model.config.supervision_steps + 2)
    with pytest.raises(trmdis.InvalidArgumentError, match="time_step"):
        runner.step(good_tokens(runner), time_step=2**40)


@pytest.mark.parametrize("shape", [(B,), (B, 5), (B + 1, 6), (6, B), (B, 6, 1)])
def test_wrong_token_shapes(runner, shape):
    with pytest.raises(trmdis.InvalidArgumentError, match="shape"):
        runner.step(np.zeros(shape, dtype=np.int32))


def test_wrong_token_types(runner):
    with pytest.raises(trmdis.InvalidArgumentError, match="integers"):
        runner.step(good_tokens(runner).astype(np.float32))
    huge = good_tokens(runner).astype(np.int64)
    huge[0, 0] = 2**32 + 1  # would wrap to 1 as int32
    with pytest.raises(trmdis.InvalidArgumentError, match="int32"):
        runner.step(huge)
    with pytest.raises(trmdis.InvalidArgumentError, match="shape"):
        runner.step(good_tokens(runner), puzzle_ids=np.array([0, 0, 0]))


def raw_step(runner, n_tokens_delta=0, n_ids_delta=0, n_logits_delta=0, n_q_delta=0, ids=True):
    """trm_runner_step with chosen buffer lengths; returns (status, logits, q) with sentinel-filled buffers."""
    c, b = runner.model.config, runner.batch_size
    tokens = np.zeros(b * c.seq_len, dtype=np.int32)
    puzzle = np.zeros(b, dtype=np.int32)
    logits = np.full(b * c.seq_len * c.vocab_size, -7.0, dtype=np.float32)
    q = np.full(2 * b, -7.0, dtype=np.float32)
    i32, f32 = ctypes.POINTER(ctypes.c_int32), ctypes.POINTER(ctypes.c_float)
    status = _lib.lib.trm_runner_step(
        runner.handle, tokens.ctypes.data_as(i32), tokens.size + n_tokens_delta,
        puzzle.ctypes.data_as(i32) if ids else None, puzzle.size + n_ids_delta, 1,
        logits.ctypes.data_as(f32), logits.size + n_logits_delta, q.ctypes.data_as(f32), q.size + n_q_delta)
    return status, logits, q


@pytest.mark.parametrize("deltas,word", [
    (dict(n_tokens_delta=-1), "n_tokens"),
    (dict(n_tokens_delta=1), "n_tokens"),
    (dict(n_ids_delta=-1), "n_puzzle_ids"),
    (dict(n_logits_delta=1), "n_logits"),
    (dict(n_logits_delta=-1), "n_logits"),
    (dict(n_q_delta=1), "n_q_logits"),
    (dict(ids=False), "puzzle_ids is NULL"),
])
def test_wrong_buffer_lengths(runner, deltas, word):
    status, logits, q = raw_step(runner, **deltas)
    assert status == _lib.TRM_ERR_INVALID_ARG
    message = _lib.lib.trm_last_error().decode()
    assert message.startswith("trm_runner_step:") and word in message
    assert (logits == -7.0).all() and (q == -7.0).all()  # caller buffers untouched
    with pytest.raises(trmdis.InvalidArgumentError, match=word):
        trmdis.check(status)
    assert raw_step(runner)[0] == _lib.TRM_OK


@pytest.mark.parametrize("changes,pattern", [
    (dict(hidden_size=17), "hidden_size must be a multiple of num_heads"),
    (dict(hidden_size=18), "even head dimension"),
    (dict(num_heads=0), "num_heads"),
    (dict(vocab_size=-1), "vocab_size"),
    (dict(seq_len=-6), "seq_len"),
    (dict(hidden_size=-16), "hidden_size"),
    (dict(num_layers=-1), "num_layers"),
    (dict(h_cycles=0), "h_cycles"),
    (dict(l_cycles=-2), "l_cycles"),
    (dict(supervision_steps=0), "supervision_steps"),
    (dict(puzzle_emb_len=-1), "puzzle_emb_len"),
    (dict(num_puzzle_identifiers=-5), "num_puzzle_identifiers"),
    (dict(expansion=float("nan")), "expansion must be finite"),
    (dict(expansion=-2.0), "expansion"),
    (dict(rope_theta=float("inf")), "rope_theta must be finite"),
    (dict(rms_norm_eps=float("nan")), "rms_norm_eps must be finite"),
    (dict(rms_norm_eps=0.0), "rms_norm_eps"),
    (dict(mixer=5), "mixer"),
    (dict(pos_encoding=-1), "pos_encoding"),
])
def test_bad_config_values(changes, pattern):
    with pytest.raises(trmdis.InvalidArgumentError, match=pattern) as info:
        trmdis.Model(tiny_config(**changes))
    assert info.value.message.startswith("trm_model_create: ")


@pytest.mark.parametrize("changes", [dict(vocab_size=2**32 + 5), dict(hidden_size="16"), dict(num_layers=1.5),
                                     dict(time_embedding=2), dict(expansion=1e40)])
def test_config_values_c_cannot_hold(changes):
    with pytest.raises(trmdis.InvalidArgumentError):
        trmdis.Model(tiny_config(**changes))


def test_struct_size_mismatch_is_an_abi_error():
    s = tiny_config().to_struct()
    handle = ctypes.c_void_p(1234)
    for size in (0, s.struct_size - 4, s.struct_size + 8):
        s.struct_size = size
        status = _lib.lib.trm_model_create(ctypes.byref(s), 0, ctypes.byref(handle))
        assert status == _lib.TRM_ERR_ABI and handle.value == 1234
        with pytest.raises(trmdis.ABIError, match="struct_size"):
            trmdis.check(status)


def test_null_pointers_are_refused():
    handle = ctypes.c_void_p(99)
    assert _lib.lib.trm_model_create(None, 0, ctypes.byref(handle)) == _lib.TRM_ERR_INVALID_ARG
    assert _lib.lib.trm_runner_create(None, 1, ctypes.byref(handle)) == _lib.TRM_ERR_INVALID_ARG
    assert _lib.lib.trm_model_config_preset(None, None) == _lib.TRM_ERR_INVALID_ARG
    assert _lib.lib.trm_runner_net_calls(None, None) == _lib.TRM_ERR_INVALID_ARG
    assert handle.value == 99
    _lib.lib.trm_model_free(None)
    _lib.lib.trm_runner_free(None)
    _lib.lib.trm_model_config_init(None)


def test_bad_batch_sizes_and_seeds():
    with trmdis.Model(tiny_config()) as model:
        for batch in (0, -1, 2**20 + 1, 2**31, "2"):
            with pytest.raises(trmdis.InvalidArgumentError, match="batch_size"):
                trmdis.Runner(model, batch)
    for seed in (-1, 2**64, 1.5):
        with pytest.raises(trmdis.InvalidArgumentError, match="seed"):
            trmdis.Model(tiny_config(), seed=seed)


def test_shapes_that_cannot_fit_in_memory():
    with pytest.raises(trmdis.OutOfMemoryError, match="GiB"):
        trmdis.Model(tiny_config(vocab_size=2**20, hidden_size=16384, num_heads=128, num_layers=64, expansion=64.0))
    with trmdis.Model("sudoku-att") as model:
        with pytest.raises(trmdis.OutOfMemoryError) as info:
            trmdis.Runner(model, 2**20)
        assert isinstance(info.value, MemoryError) and info.value.status == _lib.TRM_ERR_OOM


def test_exception_hierarchy():
    assert issubclass(trmdis.InvalidArgumentError, ValueError)
    for cls in (trmdis.InvalidArgumentError, trmdis.TRMIOError, trmdis.FormatError, trmdis.OutOfMemoryError,
                trmdis.AbortedError, trmdis.ABIError, trmdis.InternalError):
        assert issubclass(cls, trmdis.TRMError)
    assert [trmdis.errors.error_for(s).__class__ for s in (1, 6, 42)] == [
        trmdis.InvalidArgumentError, trmdis.ABIError, trmdis.TRMError]
