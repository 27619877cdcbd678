"""Data-parallel training through the allreduce callback, with two ranks as two threads of this process (the
callback a barrier and a numpy sum; with MPI it would be mpi4py's Allreduce, docs/distributed.md)."""

import json
import struct
import threading

import numpy as np
import pytest

import trmdis

from helpers import FAST, progression, progression_config


class ThreadGroup:
    """`size` ranks in threads: allreduce(rank) sums every rank's array, in rank order, into each of them."""

    def __init__(self, size):
        self.size = size
        self.barrier = threading.Barrier(size, timeout=60)
        self.slots = [None] * size
        self.total = None

    def allreduce(self, rank):
        def reduce(array):
            assert array.dtype == np.float32 and array.ndim == 1
            self.slots[rank] = array
            self.barrier.wait()
            if rank == 0:
                total = self.slots[0].copy()
                for other in self.slots[1:]:
                    total += other
                self.total = total
            self.barrier.wait()
            array[:] = self.total
            self.barrier.wait()
        return reduce


def weights(model, path):
    """Every float tensor of the model's safetensors file, concatenated."""
    model.save(path)
    blob = path.read_bytes()
    (length,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + length])
    data = blob[8 + length:]
    parts = [np.frombuffer(data[v["data_offsets"][0]:v["data_offsets"][1]], dtype=np.float32)
             for k, v in sorted(header.items()) if k != "__metadata__" and v["dtype"] == "F32"]
    return np.concatenate(parts)


def relative_error(a, b):
    return float(np.linalg.norm(a.astype(np.float64) - b) / np.linalg.norm(a.astype(np.float64)))


@pytest.fixture(scope="module")
def train():
    x, y = progression(256, seed=5)
    ids = np.arange(256, dtype=np.int32) % 3
    with trmdis.Dataset(x, y, puzzle_ids=ids) as data:
        yield data


CONFIG = progression_config(num_puzzle_identifiers=3)
# lr 1e-3: the ranks' gradients differ from one process's by float rounding only (summation order), but a
# large rate lets training amplify it (measured at lr 3e-3: 2e-7 after 10 steps, 7e-6 after 20; at 1e-3:
# 2e-7 after 20).
PARAMS = dict(FAST, batch_size=8, seed=4, learning_rate=1e-3)


def run_ranks(size, steps, make, checkpoint=None):
    """Trains `size` trainers made by make(rank, allreduce) on threads; returns them and their last infos."""
    group = ThreadGroup(size)
    trainers, infos, errors = [None] * size, [None] * size, []

    def rank_main(rank):
        try:
            trainer = make(rank, group.allreduce(rank))
            for _ in range(steps):
                infos[rank] = trainer.step()
            if checkpoint is not None:
                trainer.save_checkpoint(checkpoint)  # every rank calls it; rank 0 writes
            trainers[rank] = trainer
        except BaseException as error:  # noqa: B902 - reported below
            errors.append(error)
            group.barrier.abort()

    threads = [threading.Thread(target=rank_main, args=(r,)) for r in range(size)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    return trainers, infos


def test_two_ranks_equal_one_process(train, tmp_path):
    single = trmdis.Trainer(trmdis.Model(CONFIG, seed=2), train, **PARAMS)
    for _ in range(20):
        last = single.step()
    trainers, infos = run_ranks(2, 20, lambda rank, reduce: trmdis.Trainer(
        trmdis.Model(CONFIG, seed=2), train, rank=rank, world_size=2, allreduce=reduce, **PARAMS))
    expected = weights(single.model, tmp_path / "one.safetensors")
    rank0 = weights(trainers[0].model, tmp_path / "rank0.safetensors")
    rank1 = weights(trainers[1].model, tmp_path / "rank1.safetensors")
    np.testing.assert_array_equal(rank0, rank1)  # the replicas stay equal, bit for bit
    error = relative_error(expected, rank0)
    print(f"2 ranks against 1 process after 20 DIS steps: relative weight error {error:.2e}")
    assert 0 < error < 1e-5
    for info in infos:  # every rank reports the global batch
        assert info.finished == 8 and info.examples_seen == last.examples_seen
        assert info.optimizer_steps == last.optimizer_steps
        assert info.loss == pytest.approx(last.loss, rel=1e-4)
        assert info.token_accuracy == pytest.approx(last.token_accuracy, abs=1e-6)


def test_a_two_rank_checkpoint_resumes_in_one_process(train, tmp_path):
    straight = trmdis.Trainer(trmdis.Model(CONFIG, seed=2), train, **PARAMS)
    for _ in range(10):
        straight.step()
    run_ranks(2, 5, lambda rank, reduce: trmdis.Trainer(
        trmdis.Model(CONFIG, seed=2), train, rank=rank, world_size=2, allreduce=reduce, **PARAMS),
        checkpoint=tmp_path / "ck")
    resumed = trmdis.Trainer.resume(tmp_path / "ck", train)
    for _ in range(5):
        resumed.step()
    error = relative_error(weights(straight.model, tmp_path / "a.safetensors"),
                           weights(resumed.model, tmp_path / "b.safetensors"))
    assert error < 1e-5


def test_an_allreduce_exception_fails_the_step_and_is_raised(train):
    class TransportDown(RuntimeError):
        pass

    def broken(_array):
        raise TransportDown("the other rank is gone")

    with trmdis.Trainer(trmdis.Model(CONFIG, seed=2), train, allreduce=broken, **PARAMS) as trainer:
        with pytest.raises(TransportDown, match="the other rank is gone"):
            trainer.step()


@pytest.mark.parametrize("group, message", [
    (dict(world_size=2), "params->allreduce is NULL but params->world_size is 2"),
    (dict(world_size=0), "params->world_size must be in 1...65536"),
    (dict(rank=2, world_size=2, allreduce=lambda a: None), "params->rank must be in 0...1"),
    (dict(world_size=9, allreduce=lambda a: None), "batch_size 8 is smaller than params->world_size 9"),
])
def test_bad_groups_are_refused(train, group, message):
    with trmdis.Model(CONFIG, seed=2) as model:
        with pytest.raises(trmdis.InvalidArgumentError, match=message.replace(".", r"\.")):
            trmdis.Trainer(model, train, **group, **PARAMS)


def test_allreduce_must_be_callable(train):
    with trmdis.Model(CONFIG, seed=2) as model:
        with pytest.raises(trmdis.InvalidArgumentError, match="allreduce must be callable"):
            trmdis.Trainer(model, train, allreduce=3, **PARAMS)


def test_a_stop_on_one_rank_stops_every_rank_after_the_same_step(train):
    group, results, errors = ThreadGroup(2), [None, None], []

    def rank_main(rank):
        try:
            trainer = trmdis.Trainer(trmdis.Model(CONFIG, seed=2), train, rank=rank, world_size=2,
                                     allreduce=group.allreduce(rank), max_steps=50, **PARAMS)
            # Rank 1's callback stops after step 3; rank 0 would go on to 50.
            results[rank] = trainer.run(progress=False, callback=lambda info: not (rank == 1 and info.step == 3))
        except BaseException as error:  # noqa: B902 - reported below
            errors.append(error)
            group.barrier.abort()

    threads = [threading.Thread(target=rank_main, args=(r,)) for r in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert all(r is not None and r.stopped and r.steps == 3 and r.evaluation is None for r in results), results
