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
