"""docs/results.md and its figures (PNG, matplotlib) from the experiment's results.json (scripts/experiment.py).

Every table gives each seed's value or the mean with the seeds' spread; a difference between two methods
counts as beyond the spread only when their seeds' ranges do not overlap (every seed of one above every
seed of the other)."""
from __future__ import annotations

import math
import os
import statistics

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.colors import ListedColormap  # noqa: E402

DPI = 100
ORDER = ("dis", "trm", "trm-t1n2")
COLOURS = {"dis": "tab:blue", "trm": "tab:red", "trm-t1n2": "tab:orange"}
NAMES = {"dis": "DIS (T 1, n 2)", "trm": "TRM-ACT (T 3, n 6)", "trm-t1n2": "TRM-ACT (T 1, n 2)"}


def footer(fig, command):
    fig.text(0.005, 0.005, f"made by: {command}", fontsize=7, color="0.35", ha="left", va="bottom")


def panels(n, width=4.2, height=3.2):
    """n panels, up to four to a row."""
    cols = min(n, 4)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows + 0.9), squeeze=False)
    for ax in axes.flat[n:]:
        ax.axis("off")
    return fig, list(axes.flat[:n])


def finish(fig, axes, title, command, path):
    """Title, one legend for all panels under them, the command footer, then save."""
    fig.suptitle(title, fontsize=11)
    seen = {}
    for ax in axes:
        for h, label in zip(*ax.get_legend_handles_labels()):
            seen.setdefault(label, h)
    if seen:
        fig.legend(list(seen.values()), list(seen.keys()), loc="lower center", ncol=len(seen), fontsize=8,
                   frameon=False, bbox_to_anchor=(0.5, 0.025))
    footer(fig, command)
    fig.tight_layout(rect=(0, 0.08, 1, 0.95))
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


def log_x(ax):
    """A log axis labelled 200, 500, 1k, 2k: matplotlib's minor labels (2x10^2 3x10^2 ...) overlap."""
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(matplotlib.ticker.LogLocator(base=10, subs=(1, 2, 5)))
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(
        lambda x, _: f"{x / 1e3:g}k" if x >= 1e3 else f"{x:g}"))
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())


def pct(x):
    return "n/a" if x is None else f"{100 * x:.1f}%"


def mean(xs):
    xs = [x for x in xs if x is not None]
    return sum(xs) / len(xs) if xs else None


def sd(xs):
    xs = [x for x in xs if x is not None]
    return statistics.stdev(xs) if len(xs) > 1 else 0.0


def spread_text(xs):
    """mean ± sample standard deviation, in points, and every seed: '62.3 ± 4.1 (58.0, 62.5, 66.4)'."""
    if not xs:
        return "n/a"
    if len(xs) == 1:
        return f"{100 * xs[0]:.1f}"
    return f"{100 * mean(xs):.1f} ± {100 * sd(xs):.1f} ({', '.join(f'{100 * x:.1f}' for x in xs)})"


def seeds_of(t, method):
    return [t["runs"][method][s] for s in sorted(t["runs"][method], key=int)]


def values(t, method, point, key="exact"):
    return [r[point][key] for r in seeds_of(t, method) if r.get(point)]


def compare(a, b):
    """How seeds a compare with seeds b: the mean difference and whether it is beyond the spread."""
    if not a or not b:
        return None, False
    diff = mean(a) - mean(b)
    beyond = len(a) > 1 and len(b) > 1 and (min(a) > max(b) or max(a) < min(b))
    return diff, beyond


def verdict(a, b, name_a, name_b):
    diff, beyond = compare(a, b)
    if diff is None:
        return "n/a"
    if abs(diff) < 1e-12:
        return "equal"
    better, worse = (name_a, name_b) if diff > 0 else (name_b, name_a)
    if beyond:
        return f"**{better}** by {100 * abs(diff):.1f} points (beyond the seeds' spread)"
    if len(a) < 2 or len(b) < 2:
        return f"{better} by {100 * abs(diff):.1f} points (one seed: no spread)"
    return f"{better} by {100 * abs(diff):.1f} points, within the seeds' spread"


# --------------------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------------------


def curve_by_tag(t, method, xkey):
    """The seeds' curves, point by point (the kept copies at fifths of the budget, then the final one):
    x = the seeds' mean of xkey, y = the mean, min and max exact accuracy."""
    runs = seeds_of(t, method)
    if not runs:
        return []
    tags = [p["tag"] for p in runs[0]["curve"]]
    out = []
    for tag in tags:
        pts = [next((p for p in r["curve"] if p["tag"] == tag), None) for r in runs]
        pts = [p for p in pts if p and p.get(xkey) is not None]
        if pts:
            ys = [p["exact"] for p in pts]
            out.append((mean([p[xkey] for p in pts]), mean(ys), min(ys), max(ys)))
    return sorted(out)


def curves_plot(meta, path, xkey, xlabel, title, logx=False):
    tasks = meta["tasks"]
    fig, axes = panels(len(tasks))
    for ax, (name, t) in zip(axes, tasks.items()):
        for m in ORDER:
            c = curve_by_tag(t, m, xkey)
            if not c:
                continue
            xs, ys, lo, hi = zip(*c)
            ax.plot(xs, ys, "o-", color=COLOURS[m], label=NAMES[m], ms=3)
            ax.fill_between(xs, lo, hi, color=COLOURS[m], alpha=0.15, lw=0)
            if xkey == "optimizer_steps":
                matched = [r["matched"] for r in seeds_of(t, m) if r.get("matched")]
                if matched and m != "trm":
                    ax.plot([p["optimizer_steps"] for p in matched], [p["exact"] for p in matched], "^",
                            color=COLOURS[m], ms=6, mfc="none")
        ax.axhline(t["copy"]["exact"], color="0.5", ls=":", lw=1, label="copy the puzzle")
        ax.set_title(t["task"]["title"], fontsize=9)
        ax.set_xlabel(xlabel, fontsize=8)
        ax.set_ylabel("exact accuracy (held out)", fontsize=8)
        ax.set_ylim(-0.02, 1.02)
        if logx:
            log_x(ax)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    finish(fig, axes, title, meta["command"], path)


def hamming_plot(meta, path):
    tasks = meta["tasks"]
    fig, axes = panels(len(tasks))
    for ax, (name, t) in zip(axes, tasks.items()):
        for m in ORDER:
            finals = [r["final"]["per_step"] for r in seeds_of(t, m)]
            if not finals:
                continue
            steps = [s["step"] for s in finals[0]]
            ys = [mean([f[i]["hamming"] for f in finals]) for i in range(len(steps))]
            ax.plot(steps, ys, "o-", color=COLOURS[m], label=NAMES[m], ms=3)
        ax.axhline(t["copy"]["hamming"], color="0.5", ls=":", lw=1, label="copy the puzzle")
        ax.set_title(t["task"]["title"], fontsize=9)
        ax.set_xlabel("supervision step at inference", fontsize=8)
        ax.set_ylabel("cells wrong (mean)", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    finish(fig, axes, "Distance to the answer after every supervision step (final checkpoints, mean over seeds)",
           meta["command"], path)


def queens_plot(meta, name, path):
    t = meta["tasks"][name]
    fig, axes = panels(2, width=5.2)
    for ax, key in zip(axes, ("exact", "valid")):
        for m in ORDER:
            per = [r["final"].get("by_given") for r in seeds_of(t, m)]
            per = [p for p in per if p]
            if not per:
                continue
            ks = sorted(per[0], key=int)
            ys = [mean([p[k][key] for p in per]) for k in ks]
            lo = [min(p[k][key] for p in per) for k in ks]
            hi = [max(p[k][key] for p in per) for k in ks]
            x = [int(k) for k in ks]
            ax.plot(x, ys, "o-", color=COLOURS[m], label=NAMES[m], ms=4)
            ax.fill_between(x, lo, hi, color=COLOURS[m], alpha=0.15, lw=0)
            ax.set_xticks(x)
        ax.set_xlabel("queens given", fontsize=8)
        ax.set_ylabel(f"{key} accuracy", fontsize=8)
        ax.set_title("exact: the stored solution" if key == "exact" else "valid: any solution keeping the given queens",
                     fontsize=9)
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
    finish(fig, axes, f"{t['task']['title']}: accuracy by the number of given queens (final checkpoints; band: seeds' range)",
           meta["command"], path)


def guidance_plot(meta, path):
    tasks = meta["tasks"]
    fig, axes = panels(1, width=9)  # wide enough for the legend's four task names in one row
    ax = axes[0]
    for name, t in tasks.items():
        g = t.get("guidance") or []
        if g:
            ax.plot([p["w"] for p in g], [p["exact"] for p in g], "o-", label=t["task"]["title"], ms=3)
    ax.axvline(1.0, color="0.5", ls=":", lw=1)
    ax.set_xlabel("guidance weight w (logits (1-w)·l_u + w·l_c; 1 = plain)", fontsize=8)
    ax.set_ylabel("exact accuracy (held out)", fontsize=8)
    ax.grid(alpha=0.3)
    finish(fig, axes, "DIS's final model (first seed) with guidance at inference", meta["command"], path)


SYMBOL_CODES = {".": 0, "#": 1, " ": 2, "S": 3, "G": 4, "o": 5, "Q": 6}


def solve_plot(meta, t, path, root):
    """The puzzle, the answer and each step's prediction (DIS, then TRM-ACT); wrong cells outlined in red."""
    kind = t["task"]["kind"]
    rows = [("DIS", t["solve"]["frames"]), ("TRM-ACT (T 3, n 6)", t["solve"].get("trm_frames") or [])]
    rows = [(n, f) for n, f in rows if f]
    if any(len(f) > 10 for _, f in rows):
        # TRM's 16 steps: show every other step to keep the picture readable
        rows = [(n, f[:2] + [x for i, x in enumerate(f[2:]) if i % 2 == 1 or i == len(f) - 3]) if len(f) > 10 else (n, f)
                for n, f in rows]
    cols = max(len(f) for _, f in rows)
    fig, axes = plt.subplots(len(rows), cols, figsize=(1.5 * cols, 1.8 * len(rows) + 0.5), squeeze=False)
    for r, (name, frames) in enumerate(rows):
        answer = frames[1][1]
        for c in range(cols):
            ax = axes[r][c]
            ax.set_xticks([])
            ax.set_yticks([])
            if c >= len(frames):
                ax.axis("off")
                continue
            title, grid = frames[c]
            draw_grid(ax, kind, grid, answer if c >= 2 else None)
            ax.set_title((f"{name}: " if c == 0 else "") + title, fontsize=7)
    fig.suptitle(f"{t['task']['title']}: held-out puzzle {t['solve']['index']} solved step by step "
                 "(red: cell differs from the answer)", fontsize=10)
    footer(fig, t["solve"]["command"].replace(root.rstrip("/") + "/", ""))
    fig.tight_layout(rect=(0, 0.04, 1, 0.95))
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


def draw_grid(ax, kind, grid, answer):
    n = len(grid)
    m = max((len(row) for row in grid), default=0)
    if kind == "maze":
        cmap = ListedColormap(["white", "0.25", "white", "tab:green", "tab:orange", "tab:blue", "white"])
        img = [[SYMBOL_CODES.get(ch, 0) for ch in row] + [0] * (m - len(row)) for row in grid]
        ax.imshow(img, cmap=cmap, vmin=0, vmax=6)
    else:
        ax.imshow([[0] * m for _ in range(n)], cmap=ListedColormap(["white"]), vmin=0, vmax=1)
        for i, row in enumerate(grid):
            for j, ch in enumerate(row):
                if ch != ".":
                    ax.text(j, i, "♛" if ch == "Q" else ch, ha="center", va="center", fontsize=9 if m <= 6 else 7)
        for k in range(m + 1):
            ax.axhline(k - 0.5, color="0.8", lw=0.5)
            ax.axvline(k - 0.5, color="0.8", lw=0.5)
    if answer is not None:
        for i, row in enumerate(grid):
            for j, ch in enumerate(row):
                if i < len(answer) and j < len(answer[i]) and answer[i][j] != ch:
                    ax.add_patch(plt.Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, ec="red", lw=1.2))


# --------------------------------------------------------------------------------------------------
# The report
# --------------------------------------------------------------------------------------------------


def report_name(meta):
    """docs/results.md (+ results/) for the full mode, docs/results-quick.md (+ results-quick/) for the quick one."""
    return "results" if meta["mode"] == "full" else "results-quick"


def write(meta, report_dir, root):
    name = report_name(meta)
    fig_dir = os.path.join(report_dir, name)
    os.makedirs(fig_dir, exist_ok=True)
    for f in os.listdir(fig_dir):
        if f.endswith(".png"):
            os.remove(os.path.join(fig_dir, f))
    curves_plot(meta, os.path.join(fig_dir, "accuracy_vs_cpu_time.png"), "cpu_seconds", "training CPU seconds (one thread)",
                "Compute-matched: held-out exact accuracy against training CPU time\n(mean of the seeds; band: their range)")
    curves_plot(meta, os.path.join(fig_dir, "accuracy_vs_optimizer_steps.png"), "optimizer_steps", "optimiser steps (log)",
                "Step-matched: held-out exact accuracy against optimiser steps\n(triangles: each seed's copy at "
                "TRM-ACT (T 3, n 6)'s last step)", logx=True)
    hamming_plot(meta, os.path.join(fig_dir, "hamming_per_step.png"))
    guidance_plot(meta, os.path.join(fig_dir, "guidance.png"))
    for task_name, t in meta["tasks"].items():
        if t["task"]["kind"] == "nqueens":
            queens_plot(meta, task_name, os.path.join(fig_dir, f"by_given_queens_{task_name}.png"))
        if t.get("solve", {}).get("frames"):
            solve_plot(meta, t, os.path.join(fig_dir, f"solve_{task_name}.png"), root)
    text = "\n".join(markdown(meta)).replace(root.rstrip("/") + "/", "").replace("](results/", f"]({name}/")
    with open(os.path.join(report_dir, name + ".md"), "w") as f:
        f.write(text + "\n")


def provenance(meta):
    """Where the numbers came from beyond the last invocation: the binary's commit (recorded when the experiment
    copied it) and the compute of every run, each counted by the run itself, so an experiment interrupted and
    continued over several invocations is stated whole."""
    b = meta.get("binary") or {}
    if b.get("commit"):
        built = f"the binary was built from commit {b['commit']}" + (
            " with uncommitted changes" if b.get("uncommitted_changes") else "") + f" ({b.get('version', '?')})"
    else:
        built = "the binary's commit was not recorded (experiments started before 2026-12-01)"
    runs = [r for t in meta["tasks"].values() for seeds in t["runs"].values() for r in seeds.values()]
    cpu = sum(r["summary"].get("cpu_seconds", 0) for r in runs)
    return (f"Its {len(runs)} training runs took {cpu / 3600:.1f} CPU hours between them (each run's own count, "
            f"whichever invocation ran it); {built}.")


def markdown(meta):
    tasks, settings, mach = meta["tasks"], meta.get("settings") or {}, meta["machine"]
    quick = meta["mode"] == "quick"
    L = []
    w = L.append
    seeds = len(next(iter(tasks.values()))["seeds"])
    w(f"# DIS against TRM-ACT on a CPU: tuned baselines, {seeds} seed{'s' if seeds > 1 else ''}, two protocols")
    w("")
    isa = "" if f"cpu {mach['isa']}" in mach["blas"] else f", {mach['isa']}"  # the BLAS line may name it already
    w(f"Generated by `{meta['command']}` (scripts/experiment.py, {meta['mode']} mode), finished {meta['finished']}; "
      f"{meta['seconds'] / 60:.0f} minutes in the invocation that finished it. Machine: {mach['cpu']} "
      f"({mach['cpus']} CPUs{isa}), {mach['blas']}. Every number and figure below comes from that command "
      "and the settings the search chose (`make experiment-sweep`, scripts/experiment_settings.json). "
      + provenance(meta))
    w("")
    if quick:
        w("**This is the quick mode**: one seed and half a CPU minute per run, a smoke test of the pipeline. The "
          "accuracies say little about the methods; [results.md](results.md) has the full runs.")
        w("")
    w("## Verdicts")
    w("")
    w("Exact accuracy on held-out puzzles (every cell right), mean of the seeds. *Beyond the spread*: every seed "
      "of the better method beats every seed of the other.")
    w("")
    w("| task | protocol | DIS | TRM-ACT (T 3, n 6) | TRM-ACT (T 1, n 2) | DIS vs TRM-ACT (T 3, n 6) | DIS vs TRM-ACT (T 1, n 2) |")
    w("|---|---|---|---|---|---|---|")
    for name, t in tasks.items():
        for label, point in (("compute-matched", "final"), ("step-matched", "matched")):
            v = {m: values(t, m, point) for m in ORDER}
            w(f"| {t['task']['title']} | {label} | " + " | ".join(pct(mean(v[m])) for m in ORDER) + " | "
              + verdict(v["dis"], v["trm"], "DIS", "TRM-ACT") + " | " + verdict(v["dis"], v["trm-t1n2"], "DIS", "TRM-ACT") + " |")
    w("")
    w("Network applications per example at inference: DIS N_sup·T·(n+1) = 18 (24 on N-Queens, N_sup 8), TRM-ACT "
      "(T 3, n 6) 16·21 = 336, TRM-ACT (T 1, n 2) 16·3 = 48 (all run every step at inference).")
    w("")
    w(setup(meta))
    w(search(settings, tasks))
    w(compute_matched(tasks))
    w(step_matched(tasks))
    for name, t in tasks.items():
        if t["task"]["kind"] == "nqueens":
            w(queens(name, t))
    w(figures(tasks))
    w(reading(tasks))
    w("## Reproduce")
    w("")
    w("```")
    w("make experiment-sweep   # the search: writes scripts/experiment_settings.json (about an hour on 2 cores)")
    w("make experiment         # the final runs and this report (at most 150 minutes on 2 cores)")
    w("make experiment-quick   # the same pipeline in about five minutes (docs/results-quick.md)")
    w("```")
    w("")
    w("Each continues where an interrupted run stopped (build/experiment/<mode>/: every finished training has a "
      "train.json, every evaluation an .eval.json). Individual runs: each run's command is in "
      "build/experiment/<mode>/<task>/<method>/seed<k>/command.txt.")
    return L


def setup(meta):
    tasks = meta["tasks"]
    L = ["## Setup", ""]
    w = L.append
    w("- **Methods.** DIS: T 1, n 2, N_sup 6 (8 on N-Queens, the DIS code's), one optimiser step per supervision "
      "step, targets from the path corruption (input to answer), predictions fed back, no halting. TRM-ACT (T 3, n 6): "
      "the TRM paper's recursion, N_sup 16, the Q-halting head with exploration 0.1. TRM-ACT (T 1, n 2): the DIS "
      "repository's own baseline, the same recursion as DIS with TRM's halting and 16 steps.")
    w("- **Same network and data for every method on a task**; AdamATan2 (β 0.9/0.95), weight decay 0.1, stablemax "
      "cross-entropy, warm-up 50 optimiser steps, gradient norm clipped at 1, batch 16. Learning rate and EMA "
      "per task and method from the search below.")
    w("- **Compute-matched**: every run trains on one thread for the task's budget in **CPU minutes** (the process's "
      "user + system time; two runs at a time on the 2 cores), then stops after its current step.")
    w("- **Step-matched** (the paper's Figure 6 protocol): TRM-ACT (T 3, n 6) takes the fewest optimiser steps in the "
      "budget; the DIS and TRM-ACT (T 1, n 2) runs of the same seed keep a copy of their weights at the first "
      "checkpoint at or past that step count (checkpoints every 2 DIS batches = 12-16 optimiser steps, every 10 "
      "TRM-ACT steps).")
    w("- **Seeds**: " + ", ".join(str(s) for s in next(iter(tasks.values()))["seeds"]) + " (model initialisation, "
      "sampling, DIS reveal orders, TRM exploration); the dataset is the same for every seed.")
    w("- **Evaluation** on held-out test puzzles with `trmdis eval`, after training (evaluation does not eat the "
      "budget). *Exact*: every cell equals the stored answer; *valid*: the task's checker accepts it (any valid "
      "N-Queens completion keeping the given queens, a valid Sudoku keeping the clues, a shortest maze path).")
    w("")
    w("| task | data (`trmdis data ...`) | network | budget per run | test puzzles evaluated | copy the puzzle: exact / token |")
    w("|---|---|---|---|---|---|")
    for name, t in tasks.items():
        task = t["task"]
        w(f"| {task['title']} | `{' '.join(t['data_command'].split()[2:])}` | {task['network_text']} | "
          f"{t['minutes']:g} CPU min | {task['eval_limit']} | {pct(t['copy']['exact'])} / {pct(t['copy']['token'])} |")
    w("")
    return "\n".join(L)


def search(settings, tasks):
    L = ["## The search (`make experiment-sweep`)", ""]
    w = L.append
    if not settings:
        w("No search has run: every method used lr 1e-3 without EMA.")
        w("")
        return "\n".join(L)
    lrs = settings["learning_rates"]
    w(f"Each learning rate trained once per task and method (seed {settings['seed']}, {settings['sweep_fraction']:g} "
      f"of the final budget in CPU minutes) on the training split without its last puzzles, and was scored on those "
      f"held-out training puzzles (the validation split; the test split is never read) with the raw weights and "
      f"with EMA {settings['ema_rate']} of the weights (one run gives both: the EMA copy never feeds back into "
      f"training). The best by exact, then valid, then token accuracy is chosen (**bold**). Same grid and budget for "
      f"every method. Search finished {settings.get('finished', '?')} on {settings.get('machine', {}).get('cpu', '?')}.")
    w("")
    w("| task | method | " + " | ".join(f"lr {lr:g} raw / EMA" for lr in lrs) + " | chosen |")
    w("|---|---|" + "---|" * len(lrs) + "---|")
    for name in tasks:
        table = settings["table"].get(name)
        if not table:
            continue
        for m in ORDER:
            rows = table.get(m, [])
            chosen = settings["chosen"][name][m]
            cells = []
            for lr in lrs:
                pair = []
                for ema in (False, True):
                    r = next((r for r in rows if r["lr"] == lr and r["ema"] == ema), None)
                    text = pct(r["exact"]) if r else "-"
                    if r and chosen["lr"] == lr and chosen["ema"] == ema:
                        text = f"**{text}**"
                    pair.append(text)
                cells.append(" / ".join(pair))
            w(f"| {tasks[name]['task']['title']} | {NAMES[m]} | " + " | ".join(cells)
              + f" | lr {chosen['lr']:g}, EMA {'on' if chosen['ema'] else 'off'} |")
    w("")
    return "\n".join(L)


def compute_matched(tasks):
    L = ["## Compute-matched: the same CPU minutes", ""]
    w = L.append
    w("Exact accuracy in % as mean ± standard deviation (each seed). Optimiser steps and examples: mean of the "
      "seeds. Training applications per example: DIS N_sup·T·(n+1); TRM-ACT the measured mean number of "
      "supervision steps before halting times T·(n+1).")
    w("")
    w("| task | method | lr, EMA | optimiser steps | examples seen | train appl./example | exact % | valid | token |")
    w("|---|---|---|---|---|---|---|---|---|")
    for name, t in tasks.items():
        for m in ORDER:
            runs = seeds_of(t, m)
            if not runs:
                continue
            s = t["settings"][m]
            summ = [r["summary"] for r in runs]
            w(f"| {t['task']['title']} | {NAMES[m]} | {s['lr']:g}, {'on' if s['ema'] else 'off'} | "
              f"{mean([x['optimizer_steps'] for x in summ]):,.0f} | {mean([x['examples'] for x in summ]):,.0f} | "
              f"{mean([x['train_calls_per_example'] for x in summ]):.1f} | {spread_text(values(t, m, 'final'))} | "
              f"{pct(mean(values(t, m, 'final', 'valid')))} | {pct(mean(values(t, m, 'final', 'token')))} |")
    w("")
    return "\n".join(L)


def step_matched(tasks):
    L = ["## Step-matched: the same number of optimiser steps", ""]
    w = L.append
    w("Each seed's step count is where TRM-ACT (T 3, n 6) of that seed stopped; the other methods' copies are taken "
      "at the first checkpoint at or past it (their actual steps in brackets).")
    w("")
    w("| task | seed | optimiser steps | DIS exact | TRM-ACT (T 3, n 6) exact | TRM-ACT (T 1, n 2) exact |")
    w("|---|---|---|---|---|---|")
    for name, t in tasks.items():
        for seed in sorted(t["runs"]["trm"], key=int):
            ref = t["runs"]["trm"][seed].get("matched")
            if not ref:
                continue
            cells = []
            for m in ORDER:
                r = t["runs"][m].get(seed, {}).get("matched")
                cells.append("-" if not r else pct(r["exact"]) + ("" if m == "trm" else f" ({r['optimizer_steps']:,})"))
            w(f"| {t['task']['title']} | {seed} | {ref['optimizer_steps']:,} | " + " | ".join(cells) + " |")
        v = {m: values(t, m, "matched") for m in ORDER}
        w(f"| {t['task']['title']} | mean | | " + " | ".join(spread_text(v[m]) for m in ORDER) + " |")
    w("")
    return "\n".join(L)


def queens(name, t):
    L = [f"## {t['task']['title']}: accuracy by the number of given queens", ""]
    w = L.append
    w("Final checkpoints (compute-matched), mean over seeds of the exact accuracy (valid in brackets: any "
      "solution that keeps the given queens), on the test puzzles with that many queens given. Copying the puzzle "
      "solves none. Training draws 1-7 given queens as the paper; the test split has only 2-6, because test puzzles "
      "must differ from every training puzzle and the 8x8 board has only 64 boards with one queen of a solution "
      "and 736 with seven (92 solutions x 8 rows), all of which occur among the 24,000 training puzzles.")
    w("")
    w("What it took: the network. With attention and 1-D RoPE over the 64 cells, DIS did not get past copying the "
      "given queens (the previous experiment at D 64 with 2 layers, and a D 256 model trained by hand); the token-mixing "
      "MLP (mlp_t, the TRM paper's choice for fixed-size grids: one learned mixing of the 64 cells per layer) at "
      "the same width and depth learns the rows, columns and diagonals within the budget. No curriculum and no "
      "larger model were needed.")
    w("")
    first = seeds_of(t, "dis")[0]["final"].get("by_given") or {}
    ks = sorted(first, key=int)
    w("| method | " + " | ".join(f"{k} given ({first[k]['examples']})" for k in ks) + " |")
    w("|---|" + "---|" * len(ks))
    for m in ORDER:
        per = [r["final"].get("by_given") for r in seeds_of(t, m)]
        per = [p for p in per if p]
        if not per:
            continue
        w(f"| {NAMES[m]} | " + " | ".join(f"{pct(mean([p[k]['exact'] for p in per]))} ({pct(mean([p[k]['valid'] for p in per]))})"
                                          for k in ks) + " |")
    w("")
    w(f"![by given queens](results/by_given_queens_{name}.png)")
    w("")
    return "\n".join(L)


def figures(tasks):
    L = ["## Figures", ""]
    w = L.append
    w("![compute-matched](results/accuracy_vs_cpu_time.png)")
    w("")
    w("![step-matched](results/accuracy_vs_optimizer_steps.png)")
    w("")
    w("![hamming](results/hamming_per_step.png)")
    w("")
    w("DIS's distance to the answer should fall step by step (each step is trained one step closer to the "
      "answer); TRM-ACT is trained on the answer at every step.")
    w("")
    w("![guidance](results/guidance.png)")
    w("")
    for name, t in tasks.items():
        if t.get("solve", {}).get("frames"):
            w(f"![{name}](results/solve_{name}.png)")
            w("")
    return "\n".join(L)


def tally(tasks, point, other):
    """For DIS against `other`: 'ahead (beyond the spread) on 4x4 Sudoku, 6x6 Sudoku; behind (within the spread) on ...'."""
    groups = {}
    for t in tasks.values():
        a, b = values(t, "dis", point), values(t, other, point)
        diff, beyond = compare(a, b)
        if diff is None:
            continue
        side = "ahead" if diff > 0 else "behind" if diff < 0 else "equal"
        how = "beyond the spread" if beyond else "one seed, no spread" if min(len(a), len(b)) < 2 else "within the spread"
        groups.setdefault(f"{side} ({how})", []).append(t["task"]["title"])
    order = [f"{side} ({how})" for side in ("ahead", "equal", "behind")
             for how in ("beyond the spread", "within the spread", "one seed, no spread")]
    return "; ".join(f"{k} on {', '.join(groups[k])}" for k in order if k in groups) or "n/a"


def reading(tasks):
    L = ["## What the numbers say", ""]
    w = L.append
    for label, point in (("Compute-matched", "final"), ("Step-matched", "matched")):
        w(f"- **{label}**, DIS against TRM-ACT (T 3, n 6): {tally(tasks, point, 'trm')}. Against TRM-ACT (T 1, n 2): "
          f"{tally(tasks, point, 'trm-t1n2')}.")
    for name, t in tasks.items():
        v = {m: values(t, m, "final") for m in ORDER}
        s = {m: values(t, m, "matched") for m in ORDER}
        steps = {m: mean([r["summary"]["optimizer_steps"] for r in seeds_of(t, m)]) for m in ORDER}
        copy = t["copy"]["exact"]
        learnt = [NAMES[m] for m in ORDER if v[m] and mean(v[m]) > copy + 0.02]
        w(f"- **{t['task']['title']}**: in {t['minutes']:g} CPU minutes DIS took {steps['dis']:,.0f} optimiser steps, "
          f"TRM-ACT (T 3, n 6) {steps['trm']:,.0f} and TRM-ACT (T 1, n 2) {steps['trm-t1n2']:,.0f}. "
          f"Compute-matched: DIS {spread_text(v['dis'])}, TRM-ACT (T 3, n 6) {spread_text(v['trm'])}, "
          f"TRM-ACT (T 1, n 2) {spread_text(v['trm-t1n2'])} % exact; "
          f"step-matched: DIS {pct(mean(s['dis']))}, TRM-ACT (T 3, n 6) {pct(mean(s['trm']))}, TRM-ACT (T 1, n 2) "
          f"{pct(mean(s['trm-t1n2']))}. "
          + (f"Learnt beyond copying the puzzle ({pct(copy)}): {', '.join(learnt)}." if learnt
             else f"No method beats copying the puzzle ({pct(copy)}) by more than 2 points."))
    w("")
    return "\n".join(L)
