"""Runs that are not lost: Ctrl-C during `trmdis train` stops after the current step and writes the checkpoint,
an unwritable checkpoint directory fails before the first step, and a checkpoint refuses to resume on another
dataset unless asked to."""

import logging
import signal
import subprocess
import time

import pytest

import trmdis

from helpers import FAST, REPO, progression, progression_config

CLI = REPO / "build" / "bin" / "trmdis"


def test_ctrl_c_during_cli_training_keeps_a_loadable_checkpoint(tmp_path):
    assert CLI.exists(), f"{CLI} is missing: `make test` builds it (make cli)"
    data = tmp_path / "data"
    subprocess.run([CLI, "data", "sudoku", "--size", "4", "--train", "64", "--test", "8", "--seed", "1",
                    "--threads", "1", "--out", data], check=True, capture_output=True)
    ckpt = tmp_path / "ckpt"
    run = subprocess.Popen([CLI, "train", "--data", data, "--preset", "dis-compact", "--hidden", "32", "--heads", "2",
                            "--layers", "1", "--steps", "1000000", "--batch", "8", "--threads", "1",
                            "--checkpoint", ckpt], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert run.stdout.readline().startswith("training dis")
    time.sleep(2)
    run.send_signal(signal.SIGINT)
    output, _ = run.communicate(timeout=60)
    assert run.returncode == 130, output
    assert "interrupted after" in output and "checkpoint:" in output, output
    steps = int(output.split("interrupted after ")[1].split()[0])
    assert steps > 0
    info = subprocess.run([CLI, "info", "--checkpoint", ckpt / "model.safetensors"], capture_output=True, text=True)
    assert info.returncode == 0 and "trained as: dis" in info.stdout, info.stderr
    # The state is the last step's: resuming continues from it.
    state = (ckpt / "state.safetensors").read_bytes()
    header = state[8:8 + int.from_bytes(state[:8], "little")].decode()
    assert f'"optimizer_steps":"{steps}"' in header.replace(" ", ""), header[:400]


def test_an_unwritable_checkpoint_directory_fails_before_the_first_step(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    x, y = progression(32, seed=1)
    steps = []
    with trmdis.Model(progression_config(), seed=1) as model, trmdis.Dataset(x, y) as data, \
            trmdis.Trainer(model, data, max_steps=3, checkpoint_dir=blocker / "ckpt", **FAST) as trainer:
        with pytest.raises(trmdis.TRMIOError, match="ckpt"):
            trainer.run(progress=False, callback=lambda info: steps.append(info.step))
    assert steps == []


def test_a_checkpoint_refuses_another_dataset(tmp_path):
    x, y = progression(32, seed=1)
    with trmdis.Model(progression_config(), seed=1) as model, trmdis.Dataset(x, y) as data, \
            trmdis.Trainer(model, data, **FAST) as trainer:
        trainer.step()
        trainer.save_checkpoint(tmp_path)
    x2, y2 = progression(32, seed=2)
    with trmdis.Dataset(x2, y2) as other:
        with pytest.raises(trmdis.InvalidArgumentError, match="other examples"):
            trmdis.Trainer.resume(tmp_path, other)
        with trmdis.Trainer.resume(tmp_path, other, allow_other_dataset=True) as resumed:
            resumed.step()
    with trmdis.Dataset(x, y) as same, trmdis.Trainer.resume(tmp_path, same) as resumed:
        resumed.step()


def test_the_log_reports_a_run_at_the_level_asked_for(tmp_path, caplog):
    x, y = progression(32, seed=1)
    trmdis.set_log_level(logging.INFO)
    try:
        with caplog.at_level(logging.INFO, logger="trmdis"), trmdis.Model(progression_config(), seed=1) as model, \
                trmdis.Dataset(x, y) as data, trmdis.Trainer(model, data, eval=data, max_steps=2, eval_every=1,
                                                             checkpoint_every=1, checkpoint_dir=tmp_path, **FAST) as t:
            t.run(progress=False)
    finally:
        trmdis.set_log_level(logging.WARNING)
    lines = [r.getMessage() for r in caplog.records]
    assert any(line.startswith("trm_trainer_run: dis on 32 examples") for line in lines), lines
    assert any("step 1: evaluation on 32 examples" in line for line in lines), lines
    assert any("step 2: checkpoint written" in line for line in lines), lines
    assert not any(line.startswith("step 1: loss") for line in lines)  # DEBUG lines stay out at INFO
    with pytest.raises(trmdis.InvalidArgumentError):
        _lib_set_level(7)


def _lib_set_level(level):
    from trmdis import _lib
    from trmdis.errors import check
    check(_lib.lib.trm_log_set_level(level))


def test_the_thread_count_cannot_change_under_a_running_call():
    x, y = progression(32, seed=1)

    def change_threads(info):
        trmdis.set_num_threads(1)

    with trmdis.Model(progression_config(), seed=1) as model, trmdis.Dataset(x, y) as data, \
            trmdis.Trainer(model, data, max_steps=2, **FAST) as trainer:
        with pytest.raises(trmdis.InvalidArgumentError, match="while 1 training"):
            trainer.run(progress=False, callback=change_threads)
    before = trmdis.get_num_threads()
    trmdis.set_num_threads(before)  # between calls it is fine


def test_predict_and_evaluate_stop_on_request_and_on_ctrl_c():
    x, y = progression(96, seed=1)
    with trmdis.Model(progression_config(), seed=1) as model, trmdis.Dataset(x, y) as data:
        seen = []
        with pytest.raises(trmdis.AbortedError, match="32 of 96"):
            model.predict(x, batch_size=32, callback=lambda done, total: seen.append((done, total)) or False)
        assert seen == [(32, 96)]
        progress = []
        model.evaluate(data, batch_size=32, callback=lambda done, total: progress.append(done))
        assert progress == [32, 64, 96]
        if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
            signal.signal(signal.SIGINT, signal.default_int_handler)  # as in an interactive session
        calls = []

        def press_ctrl_c(done, total):
            calls.append(done)
            signal.raise_signal(signal.SIGINT)  # Ctrl-C during the first batch's callback

        with pytest.raises(KeyboardInterrupt):
            model.evaluate(data, batch_size=32, callback=press_ctrl_c)
        assert calls == [32]  # stopped after the batch in progress
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_cli_eval_writes_predictions_and_a_training_state_loads_as_raw_weights(tmp_path):
    """`trmdis eval --predictions` saves the last step's predictions (the experiment scores N-Queens per
    number of given queens from them); --mixer/--positions override the preset; a trainer's
    state.safetensors loads as the raw weights, model.safetensors beside it is the EMA copy."""
    import numpy as np
    data, ckpt = tmp_path / "data", tmp_path / "ckpt"
    subprocess.run([CLI, "data", "sudoku", "--size", "4", "--train", "64", "--test", "12", "--seed", "1",
                    "--threads", "1", "--out", data], check=True, capture_output=True)
    subprocess.run([CLI, "train", "--data", data, "--preset", "nqueens", "--hidden", "16", "--heads", "2", "--layers", "1",
                    "--mixer", "mlp_t", "--positions", "none", "--steps", "3", "--batch", "8", "--lr", "1e-2",
                    "--ema", "0.5", "--threads", "1", "--checkpoint", ckpt], check=True, capture_output=True)
    with trmdis.Model.load(ckpt / "model.safetensors") as ema, trmdis.Model.load(ckpt / "state.safetensors") as raw:
        assert ema.config.mixer == trmdis.Mixer.MLP_T and ema.config.pos_encoding == trmdis.PosEncoding.NONE
        assert raw.config == ema.config
        a, b = ema.state_dict(), raw.state_dict()
        assert a.keys() == b.keys()
        assert any(not np.array_equal(a[k], b[k]) for k in a), "the EMA copy equals the raw weights"
        inputs = np.load(data / "test" / "all__inputs.npy")[:10]
        expected = raw.predict(inputs).predictions
    out = tmp_path / "p.npy"
    run = subprocess.run([CLI, "eval", "--checkpoint", ckpt / "state.safetensors", "--data", data, "--limit", "10",
                          "--batch", "4", "--threads", "1", "--predictions", out, "--json"],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    p = np.load(out)
    assert p.dtype == np.uint8 and p.shape == (10, 16)
    assert np.array_equal(p, expected)
    labels = np.load(data / "test" / "all__labels.npy")[:10]
    import json
    assert json.loads(run.stdout)["exact_accuracy"] == np.mean(np.all(p == labels, axis=1))
    bad = subprocess.run([CLI, "train", "--data", data, "--mixer", "conv", "--steps", "1"], capture_output=True, text=True)
    assert bad.returncode != 0 and "--mixer" in bad.stderr
