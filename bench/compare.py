#!/usr/bin/env python3
"""Runs the engine and PyTorch side by side on issue 6's named configurations and prints every figure
with its ratio. Standard library only: PyTorch is used through its own interpreter (TORCH_PYTHON) when
that exists, otherwise the engine's figures are printed alone.

Each measurement is its own process (so ru_maxrss is that configuration's peak), engine and PyTorch
alternate, and with --rounds > 1 the order flips every round and the median of the rounds is reported.
Every finished round is appended to a state file (--state) as it ends, so a run that is stopped (a session's
end) loses at most the round in progress: the same command again continues where it stopped, with the same
binary and settings, and the state file is removed once the table is printed.
Called by bench/run.sh (`make bench`); see docs/performance.md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
from typing import Dict, List, Optional

CONFIGS = ["tiny", "compact", "medium", "sudoku-mlp"]
DIS = {"tiny", "compact", "medium"}

# Issue 14's targets: training throughput against eager PyTorch, batch-1 inference speed-up (against eager;
# against torch.compile the bar is to beat it), the engine's FLOP/s share of its own sgemm peak, peak RSS
# against the params+optimiser+activations yardstick.
TRAIN_TARGET = {"tiny": 1.3, "compact": 1.3, "medium": 1.3, "sudoku-mlp": 1.3}
INFER_B1_TARGET = {"tiny": 2.0, "compact": 2.0}
INFER_B1_COMPILED_TARGET = {"tiny": 1.0, "compact": 1.0}
PEAK_SHARE_TARGET = {"medium": 0.85, "sudoku-mlp": 0.85}
MEMORY_ESTIMATE_BAR = 1.25


def load_average() -> str:
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "?"


def cpu_model() -> str:
    """The model name with CPUID's family and model (a VM may show only "AMD EPYC")."""
    fields: Dict[str, str] = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if not line.strip():
                    break  # the first CPU's entry
                fields.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    name = fields.get("model name") or platform.processor() or "?"
    if "cpu family" in fields and "model" in fields:
        name += f" (family {fields['cpu family']} model {fields['model']})"
    return name


def run_json(cmd: List[str], env: Optional[Dict[str, str]] = None) -> Dict:
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


def settings_key(a: argparse.Namespace) -> Dict:
    """What a saved round must have been measured with to be reused: the same binary (path, size and
    modification time), interpreter, threads, repeats, rounds, torch.compile choice and PyTorch environment."""
    st = os.stat(a.engine)
    return dict(engine=os.path.abspath(a.engine), engine_size=st.st_size, engine_mtime=int(st.st_mtime),
                torch_python=a.torch_python, threads=a.threads, repeats=a.repeats, rounds=a.rounds,
                compile=a.compile, omp_wait_policy=os.environ.get("OMP_WAIT_POLICY", ""))


class State:
    """The rounds measured so far, one JSON line each after a header line with the settings, the start date
    and load: read back when the settings match, started afresh when they do not."""

    def __init__(self, path: str, key: Dict, date: str, load: str) -> None:
        self.path, self.rounds = path, {}
        self.date, self.start_load = date, load
        lines: List[Dict] = []
        if path and os.path.exists(path):
            with open(path) as f:
                for line in f:
                    try:
                        lines.append(json.loads(line))
                    except ValueError:  # a line cut short when the run was stopped: that round is measured again
                        break
        if lines and lines[0].get("key") == key:
            self.date, self.start_load = lines[0]["date"], lines[0]["start_load"]
            self.rounds = {(r["name"], r["mode"], r["round"]): r["records"] for r in lines[1:]}
        else:
            lines = [dict(key=key, date=date, start_load=load)]
        if path:  # rewritten without a line cut short, so that the next rounds append after whole lines
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            with open(path, "w") as f:
                f.write("".join(json.dumps(line) + "\n" for line in lines))

    def save(self, name: str, mode: str, r: int, records: Dict) -> None:
        self.rounds[(name, mode, r)] = records
        if self.path:
            with open(self.path, "a") as f:
                f.write(json.dumps(dict(name=name, mode=mode, round=r, records=records)) + "\n")
                f.flush()
                os.fsync(f.fileno())

    def finish(self) -> None:
        if self.path and os.path.exists(self.path):
            os.remove(self.path)


# What a round holds: each side's records, and the load average after it.
ROUND_PARTS = ("engine", "torch", "compiled", "load")


class Runner:
    def __init__(self, args: argparse.Namespace, state: State) -> None:
        self.args, self.state = args, state
        # PyTorch as its users run it: its default environment (OpenMP workers spin while waiting, which is
        # faster on a quiet machine, notably at batch 1). Set OMP_WAIT_POLICY=PASSIVE to measure the other way.
        self.torch_env = dict(os.environ)

    def engine(self, name: str, mode: str) -> Dict:
        a = self.args
        return run_json([a.engine, "bench", "--config", name, "--mode", mode, "--repeats", str(a.repeats),
                         "--threads", str(a.threads), "--json"])

    def torch(self, name: str, mode: str, compiled: bool = False) -> Optional[Dict]:
        a = self.args
        if not a.torch_python or (compiled and not a.compile):
            return None
        # Per DIS optimiser step PyTorch times single steps; the engine times whole N_sup mini-batches.
        repeats = a.repeats * (2 if mode == "train" else 1)
        # torch.compile compiles during the warm-up steps (one graph per step index), which are not timed.
        warmup = "3" if compiled else "1"
        return run_json([a.torch_python, a.reference, "bench", "--config", name, "--mode", mode,
                         "--threads", str(a.threads), "--repeats", str(repeats), "--warmup", warmup, "--child"]
                        + (["--compile"] if compiled else []), env=self.torch_env)

    def pair(self, name: str, mode: str) -> Dict[str, List[Dict]]:
        records: Dict[str, List[Dict]] = {who: [] for who in ROUND_PARTS}
        for r in range(self.args.rounds):
            saved = self.state.rounds.get((name, mode, r))
            if saved is None:
                saved = {who: [] for who in ROUND_PARTS}
                order = ["engine", "torch", "compiled"] if r % 2 == 0 else ["compiled", "torch", "engine"]
                for who in order:
                    rec = self.engine(name, mode) if who == "engine" else self.torch(name, mode, who == "compiled")
                    if rec is not None:
                        saved[who].append(rec)
                saved["load"].append(load_average())
                self.state.save(name, mode, r, saved)
                note = f"load {saved['load'][-1]}"
            else:
                note = f"measured earlier, from {self.state.path}"
            for who in records:
                records[who] += saved[who]
            print(f"  [{name} {mode} round {r + 1}: {note}]", file=sys.stderr, flush=True)
        return records


def med(records: List[Dict], key: str) -> Optional[float]:
    values = [r[key] for r in records if r.get(key) is not None]
    return statistics.median(values) if values else None


def fmt(x: Optional[float], digits: int = 1) -> str:
    return "-" if x is None else f"{x:,.{digits}f}"


def each_round(records: List[Dict], key: str) -> str:
    return ", ".join(fmt(r.get(key)) for r in records) or "-"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--engine", required=True, help="the trmdis command-line binary")
    p.add_argument("--torch-python", default="", help="PyTorch's interpreter (empty: engine only)")
    p.add_argument("--reference", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "torch_reference.py"))
    p.add_argument("--configs", default=",".join(CONFIGS))
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--json-out", default="", help="also write every raw record here")
    p.add_argument("--state", default="", help="the rounds measured so far, continued by the same command "
                   "(empty: none kept)")
    p.add_argument("--no-compile", dest="compile", action="store_false",
                   help="skip torch.compile (its compilation takes minutes on a small machine)")
    a = p.parse_args()
    if a.torch_python and not os.path.exists(a.torch_python):
        print(f"PyTorch interpreter {a.torch_python} not found: engine figures only", flush=True)
        a.torch_python = ""
    names = [n for n in a.configs.split(",") if n]
    unknown = [n for n in names if n not in CONFIGS]
    if unknown:
        p.error(f"unknown configurations {unknown}; choose from {CONFIGS}")

    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    state = State(a.state, settings_key(a), now, load_average())
    if state.rounds:
        print(f"continuing the run begun {state.date}: {len(state.rounds)} round(s) read from {a.state}",
              file=sys.stderr, flush=True)
    start_load, date = state.start_load, state.date
    runner = Runner(a, state)
    results: Dict[str, Dict] = {}
    for name in names:
        results[name] = {"train": runner.pair(name, "train")}
        if name in DIS:
            results[name]["infer"] = runner.pair(name, "infer")

    torch_version = next((r["torch"] for v in results.values() for m in v.values() for r in m["torch"]), None)
    print()
    print(f"# {date}; {platform.node()}: {cpu_model()}, {os.cpu_count()} cores; {a.threads} threads; "
          f"fp32; {a.rounds} round(s) x {a.repeats} repeats, medians")
    print(f"# engine: {a.engine}; PyTorch: {torch_version or 'not found'} (eager{', torch.compile inductor' if a.compile else ''})"
          f"{' (OMP_WAIT_POLICY=' + runner.torch_env.get('OMP_WAIT_POLICY', 'default') + ')' if torch_version else ''}")
    blas = next((r for v in results.values() for m in v.values() for r in m["engine"]), {})
    if blas.get("blas_corrected"):
        how = "corrected from " + str(blas.get("blas_detected_core"))
    elif blas.get("blas_coretype_env"):
        how = "OPENBLAS_CORETYPE=" + str(blas["blas_coretype_env"])
    else:
        how = "detected"
    print(f"# blas: {blas.get('blas_version', '?')}; core {blas.get('blas_core', '?')} ({how}); "
          f"cpu {blas.get('cpu_isa', '?')}; elementwise kernels {blas.get('elementwise', '?')}; "
          "the sgemm peak below is measured in the engine's process, "
          "the median of 2048^3 samples taken between its timed steps")
    if blas.get("blas_warning"):
        print(f"# WARNING: {blas['blas_warning']}")
    print(f"# load average at start {start_load}, at end {load_average()}")
    head = f"{'config':<11} {'figure':<44} {'engine':>10} {'pytorch':>10} {'ratio':>7}  {'target':<8} status"
    print(head)
    print("-" * len(head))
    failures = []

    def row(name: str, figure: str, e: Optional[float], t: Optional[float], ratio: Optional[float],
            target: Optional[float], digits: int = 1, lower_is_better: bool = False) -> None:
        status = ""
        if target is not None and ratio is not None:
            ok = ratio <= target if lower_is_better else ratio >= target
            status = "ok" if ok else "MISSED"
            if not ok:
                failures.append(f"{name}: {figure.strip()}")
        tgt = "" if target is None else (f"<={target:g}" if lower_is_better else f">={target:g}")
        print(f"{name:<11} {figure:<44} {fmt(e, digits):>10} {fmt(t, digits):>10} "
              f"{fmt(ratio, 2) + 'x' if ratio is not None else '-':>7}  {tgt:<8} {status}")

    for name in names:
        tr = results[name]["train"]
        e, t = tr["engine"], tr["torch"]
        what = "DIS optimiser step" if name in DIS else "TRM supervision step"
        e_tp, t_tp = med(e, "examples_steps_per_s"), med(t, "examples_steps_per_s")
        row(name, f"training, examples*steps/s ({what})", e_tp, t_tp,
            e_tp / t_tp if e_tp and t_tp else None, TRAIN_TARGET.get(name))
        c_tp = med(tr["compiled"], "examples_steps_per_s")
        if c_tp:
            row(name, "  vs torch.compile, examples*steps/s", e_tp, c_tp, e_tp / c_tp if e_tp else None, None)
        row(name, "  ms per step", med(e, "ms"), med(t, "ms"), None, None)
        peak = med(e, "sgemm_peak_gflops")
        e_gf, t_gf = med(e, "gflops"), med(t, "gflops")
        row(name, f"  model GFLOP/s (sgemm peak {fmt(peak)})", e_gf, t_gf, e_gf / t_gf if e_gf and t_gf else None, None)
        # The engine's share as the issue defines it: each process's FLOP/s over the peak measured in that same
        # process, then the median over rounds (PyTorch's against the engine's median peak). The engine samples
        # its 2048^3 product after every timed repetition; the peak is the median sample, the rate the machine
        # delivered while the steps ran (docs/performance.md, "The share of the sgemm peak"). The share of the
        # best sample is printed under it, without a target.
        shares = [r["gflops"] / r["sgemm_peak_gflops"] for r in e if r.get("gflops") and r.get("sgemm_peak_gflops")]
        e_share = statistics.median(shares) if shares else None
        row(name, "  share of the sgemm peak (per process)", e_share,
            t_gf / peak if t_gf and peak else None, e_share, PEAK_SHARE_TARGET.get(name), digits=2)
        best = [r["gflops"] / r["sgemm_best_gflops"] for r in e if r.get("gflops") and r.get("sgemm_best_gflops")]
        if best:
            b_share = statistics.median(best)
            row(name, f"    of the best sample ({fmt(med(e, 'sgemm_best_gflops'))})", b_share, None, b_share, None,
                digits=2)
        e_rss, t_rss = med(e, "peak_rss_mib"), med(t, "peak_rss_mib")
        row(name, "  peak RSS in training, MiB (engine/torch)", e_rss, t_rss,
            e_rss / t_rss if e_rss and t_rss else None, 1.0 if t_rss else None, digits=0, lower_is_better=True)
        est = med(e, "estimate_mib")
        row(name, "  peak RSS / (params+optimiser+activations)", e_rss, est, e_rss / est if e_rss and est else None,
            MEMORY_ESTIMATE_BAR, digits=0, lower_is_better=True)
        if "infer" in results[name]:
            inf = results[name]["infer"]
            for b in (1, 64):
                key = f"infer_b{b}_ms"
                ei, ti = med(inf["engine"], key), med(inf["torch"], key)
                row(name, f"inference batch {b}, ms (speed-up)", ei, ti, ti / ei if ei and ti else None,
                    INFER_B1_TARGET.get(name) if b == 1 else None)
                ci = med(inf["compiled"], key)
                if ci:
                    row(name, f"  vs torch.compile, batch {b}, ms", ei, ci, ci / ei if ei else None,
                        INFER_B1_COMPILED_TARGET.get(name) if b == 1 else None)
        if a.rounds > 1:
            # The medians hide how the rounds spread (batch-1 latency on a shared VM can be bimodal).
            for figure, m, key in (("training ms per step", tr, "ms"), ("batch 1 ms", results[name].get("infer"), "infer_b1_ms")):
                if m:
                    print(f"{'':<11} {'  each round: ' + figure:<44} engine {each_round(m['engine'], key)}; "
                          f"eager {each_round(m['torch'], key)}; compiled {each_round(m['compiled'], key)}")
        print(f"{'':<11} {'  load average after each round':<44} " + "; ".join(tr["load"]
              + results[name].get("infer", {}).get("load", [])))
    print()
    print("targets missed: " + (", ".join(failures) if failures else "none"))
    if a.json_out:
        with open(a.json_out, "w") as f:
            json.dump(dict(date=date, start_load=start_load, end_load=load_average(), threads=a.threads,
                           results=results), f, indent=1)
    state.finish()
    return 0


if __name__ == "__main__":
    sys.exit(main())
