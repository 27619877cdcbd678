"""Inference repeats the protocol the model was trained with (docs/model.md: The inference protocol): each
test compares Model.predict's default with a Runner loop written out here, and checks that the other
protocol gives other logits, so the comparison can fail."""

import numpy as np
import pytest

import trmdis

from helpers import FAST, progression, progression_config


def runner_loop(model, inputs, steps, feedback, row):
    """(trace, last logits) of a hand-written loop: time row row(s) at step s; with feedback, each step's
    argmax is the next input."""
    runner = trmdis.Runner(model, len(inputs))
    tokens, trace = inputs.copy(), []
    for s in range(1, steps + 1):
        logits, _ = runner.step(tokens, time_step=row(s))
        trace.append(logits.argmax(-1).astype(np.int32))
        if feedback:
            tokens = trace[-1]
    runner.close()
    return np.stack(trace), logits


def train(model, **params):
    x, y = progression(128, seed=1)
    with trmdis.Dataset(x, y) as data, trmdis.Trainer(model, data, max_steps=8, **{**FAST, **params}) as t:
        t.run(progress=False)


@pytest.fixture
def reload(tmp_path):
    def reloaded(model):
        path = tmp_path / "model.safetensors"
        model.save(path)
        return trmdis.Model.load(path)
    return reloaded


def test_trm_model_keeps_the_input_and_time_row_one(reload):
    # A TRM-ACT model whose configuration has a step-time table, asked for explicitly.
    model = trmdis.Model(progression_config(puzzle_emb_len=0, num_puzzle_identifiers=0), seed=2)
    train(model, method="trm")
    loaded = reload(model)
    assert loaded.protocol == trmdis.InferenceProtocol(recorded=True, method="trm", feedback=False,
                                                       time_rows="first", supervision_steps=4)
    x, y = progression(9, seed=5)
    want_trace, want_logits = runner_loop(loaded, x, 4, feedback=False, row=lambda s: 1)
    p = loaded.predict(x, logits=True)
    np.testing.assert_array_equal(p.trace, want_trace)
    np.testing.assert_array_equal(p.logits, want_logits)
    _, dis_logits = runner_loop(loaded, x, 4, feedback=True, row=lambda s: s)
    assert not np.array_equal(dis_logits, want_logits), "the test cannot tell the protocols apart"
    # evaluate follows the same protocol.
    with trmdis.Dataset(x, y) as data:
        result = loaded.evaluate(data)
    assert result.exact_accuracy == pytest.approx(np.mean((want_trace[-1] == y).all(axis=1)))


def test_dis_trained_without_feedback_is_evaluated_without(reload):
    model = trmdis.Model(progression_config(puzzle_emb_len=0, num_puzzle_identifiers=0), seed=2)
    train(model, method="dis", feedback_predictions=False)
    loaded = reload(model)
    assert loaded.protocol.feedback is False and loaded.protocol.time_rows == "per-step"
    x, _ = progression(9, seed=5)
    want_trace, want_logits = runner_loop(loaded, x, 4, feedback=False, row=lambda s: s)
    p = loaded.predict(x, logits=True)
    np.testing.assert_array_equal(p.trace, want_trace)
    np.testing.assert_array_equal(p.logits, want_logits)
    _, other = runner_loop(loaded, x, 4, feedback=True, row=lambda s: s)
    assert not np.array_equal(other, want_logits), "the test cannot tell the protocols apart"


def test_steps_past_n_sup_reuse_row_n_sup():
    model = trmdis.Model(progression_config(puzzle_emb_len=0, num_puzzle_identifiers=0), seed=2)
    train(model)
    x, _ = progression(9, seed=5)
    want_trace, want_logits = runner_loop(model, x, 7, feedback=True, row=lambda s: min(s, 4))
    p = model.predict(x, steps=7, logits=True)
    np.testing.assert_array_equal(p.trace, want_trace)
    np.testing.assert_array_equal(p.logits, want_logits)
    _, untrained_row = runner_loop(model, x, 7, feedback=True, row=lambda s: min(s, 5))
    assert not np.array_equal(untrained_row, want_logits), "row N_sup+1 should give other logits"


def test_overrides_and_the_rule_for_models_without_a_record():
    model = trmdis.Model(progression_config(puzzle_emb_len=0, num_puzzle_identifiers=0), seed=2)
    assert model.protocol == trmdis.InferenceProtocol(recorded=False, method="dis", feedback=True,
                                                      time_rows="per-step", supervision_steps=4)
    untimed = trmdis.Model(progression_config(time_embedding=False), seed=2)
    assert untimed.protocol.method == "trm" and untimed.protocol.feedback is False
    x, _ = progression(3, seed=5)
    want, _ = runner_loop(model, x, 4, feedback=False, row=lambda s: 1)
    np.testing.assert_array_equal(model.predict(x, feedback=False, time_rows="first", logits=True).trace, want)
    with pytest.raises(trmdis.InvalidArgumentError, match="time_rows"):
        model.predict(x, time_rows="last", logits=True)


def test_method_defaults_are_the_engines():
    assert trmdis.ModelConfig.preset("nqueens").time_embedding is True
    assert trmdis.ModelConfig.preset("nqueens", method="trm").time_embedding is False
    assert trmdis.ModelConfig.preset("sudoku-att", method="dis").time_embedding is True
    with trmdis.Model("nqueens", method="trm") as m:
        assert m.config.time_embedding is False
    with pytest.raises(trmdis.InvalidArgumentError, match="method"):
        trmdis.ModelConfig.preset("nqueens", method="act")


@pytest.mark.parametrize("method, ema", [("trm", True), ("dis", False)])
def test_ema_defaults_to_the_methods(tmp_path, method, ema):
    # ema_rate None is the method's default: on for TRM, off for DIS. A checkpoint's model.safetensors holds
    # the EMA copy, so it predicts like the raw weights exactly when EMA is off.
    x, y = progression(32, seed=1)
    with trmdis.Model(progression_config(), seed=1) as model, trmdis.Dataset(x, y) as data, \
            trmdis.Trainer(model, data, method=method, max_steps=2, **FAST) as trainer:
        trainer.run(progress=False)
        trainer.save_checkpoint(tmp_path)
        raw = model.predict(x, logits=True).logits
    with trmdis.Model.load(tmp_path / "model.safetensors") as saved:
        assert np.array_equal(saved.predict(x, logits=True).logits, raw) != ema
