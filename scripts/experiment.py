#!/usr/bin/env python3
"""DIS against two TRM-ACT baselines on CPU-sized tasks, tuned alike, with seeds and two protocols.

    python scripts/experiment.py --mode sweep   # make experiment-sweep: choose lr and EMA (about an hour)
    python scripts/experiment.py --mode full    # make experiment: the final runs and docs/results.md
    python scripts/experiment.py --mode quick   # make experiment-quick: the same pipeline in ~5 minutes

The search (item 1 of the issue): for every task and method, each learning rate of LEARNING_RATES trains
for SWEEP_FRACTION of the final budget on a validation split carved from the training data (the test
split is never read), and is scored with and without EMA (one run gives both, as EMA never feeds back into
training). The best (exact, then valid, then token accuracy) is written to scripts/experiment_settings.json,
which is committed and read by the final runs.

The final runs: every method on every task, FINAL_SEEDS seeds, one thread each, two at a time, each for
the task's budget in CPU minutes (compute-matched). Checkpoints are kept at fifths of the budget, and the
DIS and TRM-ACT (T 1, n 2) runs keep one more at the optimiser step where TRM-ACT (T 3, n 6) of the same
seed stopped (step-matched, the paper's Figure 6 protocol: TRM-ACT (T 3, n 6) is the slowest per step,
so it sets the common step count). Everything goes to build/experiment/<mode>/; each finished training and
evaluation leaves a file, so running the command again continues an interrupted experiment.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import experiment_runner as rn  # noqa: E402
import experiment_tasks as tk  # noqa: E402

ROOT = tk.ROOT


# --------------------------------------------------------------------------------------------------
# Two jobs at a time, each one thread
# --------------------------------------------------------------------------------------------------


class Jobs:
    """Runs callables on `workers` threads; a job starts once the jobs it names in `after` are done."""

    def __init__(self, workers=2):
        self.workers, self.jobs, self.done, self.results = workers, [], set(), {}
        self.error = None

    def add(self, key, fn, after=()):
        self.jobs.append((key, fn, tuple(after)))

    def run(self):
        cond = threading.Condition()

        def worker():
            while True:
                with cond:
                    while True:
                        if self.error or not self.jobs:
                            return
                        ready = next((j for j in self.jobs if all(a in self.done for a in j[2])), None)
                        if ready:
                            self.jobs.remove(ready)
                            break
                        cond.wait()
                key, fn, _ = ready
                try:
                    value = fn()
                except BaseException as e:  # noqa: BLE001 - reported once all workers stop
                    with cond:
                        self.error = self.error or e
                        cond.notify_all()
                    return
                with cond:
                    self.results[key] = value
                    self.done.add(key)
                    cond.notify_all()

        threads = [threading.Thread(target=worker) for _ in range(self.workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if self.error:
            raise self.error
        return self.results


# --------------------------------------------------------------------------------------------------
# Counting from the metrics
# --------------------------------------------------------------------------------------------------


def summarise(task, method, metrics_path, record):
    """Optimiser steps, examples and network applications of a run (JSON-lines metrics of `trmdis train`)."""
    rows = [json.loads(line) for line in open(metrics_path)]
    per_step = method.calls_per_step()
    nsup = method.supervision_steps(task)
    if method.trainer == "dis":
        examples, mean_steps = len(rows) * task.batch, nsup
    else:
        fin = [r["metrics"] for r in rows if r["metrics"].get("finished", 0) > 0 and r["metrics"].get("mean_steps")]
        examples = sum(m["finished"] for m in fin)
        mean_steps = sum(m["mean_steps"] * m["finished"] for m in fin) / examples if examples else float("nan")
    steps = rows[-1]["metrics"]["optimizer_steps"] if rows else 0
    return dict(optimizer_steps=steps, examples=examples, mean_steps=mean_steps, calls_per_step=per_step,
                train_calls_total=steps * task.batch * per_step, train_calls_per_example=mean_steps * per_step,
                infer_calls_per_example=nsup * per_step, nsup=nsup, cpu_seconds=record["cpu_seconds"],
                wall_seconds=record["wall_seconds"])


# --------------------------------------------------------------------------------------------------
# The search
# --------------------------------------------------------------------------------------------------


def sweep(binary, base, tasks):
    jobs = Jobs()
    for task in tasks:
        tdir = os.path.join(base, task.name)
        data = os.path.join(tdir, "data")
        val = os.path.join(tdir, "validation")
        rn.make_dataset(binary, task.data, tk.DATA_SEED, data)
        rn.carve_validation(data, val, task.validation_groups)
        for method in tk.METHODS:
            for lr in tk.LEARNING_RATES:
                jobs.add((task.name, method.key, lr), lambda t=task, m=method, lr=lr, v=val, d=tdir: sweep_run(binary, t, m, lr, v, d))
    results = jobs.run()
    table, chosen = {}, {}
    for task in tasks:
        table[task.name], chosen[task.name] = {}, {}
        for method in tk.METHODS:
            rows = []
            for lr in tk.LEARNING_RATES:
                r = results[(task.name, method.key, lr)]
                for ema in (False, True):
                    e = r["ema" if ema else "raw"]
                    rows.append(dict(lr=lr, ema=ema, exact=e["exact_accuracy"], valid=e.get("valid_accuracy"),
                                     token=e["token_accuracy"], optimizer_steps=r["optimizer_steps"]))
            best = max(rows, key=lambda r: (r["exact"], r["valid"] or 0, r["token"]))
            table[task.name][method.key] = rows
            chosen[task.name][method.key] = dict(lr=best["lr"], ema=best["ema"])
    return dict(chosen=chosen, table=table, learning_rates=list(tk.LEARNING_RATES), ema_rate=tk.EMA_RATE,
                sweep_fraction=tk.SWEEP_FRACTION, seed=tk.SWEEP_SEED,
                budgets={t.name: t.cpu_minutes * tk.SWEEP_FRACTION for t in tasks},
                validation={t.name: t.validation_groups for t in tasks})


def sweep_run(binary, task, method, lr, val, tdir):
    rdir = os.path.join(tdir, method.key, f"lr{lr:g}")
    cmd = rn.train_command(binary, task, method, lr, tk.EMA_RATE, tk.SWEEP_SEED, val, rdir, checkpoint_every=0)
    budget = task.cpu_minutes * tk.SWEEP_FRACTION * 60
    record = rn.Training(rdir, cmd, budget, keep_state=True).run()
    final = next(s for s in record["snapshots"] if s["tag"] == "final")
    limit = task.validation_groups
    ema = rn.evaluate(binary, final["path"], val, limit)
    raw = rn.evaluate(binary, final["path"].replace(".safetensors", ".state.safetensors"), val, limit)
    rn.log(f"search {task.name} {method.key} lr {lr:g}: {record['optimizer_steps']} steps; exact "
           f"{raw['exact_accuracy']:.3f} raw, {ema['exact_accuracy']:.3f} EMA")
    return dict(optimizer_steps=record["optimizer_steps"], ema=ema, raw=raw)


# --------------------------------------------------------------------------------------------------
# The final runs
# --------------------------------------------------------------------------------------------------


def final(binary, base, tasks, settings, seeds, quick):
    jobs = Jobs()
    out = {}
    for task in tasks:
        tdir = os.path.join(base, task.name)
        data = os.path.join(tdir, "data")
        rn.make_dataset(binary, task.data, tk.DATA_SEED, data)
        minutes = task.quick_minutes if quick else task.cpu_minutes
        out[task.name] = dict(task=task.__dict__.copy(), minutes=minutes, seeds=list(seeds),
                              data_command=" ".join(["trmdis", "data"] + task.data + ["--seed", str(tk.DATA_SEED)]),
                              copy=rn.copy_baseline(data, task.eval_limit), runs={m.key: {} for m in tk.METHODS},
                              settings={m.key: tk.setting(settings, task, m) for m in tk.METHODS})
        for seed in seeds:
            # TRM-ACT (T 3, n 6) first: its final step count is where the others keep their step-matched copy.
            ref = (task.name, "trm", seed)
            for method in sorted(tk.METHODS, key=lambda m: m.key != "trm"):
                key = (task.name, method.key, seed)
                jobs.add(key, lambda t=task, m=method, s=seed, mn=minutes, d=tdir, ref=ref:
                         final_run(binary, t, m, s, mn, d, settings, jobs.results.get(ref) if m.key != "trm" else None, quick),
                         after=() if method.key == "trm" else (ref,))
    results = jobs.run()
    for (task_name, method_key, seed), r in results.items():
        out[task_name]["runs"][method_key][str(seed)] = r
    # Extras on the first seed: the guidance weight w, one puzzle solved step by step.
    for task in tasks:
        t = out[task.name]
        data = os.path.join(base, task.name, "data")
        first = str(seeds[0])
        dis_final = t["runs"]["dis"][first]["final"]["checkpoint"]
        t["guidance"] = [dict(w=w, **pick(rn.evaluate(binary, dis_final, data, task.eval_limit, guidance=w)))
                         for w in tk.GUIDANCE]
        t["solve"] = solve(binary, task, data, {m: t["runs"][m][first]["final"]["checkpoint"] for m in ("dis", "trm")})
    return out


def pick(report):
    return dict(exact=report["exact_accuracy"], valid=report.get("valid_accuracy"), token=report["token_accuracy"],
                hamming=report["per_step"][-1]["mean_hamming"], net_calls=report["net_calls_per_example"],
                per_step=[dict(step=s["step"], exact=s["exact_accuracy"], token=s["token_accuracy"],
                               hamming=s["mean_hamming"], valid=s.get("valid_accuracy")) for s in report["per_step"]])


def final_run(binary, task, method, seed, minutes, tdir, settings, reference, quick):
    s = tk.setting(settings, task, method)
    rdir = os.path.join(tdir, method.key, f"seed{seed}")
    data = os.path.join(tdir, "data")
    ema = tk.EMA_RATE if s["ema"] else 0
    # Checkpoint often enough that a kept copy is close to its moment (DIS steps are N_sup optimiser steps).
    every = 2 if method.trainer == "dis" else 10
    cmd = rn.train_command(binary, task, method, s["lr"], ema, seed, data, rdir, checkpoint_every=every)
    fractions = (0.5,) if quick else tuple(i / tk.SNAPSHOTS for i in range(1, tk.SNAPSHOTS))
    keep_at = reference["final"]["optimizer_steps"] if reference else None
    record = rn.Training(rdir, cmd, minutes * 60, keep_at_fractions=fractions, keep_at_step=keep_at).run()
    summary = summarise(task, method, os.path.join(rdir, "metrics.jsonl"), record)
    curve, matched, last = [], None, None
    for snap in record["snapshots"]:
        final = snap["tag"] == "final"
        ev = rn.evaluate(binary, snap["path"], data, task.eval_limit, predictions=final and task.kind == "nqueens")
        point = dict(tag=snap["tag"], optimizer_steps=snap["optimizer_steps"], examples_seen=snap["examples_seen"],
                     checkpoint=snap["path"], **pick(ev))
        if snap["tag"].startswith("cpu"):
            point["cpu_seconds"] = float(snap["tag"][3:]) * minutes * 60
        if final:
            point["cpu_seconds"] = record["cpu_seconds"]
            if task.kind == "nqueens":
                point["by_given"] = rn.by_given_queens(data, ev["predictions"])
            last = point
        if snap["tag"] == "matched":
            matched = point
        else:
            curve.append(point)
    if reference is None and method.key == "trm":
        matched = last  # the reference is matched with itself
    rn.log(f"{task.name} {method.key} seed {seed}: {summary['optimizer_steps']} steps in {record['cpu_seconds']:.0f} CPU s, "
           f"exact {last['exact']:.3f}" + (f", at {matched['optimizer_steps']} steps {matched['exact']:.3f}" if matched else ""))
    return dict(setting=s, summary=summary, curve=curve, final=last, matched=matched, command=record["command"])


def solve(binary, task, data, checkpoints):
    """The first test puzzle (of 40) that the DIS model solves and that is not solved by copying, step by step."""
    chosen, frames = 0, None
    for index in range(40):
        try:
            f = rn.solve_frames(binary, checkpoints["dis"], data, index, task.kind)
        except subprocess.CalledProcessError:
            break
        frames = frames or f
        if f and f[-1][0].endswith(": 0 wrong") and f[2][0] != "step 1: 0 wrong":
            chosen, frames = index, f
            break
    return dict(index=chosen, frames=frames, trm_frames=rn.solve_frames(binary, checkpoints["trm"], data, chosen, task.kind),
                command=f"trmdis solve --checkpoint {os.path.relpath(checkpoints['dis'], ROOT)} "
                        f"--data {os.path.relpath(data, ROOT)} --index {chosen}")


# --------------------------------------------------------------------------------------------------
# The machine, for the report
# --------------------------------------------------------------------------------------------------


def machine(binary):
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
    info = subprocess.run([binary, "info"], capture_output=True, text=True).stdout
    blas = next((l.split(":", 1)[1].strip() for l in info.splitlines() if l.startswith("blas:")), "")
    # The engine's own reading of the instruction set (the blas line's "cpu avx512"), not a second one here.
    isa = next((part.split()[1] for part in blas.split(", ") if part.startswith("cpu ")), "?")
    return dict(cpu=cpu, isa=isa, cpus=os.cpu_count(), blas=blas, uptime=uptime())


def binary_origin(binary):
    """The commit the binary was built from, recorded when the experiment copies it (the report names it)."""
    def git(*args):
        done = subprocess.run(["git", "-C", ROOT, *args], capture_output=True, text=True)
        return done.stdout.strip() if done.returncode == 0 else None
    commit = git("rev-parse", "--short=12", "HEAD")
    changes = git("status", "--porcelain", "--untracked-files=no")
    return dict(commit=commit, uncommitted_changes=bool(changes) if changes is not None else None,
                copied=time.strftime("%Y-%m-%d %H:%M:%S"), version=subprocess.run(
                    [binary, "--version"], capture_output=True, text=True).stdout.strip())


def uptime():
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return "load average: %.2f, %.2f, %.2f" % os.getloadavg()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mode", choices=["sweep", "quick", "full"], default="quick")
    ap.add_argument("--bin", default=None, help="trmdis binary (default: build/bin/trmdis); copied into the work directory")
    ap.add_argument("--out", default=None, help="work directory (default: build/experiment/<mode>)")
    ap.add_argument("--report-dir", default=os.path.join(ROOT, "docs"), help="where results.md and results/ go")
    ap.add_argument("--settings", default=tk.SETTINGS_PATH, help="the search's choices (written by --mode sweep)")
    ap.add_argument("--tasks", default=",".join(t.name for t in tk.TASKS), help="comma-separated subset")
    ap.add_argument("--report-only", action="store_true", help="redraw the report from results.json")
    ap.add_argument("--minutes-scale", type=float, default=1.0, help="multiply every budget (trying the pipeline)")
    a = ap.parse_args()
    binary = a.bin or os.path.join(ROOT, "build", "bin", "trmdis")
    base = a.out or os.path.join(ROOT, "build", "experiment", a.mode)
    os.makedirs(base, exist_ok=True)
    private = os.path.join(base, "trmdis")
    origin_path = os.path.join(base, "binary.json")
    if not a.report_only and not os.path.exists(private):
        # A private copy: a rebuild of build/bin/trmdis while the experiment runs (or between an interrupted
        # run and its continuation) cannot change it. Where it came from is kept beside it.
        shutil.copy2(binary, private)
        rn.write_json(origin_path, binary_origin(private))
    binary = private
    origin = rn.read_json(origin_path) if os.path.exists(origin_path) else None
    tasks = [t for t in tk.TASKS if t.name in a.tasks.split(",")]
    for t in tasks:
        t.cpu_minutes *= a.minutes_scale
        t.quick_minutes *= a.minutes_scale
    results_path = os.path.join(base, "results.json")
    if a.report_only:
        meta = rn.read_json(results_path)
    elif a.mode == "sweep":
        t0 = time.time()
        rn.log(f"search: {len(tasks)} tasks x {len(tk.METHODS)} methods x {len(tk.LEARNING_RATES)} learning rates")
        chosen = sweep(binary, base, tasks)
        chosen.update(finished=time.strftime("%Y-%m-%d %H:%M:%S"), seconds=time.time() - t0, machine=machine(binary),
                      command="make experiment-sweep", binary=origin)
        rn.write_json(a.settings, chosen)
        rn.log(f"settings: {a.settings}")
        return
    else:
        settings = tk.load_settings(a.settings)
        if settings is None and a.mode == "full":
            raise SystemExit(f"{a.settings} is missing: run `make experiment-sweep` first")
        seeds = tk.FINAL_SEEDS if a.mode == "full" else tk.FINAL_SEEDS[:1]
        t0 = time.time()
        start = uptime()
        tasks_out = final(binary, base, tasks, settings, seeds, a.mode == "quick")
        meta = dict(mode=a.mode, finished=time.strftime("%Y-%m-%d %H:%M:%S"), seconds=time.time() - t0,
                    uptime_start=start, machine=machine(binary), settings=settings, binary=origin,
                    command="make experiment" if a.mode == "full" else "make experiment-quick", tasks=tasks_out)
        rn.write_json(results_path, meta)
    import report  # matplotlib: only the report needs it
    report.write(meta, a.report_dir, ROOT)
    rn.log(f"report: {os.path.join(a.report_dir, report.report_name(meta) + '.md')}")


if __name__ == "__main__":
    main()
