#!/usr/bin/env python3
"""The toy task of docs/your-task.md: sort 8 digits. Builds the data with numpy, trains DIS from each recipe for
the same wall-clock budget, and prints held-out exact and token accuracy after every supervision step.

    TRMDIS_LIBRARY=build/lib/libtrmdis.so PYTHONPATH=bindings/python python3 scripts/your_task.py --seconds 90
"""

import argparse
import os
import platform
import time

import numpy as np

import trmdis

DIGITS, LENGTH = 10, 8  # tokens 1...10 are the digits 0...9; 0 is padding (unused here)


def sort_task(count: int, seed: int):
    """(inputs, labels): `count` rows of 8 random digits and the same digits sorted."""
    rng = np.random.default_rng(seed)
    x = rng.integers(1, DIGITS + 1, size=(count, LENGTH), dtype=np.int32)
    return x, np.sort(x, axis=1)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=90, help="training budget per recipe")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--recipes", default="small-task,paper")
    a = p.parse_args()
    trmdis.set_num_threads(a.threads)
    train_x, train_y = sort_task(20000, seed=1)
    test_x, test_y = sort_task(1000, seed=2)
    # The copy baseline: how much of the answer the input already is.
    print(f"copying the input: exact {np.mean((test_x == test_y).all(1)):.3f}, token {np.mean(test_x == test_y):.3f}")
    config = trmdis.ModelConfig(vocab_size=DIGITS + 1, seq_len=LENGTH, puzzle_emb_len=0, num_puzzle_identifiers=0,
                                hidden_size=64, num_heads=4, expansion=4.0, num_layers=2, h_cycles=1, l_cycles=2,
                                supervision_steps=4).for_method("dis")
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    print(f"{platform.node()}: {cpu}, {os.cpu_count()} cores, {a.threads} threads; blas {trmdis.blas_info()['core']}")
    for recipe in a.recipes.split(","):
        params = trmdis.TrainParams.recipe(recipe, "dis", max_seconds=a.seconds, seed=0)
        with trmdis.Model(config, seed=0) as model, trmdis.Dataset(train_x, train_y) as train, \
                trmdis.Dataset(test_x, test_y) as test, trmdis.Trainer(model, train, params=params) as trainer:
            start = time.monotonic()
            run = trainer.run(progress=False)
            seconds = time.monotonic() - start
            result = model.evaluate(test)
            last = run.last
            print(f"recipe {recipe}: {run.steps} trainer steps ({last.optimizer_steps} optimiser steps) in "
                  f"{seconds:.0f} s, last train loss {last.loss:.3f}; held-out exact by step "
                  + ", ".join(f"{v:.3f}" for v in result.exact_by_step)
                  + f"; token {result.token_accuracy:.3f}")


if __name__ == "__main__":
    main()
