"""Training through the C API: learning, stopping (callback, another thread, Ctrl-C), exact resume, checkpoints."""

import os
import signal
import threading
import time

import numpy as np
import pytest

import trmdis

from helpers import FAST, progression, progression_config


@pytest.fixture(scope="module")
def data():
    x, y = progression(512, seed=1)
    tx, ty = progression(128, seed=2)
    with trmdis.Dataset(x, y) as train, trmdis.Dataset(tx, ty) as test:
        yield train, test


def test_a_small_dis_model_learns_progressions(data):
    train, test = data
    with trmdis.Model(progression_config(), seed=1) as model:
        before = model.evaluate(test)
        assert before.exact_accuracy < 0.05 and before.token_accuracy < 0.5
        with trmdis.Trainer(model, train, test, max_steps=60, eval_every=30, **FAST) as trainer:
            start = time.monotonic()
            result = trainer.run(progress=True)
            seconds = time.monotonic() - start
        assert not result.stopped and result.steps == 60 and len(result.history) == 60
        assert [h.step for h in result.history] == list(range(1, 61))
        assert all(h.total_steps == 60 for h in result.history)
        assert [h.eval_exact_accuracy is not None for h in result.history].count(True) == 2
        assert result.history[-1].optimizer_steps == 60 * 4  # an update after every supervision step
        assert result.history[-1].examples_seen == 60 * 32
        assert all(h.halt_accuracy is None and h.mean_steps is None for h in result.history)  # DIS has no halting
        assert np.mean([h.loss for h in result.history[-10:]]) < 0.7 * np.mean([h.loss for h in result.history[:5]])
        after = result.evaluation
        assert after is not None and after.examples == 128 and after.n_steps == 4
        # Measured: about 0.9 token and 0.35 exact accuracy after 60 steps; chance is 0.25 per blank.
        assert after.token_accuracy > 0.75 and after.exact_accuracy > 0.15, after
        assert after.hamming_by_step[-1] < after.hamming_by_step[0]  # each step moves toward the answer
        again = model.evaluate(test)
        np.testing.assert_array_equal(again.exact_by_step, after.exact_by_step)
        print(f"learned in {seconds:.1f} s: exact {before.exact_accuracy} -> {after.exact_accuracy}")


def small_trainer(data, **changes):
    train, test = data
    model = trmdis.Model(progression_config(), seed=3)
    params = dict(FAST, batch_size=8)
    params.update(changes)
    return model, trmdis.Trainer(model, train, test, **params)


def test_callback_stops_the_run_and_the_trainer_continues(data):
    model, trainer = small_trainer(data, max_steps=50)
    seen = []

    def callback(info):
        seen.append(info.step)
        return info.step < 3  # False at step 3

    result = trainer.run(progress=False, callback=callback)
    assert result.stopped and result.steps == 3 and seen == [1, 2, 3] and result.evaluation is None
    updates = result.history[-1].optimizer_steps
    info = trainer.step()  # still usable
    assert info.step == 1 and info.optimizer_steps == updates + 4
    rest = trainer.run(progress=False, callback=lambda info: info.step < 2)
    assert rest.stopped and rest.steps == 2 and rest.history[0].optimizer_steps == updates + 8
    trainer.close()
    model.close()


def test_callback_returning_none_continues(data):
    model, trainer = small_trainer(data, max_steps=3)
    result = trainer.run(progress=False, callback=lambda info: None)
    assert not result.stopped and result.steps == 3 and result.evaluation is not None


def test_request_stop_from_another_thread(data):
    model, trainer = small_trainer(data, max_steps=100_000, max_seconds=60)
    first_step = threading.Event()

    def stopper():
        first_step.wait(30)
        time.sleep(0.05)
        trainer.request_stop()

    thread = threading.Thread(target=stopper)
    thread.start()
    start = time.monotonic()
    result = trainer.run(progress=False, callback=lambda info: first_step.set())
    thread.join()
    assert result.stopped and 1 <= result.steps < 100_000 and time.monotonic() - start < 30
    # The request was consumed: the next run trains normally.
    done = trainer.run(progress=False, callback=lambda info: info.step < 2)
    assert done.steps == 2


def test_request_stop_before_a_run_stops_it_before_its_first_step(data):
    model, trainer = small_trainer(data, max_steps=5)
    trainer.request_stop()
    result = trainer.run(progress=False)
    assert result.stopped and result.steps == 0 and result.history == []
    result = trainer.run(progress=False)  # cleared by the previous run
    assert not result.stopped and result.steps == 5


def test_an_exception_in_the_callback_stops_the_run_and_propagates(data):
    model, trainer = small_trainer(data, max_steps=50)

    def callback(info):
        if info.step == 2:
            raise KeyError("boom")

    with pytest.raises(KeyError, match="boom"):
        trainer.run(progress=False, callback=callback)
    with pytest.raises(KeyboardInterrupt):
        trainer.run(progress=False, callback=lambda info: (_ for _ in ()).throw(KeyboardInterrupt()))
    assert trainer.step().step == 1  # still usable


@pytest.mark.skipif(not hasattr(signal, "SIGINT") or os.name != "posix", reason="needs POSIX signals")
def test_ctrl_c_stops_after_the_current_step_and_is_reraised(data):
    # A shell starts background jobs with SIGINT ignored, and then Python installs no handler and run()
    # rightly leaves Ctrl-C alone; so the test puts Python's default handler in place itself. SIGINT is raised
    # on the main thread during step 3's callback, deterministically.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        model, trainer = small_trainer(data, max_steps=100_000, max_seconds=60)
        steps = []

        def ctrl_c_at_step_3(info):
            steps.append(info.step)
            if info.step == 3:
                signal.raise_signal(signal.SIGINT)

        with pytest.raises(KeyboardInterrupt):
            trainer.run(progress=True, callback=ctrl_c_at_step_3)
        assert steps == [1, 2, 3]  # the run ended after the step during which Ctrl-C came
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # Python's handler is back
        assert trainer.step().optimizer_steps > 0
    finally:
        signal.signal(signal.SIGINT, previous)


def weights_probe(model, inputs):
    """The model's last-step logits on fixed inputs: equal bits means equal weights, in practice."""
    return model.predict(inputs, logits=True).logits


def visible(directory):
    """The names a user sees in a checkpoint directory (the hidden generation and .current aside)."""
    return sorted(name for name in os.listdir(directory) if not name.startswith("."))


@pytest.mark.parametrize("method", ["dis", "trm"])
def test_resume_continues_exactly(data, tmp_path, method):
    train, test = data
    config = progression_config(time_embedding=(method == "dis"))
    params = dict(FAST, batch_size=8, method=method, ema_rate=0.9, seed=11)
    probe = probe_inputs()

    with trmdis.Model(config, seed=5) as straight_model:
        straight = trmdis.Trainer(straight_model, train, **params)
        losses = [straight.step().loss for _ in range(6)]
        straight_logits = weights_probe(straight_model, probe)
        straight_eval = straight.evaluate(test)

    with trmdis.Model(config, seed=5) as model:
        first = trmdis.Trainer(model, train, **params)
        first_losses = [first.step().loss for _ in range(3)]
        first.save_checkpoint(tmp_path / "ckpt")
        first.close()
    assert visible(tmp_path / "ckpt") == ["model.safetensors", "state.safetensors"]

    resumed = trmdis.Trainer.resume(tmp_path / "ckpt", train, test, max_steps=3)
    assert resumed.model.config == config
    result = resumed.run(progress=False)
    assert result.steps == 3 and not result.stopped
    assert first_losses + [h.loss for h in result.history] == losses  # bit for bit
    np.testing.assert_array_equal(weights_probe(resumed.model, probe), straight_logits)
    resumed_eval = resumed.evaluate()
    assert resumed_eval.exact_accuracy == straight_eval.exact_accuracy
    np.testing.assert_array_equal(resumed_eval.hamming_by_step, straight_eval.hamming_by_step)
    model = resumed.model
    resumed.close()
    with pytest.raises(trmdis.InvalidArgumentError, match="not a live trm_model"):
        model.predict(probe, logits=True)  # borrowed from the closed trainer: refused, not a crash


def probe_inputs():
    return progression(16, seed=2)[0]


def test_checkpoints_during_run_and_the_saved_model_loads(data, tmp_path):
    model, trainer = small_trainer(data, max_steps=4, checkpoint_every=2, checkpoint_dir=tmp_path / "run",
                                   ema_rate=0.5)
    written = []
    result = trainer.run(progress=False, callback=lambda info: written.append(visible(tmp_path / "run")
                                                                           if (tmp_path / "run").exists() else []))
    assert written[0] == [] and written[1] == ["model.safetensors", "state.safetensors"]
    assert not result.stopped
    # model.safetensors holds the evaluation (EMA) weights: the trainer's evaluation, not the raw model's.
    with trmdis.Model.load(tmp_path / "run" / "model.safetensors") as saved:
        from_file, from_trainer = saved.evaluate(data[1], batch_size=8), trainer.evaluate()
        np.testing.assert_array_equal(from_file.hamming_by_step, from_trainer.hamming_by_step)
        np.testing.assert_array_equal(from_file.exact_by_step, from_trainer.exact_by_step)
        raw = model.predict(probe_inputs(), logits=True).logits
        assert not np.array_equal(saved.predict(probe_inputs(), logits=True).logits, raw)


def test_trainer_evaluate_restores_the_training_weights(data):
    model, trainer = small_trainer(data, ema_rate=0.5)
    for _ in range(3):
        trainer.step()
    probe = probe_inputs()
    before = model.predict(probe, logits=True).logits
    ema = trainer.evaluate()
    assert np.array_equal(model.predict(probe, logits=True).logits, before)
    assert ema.examples == 128 and ema.n_steps == 4
    limited = trmdis.Trainer(model, data[0], data[1], eval_limit=10, **FAST).evaluate()
    assert limited.examples == 10
    other = trainer.evaluate(trmdis.Dataset(*progression(5, seed=9)))
    assert other.examples == 5


def test_trm_method_reports_halting(data):
    train, test = data
    with trmdis.Model(progression_config(time_embedding=False), seed=2) as model:
        trainer = trmdis.Trainer(model, train, method="trm", **dict(FAST, batch_size=8))
        infos = [trainer.step() for _ in range(12)]
        finished = [i for i in infos if i.finished > 0]
        assert finished, "some slots halt within N_sup = 4 steps"
        for info in finished:
            assert 0 <= info.halt_accuracy <= 1 and 1 <= info.mean_steps <= 4
        assert all(i.optimizer_steps == k + 1 for k, i in enumerate(infos))


def test_the_model_outlives_its_python_handle_inside_a_trainer(data):
    train, _ = data
    model = trmdis.Model(progression_config(), seed=4)
    trainer = trmdis.Trainer(model, train, **FAST)
    model.close()
    assert trainer.step().step == 1  # the trainer holds the model
    trainer.close()
    trainer.close()  # idempotent
    with pytest.raises(trmdis.InvalidArgumentError, match="closed"):
        trainer.step()


def test_recipes_fill_every_field_and_unknown_names_are_refused():
    small = trmdis.TrainParams.recipe("small-task")
    assert (small.learning_rate, small.warmup_steps, small.batch_size, small.weight_decay, small.grad_clip,
            small.ema_rate) == (1e-3, 100, 32, 0.01, 1.0, 0.0)
    assert trmdis.TrainParams.recipe("paper") == trmdis.TrainParams(ema_rate=0.0)  # DIS: no EMA
    assert trmdis.TrainParams.recipe("paper", "trm").ema_rate == 0.999
    assert trmdis.TrainParams.recipe("small-task", max_steps=7).max_steps == 7
    with pytest.raises(trmdis.InvalidArgumentError, match="unknown recipe"):
        trmdis.TrainParams.recipe("fast")
    with pytest.raises(trmdis.InvalidArgumentError, match="method"):
        trmdis.TrainParams.recipe("paper", "act")
