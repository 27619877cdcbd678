"""Official dataset semantics from Python: several directories (data_paths), every set of a split, and the
DIS code's intermediate steps as step targets (corruption="dataset")."""

import json

import numpy as np
import pytest

import trmdis
from helpers import progression, progression_config


def write_split(directory, sets, puzzles=4, examples=1, steps=None, seq_len=10, ids=1):
    """A split of progression() examples in the official layout; one puzzle per group."""
    directory.mkdir(parents=True)
    for k, name in enumerate(sets):
        n = puzzles * examples
        x, y = progression(n, seq_len, seed=k)
        np.save(directory / f"{name}__inputs.npy", x.astype(np.uint8))
        np.save(directory / f"{name}__labels.npy", y.astype(np.uint8))
        np.save(directory / f"{name}__puzzle_identifiers.npy", np.zeros(puzzles, np.int32))
        np.save(directory / f"{name}__puzzle_indices.npy", np.arange(puzzles + 1, dtype=np.int32) * examples)
        np.save(directory / f"{name}__group_indices.npy", np.arange(puzzles + 1, dtype=np.int32))
        if steps is not None:  # every step's target: the label (a dataset may hold any monotone path)
            np.save(directory / f"{name}__intermediate_steps.npy", np.repeat(y[:, None, :], steps, axis=1).astype(np.uint8))
    meta = dict(pad_id=0, ignore_label_id=None, blank_identifier_id=0, vocab_size=6, seq_len=seq_len,
                num_puzzle_identifiers=ids, total_groups=puzzles * len(sets), mean_puzzle_examples=float(examples),
                total_puzzles=puzzles * len(sets), sets=sets)
    (directory / "dataset.json").write_text(json.dumps(meta))


def test_several_directories_and_sets(tmp_path):
    write_split(tmp_path / "a" / "train", ["all"], puzzles=4)
    write_split(tmp_path / "b" / "train", ["all", "hard"], puzzles=3, examples=2)
    assert len(trmdis.Dataset.load(tmp_path / "b", "train")) == 12
    merged = trmdis.Dataset.load([tmp_path / "a", str(tmp_path / "b")], "train")
    assert len(merged) == 16
    with pytest.raises(trmdis.InvalidArgumentError):
        trmdis.Dataset.load([], "train")
    with pytest.raises(trmdis.TRMIOError):
        trmdis.Dataset.load([tmp_path / "a", tmp_path / "missing"], "train")


def test_intermediate_steps_as_targets(tmp_path):
    config = progression_config()  # N_sup 4
    write_split(tmp_path / "d" / "train", ["all"], puzzles=8, steps=config.supervision_steps)
    write_split(tmp_path / "plain" / "train", ["all"], puzzles=8)
    train = trmdis.Dataset.load(tmp_path / "d", "train")
    with trmdis.Model(config, seed=1) as model:
        trainer = trmdis.Trainer(model, train, batch_size=4, corruption="dataset", max_steps=2)
        assert trainer.step().loss > 0
        with pytest.raises(trmdis.InvalidArgumentError, match="intermediate steps"):
            trmdis.Trainer(model, trmdis.Dataset.load(tmp_path / "plain", "train"), batch_size=4, corruption="dataset")
