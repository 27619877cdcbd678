#!/usr/bin/env python3
"""DIS against the TRM-ACT baseline on CPU-sized tasks: one command from nothing to docs/results.md.

For every task (4x4 and 6x6 Sudoku, N-Queens 6x6 and 8x8, a small maze) it builds the dataset with
`trmdis data`, then trains DIS (T 1, n 2, N_sup 6 or 8) and TRM-ACT (T 3, n 6, N_sup 16) at the same
time, one thread each, with the same network, data and wall-clock budget. While they train it copies
their checkpoints every budget/K seconds; afterwards it evaluates every copy with `trmdis eval` (exact,
valid-solution and token accuracy, Hamming distance after every supervision step), sweeps the guidance
weight w on the final DIS (and TRM) checkpoints, trains DIS with the mask and random corruption kernels
on some tasks, shows one puzzle solved step by step with `trmdis solve`, and writes the tables, the
PNG figures (matplotlib) and docs/results.md.

    python scripts/experiment.py --mode quick     # about ten minutes
    python scripts/experiment.py --mode full      # about two hours

Everything it makes goes to build/experiment/<mode>/ (datasets, runs, logs, results.json) and the
report to docs/results.md + docs/results/*.png (quick mode: docs/results-quick.md + docs/results-quick/;
--report-dir to put them elsewhere). Only the standard
library, numpy and matplotlib are needed (`make experiment` installs them into .venv-experiment).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import time
from dataclasses import dataclass, field

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# --------------------------------------------------------------------------------------------------
# The tasks, in order of difficulty. `data`: the `trmdis data` arguments. Model and optimiser settings
# are shared by DIS and TRM on a task; only the recursion (T, n, N_sup) and the method differ.
# minutes: training budget per run (full, quick); snapshots: checkpoint copies evaluated per run.
# --------------------------------------------------------------------------------------------------


@dataclass
class Task:
    name: str
    title: str
    kind: str
    data: list
    dis_nsup: int
    minutes: tuple  # (full, quick)
    hidden: int = 64
    heads: int = 4
    layers: int = 2
    batch: int = 32
    lr: float = 2e-3
    warmup: int = 50
    eval_limit: tuple = (128, 48)  # held-out examples per evaluation (full, quick)
    corruption: bool = False  # also train DIS with the mask and random kernels
    solve_candidates: int = 40


TASKS = [
    Task("sudoku4", "4x4 Sudoku (8-12 clues)", "sudoku",
         ["sudoku", "--size", "4", "--min-clues", "8", "--max-clues", "12", "--spread-clues",
          "--train", "5000", "--test", "500"], dis_nsup=6, minutes=(12, 0.9), batch=16, lr=2e-3, corruption=True),
    Task("nqueens6", "N-Queens 6x6 (1-4 given)", "nqueens",
         ["nqueens", "--size", "6", "--min-given", "1", "--max-given", "4", "--train", "80", "--test", "30",
          "--aug", "7"], dis_nsup=8, minutes=(8, 0.9), batch=16, lr=1e-3, eval_limit=(30, 30)),
    Task("sudoku6", "6x6 Sudoku (20-26 clues)", "sudoku",
         ["sudoku", "--size", "6", "--min-clues", "20", "--max-clues", "26", "--spread-clues",
          "--train", "10000", "--test", "500"], dis_nsup=6, minutes=(15, 0.9), batch=16, lr=2e-3),
    Task("nqueens8", "N-Queens 8x8 (4-7 given)", "nqueens",
         ["nqueens", "--size", "8", "--min-given", "4", "--max-given", "7", "--train", "3000", "--test", "300",
          "--aug", "7"], dis_nsup=8, minutes=(15, 0.9), batch=16, lr=1e-3),
    Task("maze7", "Maze 7x7 (shortest path)", "maze",
         ["maze", "--size", "7", "--train", "5000", "--test", "300"], dis_nsup=6, minutes=(12, 0.9), batch=16,
         lr=1e-3, corruption=True),
]

GUIDANCE = [0.0, 0.5, 1.0, 1.5, 2.0]
TRM = dict(T=3, n=6, nsup=16)
DIS = dict(T=1, n=2)
PAPER_TRM, PAPER_DIS = 336, 18


def log(msg):
    print(time.strftime("%H:%M:%S"), msg, flush=True)


# --------------------------------------------------------------------------------------------------
# Running the CLI
# --------------------------------------------------------------------------------------------------


def safetensors_metadata(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
    return header.get("__metadata__", {})


@dataclass
class Run:
    """One `trmdis train` process and the checkpoint copies taken while it runs."""
    label: str
    method: str
    corruption: str
    args: list
    directory: str
    proc: subprocess.Popen = None
    snapshots: list = field(default_factory=list)  # (optimizer_step, examples_seen, path)
    last_state: tuple = None
    last_copy: float = 0.0


def train_command(binary, task, method, corruption, data_dir, run_dir, minutes, ckpt_every):
    nsup = task.dis_nsup if method == "dis" else TRM["nsup"]
    rec = DIS if method == "dis" else TRM
    cmd = [binary, "train", "--data", data_dir, "--preset", "nqueens",
           "--hidden", str(task.hidden), "--heads", str(task.heads), "--layers", str(task.layers),
           "--method", method, "--T", str(rec["T"]), "--n", str(rec["n"]), "--supervision-steps", str(nsup),
           "--batch", str(task.batch), "--lr", str(task.lr), "--warmup", str(task.warmup),
           "--ema", "0", "--grad-clip", "1.0", "--seed", "0", "--minutes", str(minutes), "--eval-limit", "16",
           "--checkpoint", os.path.join(run_dir, "ckpt"), "--checkpoint-every", str(ckpt_every),
           "--metrics", os.path.join(run_dir, "metrics.jsonl"), "--threads", "1"]
    if method == "dis":
        cmd += ["--corruption", corruption]
    return cmd


def poll_snapshots(run: Run, interval: float, final=False):
    """Copies the run's latest checkpoint when it is new and `interval` seconds have passed."""
    ck = os.path.join(run.directory, "ckpt")
    state, model = os.path.join(ck, "state.safetensors"), os.path.join(ck, "model.safetensors")
    try:
        st = os.stat(state)
    except FileNotFoundError:
        return
    key = (st.st_ino, st.st_mtime_ns)
    if key == run.last_state or (not final and time.time() - run.last_copy < interval):
        return
    try:
        meta = safetensors_metadata(state)
        step = int(meta["optimizer_step"])
        target = os.path.join(run.directory, "snapshots", f"step{step:07d}.safetensors")
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copyfile(model, target)
        if safetensors_metadata(state) != meta:  # a newer checkpoint landed meanwhile: try again later
            os.remove(target)
            return
    except (OSError, ValueError, KeyError, struct.error):
        return
    run.last_state, run.last_copy = key, time.time()
    if not any(s[0] == step for s in run.snapshots):
        run.snapshots.append((step, int(meta.get("examples_seen", 0)), target))


def train_together(runs, seconds, snapshots):
    """Starts the runs at the same time and copies their checkpoints while they train."""
    loads = []
    interval = seconds / snapshots
    for r in runs:
        os.makedirs(r.directory, exist_ok=True)
        for f in ("metrics.jsonl",):
            if os.path.exists(os.path.join(r.directory, f)):
                os.remove(os.path.join(r.directory, f))
        shutil.rmtree(os.path.join(r.directory, "ckpt"), ignore_errors=True)
        shutil.rmtree(os.path.join(r.directory, "snapshots"), ignore_errors=True)
        with open(os.path.join(r.directory, "command.txt"), "w") as f:
            f.write(" ".join(r.args) + "\n")
        r.proc = subprocess.Popen(r.args, stdout=open(os.path.join(r.directory, "train.log"), "w"),
                                  stderr=subprocess.STDOUT)
        r.last_copy = time.time()
    t0 = time.time()
    while any(r.proc.poll() is None for r in runs):
        for r in runs:
            if r.proc.poll() is None:
                poll_snapshots(r, interval)
        loads.append(os.getloadavg()[0])
        time.sleep(0.25)
    for r in runs:
        if r.proc.returncode != 0:
            raise SystemExit(f"{r.label}: trmdis train failed, see {r.directory}/train.log")
        poll_snapshots(r, 0, final=True)
        r.snapshots.sort()
    return dict(seconds=time.time() - t0, load_mean=sum(loads) / max(1, len(loads)),
                load_max=max(loads, default=0.0))


REPORT_RE = re.compile(r"examples, exact ([\d.]+)(?:, valid ([\d.]+))?, token ([\d.]+), (\d+) net calls per example")
STEP_RE = re.compile(r"^\s+(\d+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)(?:\s+([\d.]+))?\s*$")


def evaluate(binary, checkpoint, data_dir, limit, guidance=1.0, threads=1):
    out = subprocess.run([binary, "eval", "--checkpoint", checkpoint, "--data", data_dir, "--limit", str(limit),
                          "--guidance", str(guidance), "--threads", str(threads)],
                         check=True, capture_output=True, text=True).stdout
    m = REPORT_RE.search(out)
    if not m:
        raise SystemExit(f"cannot read the evaluation of {checkpoint}:\n{out}")
    steps = []
    for line in out.splitlines():
        s = STEP_RE.match(line)
        if s:
            steps.append(dict(step=int(s[1]), exact=float(s[2]), token=float(s[3]), hamming=float(s[4]),
                              valid=float(s[5]) if s[5] else None))
    return dict(exact=float(m[1]), valid=float(m[2]) if m[2] else None, token=float(m[3]),
                net_calls=int(m[4]), per_step=steps)


def parallel_map(jobs, workers=2):
    """Runs (callable) jobs two at a time in threads (each job is a subprocess with one thread)."""
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(lambda j: j(), jobs))


def read_metrics(path):
    rows = []
    with open(path) as f:
        for line in f:
            rows.append(json.loads(line))
    return rows


def summarise_run(task, method, rows):
    """Counts from the JSON-lines metrics: optimiser steps, examples, network applications."""
    nsup = task.dis_nsup if method == "dis" else TRM["nsup"]
    rec = DIS if method == "dis" else TRM
    per_step = rec["T"] * (rec["n"] + 1)
    last = rows[-1]
    opt_steps = last["metrics"]["optimizer_steps"]
    if method == "dis":
        examples = len(rows) * task.batch
        train_calls_per_example = nsup * per_step
        mean_steps = nsup
    else:
        fin = [r["metrics"] for r in rows if r["metrics"].get("finished", 0) > 0 and r["metrics"].get("mean_steps")]
        finished = sum(m["finished"] for m in fin)
        mean_steps = sum(m["mean_steps"] * m["finished"] for m in fin) / finished if finished else float("nan")
        examples = finished
        train_calls_per_example = mean_steps * per_step
    return dict(optimizer_steps=opt_steps, trainer_steps=last["trainer_step"], seconds=last["elapsed"],
                examples=examples, mean_steps=mean_steps, calls_per_step=per_step,
                train_calls_per_example=train_calls_per_example,
                train_calls_total=opt_steps * task.batch * per_step,
                infer_calls_per_example=nsup * per_step, nsup=nsup)


def elapsed_at(rows, optimizer_step):
    """Training seconds when the run had taken `optimizer_step` optimiser steps."""
    best = None
    for r in rows:
        if r["metrics"]["optimizer_steps"] <= optimizer_step:
            best = r
    return best["elapsed"] if best else 0.0


def copy_baseline(data_dir, limit):
    """Accuracy of copying the puzzle as the answer (the clues, the given queens, the maze without a path),
    on the evaluated test examples: what a model gets before it learns anything else."""
    import numpy as np
    x = np.load(os.path.join(data_dir, "test", "all__inputs.npy"))[:limit].astype(np.int64)
    y = np.load(os.path.join(data_dir, "test", "all__labels.npy"))[:limit].astype(np.int64)
    keep = y != -100
    same = (x == y) & keep
    return dict(exact=float(np.mean(same.sum(1) == keep.sum(1))),
                token=float(np.mean(same.sum(1) / np.maximum(1, keep.sum(1)))),
                hamming=float(np.mean((keep & (x != y)).sum(1))))


def solve_frames(binary, checkpoint, data_dir, index, kind):
    out = subprocess.run([binary, "solve", "--checkpoint", checkpoint, "--data", data_dir, "--index", str(index)],
                         check=True, capture_output=True, text=True).stdout
    return parse_solve(out, kind)


def parse_solve(out, kind):
    """The grids printed by `trmdis solve`: [(title, rows of cell symbols)], puzzle and answer first."""
    lines = out.splitlines()
    frames = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("puzzle") or line.startswith("step "):
            starts = [m.start() for m in re.finditer(r"(puzzle|answer|step \d+: \d+ wrong)", line)]
            titles = [line[s:e].strip() for s, e in zip(starts, starts[1:] + [None])]
            grids = [[] for _ in starts]
            i += 1
            while i < len(lines) and lines[i].strip():
                for g, (s, e) in enumerate(zip(starts, starts[1:] + [None])):
                    cell = lines[i][s:e] if s < len(lines[i]) else ""
                    cell = cell if kind == "maze" else cell.rstrip()
                    grids[g].append(cell)
                i += 1
            for t, g in zip(titles, grids):
                rows = [cells(kind, row) for row in g if cells(kind, row) is not None]
                if kind == "maze":  # a square grid: as many cells per row as rows (trailing blanks included)
                    rows = [(r + [" "] * len(rows))[:len(rows)] for r in rows]
                frames.append((t, rows))
        else:
            i += 1
    return frames


def cells(kind, row):
    if kind == "maze":
        return list(row) if row.strip() else None
    if set(row) <= set("-+ "):
        return None  # a Sudoku box rule
    return [c for c in row.split() if c != "|"]


# --------------------------------------------------------------------------------------------------
# The experiment
# --------------------------------------------------------------------------------------------------


def run_task(binary, task, mode, base, results):
    q = mode == "quick"
    minutes = task.minutes[1] if q else task.minutes[0]
    limit = task.eval_limit[1] if q else task.eval_limit[0]
    nsnap = 2 if q else 6
    tdir = os.path.join(base, task.name)
    data_dir = os.path.join(tdir, "data")
    data_cmd = [binary, "data"] + task.data + ["--seed", "1", "--threads", "1", "--out", data_dir]
    shutil.rmtree(data_dir, ignore_errors=True)
    subprocess.run(data_cmd, check=True, capture_output=True)
    res = dict(task=task.__dict__.copy(), data_command=" ".join(["trmdis"] + data_cmd[1:]), minutes=minutes,
               eval_limit=limit, runs={})
    res["task"]["minutes"] = list(task.minutes)
    res["copy"] = copy_baseline(data_dir, limit)

    def make(method, corruption):
        label = method if method == "trm" else ("dis" if corruption == "path" else f"dis-{corruption}")
        rdir = os.path.join(tdir, label)
        # DIS trainer steps are mini-batches of N_sup optimiser steps; TRM steps are single ones.
        every = 2 if method == "dis" else 10
        args = train_command(binary, task, method, corruption, data_dir, rdir, minutes, every)
        return Run(label, method, corruption, args, rdir)

    groups = [[make("dis", "path"), make("trm", "path")]]
    if task.corruption and (not q or task.name == "sudoku4"):
        groups.append([make("dis", "mask"), make("dis", "random")])
    for group in groups:
        log(f"{task.name}: training {' and '.join(r.label for r in group)} together for {minutes} min, 1 thread each")
        load = train_together(group, minutes * 60, nsnap)
        log(f"{task.name}: done in {load['seconds']:.0f} s, load average mean {load['load_mean']:.2f} max {load['load_max']:.2f}")
        # Evaluate every copy (two evaluations at a time, one thread each).
        jobs, keys = [], []
        for r in group:
            for (step, seen, path) in r.snapshots:
                jobs.append(lambda p=path: evaluate(binary, p, data_dir, limit))
                keys.append((r, step, seen, path))
        evals = parallel_map(jobs)
        for r in group:
            rows = read_metrics(os.path.join(r.directory, "metrics.jsonl"))
            summary = summarise_run(task, r.method, rows)
            curve = []
            for (rr, step, seen, path), ev in zip(keys, evals):
                if rr is r:
                    curve.append(dict(optimizer_step=step, examples_seen=seen, seconds=elapsed_at(rows, step),
                                      train_calls=step * task.batch * summary["calls_per_step"], **ev))
            res["runs"][r.label] = dict(method=r.method, corruption=r.corruption, command=" ".join(["trmdis"] + r.args[1:]),
                                        summary=summary, curve=curve, load=load,
                                        final_checkpoint=os.path.join(r.directory, "ckpt", "model.safetensors"))
        log(f"{task.name}: " + "; ".join(f"{r.label} exact {res['runs'][r.label]['curve'][-1]['exact']:.3f}"
                                         for r in group))
    # Guidance sweep on the final checkpoints (TRM too, on fewer examples in quick mode).
    jobs, keys = [], []
    for label in ("dis", "trm") if not q else ("dis",):
        ck = res["runs"][label]["final_checkpoint"]
        lim = limit
        for w in GUIDANCE:
            jobs.append(lambda ck=ck, w=w, lim=lim: evaluate(binary, ck, data_dir, lim, guidance=w))
            keys.append((label, w, lim))
    for (label, w, lim), ev in zip(keys, parallel_map(jobs)):
        res["runs"][label].setdefault("guidance", []).append(dict(w=w, examples=lim, **ev))
    # One puzzle solved step by step: the first test puzzle the final DIS model solves (else puzzle 0).
    ck = res["runs"]["dis"]["final_checkpoint"]
    chosen, frames = 0, None
    for index in range(task.solve_candidates):
        try:
            f = solve_frames(binary, ck, data_dir, index, task.kind)
        except subprocess.CalledProcessError:
            break  # past the end of the test split
        if frames is None:
            frames = f
        if f and f[-1][0].endswith(": 0 wrong") and int(re.search(r": (\d+) wrong", f[0 + 2][0])[1]) > 0:
            chosen, frames = index, f
            break
    res["solve"] = dict(index=chosen, frames=frames,
                        command=f"trmdis solve --checkpoint {os.path.relpath(ck, ROOT)} --data {os.path.relpath(data_dir, ROOT)} --index {chosen}")
    trm_frames = solve_frames(binary, res["runs"]["trm"]["final_checkpoint"], data_dir, chosen, task.kind)
    res["solve_trm"] = dict(index=chosen, frames=trm_frames)
    results[task.name] = res
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mode", choices=["quick", "full"], default="quick")
    ap.add_argument("--bin", default=None, help="trmdis binary (default: build/bin/trmdis); copied into the work directory")
    ap.add_argument("--out", default=None, help="work directory (default: build/experiment/<mode>)")
    ap.add_argument("--report-dir", default=os.path.join(ROOT, "docs"), help="where results.md and results/ go")
    ap.add_argument("--tasks", default=",".join(t.name for t in TASKS), help="comma-separated subset")
    ap.add_argument("--report-only", action="store_true", help="redraw the report from results.json")
    ap.add_argument("--minutes-scale", type=float, default=1.0, help="multiply every training budget (testing)")
    a = ap.parse_args()
    binary = a.bin or os.path.join(ROOT, "build", "bin", "trmdis")
    base = a.out or os.path.join(ROOT, "build", "experiment", a.mode)
    os.makedirs(base, exist_ok=True)
    if not a.report_only:
        # A private copy: a rebuild of build/bin/trmdis while the experiment runs cannot change it.
        private = os.path.join(base, "trmdis")
        if os.path.abspath(binary) != os.path.abspath(private):
            shutil.copy2(binary, private)
        binary = private
    results_path = os.path.join(base, "results.json")
    if a.report_only:
        with open(results_path) as f:
            meta = json.load(f)
        for name, t in meta["tasks"].items():
            if "copy" not in t:
                t["copy"] = copy_baseline(os.path.join(base, name, "data"), t["eval_limit"])
    else:
        names = a.tasks.split(",")
        tasks = [t for t in TASKS if t.name in names]
        if a.minutes_scale != 1.0:
            for t in tasks:
                t.minutes = (t.minutes[0] * a.minutes_scale, t.minutes[1] * a.minutes_scale)
        meta = dict(mode=a.mode, started=time.strftime("%Y-%m-%d %H:%M:%S"), uptime_start=uptime(),
                    cpus=os.cpu_count(), command=command_line(a), tasks={})
        t0 = time.time()
        for t in tasks:
            run_task(binary, t, a.mode, base, meta["tasks"])
            with open(results_path, "w") as f:
                json.dump(meta, f)
        meta["seconds"] = time.time() - t0
        meta["uptime_end"] = uptime()
        with open(results_path, "w") as f:
            json.dump(meta, f)
    import report
    report.write(meta, a.report_dir, ROOT)
    log(f"report: {os.path.join(a.report_dir, report.report_name(meta) + '.md')}")


def uptime():
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return "load average: %.2f, %.2f, %.2f" % os.getloadavg()


def command_line(a):
    cmd = "make experiment" if a.mode == "full" else "make experiment-quick"
    if a.minutes_scale != 1.0:
        cmd += f" EXPERIMENT_SCALE={a.minutes_scale:g}"
    if a.tasks != ",".join(t.name for t in TASKS):
        cmd += f" EXPERIMENT_TASKS={a.tasks}"
    return cmd


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    main()
