"""Model files, predict (the per-step trace), evaluate, and datasets."""

import json

import numpy as np
import pytest

import trmdis

from helpers import FAST, progression, progression_config, tiny_config


@pytest.fixture(scope="module")
def trained():
    """A progression model after a few training steps (so its outputs are not those of a fresh model)."""
    x, y = progression(256, seed=1)
    model = trmdis.Model(progression_config(), seed=1)
    with trmdis.Dataset(x, y) as train, trmdis.Trainer(model, train, max_steps=15, **FAST) as trainer:
        trainer.run(progress=False)
    yield model
    model.close()


def test_predict_shapes_and_consistency(trained):
    x, y = progression(7, seed=3)
    c = trained.config
    p = trained.predict(x, logits=True)
    assert p.trace.shape == (c.supervision_steps, 7, c.seq_len) and p.trace.dtype == np.int32
    assert p.halt_prob.shape == (c.supervision_steps, 7) and p.halt_prob.dtype == np.float32
    assert p.logits.shape == (7, c.seq_len, c.vocab_size)
    assert ((p.halt_prob > 0) & (p.halt_prob < 1)).all()
    np.testing.assert_array_equal(p.logits.argmax(-1), p.trace[-1])
    np.testing.assert_array_equal(p.predictions, p.trace[-1])
    assert ((p.trace >= 0) & (p.trace < c.vocab_size)).all()
    # More steps extend the same trace (inference is deterministic and starts from the same carry).
    longer = trained.predict(x, steps=6, logits=True)
    assert longer.trace.shape == (6, 7, c.seq_len)
    np.testing.assert_array_equal(longer.trace[:4], p.trace)
    assert trained.predict(x, steps=1, logits=True).trace.shape == (1, 7, c.seq_len)
    # One puzzle, as a 1-D array; no logits.
    single = trained.predict(x[0], logits=False)
    assert single.trace.shape == (4, 1, c.seq_len) and single.logits is None
    np.testing.assert_array_equal(single.trace[:, 0], p.trace[:, 0])


def test_guidance_one_is_plain_inference(trained):
    x, _ = progression(5, seed=4)
    plain = trained.predict(x, logits=True)
    explicit = trained.predict(x, guidance=1.0, feedback=True, steps=4, logits=True)
    np.testing.assert_array_equal(plain.trace, explicit.trace)
    np.testing.assert_array_equal(plain.logits, explicit.logits)
    guided = trained.predict(x, guidance=2.0, logits=True)
    assert guided.trace.shape == plain.trace.shape
    assert not np.array_equal(guided.logits, plain.logits)
    # Step 1 of guidance w: (1-w)*readout(y0) + w*logits1, with readout(y0) the same for every example.
    no_feedback = trained.predict(x, feedback=False, logits=True)
    np.testing.assert_array_equal(no_feedback.trace[0], plain.trace[0])  # feedback starts after step 1


def test_batch_size_does_not_change_the_answer(trained):
    x, _ = progression(9, seed=5)
    whole = trained.predict(x, logits=True)
    for batch in (1, 2, 4, 9, 64):
        split = trained.predict(x, batch_size=batch, logits=True)
        np.testing.assert_allclose(split.logits, whole.logits, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(split.halt_prob, whole.halt_prob, rtol=1e-5, atol=1e-6)


def test_evaluate_agrees_with_predict(trained):
    x, y = progression(40, seed=6)
    y[:, :2] = trmdis.IGNORE_LABEL  # ignored cells count nowhere
    with trmdis.Dataset(x, y) as data:
        report = trained.evaluate(data)
        assert report.examples == 40 and report.n_steps == 4
        assert report.net_calls_per_example == 4 * 1 * (2 + 1)
        trace = trained.predict(x, logits=True).trace
        counted = y != trmdis.IGNORE_LABEL
        wrong = ((trace != y[None]) & counted[None]).sum(-1)  # (steps, N)
        np.testing.assert_allclose(report.hamming_by_step, wrong.mean(-1))
        np.testing.assert_allclose(report.exact_by_step, (wrong == 0).mean(-1))
        np.testing.assert_allclose(report.token_by_step, (1 - wrong / counted.sum(-1)).mean(-1))
        assert report.exact_accuracy == report.exact_by_step[-1]
        assert report.token_accuracy == pytest.approx(report.token_by_step[-1])
        assert trained.evaluate(data, steps=2).n_steps == 2
        with pytest.raises(trmdis.InvalidArgumentError, match="TRM_EVAL_MAX_STEPS"):
            trained.evaluate(data, steps=65)


def test_save_and_load_round_trip(trained, tmp_path):
    path = tmp_path / "model.safetensors"
    trained.save(path)
    x, _ = progression(8, seed=7)
    with trmdis.Model.load(path) as loaded:
        assert loaded.config == trained.config
        assert loaded.parameter_count == trained.parameter_count
        a, b = trained.predict(x, logits=True), loaded.predict(x, logits=True)
        np.testing.assert_array_equal(a.trace, b.trace)
        np.testing.assert_array_equal(a.halt_prob, b.halt_prob)
        np.testing.assert_array_equal(a.logits, b.logits)
    trained.save(str(path))  # str paths, and overwriting, work too
    # The file is safetensors with the configuration as JSON metadata.
    data = path.read_bytes()
    header = json.loads(data[8:8 + int.from_bytes(data[:8], "little")])
    assert "trmdis_config" in header["__metadata__"] and "H_init" in header


def test_bad_model_files(trained, tmp_path):
    with pytest.raises(trmdis.TRMIOError, match="trm_model_load"):
        trmdis.Model.load(tmp_path / "missing.safetensors")
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"this is not a safetensors file at all")
    with pytest.raises(trmdis.FormatError):
        trmdis.Model.load(garbage)
    good = tmp_path / "good.safetensors"
    trained.save(good)
    data = good.read_bytes()
    for cut in (4, 100, len(data) // 2, len(data) - 1):
        truncated = tmp_path / f"cut{cut}.safetensors"
        truncated.write_bytes(data[:cut])
        with pytest.raises(trmdis.FormatError):
            trmdis.Model.load(truncated)
    # A checkpoint without the configuration metadata, and one whose configuration is impossible.
    length = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + length])
    for metadata in ({"format": "pt"}, {"trmdis_config": "{\"vocabSize\": -3}"}):
        header["__metadata__"] = metadata
        text = json.dumps(header).encode()
        bad = tmp_path / "meta.safetensors"
        bad.write_bytes(len(text).to_bytes(8, "little") + text + data[8 + length:])
        with pytest.raises(trmdis.FormatError):
            trmdis.Model.load(bad)
    # A configuration too large for this machine's memory is refused before anything is allocated.
    config = json.loads(trained_config_json(data))
    config.update(vocabSize=2**20, hiddenSize=16384, numHeads=128, numLayers=64, expansion=64, puzzleEmbDim=16384)
    header["__metadata__"] = {"format": "pt", "trmdis_config": json.dumps(config)}
    text = json.dumps(header).encode()
    huge = tmp_path / "huge.safetensors"
    huge.write_bytes(len(text).to_bytes(8, "little") + text + data[8 + length:])
    # Refused before anything is allocated: the file cannot hold the tensors such a model has.
    with pytest.raises(trmdis.FormatError, match="missing tensor"):
        trmdis.Model.load(huge)
    with pytest.raises(trmdis.TRMIOError, match="trm_model_save"):
        trained.save(tmp_path / "no" / "such" / "dir" / "m.safetensors")
    with pytest.raises(trmdis.InvalidArgumentError):
        trained.save(42)


def trained_config_json(data: bytes) -> str:
    length = int.from_bytes(data[:8], "little")
    return json.loads(data[8:8 + length])["__metadata__"]["trmdis_config"]


def test_predict_errors(trained):
    c = trained.config
    x, _ = progression(3, seed=8)
    bad = x.copy()
    bad[1, 4] = c.vocab_size
    with pytest.raises(trmdis.InvalidArgumentError, match="token 6 at cell 14"):
        trained.predict(bad, logits=True)
    with pytest.raises(trmdis.InvalidArgumentError, match="shape"):
        trained.predict(x[:, :5], logits=True)
    with pytest.raises(trmdis.InvalidArgumentError, match="shape"):
        trained.predict(np.zeros((2, 3, 10), dtype=np.int32), logits=True)
    with pytest.raises(trmdis.InvalidArgumentError, match="puzzle id 1"):
        trained.predict(x, puzzle_ids=[0, 1, 0], logits=True)
    with pytest.raises(trmdis.InvalidArgumentError, match="guidance must be finite"):
        trained.predict(x, guidance=float("nan"), logits=True)
    for steps in (0, -1, 5000):
        with pytest.raises(trmdis.InvalidArgumentError, match="steps"):
            trained.predict(x, steps=steps, logits=True)
    with pytest.raises(trmdis.InvalidArgumentError, match="batch_size"):
        trained.predict(x, batch_size=0, logits=True)
    with pytest.raises(trmdis.InvalidArgumentError, match="feedback"):
        trained.predict(x, feedback=2, logits=True)


def test_dataset_basics():
    x, y = progression(20, seq_len=7)
    y[0, 0] = trmdis.IGNORE_LABEL
    with trmdis.Dataset(x, y, puzzle_ids=np.zeros(20, dtype=np.int64)) as data:
        assert data.size == len(data) == 20 and data.seq_len == 7
        assert "20 examples" in repr(data)
    assert data.closed
    with pytest.raises(trmdis.InvalidArgumentError, match="closed"):
        data.handle


@pytest.mark.parametrize("make,pattern", [
    (lambda x, y: trmdis.Dataset(x[:, :0], y[:, :0]), "shape"),
    (lambda x, y: trmdis.Dataset(x[:0], y[:0]), "shape"),
    (lambda x, y: trmdis.Dataset(x, y[:, :5]), "shape"),
    (lambda x, y: trmdis.Dataset(x.ravel(), y.ravel()), "shape"),
    (lambda x, y: trmdis.Dataset(x, y, puzzle_ids=[0, 1]), "shape"),
    (lambda x, y: trmdis.Dataset(-x, y), "input token -"),
    (lambda x, y: trmdis.Dataset(x, y - 7), "label -"),
    (lambda x, y: trmdis.Dataset(x, y, puzzle_ids=-np.ones(len(x), dtype=np.int32)), "puzzle id -1"),
    (lambda x, y: trmdis.Dataset(x.astype(np.float32), y), "integers"),
])
def test_dataset_errors(make, pattern):
    x, y = progression(4, seq_len=6)
    with pytest.raises(trmdis.InvalidArgumentError, match=pattern):
        make(x, y)


def write_npy_dataset(root, inputs, labels, puzzle_ids, puzzle_indices, group_indices, vocab=6, split="train"):
    """A split in the official TRM layout, written with numpy."""
    directory = root / split
    directory.mkdir(parents=True)
    seq_len = inputs.shape[1]
    meta = dict(pad_id=0, ignore_label_id=0, blank_identifier_id=0, vocab_size=vocab, seq_len=seq_len,
                num_puzzle_identifiers=int(puzzle_ids.max()) + 1, total_groups=len(group_indices) - 1,
                mean_puzzle_examples=1.0, total_puzzles=len(puzzle_ids), sets=["all"])
    (directory / "dataset.json").write_text(json.dumps(meta))
    np.save(directory / "all__inputs.npy", inputs.astype(np.uint8))
    np.save(directory / "all__labels.npy", labels.astype(np.uint8))
    np.save(directory / "all__puzzle_identifiers.npy", puzzle_ids.astype(np.int32))
    np.save(directory / "all__puzzle_indices.npy", puzzle_indices.astype(np.int32))
    np.save(directory / "all__group_indices.npy", group_indices.astype(np.int32))


def test_dataset_load_official_layout(tmp_path):
    x, y = progression(6, seq_len=10)
    y[:, 0] = 0  # ignore_label_id 0 -> -100
    write_npy_dataset(tmp_path, x, y, puzzle_ids=np.array([0, 1, 2]), puzzle_indices=np.array([0, 2, 4, 6]),
                      group_indices=np.array([0, 1, 3]))
    with trmdis.Dataset.load(tmp_path, "train") as data:
        assert data.size == 6 and data.seq_len == 10
        with trmdis.Model(progression_config(num_puzzle_identifiers=3), seed=0) as model:
            report = model.evaluate(data)
            assert report.examples == 6
            with trmdis.Trainer(model, data, **dict(FAST, batch_size=4)) as trainer:
                assert trainer.step().examples_seen == 4
            # Puzzle identifiers reach the model: identifier 2 is outside a 2-row table.
            with trmdis.Model(progression_config(num_puzzle_identifiers=2), seed=0) as small:
                with pytest.raises(trmdis.InvalidArgumentError, match="puzzle id 2"):
                    small.evaluate(data)
    with pytest.raises(trmdis.TRMIOError, match="trm_dataset_load"):
        trmdis.Dataset.load(tmp_path, "test")
    with pytest.raises(trmdis.InvalidArgumentError, match="split"):
        trmdis.Dataset.load(tmp_path, "../train")
    (tmp_path / "train" / "all__labels.npy").write_bytes(b"\x93NUMPY garbage")
    with pytest.raises(trmdis.FormatError, match="all__labels.npy"):
        trmdis.Dataset.load(tmp_path, "train")


def test_dataset_must_fit_the_model():
    x, y = progression(8, seq_len=10)
    with trmdis.Model(progression_config(), seed=0) as model:
        with trmdis.Dataset(x[:, :6], y[:, :6]) as short:
            with pytest.raises(trmdis.InvalidArgumentError, match="sequence length 6"):
                model.evaluate(short)
            with pytest.raises(trmdis.InvalidArgumentError, match="train does not fit the model"):
                trmdis.Trainer(model, short)
        big = x.copy()
        big[0, 0] = 6
        with trmdis.Dataset(big, y) as out_of_vocab:
            with pytest.raises(trmdis.InvalidArgumentError, match="outside the vocabulary"):
                model.evaluate(out_of_vocab)
        with trmdis.Dataset(x, y) as good, trmdis.Dataset(x[:, :6], y[:, :6]) as short:
            with pytest.raises(trmdis.InvalidArgumentError, match="eval does not fit the model"):
                trmdis.Trainer(model, good, short)
    with trmdis.Model(tiny_config(), seed=0) as other, trmdis.Dataset(x, y) as data:
        with pytest.raises(trmdis.InvalidArgumentError, match="sequence length"):
            other.evaluate(data)
