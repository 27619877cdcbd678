"""Runs that are not lost: Ctrl-C during `trmdis train` stops after the current step and writes the checkpoint,
an unwritable checkpoint directory fails before the first step, and a checkpoint refuses to resume on another
dataset unless asked to."""

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
