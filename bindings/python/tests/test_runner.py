"""Supervision steps: shapes, the recursion count, the carry and reproducibility."""

import numpy as np
import pytest

import trmdis

from helpers import tiny_config

B = 3


def tokens_for(config, seed=0, batch=B):
    return np.random.default_rng(seed).integers(0, config.vocab_size, (batch, config.seq_len), dtype=np.int32)


def first_step(seed, config=None):
    config = config or tiny_config()
    with trmdis.Model(config, seed=seed) as model, trmdis.Runner(model, B) as runner:
        return runner.step(tokens_for(config), puzzle_ids=np.array([0, 1, 2]))


def test_step_shapes_and_net_calls():
    config = tiny_config()
    with trmdis.Model(config, seed=1) as model, trmdis.Runner(model, B) as runner:
        assert runner.net_calls == 0
        per_step = config.h_cycles * (config.l_cycles + 1)
        for step in range(1, 4):
            logits, q = runner.step(tokens_for(config, step), time_step=step)
            assert logits.shape == (B, config.seq_len, config.vocab_size) and logits.dtype == np.float32
            assert q.shape == (B, 2) and q.dtype == np.float32
            assert np.isfinite(logits).all() and np.isfinite(q).all()
            assert runner.net_calls == step * per_step == step * 8
        runner.reset_carry()
        assert runner.net_calls == 0


@pytest.mark.parametrize("mixer", list(trmdis.Mixer))
@pytest.mark.parametrize("pos", list(trmdis.PosEncoding))
def test_every_mixer_and_position_encoding(mixer, pos):
    config = tiny_config(mixer=mixer, pos_encoding=pos, time_embedding=True)
    with trmdis.Model(config, seed=2) as model, trmdis.Runner(model, 2) as runner:
        logits, q = runner.step(tokens_for(config, batch=2), time_step=2)
        assert np.isfinite(logits).all() and np.isfinite(q).all()


def test_same_seed_same_bits_different_seed_different():
    a_logits, a_q = first_step(seed=11)
    b_logits, b_q = first_step(seed=11)
    c_logits, _ = first_step(seed=12)
    assert a_logits.tobytes() == b_logits.tobytes() and a_q.tobytes() == b_q.tobytes()
    assert not np.array_equal(a_logits, c_logits)


def test_carry_moves_and_reset_restores_it():
    config = tiny_config()
    tokens = tokens_for(config)
    with trmdis.Model(config, seed=5) as model, trmdis.Runner(model, B) as runner:
        first, _ = runner.step(tokens)
        second, _ = runner.step(tokens)
        assert not np.array_equal(first, second)
        runner.reset_carry()
        again, _ = runner.step(tokens)
        assert again.tobytes() == first.tobytes()


def test_puzzle_ids_and_time_steps_select_embeddings():
    config = tiny_config(time_embedding=True)
    tokens = tokens_for(config)
    with trmdis.Model(config, seed=6) as model, trmdis.Runner(model, B) as runner:
        outputs = []
        for ids, step in (([0, 0, 0], 1), (None, 1), ([0, 0, 0], 2)):
            runner.reset_carry()
            outputs.append(runner.step(tokens, puzzle_ids=None if ids is None else np.array(ids), time_step=step)[0])
        assert outputs[0].tobytes() == outputs[1].tobytes()  # None means all 0
        assert not np.array_equal(outputs[0], outputs[2])  # the DIS time embedding differs


def test_runner_keeps_model_alive():
    config = tiny_config()
    model = trmdis.Model(config, seed=7)
    runner = trmdis.Runner(model, 1)
    model.close()
    logits, _ = runner.step(tokens_for(config, batch=1))
    assert np.isfinite(logits).all()
    runner.close()
    runner.close()
    with pytest.raises(trmdis.InvalidArgumentError, match="closed"):
        runner.reset_carry()


def test_tokens_accept_other_integer_dtypes():
    config = tiny_config()
    tokens = tokens_for(config)
    with trmdis.Model(config, seed=8) as model, trmdis.Runner(model, B) as runner:
        a, _ = runner.step(tokens)
        runner.reset_carry()
        b, _ = runner.step(tokens.astype(np.int64).tolist())
        assert a.tobytes() == b.tobytes()
