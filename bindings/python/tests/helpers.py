"""Shared test fixtures' building blocks."""

from pathlib import Path

import trmdis

REPO = Path(__file__).resolve().parents[3]
HEADER = REPO / "Include" / "trmdis.h"


def tiny_config(**changes) -> trmdis.ModelConfig:
    """vocab 5, seq 6, D 16, 2 heads, 1 layer, a 2-position puzzle prefix, T 2, n 3."""
    base = trmdis.ModelConfig(vocab_size=5, seq_len=6, hidden_size=16, num_heads=2, num_layers=1,
                              puzzle_emb_len=2, num_puzzle_identifiers=3, h_cycles=2, l_cycles=3,
                              supervision_steps=4)
    return base.replace(**changes)


def progression(count: int, seq_len: int = 10, seed: int = 0):
    """Arithmetic progressions mod 4 (tokens 2...5) with about half the cells after the first two blanked
    (token 1): (inputs, labels), int32 arrays of shape (count, seq_len). Every blank is determined by the
    visible cells, so the task is learnable, and input and label differ at the blanks."""
    import numpy as np

    rng = np.random.default_rng(seed)
    start, stride = rng.integers(0, 4, count), rng.integers(1, 4, count)
    t = np.arange(seq_len)
    labels = 2 + (start[:, None] + t[None, :] * stride[:, None]) % 4
    blank = (rng.random((count, seq_len)) < 0.5) & (t[None, :] > 1)
    return np.where(blank, 1, labels).astype(np.int32), labels.astype(np.int32)


def progression_config(**changes) -> trmdis.ModelConfig:
    """A small DIS model for progression(): vocab 6, seq 10, D 64, 4 heads, 1 layer, T 1, n 2, N_sup 4."""
    base = trmdis.ModelConfig(vocab_size=6, seq_len=10, puzzle_emb_len=1, num_puzzle_identifiers=1, hidden_size=64,
                              num_heads=4, expansion=2.0, num_layers=1, h_cycles=1, l_cycles=2, supervision_steps=4,
                              time_embedding=True)
    return base.replace(**changes)


def limit_address_space(room: int) -> None:
    """Sets this process's address-space limit (`ulimit -v`) to what it maps now plus `room` bytes."""
    import resource

    with open("/proc/self/statm") as f:
        mapped = int(f.read().split()[0]) * resource.getpagesize()
    resource.setrlimit(resource.RLIMIT_AS, (mapped + room, resource.RLIM_INFINITY))


#: Hyper-parameters under which progression_config() learns progression() in a few dozen steps.
FAST = dict(batch_size=32, learning_rate=3e-3, warmup_steps=20, weight_decay=0.01)
