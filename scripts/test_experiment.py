#!/usr/bin/env python3
"""Fast checks of scripts/experiment.py (seconds, no training): reading `trmdis eval` and `trmdis solve`
output, the network-application counts, and (with matplotlib) the report from a synthetic results.json.
Not part of `make test`; run with `python3 scripts/test_experiment.py`."""
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import experiment as ex  # noqa: E402

EVAL = """test (w = 1.0): 20 examples, exact 0.2500, valid 0.3000, token 0.4500, 18 net calls per example
  step  exact   token   hamming  valid
   1    0.0000  0.1938  12.900  0.0000
   2    0.2500  0.4500  8.250  0.3000
seconds: 0.10
"""

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


def test_eval_parsing():
    m = ex.REPORT_RE.search(EVAL)
    assert m and float(m[1]) == 0.25 and float(m[2]) == 0.3 and int(m[4]) == 18
    steps = [ex.STEP_RE.match(l) for l in EVAL.splitlines()]
    steps = [s for s in steps if s]
    assert [int(s[1]) for s in steps] == [1, 2] and float(steps[1][4]) == 8.25 and float(steps[1][5]) == 0.3


def test_solve_parsing():
    f = ex.parse_solve(SOLVE_SUDOKU, "sudoku")
    assert [t for t, _ in f] == ["puzzle", "answer", "step 1: 13 wrong"]
    assert f[1][1] == [["1", "4", "3", "2"], ["2", "3", "1", "4"], ["4", "1", "2", "3"], ["3", "2", "4", "1"]]
    assert f[2][1][3] == ["1", ".", "4", "."]
    g = ex.parse_solve(SOLVE_MAZE, "maze")
    assert [t for t, _ in g] == ["puzzle", "answer", "step 1: 1 wrong", "step 2: 0 wrong"]
    assert g[1][1][1] == ["#", "S", "o", "#"] and g[2][1][2] == ["#", " ", "G", " "]
    assert all(len(r) == 4 for _, grid in g for r in grid)


def test_counts():
    task = ex.Task("t", "t", "sudoku", [], dis_nsup=6, minutes=(1, 1), batch=8)
    dis_rows = [dict(trainer_step=i + 1, elapsed=i, metrics=dict(optimizer_steps=6 * (i + 1), finished=8)) for i in range(10)]
    s = ex.summarise_run(task, "dis", dis_rows)
    assert s["train_calls_per_example"] == 18 and s["examples"] == 80 and s["train_calls_total"] == 60 * 8 * 3
    trm_rows = [dict(trainer_step=i + 1, elapsed=i, metrics=dict(optimizer_steps=i + 1, finished=f, mean_steps=m))
                for i, (f, m) in enumerate([(0, None), (2, 16.0), (6, 4.0)])]
    s = ex.summarise_run(task, "trm", trm_rows)
    assert s["examples"] == 8 and abs(s["mean_steps"] - 7.0) < 1e-12 and abs(s["train_calls_per_example"] - 147) < 1e-9
    assert s["infer_calls_per_example"] == 336


def test_report():
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        print("(matplotlib missing: report not drawn)")
        return
    import report
    step = lambda k, h: dict(step=k, exact=0.1 * k, token=0.5, hamming=h, valid=0.1 * k)
    def run(method, corruption, nsup, per):
        curve = [dict(optimizer_step=10 * i, examples_seen=8 * i, seconds=5.0 * i, train_calls=240 * i, exact=0.1 * i,
                      valid=0.1 * i, token=0.5, net_calls=nsup * per,
                      per_step=[step(k, 5.0 - 0.2 * k) for k in range(1, nsup + 1)]) for i in range(1, 4)]
        return dict(method=method, corruption=corruption, command="trmdis train ...", curve=curve,
                    summary=dict(optimizer_steps=30, examples=24, mean_steps=nsup, calls_per_step=per, train_calls_total=7200,
                                 train_calls_per_example=nsup * per, infer_calls_per_example=nsup * per),
                    load=dict(load_mean=2.0, load_max=3.0),
                    guidance=[dict(w=w, examples=10, exact=0.2, valid=0.2, token=0.6) for w in ex.GUIDANCE])
    frames = ex.parse_solve(SOLVE_SUDOKU, "sudoku")
    t = dict(task=dict(title="4x4 Sudoku", kind="sudoku", hidden=64, layers=2, heads=4, batch=8, lr=0.002),
             data_command="trmdis data sudoku", minutes=1, eval_limit=10,
             runs={"dis": run("dis", "path", 6, 3), "trm": run("trm", "path", 16, 21),
                   "dis-mask": run("dis", "mask", 6, 3), "dis-random": run("dis", "random", 6, 3)},
             solve=dict(index=0, frames=frames, command="trmdis solve ..."), solve_trm=dict(index=0, frames=frames))
    meta = dict(mode="quick", started="now", uptime_start="load average: 1, 1, 1", uptime_end="load average: 1, 1, 1",
                cpus=2, command="make experiment-quick", seconds=60, tasks={"sudoku4": t})
    with tempfile.TemporaryDirectory() as d:
        report.write(meta, d, d)
        text = open(os.path.join(d, "results-quick.md")).read()
        assert "| 4x4 Sudoku | 10 | 30.0% (30.0%) | 30.0% (30.0%) | 18.7x | 18.7x | 18.7x | yes |" in text, text
        pngs = sorted(os.listdir(os.path.join(d, "results-quick")))
        assert os.path.exists(os.path.join(d, "results-quick.md")); assert "solve_sudoku4.png" in pngs and "corruption_kernels.png" in pngs and len(pngs) == 7, pngs


if __name__ == "__main__":
    for name, f in list(globals().items()):
        if name.startswith("test_"):
            f()
            print("ok", name)
