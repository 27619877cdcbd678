"""What the experiment trains: the tasks, the three methods, the searched settings and the budgets.

A task fixes the dataset (`trmdis data` arguments), the network shared by every method on it and the
training budget in CPU minutes. A method fixes the recursion (T, n, N_sup) and the trainer. The learning
rate and EMA come from the search (`make experiment-sweep`, scripts/experiment_settings.json).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SETTINGS_PATH = os.path.join(ROOT, "scripts", "experiment_settings.json")


@dataclass
class Task:
    name: str
    title: str
    kind: str  # the solution checker and the grid drawing: sudoku, nqueens, maze
    data: list  # `trmdis data` arguments (without --seed/--out)
    dis_nsup: int
    cpu_minutes: float  # training budget per final run (the search uses SWEEP_FRACTION of it)
    quick_minutes: float
    network: list = field(default_factory=lambda: ["--hidden", "64", "--heads", "4", "--layers", "2"])
    network_text: str = "attention, RoPE, D 64, 2 layers, 4 heads"
    batch: int = 16
    warmup: int = 50
    eval_limit: int = 128  # held-out examples per evaluation
    validation_groups: int = 256  # training puzzles (with their augmented versions) held out for the search


TASKS = [
    Task("sudoku4", "4x4 Sudoku (8-12 clues)", "sudoku",
         ["sudoku", "--size", "4", "--min-clues", "8", "--max-clues", "12", "--spread-clues",
          "--train", "5000", "--test", "500"], dis_nsup=6, cpu_minutes=4, quick_minutes=0.5),
    Task("sudoku6", "6x6 Sudoku (20-26 clues)", "sudoku",
         ["sudoku", "--size", "6", "--min-clues", "20", "--max-clues", "26", "--spread-clues",
          "--train", "10000", "--test", "500"], dis_nsup=6, cpu_minutes=7, quick_minutes=0.5),
    Task("maze7", "Maze 7x7 (shortest path)", "maze",
         ["maze", "--size", "7", "--train", "5000", "--test", "300"], dis_nsup=6, cpu_minutes=5, quick_minutes=0.5),
    # The paper's own task: 1-7 given queens (paper §5.1), 8 dihedral versions per training puzzle, N_sup 8 (the
    # DIS code's). The token-mixing MLP learns the board's rows, columns and diagonals where attention with
    # 1-D RoPE over the 64 cells only copied the given queens in the earlier experiment (docs/results.md).
    Task("nqueens8", "N-Queens 8x8 (1-7 given)", "nqueens",
         ["nqueens", "--size", "8", "--min-given", "1", "--max-given", "7", "--train", "3000", "--test", "350",
          "--aug", "7"], dis_nsup=8, cpu_minutes=7, quick_minutes=0.5,
         network=["--hidden", "64", "--layers", "2", "--mixer", "mlp_t", "--positions", "none"],
         network_text="mlp_t (token-mixing MLP), no positions, D 64, 2 layers", eval_limit=350),
]


@dataclass
class Method:
    key: str
    title: str
    trainer: str  # dis or trm
    T: int
    n: int
    nsup: int | None  # None: the task's DIS N_sup

    def supervision_steps(self, task: Task) -> int:
        return self.nsup if self.nsup is not None else task.dis_nsup

    def calls_per_step(self) -> int:
        return self.T * (self.n + 1)


METHODS = [
    Method("dis", "DIS (T 1, n 2)", "dis", 1, 2, None),
    Method("trm", "TRM-ACT (T 3, n 6)", "trm", 3, 6, 16),
    # The DIS repository's own TRM baseline: the same recursion as DIS, with halting and 16 steps.
    Method("trm-t1n2", "TRM-ACT (T 1, n 2)", "trm", 1, 2, 16),
]
METHOD = {m.key: m for m in METHODS}

# The search: every learning rate, each read with and without EMA (one run gives both: the EMA copy is
# only the evaluation weights, training never reads it).
LEARNING_RATES = (1e-4, 3e-4, 1e-3, 3e-3)
EMA_RATE = 0.999
SWEEP_FRACTION = 0.5  # a search run trains for this fraction of the final budget
SWEEP_SEED = 100
FINAL_SEEDS = (1, 2, 3)
DATA_SEED = 1
SNAPSHOTS = 5  # checkpoints kept per final run, at equal fractions of its CPU budget
GUIDANCE = (0.0, 0.5, 1.0, 1.5, 2.0)
DEFAULT_SETTING = dict(lr=1e-3, ema=False)  # quick mode before any search


def load_settings(path=SETTINGS_PATH):
    """{task: {method: {"lr", "ema"}}} chosen by the search, or None before it ran."""
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def setting(settings, task: Task, method: Method):
    if settings and task.name in settings.get("chosen", {}) and method.key in settings["chosen"][task.name]:
        return settings["chosen"][task.name][method.key]
    return dict(DEFAULT_SETTING)
