"""Seeded random fuzzing of the binding and, through it, the C boundary: random configurations, random
arguments to predict, and randomly damaged model and dataset files. Every case must either work or raise a
Python exception (the library's TRMError family, or ValueError/TypeError/OverflowError from the binding's own
checks); a crash of the library would kill pytest itself. Under valgrind: see docs/engine.md."""

import math
import shutil
from pathlib import Path

import numpy as np
import pytest

import trmdis
from helpers import REPO, tiny_config

ROUNDS = 150
EXPECTED = (trmdis.TRMError, ValueError, TypeError, OverflowError)
FIXTURE = REPO / "Tests" / "TRMDISTests" / "Fixtures" / "sudoku-official"


def hostile_int(rng: np.random.Generator) -> int:
    """Small sane values most of the time, else the edges C code gets wrong."""
    edges = [0, -1, 1, 2, 3, 2**31 - 1, -(2**31), 2**31, 2**63 - 1, -(2**63), 2**64, 1 << 20, (1 << 20) + 1]
    return int(rng.integers(1, 9)) if rng.random() < 0.7 else edges[int(rng.integers(len(edges)))]


def hostile_float(rng: np.random.Generator) -> float:
    edges = [0.0, -1.0, math.nan, math.inf, -math.inf, 1e38, -1e-45, 2.0]
    return float(rng.uniform(0.5, 4)) if rng.random() < 0.7 else edges[int(rng.integers(len(edges)))]


def test_random_configurations():
    rng = np.random.default_rng(1)
    made = 0
    ints = ["vocab_size", "seq_len", "puzzle_emb_len", "num_puzzle_identifiers", "num_heads", "num_layers",
            "h_cycles", "l_cycles", "supervision_steps"]
    for _ in range(ROUNDS):
        changes = {name: hostile_int(rng) for name in rng.choice(ints, size=int(rng.integers(1, 4)), replace=False)}
        if rng.random() < 0.3:
            changes["hidden_size"] = int(rng.choice([0, -8, 7, 8, 16, 1 << 30]))
        if rng.random() < 0.3:
            changes[str(rng.choice(["expansion", "rope_theta", "rms_norm_eps"]))] = hostile_float(rng)
        try:
            model = trmdis.Model(tiny_config(**changes), seed=int(rng.integers(0, 2**63)))
        except EXPECTED:
            continue
        with model:
            assert model.parameter_count > 0
            made += 1
    assert 0 < made < ROUNDS, made  # both outcomes occurred, so the fuzzing reached past validation


def test_random_predict_arguments():
    rng = np.random.default_rng(2)
    model = trmdis.Model(tiny_config(), seed=3)
    c = model.config
    worked = 0
    dtypes = [np.int32, np.int64, np.int8, np.uint8, np.float32, np.float64, bool, object]
    for _ in range(ROUNDS):
        n = int(rng.choice([0, 1, 2, 5]))
        shape = [(n, c.seq_len), (n, c.seq_len + int(rng.integers(-2, 3))), (c.seq_len,), (n, c.seq_len, 1), ()][
            int(rng.integers(5))]
        values = rng.integers(-3, c.vocab_size + 3, size=shape)
        if rng.random() < 0.2:
            values = values * (2**40)
        inputs = values.astype(dtypes[int(rng.integers(len(dtypes)))]) if rng.random() < 0.5 else values
        ids = None if rng.random() < 0.5 else rng.integers(-2, c.num_puzzle_identifiers + 2, size=max(n, 1))
        kwargs = dict(steps=None if rng.random() < 0.5 else hostile_int(rng),
                      guidance=1.0 if rng.random() < 0.5 else hostile_float(rng),
                      batch_size=None if rng.random() < 0.5 else hostile_int(rng))
        try:
            p = model.predict(inputs, puzzle_ids=ids, **kwargs)
        except EXPECTED:
            continue
        worked += 1
        assert p.trace.min() >= 0 and p.trace.max() < c.vocab_size
    assert 0 < worked < ROUNDS, worked


def mutate(data: bytes, rng: np.random.Generator) -> bytes:
    """Truncation, byte flips, a garbage splice, a lying 8-byte header length, or appended junk."""
    kind = int(rng.integers(5))
    b = bytearray(data)
    if kind == 0:
        return bytes(b[: int(rng.integers(0, len(b)))])
    if kind == 1:
        for _ in range(int(rng.integers(1, 16))):
            b[int(rng.integers(len(b)))] = int(rng.integers(256))
        return bytes(b)
    if kind == 2:
        at = int(rng.integers(len(b)))
        junk = rng.integers(0, 256, size=int(rng.integers(1, 64)), dtype=np.uint8).tobytes()
        return bytes(b[:at] + junk + b[at + len(junk):])
    if kind == 3:
        lie = [0, 7, len(b), 2**40, 2**64 - 1][int(rng.integers(5))]
        return lie.to_bytes(8, "little") + bytes(b[8:])
    return bytes(b) + rng.integers(0, 256, size=int(rng.integers(1, 128)), dtype=np.uint8).tobytes()


def test_damaged_model_files(tmp_path: Path):
    rng = np.random.default_rng(4)
    good = tmp_path / "good.safetensors"
    trmdis.Model(tiny_config(), seed=5).save(good)
    original = good.read_bytes()
    loaded = 0
    for i in range(ROUNDS):
        bad = tmp_path / f"bad{i % 4}.safetensors"
        bad.write_bytes(mutate(original, rng))
        try:
            model = trmdis.Model.load(bad)
        except trmdis.TRMError:
            continue
        with model:  # a flip inside the weights can still be a valid file: then it must work, or stop with
            try:     # NumericalError where the flip made a weight huge enough to overflow
                p = model.predict(np.full((1, model.config.seq_len), 1, dtype=np.int32))
            except trmdis.NumericalError:
                continue
            assert p.trace.shape[1:] == (1, model.config.seq_len)
            loaded += 1
    assert loaded < ROUNDS


def test_damaged_dataset_files(tmp_path: Path):
    rng = np.random.default_rng(6)
    files = sorted(p.relative_to(FIXTURE) for p in (FIXTURE / "test").iterdir())
    for i in range(ROUNDS):
        work = tmp_path / f"d{i % 3}"
        shutil.rmtree(work, ignore_errors=True)
        shutil.copytree(FIXTURE, work)
        victim = work / files[int(rng.integers(len(files)))]
        victim.write_bytes(mutate(victim.read_bytes(), rng))
        try:
            data = trmdis.Dataset.load(work, "test")
        except trmdis.TRMError:
            continue
        with data:
            assert len(data) >= 1


@pytest.mark.parametrize("split", ["test", "../test", "", "nope", "test/../test", "\x00", "t" * 5000])
def test_hostile_split_names(split: str):
    try:
        trmdis.Dataset.load(FIXTURE, split).close()
    except EXPECTED:
        pass
