"""Running one training or evaluation with the `trmdis` CLI, for scripts/experiment.py.

Budgets are CPU time, not wall-clock time: a run trains on one thread until its process has used its
CPU minutes, then gets SIGINT (the CLI stops after the current step and writes its checkpoint). Two runs
side by side, or a build on the same machine, then change when a run ends but not how much computing it
got. Every finished piece leaves a file (the run's train.json, an evaluation's .eval.json), so an
interrupted experiment continues where it stopped.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import struct
import subprocess
import time
from dataclasses import dataclass, field

import numpy as np

TICKS = os.sysconf("SC_CLK_TCK")


def log(msg):
    print(time.strftime("%H:%M:%S"), msg, flush=True)


def write_json(path, value):
    """Atomically: a reader (or a resumed experiment) never sees half a file."""
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(value, f, indent=1)
    os.replace(tmp, path)


def read_json(path):
    with open(path) as f:
        return json.load(f)


def cpu_seconds(pid):
    """User + system CPU time of a process (Linux /proc), None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime (fields 14 and 15)


def safetensors_metadata(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
    return header.get("__metadata__", {})


# --------------------------------------------------------------------------------------------------
# Datasets
# --------------------------------------------------------------------------------------------------


def make_dataset(binary, args, seed, out):
    if os.path.exists(os.path.join(out, "test", "dataset.json")):
        return
    shutil.rmtree(out, ignore_errors=True)
    subprocess.run([binary, "data"] + args + ["--seed", str(seed), "--threads", "1", "--out", out + ".tmp"],
                   check=True, capture_output=True)
    os.replace(out + ".tmp", out)


def carve_validation(data_dir, out, groups):
    """A dataset for the search: train = the training split without its last `groups` puzzle groups;
    test = the first (original) puzzle of each of those groups. The test split is never read."""
    if os.path.exists(os.path.join(out, "test", "dataset.json")):
        return
    src = os.path.join(data_dir, "train")
    a = {k: np.load(os.path.join(src, f"all__{k}.npy"))
         for k in ("inputs", "labels", "puzzle_identifiers", "puzzle_indices", "group_indices")}
    meta = read_json(os.path.join(src, "dataset.json"))
    if meta.get("sets") != ["all"]:
        raise SystemExit(f"{src}: expected the one set 'all'")
    g_total = len(a["group_indices"]) - 1
    keep = g_total - groups
    if keep < groups:
        raise SystemExit(f"{src}: {g_total} groups are too few to hold out {groups}")
    tmp = out + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)

    def write(split, puzzles, group_starts):
        d = os.path.join(tmp, split)
        os.makedirs(d)
        starts = a["puzzle_indices"]
        rows = np.concatenate([np.arange(starts[p], starts[p + 1]) for p in puzzles])
        sizes = np.array([starts[p + 1] - starts[p] for p in puzzles])
        arrays = dict(inputs=a["inputs"][rows], labels=a["labels"][rows],
                      puzzle_identifiers=a["puzzle_identifiers"][puzzles],
                      puzzle_indices=np.concatenate([[0], np.cumsum(sizes)]).astype(np.int32),
                      group_indices=np.asarray(group_starts, dtype=np.int32))
        for k, v in arrays.items():
            np.save(os.path.join(d, f"all__{k}.npy"), v.astype(a[k].dtype))
        m = dict(meta, total_groups=len(group_starts) - 1, total_puzzles=len(group_starts) - 1,
                 mean_puzzle_examples=float(len(rows)) / len(puzzles))
        write_json(os.path.join(d, "dataset.json"), m)

    gi = a["group_indices"]
    write("train", np.arange(0, gi[keep]), gi[:keep + 1])
    held = gi[keep:g_total]  # the first puzzle of each held-out group
    write("test", held, np.arange(len(held) + 1))
    os.replace(tmp, out)


# --------------------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------------------


@dataclass
class Training:
    """One `trmdis train` run with a CPU budget, keeping copies of its checkpoint along the way."""
    directory: str
    command: list
    cpu_budget: float  # seconds
    keep_at_fractions: tuple = ()  # copy the checkpoint when the CPU used passes these fractions of the budget
    keep_at_step: int | None = None  # copy the first checkpoint with at least this many optimiser steps
    keep_state: bool = False  # also keep the final state.safetensors (raw weights when EMA is on)
    snapshots: list = field(default_factory=list)

    @property
    def done_file(self):
        return os.path.join(self.directory, "train.json")

    def run(self):
        """Trains (unless a finished run is on disk) and returns its record."""
        if os.path.exists(self.done_file):
            return read_json(self.done_file)
        shutil.rmtree(self.directory, ignore_errors=True)
        os.makedirs(os.path.join(self.directory, "snapshots"))
        # A wall-clock bound far past the CPU budget: should this script die without stopping the run (a
        # SIGKILL), the orphaned trainer still ends.
        command = self.command + ["--minutes", f"{10 * self.cpu_budget / 60 + 10:g}"]
        with open(os.path.join(self.directory, "command.txt"), "w") as f:
            f.write(" ".join(command) + "\n")
        t0 = time.time()
        with open(os.path.join(self.directory, "train.log"), "w") as out:
            proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        fractions = list(self.keep_at_fractions)
        matched = None
        used, interrupted = 0.0, False
        while proc.poll() is None:
            c = cpu_seconds(proc.pid)
            used = c if c is not None else used
            while fractions and used >= fractions[0] * self.cpu_budget and fractions[0] < 1:
                if self.keep(f"cpu{fractions[0]:.2f}"):
                    fractions.pop(0)
                else:
                    break
            if self.keep_at_step is not None and matched is None:
                matched = self.keep("matched", min_step=self.keep_at_step)
            if used >= self.cpu_budget and not interrupted:
                proc.send_signal(signal.SIGINT)
                interrupted = True
            time.sleep(0.1)
        if proc.returncode not in (0, 130):
            raise SystemExit(f"trmdis train failed ({proc.returncode}); see {self.directory}/train.log")
        final = self.keep("final", with_state=self.keep_state)
        if not final:
            raise SystemExit(f"{self.directory}: no checkpoint after training")
        if self.keep_at_step is not None and matched is None:
            # The run ended before it reached the step (it is the slowest method): its final copy stands in.
            matched = dict(final, tag="matched")
            self.snapshots.append(matched)
        record = dict(cpu_seconds=used, wall_seconds=time.time() - t0, snapshots=self.snapshots,
                      optimizer_steps=final["optimizer_steps"], examples_seen=final["examples_seen"],
                      command=" ".join(command))
        write_json(self.done_file, record)
        return record

    def keep(self, tag, min_step=None, with_state=False):
        """Copies the current checkpoint's weights to snapshots/<tag>.safetensors; the record, or None when
        there is no checkpoint yet (or it has fewer than min_step optimiser steps)."""
        ck = os.path.join(self.directory, "ckpt")
        state, model = os.path.join(ck, "state.safetensors"), os.path.join(ck, "model.safetensors")
        for _ in range(5):
            try:
                meta = safetensors_metadata(state)
                steps = int(meta["optimizer_steps"])
                if min_step is not None and steps < min_step:
                    return None
                target = os.path.join(self.directory, "snapshots", f"{tag}.safetensors")
                shutil.copyfile(model, target)
                if with_state:
                    shutil.copyfile(state, target.replace(".safetensors", ".state.safetensors"))
                if safetensors_metadata(state) != meta:
                    continue  # a newer checkpoint landed while copying: copy again
                rec = dict(tag=tag, optimizer_steps=steps, examples_seen=int(meta.get("examples_seen", 0)),
                           path=target)
                self.snapshots.append(rec)
                return rec
            except (OSError, ValueError, KeyError, struct.error):
                time.sleep(0.05)
        return None


def train_command(binary, task, method, lr, ema, seed, data_dir, run_dir, checkpoint_every):
    nsup = method.supervision_steps(task)
    # `train` takes seq_len and the vocabulary from the data; the preset only gives "no puzzle prefix".
    cmd = [binary, "train", "--data", data_dir, "--preset", "nqueens", *task.network,
           "--method", method.trainer, "--T", str(method.T), "--n", str(method.n),
           "--supervision-steps", str(nsup), "--batch", str(task.batch), "--lr", repr(lr),
           "--warmup", str(task.warmup), "--ema", str(ema), "--grad-clip", "1.0", "--seed", str(seed),
           "--steps", "100000000", "--eval-limit", "16",
           "--checkpoint", os.path.join(run_dir, "ckpt"), "--checkpoint-every", str(checkpoint_every),
           "--metrics", os.path.join(run_dir, "metrics.jsonl"), "--threads", "1"]
    if method.trainer == "dis":
        cmd += ["--corruption", "path"]
    return cmd


# --------------------------------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------------------------------


def evaluate(binary, checkpoint, data_dir, limit, guidance=1.0, predictions=False, split="test"):
    """`trmdis eval --json` on one thread, cached beside the checkpoint."""
    tag = f"{split}-{limit}-w{guidance:g}"
    cache = checkpoint.replace(".safetensors", f".{tag}.eval.json")
    if os.path.exists(cache):
        return read_json(cache)
    cmd = [binary, "eval", "--checkpoint", checkpoint, "--data", data_dir, "--split", split, "--limit", str(limit),
           "--guidance", str(guidance), "--threads", "1", "--json"]
    pred_path = checkpoint.replace(".safetensors", f".{tag}.predictions.npy")
    if predictions:
        cmd += ["--predictions", pred_path]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    report = json.loads(out.strip().splitlines()[-1])
    if predictions:
        report["predictions"] = pred_path
    write_json(cache, report)
    return report


def copy_baseline(data_dir, limit):
    """Accuracy of copying the puzzle as the answer: what a model gets before it learns anything else."""
    x = np.load(os.path.join(data_dir, "test", "all__inputs.npy"))[:limit].astype(np.int64)
    y = np.load(os.path.join(data_dir, "test", "all__labels.npy"))[:limit].astype(np.int64)
    keep = y != read_json(os.path.join(data_dir, "test", "dataset.json"))["ignore_label_id"]
    same = (x == y) & keep
    return dict(exact=float(np.mean(same.sum(1) == keep.sum(1))),
                token=float(np.mean(same.sum(1) / np.maximum(1, keep.sum(1)))),
                hamming=float(np.mean((keep & (x != y)).sum(1))))


def queens_valid(board, given, size):
    """A full N-Queens solution that keeps the given queens (tokens: 1 empty, 2 queen)."""
    q = np.argwhere(board.reshape(size, size) == 2)
    if len(q) != size or np.any((given.reshape(size, size) == 2) & (board.reshape(size, size) != 2)):
        return False
    r, c = q[:, 0], q[:, 1]
    return len(set(r)) == size and len(set(c)) == size and len(set(r - c)) == size and len(set(r + c)) == size


def by_given_queens(data_dir, predictions_path, size=8):
    """Exact and valid accuracy for each number of given queens (the paper's N-Queens figure)."""
    p = np.load(predictions_path).astype(np.int64)
    n = len(p)
    x = np.load(os.path.join(data_dir, "test", "all__inputs.npy"))[:n].astype(np.int64)
    y = np.load(os.path.join(data_dir, "test", "all__labels.npy"))[:n].astype(np.int64)
    given = (x == 2).sum(1)
    out = {}
    for k in sorted(set(given.tolist())):
        rows = np.nonzero(given == k)[0]
        exact = [bool(np.all(p[i] == y[i])) for i in rows]
        valid = [queens_valid(p[i], x[i], size) for i in rows]
        copy = [bool(np.all(x[i] == y[i])) for i in rows]
        out[str(k)] = dict(examples=len(rows), exact=float(np.mean(exact)), valid=float(np.mean(valid)),
                           copy=float(np.mean(copy)))
    return out


# --------------------------------------------------------------------------------------------------
# One puzzle step by step (`trmdis solve`)
# --------------------------------------------------------------------------------------------------


def solve_frames(binary, checkpoint, data_dir, index, kind):
    out = subprocess.run([binary, "solve", "--checkpoint", checkpoint, "--data", data_dir, "--index", str(index),
                          "--threads", "1"], check=True, capture_output=True, text=True).stdout
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
