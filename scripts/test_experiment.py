#!/usr/bin/env python3
"""Fast checks of scripts/experiment.py (seconds, no training): the validation split it carves, its job
order, the counts it reads from the metrics, the N-Queens scoring, reading `trmdis solve`, and the report
drawn from a synthetic results.json. Needs numpy and matplotlib (`make test-experiment` runs it in
.venv-experiment; CI does)."""
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy as np  # noqa: E402

import experiment as ex  # noqa: E402
import experiment_runner as rn  # noqa: E402
import experiment_tasks as tk  # noqa: E402

SOLVE_MAZE = """maze 4x4, example 0 of m/test; 3 net calls per step

puzzle    answer    
####      ####      
#S #      #So#      
# G#      # G#      
####      ####      

step 1: 1 wrong    step 2: 0 wrong    
####               ####               
#S  #              #So#               
# G                # G#               
####               ####               
"""

SOLVE_SUDOKU = """sudoku 4x4 (boxes 2x2), example 0 of s/test; 3 net calls per step

puzzle        answer        
. . | . 2     1 4 | 3 2     
. . | . .     2 3 | 1 4     
----+-----    ----+-----    
. 1 | . .     4 1 | 2 3     
3 . | 4 .     3 2 | 4 1     

step 1: 13 wrong    
. . | . 2           
. . | . .           
----+-----          
. 1 | . .           
1 . | 4 .           
"""


def test_solve_parsing():
    f = rn.parse_solve(SOLVE_SUDOKU, "sudoku")
    assert [t for t, _ in f] == ["puzzle", "answer", "step 1: 13 wrong"]
    assert f[1][1] == [["1", "4", "3", "2"], ["2", "3", "1", "4"], ["4", "1", "2", "3"], ["3", "2", "4", "1"]]
    assert f[2][1][3] == ["1", ".", "4", "."]
    g = rn.parse_solve(SOLVE_MAZE, "maze")
    assert [t for t, _ in g] == ["puzzle", "answer", "step 1: 1 wrong", "step 2: 0 wrong"]
    assert g[1][1][1] == ["#", "S", "o", "#"] and g[2][1][2] == ["#", " ", "G", " "]
    assert all(len(r) == 4 for _, grid in g for r in grid)


def test_counts():
    task = tk.Task("t", "t", "sudoku", [], dis_nsup=6, cpu_minutes=1, quick_minutes=1, batch=8)
    record = dict(cpu_seconds=60.0, wall_seconds=61.0)
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "m.jsonl")
        with open(path, "w") as f:
            for i in range(10):
                f.write(json.dumps(dict(trainer_step=i + 1, metrics=dict(optimizer_steps=6 * (i + 1), finished=8))) + "\n")
        s = ex.summarise(task, tk.METHOD["dis"], path, record)
        assert s["train_calls_per_example"] == 18 and s["examples"] == 80 and s["train_calls_total"] == 60 * 8 * 3
        with open(path, "w") as f:
            for i, (fin, m) in enumerate([(0, None), (2, 16.0), (6, 4.0)]):
                f.write(json.dumps(dict(trainer_step=i + 1, metrics=dict(optimizer_steps=i + 1, finished=fin, mean_steps=m))) + "\n")
        s = ex.summarise(task, tk.METHOD["trm"], path, record)
        assert s["examples"] == 8 and abs(s["mean_steps"] - 7.0) < 1e-12 and abs(s["train_calls_per_example"] - 147) < 1e-9
        assert s["infer_calls_per_example"] == 336
        assert ex.summarise(task, tk.METHOD["trm-t1n2"], path, record)["infer_calls_per_example"] == 48


def write_split(d, groups, per_group, seq=4):
    """A dataset split with `groups` groups of `per_group` one-example puzzles; example e has tokens e+1."""
    os.makedirs(d)
    n = groups * per_group
    x = (np.arange(n)[:, None] + 1 + np.zeros((1, seq), dtype=np.int64)).astype(np.uint8)
    np.save(os.path.join(d, "all__inputs.npy"), x)
    np.save(os.path.join(d, "all__labels.npy"), x)
    np.save(os.path.join(d, "all__puzzle_identifiers.npy"), np.zeros(n, dtype=np.int32))
    np.save(os.path.join(d, "all__puzzle_indices.npy"), np.arange(n + 1, dtype=np.int32))
    np.save(os.path.join(d, "all__group_indices.npy"), np.arange(0, n + 1, per_group, dtype=np.int32))
    with open(os.path.join(d, "dataset.json"), "w") as f:
        json.dump(dict(pad_id=0, ignore_label_id=0, blank_identifier_id=0, vocab_size=200, seq_len=seq,
                       num_puzzle_identifiers=1, total_groups=groups, mean_puzzle_examples=1.0,
                       total_puzzles=groups, sets=["all"]), f)


def test_validation_is_carved_from_training_groups():
    with tempfile.TemporaryDirectory() as d:
        write_split(os.path.join(d, "data", "train"), groups=10, per_group=3)
        rn.carve_validation(os.path.join(d, "data"), os.path.join(d, "val"), groups=3)
        tr = {k: np.load(os.path.join(d, "val", "train", f"all__{k}.npy")) for k in ("inputs", "group_indices", "puzzle_indices")}
        te = {k: np.load(os.path.join(d, "val", "test", f"all__{k}.npy")) for k in ("inputs", "group_indices", "puzzle_indices")}
        # Train keeps groups 0-6 whole (21 examples); validation is the first puzzle of groups 7, 8, 9.
        assert tr["inputs"][:, 0].tolist() == list(range(1, 22)) and tr["group_indices"].tolist() == [0, 3, 6, 9, 12, 15, 18, 21]
        assert te["inputs"][:, 0].tolist() == [22, 25, 28] and te["group_indices"].tolist() == [0, 1, 2, 3]
        assert te["puzzle_indices"].tolist() == [0, 1, 2, 3] and tr["puzzle_indices"][-1] == 21
        meta = json.load(open(os.path.join(d, "val", "test", "dataset.json")))
        assert meta["total_groups"] == 3 and meta["seq_len"] == 4
        assert set(tr["inputs"][:, 0]).isdisjoint(te["inputs"][:, 0])


def test_jobs_wait_for_what_they_need():
    order = []
    jobs = ex.Jobs(workers=2)
    jobs.add("b", lambda: order.append("b") or 2, after=("a",))
    jobs.add("a", lambda: (time.sleep(0.1), order.append("a"))[1] or 1)
    jobs.add("c", lambda: order.append("c") or 3)
    assert jobs.run() == {"a": 1, "b": 2, "c": 3}
    assert order.index("a") < order.index("b")
    failing = ex.Jobs()
    failing.add("x", lambda: 1 / 0)
    try:
        failing.run()
    except ZeroDivisionError:
        pass
    else:
        raise AssertionError("a failed job must fail the run")


def test_queens_scoring():
    sol = [0, 4, 7, 5, 2, 6, 1, 3]  # an 8-queens solution (row r: column sol[r])
    board = np.ones(64, dtype=np.int64)
    board[[r * 8 + c for r, c in enumerate(sol)]] = 2
    given = np.ones(64, dtype=np.int64)
    given[[0, 12]] = 2  # rows 0 and 1
    assert rn.queens_valid(board, given, 8)
    other = given.copy()
    other[1] = 2  # a given queen the board lacks
    assert not rn.queens_valid(board, other, 8)
    attacked = board.copy()
    attacked[[7 * 8 + 3, 7 * 8 + 4]] = [1, 2]  # row 7's queen moved onto row 1's column
    assert not rn.queens_valid(attacked, given, 8)
    with tempfile.TemporaryDirectory() as d:
        os.makedirs(os.path.join(d, "test"))
        x = np.stack([given, given, board * 0 + 1])
        x[2][[0, 12, 23]] = 2  # three given
        np.save(os.path.join(d, "test", "all__inputs.npy"), x.astype(np.uint8))
        np.save(os.path.join(d, "test", "all__labels.npy"), np.stack([board] * 3).astype(np.uint8))
        np.save(os.path.join(d, "p.npy"), np.stack([board, attacked, board]).astype(np.uint8))
        by = rn.by_given_queens(d, os.path.join(d, "p.npy"))
        assert by == {"2": dict(examples=2, exact=0.5, valid=0.5, copy=0.0), "3": dict(examples=1, exact=1.0, valid=1.0, copy=0.0)}


def synthetic_results():
    step = lambda k, h: dict(step=k, exact=0.1 * k, token=0.5, hamming=h, valid=0.1 * k)

    def run(method, seed, exact):
        nsup = 6 if method == "dis" else 16
        curve = [dict(tag=f"cpu{i / 5:.2f}" if i < 5 else "final", optimizer_steps=100 * i, examples_seen=16 * i,
                      cpu_seconds=12.0 * i, exact=exact * i / 5, valid=exact * i / 5, token=0.9, hamming=1.0, net_calls=18,
                      per_step=[step(k, 5.0 - 0.2 * k) for k in range(1, nsup + 1)]) for i in range(1, 6)]
        final = dict(curve[-1], by_given={"2": dict(examples=3, exact=exact, valid=exact, copy=0.0)})
        matched = dict(curve[1], tag="matched", exact=exact / 2)
        return dict(setting=dict(lr=1e-3, ema=False), curve=curve, final=final, matched=matched, command="trmdis train ...",
                    summary=dict(optimizer_steps=500, examples=80, mean_steps=nsup, calls_per_step=3, train_calls_total=7200,
                                 train_calls_per_example=nsup * 3, infer_calls_per_example=nsup * 3, cpu_seconds=72.0))
    exact = {"dis": (0.8, 0.85, 0.9), "trm": (0.3, 0.4, 0.5), "trm-t1n2": (0.7, 0.86, 0.95)}
    frames = rn.parse_solve(SOLVE_SUDOKU, "sudoku")
    task = tk.TASKS[-1].__dict__.copy()
    t = dict(task=task, minutes=1, seeds=[1, 2, 3], data_command="trmdis data nqueens --size 8",
             copy=dict(exact=0.0, token=0.9, hamming=3.0),
             runs={m: {str(s): run(m, s, exact[m][s - 1]) for s in (1, 2, 3)} for m in exact},
             settings={m: dict(lr=1e-3, ema=m == "trm") for m in exact},
             guidance=[dict(w=w, exact=0.2, valid=0.2, token=0.6) for w in tk.GUIDANCE],
             solve=dict(index=0, frames=frames, trm_frames=frames, command="trmdis solve ..."))
    table = {"nqueens8": {m: [dict(lr=lr, ema=e, exact=0.5, valid=0.5, token=0.9, optimizer_steps=10)
                              for lr in tk.LEARNING_RATES for e in (False, True)] for m in exact}}
    settings = dict(chosen={"nqueens8": {m: dict(lr=1e-3, ema=m == "trm") for m in exact}}, table=table,
                    learning_rates=list(tk.LEARNING_RATES), ema_rate=0.999, sweep_fraction=0.5, seed=100)
    return dict(mode="full", finished="now", seconds=60, uptime_start="", settings=settings, command="make experiment",
                machine=dict(cpu="Test CPU", isa="AVX2", cpus=2, blas="OpenBLAS"), tasks={"nqueens8": t},
                binary=dict(commit="0123456789ab", uncommitted_changes=True, version="0.5.0", copied="then"))


def test_report():
    import report
    with tempfile.TemporaryDirectory() as d:
        report.write(synthetic_results(), d, d)
        text = open(os.path.join(d, "results.md")).read()
        # DIS 80/85/90 against TRM-ACT (T 3, n 6) 30/40/50: beyond the spread; against (T 1, n 2) 70/86/95: within it.
        assert ("| N-Queens 8x8 (1-7 given) | compute-matched | 85.0% | 40.0% | 83.7% | **DIS** by 45.0 points (beyond the "
                "seeds' spread) | DIS by 1.3 points, within the seeds' spread |") in text, text
        assert "85.0 ± 5.0 (80.0, 85.0, 90.0)" in text
        # 3 methods x 3 seeds of 72 CPU s each: 0.18 CPU hours, whichever invocations ran them.
        assert ("Its 9 training runs took 0.2 CPU hours between them (each run's own count, whichever invocation "
                "ran it); the binary was built from commit 0123456789ab with uncommitted changes (0.5.0).") in text, text
        assert ("- **Compute-matched**, DIS against TRM-ACT (T 3, n 6): ahead (beyond the spread) on N-Queens 8x8 "
                "(1-7 given). Against TRM-ACT (T 1, n 2): ahead (within the spread) on N-Queens 8x8 (1-7 given).") in text, text
        assert "| DIS (T 1, n 2) | **50.0% / 50.0%**" not in text and "lr 0.001, EMA on |" in text
        pngs = sorted(os.listdir(os.path.join(d, "results")))
        assert pngs == ["accuracy_vs_cpu_time.png", "accuracy_vs_optimizer_steps.png", "by_given_queens_nqueens8.png",
                        "guidance.png", "hamming_per_step.png", "solve_nqueens8.png"], pngs


if __name__ == "__main__":
    for name, f in list(globals().items()):
        if name.startswith("test_"):
            f()
            print("ok", name)
