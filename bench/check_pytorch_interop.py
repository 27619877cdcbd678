#!/usr/bin/env python3
"""Checks that our engine and the PyTorch reference (bench/torch_reference.py) agree, by hand (never in CI).

For several configurations this script
  (a) writes a freshly initialised model with `trmdis init` (or, for settings the CLI has no flag for,
      with the Python binding, whose weights are bit-identical to the CLI's: checked here too), fills the
      puzzle-embedding table and q_head.weight with random values (both start at zero, which would hide
      errors), and loads the same file into PyTorch with load_state_dict(strict=True) and into the engine
      with trmdis.Model.load;
  (b) runs the same random tokens for two supervision steps from the initial carry in both and compares the
      logits and q (max abs difference);
  (c) compares gradients: one TRM-method trainer step with beta1 = 0 leaves the exact gradient of
      (lm_loss + 0.5*BCE(q_halt)) / B in the optimiser's first moment, which the trainer checkpoint holds
      (state.safetensors `optimizer.m`); the puzzle-row gradients are compared by sign (SignSGD moved the
      rows by -lr*sign(g));
  (d) compares one whole DIS mini-batch (N_sup supervision steps, AdamATan2 + SignSGD after each, argmax
      fed back) on data whose intermediate targets are deterministic (at most one differing cell per
      example): weights, first and second moments and puzzle rows after the N_sup updates;
  (e) imports official checkpoints written by torch.save (the PyTorch model's state dict under
      `_orig_mod.model.inner.` or `model.inner.`, bfloat16 H_init/L_init, the DIS code's `timestep_embed`
      name, an all_config.yaml written by yaml.dump) with trmdis.Model.from_official and compares outputs;
      then exports with Model.to_official (a torch.save archive written without PyTorch), reads it with
      torch.load(weights_only=True) and loads it strictly into the PyTorch model.

Exit status 1 if any comparison is outside its tolerance. Run from the repository root:

    make lib cli                      # build/lib/libtrmdis.so, build/bin/trmdis
    .venv-torch/bin/python bench/check_pytorch_interop.py [--full] [--keep DIR]

(TRMDIS_LIBRARY defaults to build/lib/libtrmdis.so.) See docs/pytorch.md for the measured differences.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import subprocess
import sys
import tempfile
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "bindings", "python"))
os.environ.setdefault("TRMDIS_LIBRARY", os.path.join(ROOT, "build", "lib", "libtrmdis.so"))

import torch_reference as ref  # noqa: E402
import trmdis  # noqa: E402
from safetensors import safe_open  # noqa: E402
from safetensors.torch import load_file, save_file  # noqa: E402

# CLI flag -> binding ModelConfig field.
_CLI_FIELDS = {"hidden": "hidden_size", "layers": "num_layers", "heads": "num_heads", "seq-len": "seq_len",
               "vocab": "vocab_size", "puzzle-emb-len": "puzzle_emb_len", "T": "h_cycles", "n": "l_cycles",
               "supervision-steps": "supervision_steps", "puzzle-identifiers": "num_puzzle_identifiers",
               "time-embedding": "time_embedding"}


@dataclasses.dataclass
class Case:
    name: str
    preset: str
    cli: Optional[Dict[str, object]] = None  # flags of `trmdis init`; None: not expressible, use the binding
    binding: Dict[str, object] = dataclasses.field(default_factory=dict)  # extra binding-only fields
    batch: int = 4
    time_step: int = 1
    seed: int = 7
    dis: bool = True  # run the DIS mini-batch comparison
    full: bool = False  # only with --full

    def binding_config(self) -> "trmdis.ModelConfig":
        changes = {_CLI_FIELDS[k]: v for k, v in (self.cli or {}).items()}
        changes.update(self.binding)
        return trmdis.ModelConfig.preset(self.preset).replace(**changes)


CASES = [
    Case("attention+rope, puzzle prefix, time emb (dis-compact, small)", "dis-compact",
         cli={"hidden": 64, "heads": 4, "layers": 2, "seq-len": 30, "vocab": 12, "puzzle-identifiers": 4},
         time_step=3),
    Case("mlp_t, pos none, prefix (sudoku-mlp, small, T 2 n 2)", "sudoku-mlp",
         cli={"hidden": 64, "heads": 4, "T": 2, "n": 2, "supervision-steps": 4, "puzzle-identifiers": 3}),
    Case("learned positions + time emb, no prefix (nqueens, small)", "nqueens",
         cli=None, binding={"pos_encoding": trmdis.PosEncoding.LEARNED, "hidden_size": 64, "num_heads": 4},
         time_step=2),
    Case("attention+rope, T 3 n 2 (sudoku-att, small)", "sudoku-att",
         cli={"hidden": 64, "heads": 4, "T": 3, "n": 2, "supervision-steps": 3, "puzzle-identifiers": 2}),
    Case("sudoku-att preset (D 512, T 3 n 6)", "sudoku-att", cli={}, batch=2, dis=False, full=True),
    Case("sudoku-mlp preset (D 512, T 3 n 6)", "sudoku-mlp", cli={}, batch=2, dis=False, full=True),
]


class Report:
    def __init__(self) -> None:
        self.failures: List[str] = []

    def check(self, what: str, value: float, limit: float, detail: str = "") -> None:
        ok = value <= limit
        print(f"    {'ok  ' if ok else 'FAIL'} {what}: {value:.3g} (limit {limit:.3g}){' ' + detail if detail else ''}")
        if not ok:
            self.failures.append(what)

    def note(self, text: str) -> None:
        print(f"    note {text}")


# --------------------------------------------------------------------------------------------------

def write_model(case: Case, path: str, cli: str, report: Report) -> None:
    """(a) The engine's initial model file: trmdis init, or the binding where no CLI flag exists."""
    if case.cli is not None:
        cmd = [cli, "init", "--preset", case.preset, "--seed", str(case.seed), "--out", path]
        for k, v in case.cli.items():
            cmd += [f"--{k}", str(v).lower() if isinstance(v, bool) else str(v)]
        subprocess.run(cmd, check=True, capture_output=True)
        # The binding with the same config and seed must give the same bytes.
        other = path + ".binding"
        with trmdis.Model(case.binding_config(), seed=case.seed) as m:
            m.save(other)
        same = open(path, "rb").read() == open(other, "rb").read()
        report.check("CLI init and binding Model(config, seed).save differ", 0.0 if same else 1.0, 0.0)
    else:
        with trmdis.Model(case.binding_config(), seed=case.seed) as m:
            m.save(path)


def perturb(path: str, out: str, seed: int) -> None:
    """Random puzzle rows and q_head.weight (zero after init), the rest unchanged; metadata kept."""
    with safe_open(path, framework="pt") as f:
        meta = f.metadata()
    tensors = load_file(path)
    g = torch.Generator().manual_seed(seed)
    d = tensors["H_init"].shape[0]
    tensors["q_head.weight"] = torch.randn(tensors["q_head.weight"].shape, generator=g) / math.sqrt(d)
    if "puzzle_emb.weights" in tensors:
        tensors["puzzle_emb.weights"] = torch.randn(tensors["puzzle_emb.weights"].shape, generator=g) / math.sqrt(d)
    save_file(tensors, out, metadata=meta)


def max_diff(a, b) -> float:
    a = torch.as_tensor(np.asarray(a), dtype=torch.float64)
    b = torch.as_tensor(np.asarray(b), dtype=torch.float64)
    return float((a - b).abs().max()) if a.numel() else 0.0


def random_batch(c: ref.TRMConfig, batch: int, seed: int) -> Tuple[np.ndarray, np.ndarray, Optional[np.ndarray]]:
    rng = np.random.default_rng(seed)
    tokens = rng.integers(0, c.vocab_size, (batch, c.seq_len), dtype=np.int32)
    labels = rng.integers(0, c.vocab_size, (batch, c.seq_len), dtype=np.int32)
    ids = rng.integers(0, c.num_puzzle_identifiers, batch, dtype=np.int32) if c.puzzle_emb_len > 0 else None
    return tokens, labels, ids


def _t(a: Optional[np.ndarray]) -> Optional[torch.Tensor]:
    return None if a is None else torch.from_numpy(a.astype(np.int64))


# --------------------------------------------------------------------------------------------------

def load_both(path: str) -> Tuple[ref.TRMModel, ref.TRMModel]:
    """The file in PyTorch twice: float32 (the comparison) and float64 (the yardstick: how far float32
    rounding alone moves a result; the engine passes when it is about as close to float64 as PyTorch's
    float32 is)."""
    return ref.load_engine_file(path), ref.load_engine_file(path).double()


def within(report: Report, what: str, d_engine: float, d_torch: float, floor: float, unit: str = "") -> None:
    """Passes when |engine − f64| ≤ 3·|torch32 − f64| + floor."""
    report.check(f"{what}: |engine - torch64|", d_engine, 3 * d_torch + floor,
                 f"(|torch32 - torch64| {d_torch:.3g}{unit})")


def check_forward(case: Case, path: str, report: Report) -> Dict[str, float]:
    """(b) Two supervision steps from the initial carry, same tokens, in both."""
    m32, m64 = load_both(path)
    c = m32.config
    tokens, _, ids = random_batch(c, case.batch, case.seed + 1)
    tokens2, _, _ = random_batch(c, case.batch, case.seed + 2)
    out = {}
    with trmdis.Model.load(path) as engine, trmdis.Runner(engine, case.batch) as runner, torch.no_grad():
        runner.reset_carry()
        c32, c64 = m32.initial_carry(case.batch), m64.initial_carry(case.batch)
        for k, tok in enumerate((tokens, tokens2)):
            s = case.time_step + k
            logits_e, q_e = runner.step(tok, puzzle_ids=ids, time_step=s)
            c32, l32, q32 = m32(c32, _t(tok), _t(ids), time_step=s)
            c64, l64, q64 = m64(c64, _t(tok), _t(ids), time_step=s)
            dl, dq = max_diff(logits_e, l32), max_diff(q_e, q32)
            scale = float(l64.abs().max())
            report.note(f"step {k + 1}: engine vs torch32 max |diff| logits {dl:.3g} (max |logit| {scale:.3g}), "
                        f"q {dq:.3g}")
            within(report, f"step {k + 1} logits", max_diff(logits_e, l64), max_diff(l32, l64), 1e-5 * max(1, scale))
            within(report, f"step {k + 1} q", max_diff(q_e, q64), max_diff(q32, q64), 1e-5 * max(1, scale))
            agree = float((np.asarray(logits_e).argmax(-1) == l32.argmax(-1).numpy()).mean())
            report.note(f"step {k + 1} argmax agreement engine/torch32 {agree:.4f}")
            out[f"logits{k + 1}"], out[f"q{k + 1}"] = dl, dq
            out[f"logits{k + 1}_t32_t64"] = max_diff(l32, l64)
    return out


def _flat_order(model: ref.TRMModel) -> List[Tuple[str, torch.Tensor]]:
    return [(n, p) for n, p in model.named_parameters()]


def _train_params(**kw) -> "trmdis.TrainParams":
    return trmdis.TrainParams(**kw)


def _trm_gradients(model: ref.TRMModel, tokens, labels, ids, batch: int):
    """Gradients of (lm_loss + 0.5·BCE(q_halt, correct)) / B of one supervision step from the initial
    carry, and the puzzle rows (with their .grad)."""
    rows = ref._puzzle_rows(model, _t(ids) if ids is not None else torch.zeros(batch, dtype=torch.long))
    _, logits, q = model(model.initial_carry(batch), _t(tokens), _t(ids), time_step=1, puzzle_rows=rows)
    labels_t = _t(labels)
    correct = ref.sequence_correct(logits.detach(), labels_t)
    bce = F.binary_cross_entropy_with_logits(q[:, 0], correct.to(q.dtype), reduction="sum")
    ((ref.lm_loss(logits, labels_t) + 0.5 * bce) / batch).backward()
    grads = {n: (p.grad if p.grad is not None else torch.zeros_like(p)).detach() for n, p in model.named_parameters()}
    return grads, rows


def check_gradients(case: Case, path: str, work: str, report: Report) -> Dict[str, float]:
    """(c) The gradient of one TRM supervision step, read from the first moment (beta1 = 0)."""
    m32, m64 = load_both(path)
    c = m32.config
    tokens, labels, ids = random_batch(c, case.batch, case.seed + 3)
    lr_emb = 1e-2
    params = _train_params(method="trm", batch_size=case.batch, learning_rate=1e-3, warmup_steps=0, beta1=0.0,
                           weight_decay=0.0, puzzle_emb_lr=lr_emb, puzzle_emb_weight_decay=0.0, ema_rate=0.5,
                           halt_exploration_prob=0.0)
    ckpt = os.path.join(work, "grad-ckpt")
    data = trmdis.Dataset(tokens, labels, ids)
    with trmdis.Model.load(path) as engine:
        trainer = trmdis.Trainer(engine, data, params=params)
        trainer.step()
        trainer.save_checkpoint(ckpt)
        trainer.close()
    state = load_file(os.path.join(ckpt, "state.safetensors"))
    named_ema = load_file(os.path.join(ckpt, "model.safetensors"))

    # The flat buffers follow the PyTorch registration order: check with the EMA copy, which is stored
    # both flat (state) and by name (model.safetensors).
    order = _flat_order(m32)
    flat = torch.cat([named_ema[n].reshape(-1) for n, _ in order])
    report.check("flat layout = named_parameters order (EMA copy, max |diff|)", max_diff(flat, state["ema"]), 0.0)

    g32, rows32 = _trm_gradients(m32, tokens, labels, ids, case.batch)
    g64, rows64 = _trm_gradients(m64, tokens, labels, ids, case.batch)
    m = state["optimizer.m"]
    offset, out = 0, {}
    worst, worst_ratio = (0.0, 0.0, ""), -1.0
    for name, p in order:
        n = p.numel()
        g_e = m[offset:offset + n].view_as(p)
        offset += n
        scale = float(g64[name].abs().max()) or 1.0
        rel_e64 = max_diff(g_e, g64[name]) / scale
        rel_3264 = max_diff(g32[name], g64[name]) / scale
        out[name] = max_diff(g_e, g32[name]) / scale
        ratio = rel_e64 / (3 * rel_3264 + 1e-5)  # the tensor closest to failing
        if ratio > worst_ratio:
            worst, worst_ratio = (rel_e64, rel_3264, name), ratio
    report.note("gradient max |engine - torch32| / max |g| per tensor: worst "
                f"{max(out.values()):.3g} ({max(out, key=out.get)}), median {np.median(list(out.values())):.3g}")
    within(report, f"gradient / max |g|, tightest tensor {worst[2]}", worst[0], worst[1], 1e-5)
    if rows32 is not None:
        # SignSGD moved each touched row by -lr*sign(sum of its slots' gradients). Compared where the
        # float64 gradient is clearly non-zero (1e-4 of the largest).
        before = m32.puzzle_emb.weights
        after = state["puzzle_emb.weights"]
        unique, inverse = torch.unique(_t(ids), return_inverse=True)
        summed = torch.zeros(len(unique), rows64.shape[1], dtype=torch.float64).index_add_(0, inverse, rows64.grad)
        step_e = torch.round((before[unique] - after[unique]) / lr_emb).double()
        clear = summed.abs() > 1e-4 * float(summed.abs().max())
        mism = int(((torch.sign(summed) != step_e) & clear).sum())
        report.check("puzzle-row gradient sign mismatches (|g| > 1e-4 max)", mism, 0, f"of {int(clear.sum())}")
    return out


def _dis_reference(model: ref.TRMModel, settings: ref.TrainSettings, tokens, labels, ids):
    opt = ref.Optimizers(model, settings)
    t_in, t_lab = _t(tokens), _t(labels)
    ranks = torch.where(t_in != t_lab, torch.zeros_like(t_in), torch.full_like(t_in, -1))
    losses = ref.dis_train_step(model, opt, t_in, t_lab, _t(ids), ranks=ranks)
    return opt, float(np.mean(losses))


def check_dis(case: Case, path: str, work: str, report: Report) -> Dict[str, float]:
    """(d) One DIS mini-batch (N_sup updates) with deterministic targets (|D| <= 1 per example)."""
    m32, m64 = load_both(path)
    c = m32.config
    b = case.batch
    tokens, _, ids = random_batch(c, b, case.seed + 4)
    labels = tokens.copy()
    rng = np.random.default_rng(case.seed + 5)
    for i in range(b):  # example 0: no difference; 1: one ignored cell; others: one changed cell
        if i == 1:
            labels[i, rng.integers(c.seq_len)] = trmdis.IGNORE_LABEL
        elif i > 1:
            cell = rng.integers(c.seq_len)
            labels[i, cell] = (labels[i, cell] + 1 + rng.integers(c.vocab_size - 1)) % c.vocab_size
    # The reference's Sudoku settings (docs/model.md: TRM-ACT): lr 1e-4, weight decay 1.0, puzzle lr 1e-4, decay 1.0;
    # a short warm-up so that both branches of the schedule run.
    lr, warmup, wd, lr_emb = 1e-4, 3, 1.0, 1e-4
    params = _train_params(method="dis", batch_size=b, learning_rate=lr, warmup_steps=warmup, weight_decay=wd,
                           puzzle_emb_lr=lr_emb, puzzle_emb_weight_decay=wd)
    ckpt = os.path.join(work, "dis-ckpt")
    with trmdis.Model.load(path) as engine:
        trainer = trmdis.Trainer(engine, trmdis.Dataset(tokens, labels, ids), params=params)
        info = trainer.step()
        trainer.save_checkpoint(ckpt)
        trainer.close()
    state = load_file(os.path.join(ckpt, "state.safetensors"))

    settings = ref.TrainSettings(lr=lr, warmup_steps=warmup, weight_decay=wd, puzzle_emb_lr=lr_emb,
                                 puzzle_emb_weight_decay=wd)
    q_before = {n: getattr(m32.q_head, n).detach().clone() for n in ("weight", "bias")}
    opt32, loss32 = _dis_reference(m32, settings, tokens, labels, ids)
    opt64, loss64 = _dis_reference(m64, settings, tokens, labels, ids)
    report.note(f"DIS mean loss: engine {info.loss:.7f}, torch32 {loss32:.7f}, torch64 {loss64:.7f}")
    within(report, "DIS mean loss", abs(info.loss - loss64), abs(loss32 - loss64), 1e-7)

    # The reference skips parameters without a gradient: in DIS q_head is outside the loss, so it is
    # neither updated nor decayed. The engine freezes it the same way (AdamOptimizer.frozen).
    m_e, v_e = state["optimizer.m"], state["optimizer.v"]
    p64 = dict(m64.named_parameters())
    # AdamATan2's first update is ±lr/(1-β1)·atan(1-β1) whatever |g| is, so an element whose gradient is
    # below float32 noise (~1e-6 of the tensor's largest) can move the other way in either float32
    # implementation. Count elements off by more than a threshold, engine and torch32 against torch64.
    counts = {"weights": [0, 0, 0.0, 0.0], "m": [0, 0, 0.0, 0.0], "v": [0, 0, 0.0, 0.0]}  # n_e, n_32, max_e, max_32
    total, w_e32, offset = 0, 0.0, 0
    for name, p in _flat_order(m32):
        n = p.numel()
        q = p64[name]
        if name.startswith("q_head."):
            d_raw = max_diff(state[name], p.detach())
            d_start = max_diff(state[name], q_before[name.split(".")[1]])
            report.note(f"{name}: engine - reference max |diff| {d_raw:.3g}; engine - start {d_start:.3g} "
                        f"(DIS leaves q_head alone in both)")
            report.check(f"{name} unchanged by DIS, as in the reference", d_raw, 1e-6)
            offset += n
            continue
        s32, s64 = opt32.dense.state[p], opt64.dense.state[q]
        triples = {
            "weights": (state[name], p.detach(), q.detach(), 0.05 * lr),
            "m": (m_e[offset:offset + n].view_as(p), s32["exp_avg"], s64["exp_avg"],
                  1e-3 * float(s64["exp_avg"].abs().max())),
            "v": (v_e[offset:offset + n].view_as(p), s32["exp_avg_sq"], s64["exp_avg_sq"],
                  1e-3 * float(s64["exp_avg_sq"].abs().max())),
        }
        for key, (e, t32, t64, thr) in triples.items():
            d_e, d_32 = (e.double() - t64.double()).abs(), (t32.double() - t64.double()).abs()
            scale = lr if key == "weights" else float(t64.abs().max()) or 1.0
            c_ = counts[key]
            c_[0] += int((d_e > thr).sum())
            c_[1] += int((d_32 > thr).sum())
            c_[2] = max(c_[2], float(d_e.max()) / scale)
            c_[3] = max(c_[3], float(d_32.max()) / scale)
        w_e32 = max(w_e32, max_diff(state[name], p.detach()) / lr)
        total += n
        offset += n
    report.note(f"weights after {c.supervision_steps} updates: max |engine - torch32| = {w_e32:.3g} lr")
    for key, unit in (("weights", "lr"), ("m", "max |m|"), ("v", "max |v|")):
        n_e, n_32, max_e, max_32 = counts[key]
        report.check(f"{key} after {c.supervision_steps} updates: elements off torch64 by > "
                     f"{'0.05 lr' if key == 'weights' else '1e-3 ' + unit}", n_e, max(8, 4 * n_32, 1e-4 * total),
                     f"(torch32: {n_32}; of {total}; max |engine - torch64| {max_e:.3g} {unit}, "
                     f"torch32 {max_32:.3g})")
    if c.puzzle_emb_len > 0:
        # SignSGD moves rows by ±lr_emb: count the elements that ended up a sign step apart.
        table_e, table32 = state["puzzle_emb.weights"].double(), m32.puzzle_emb.weights.double()
        table64 = m64.puzzle_emb.weights
        n_e = int(((table_e - table64).abs() > lr_emb / 2).sum())
        n_32 = int(((table32 - table64).abs() > lr_emb / 2).sum())
        report.check("puzzle-table elements a sign step away from torch64", n_e, max(2, 3 * n_32),
                     f"(torch32: {n_32}; max |engine - torch32| {max_diff(table_e, table32):.3g})")
    return {"weights_engine_t32_lr": w_e32, "counts": counts}


# --------------------------------------------------------------------------------------------------

def official_yaml(cfg: ref.TRMConfig) -> Dict[str, object]:
    """The run configuration an official pretrain.py would dump for a model of `cfg` (all_config.yaml)."""
    arch = {"name": "recursive_reasoning.trm@TinyRecursiveReasoningModel_ACTV1", "H_cycles": cfg.h_cycles,
            "L_cycles": cfg.l_cycles, "H_layers": 0, "L_layers": cfg.num_layers, "hidden_size": cfg.hidden_size,
            "num_heads": cfg.num_heads, "expansion": cfg.expansion, "halt_max_steps": cfg.supervision_steps,
            "halt_exploration_prob": 0.1, "puzzle_emb_ndim": cfg.puzzle_emb_ndim, "puzzle_emb_len": cfg.puzzle_emb_len,
            "pos_encodings": cfg.pos_encoding, "mlp_t": cfg.mixer == "mlp_t", "forward_dtype": "bfloat16",
            "no_ACT_continue": True, "loss": {"name": "losses@ACTLossHead", "loss_type": "stablemax_cross_entropy"}}
    return {"arch": arch, "data_paths": ["data/not-here"], "global_batch_size": 768, "lr": 1e-4, "ema": True}


def check_converter(work: str, report: Report) -> None:
    """(e) Official checkpoints made by torch.save -> Model.from_official (the engine's reader, no torch) ->
    outputs against PyTorch; then Model.to_official -> torch.load(weights_only=True) -> load_state_dict."""
    import yaml

    variants = [
        ("TRM attention (compiled prefix, bf16 H/L_init)",
         ref.TRMConfig(vocab_size=11, seq_len=20, puzzle_emb_len=16, num_puzzle_identifiers=5, hidden_size=64,
                       num_heads=4, num_layers=2, h_cycles=2, l_cycles=3), "_orig_mod.model.inner.", 20),
        ("DIS mlp_t (no compile prefix, timestep_embed)",
         ref.TRMConfig(vocab_size=12, seq_len=25, puzzle_emb_len=16, num_puzzle_identifiers=3, hidden_size=64,
                       num_heads=4, num_layers=1, mixer="mlp_t", pos_encoding="none", h_cycles=1, l_cycles=2,
                       supervision_steps=6, time_embedding=True), "model.inner.", None),
        ("learned positions, HRM-style prefix 1",
         ref.TRMConfig(vocab_size=6, seq_len=12, puzzle_emb_len=1, num_puzzle_identifiers=2, hidden_size=32,
                       num_heads=2, num_layers=1, pos_encoding="learned", h_cycles=1, l_cycles=2),
         "_orig_mod.model.inner.", None),
    ]
    for title, cfg, prefix, seq_len in variants:
        print(f"  official import: {title}")
        torch.manual_seed(11)
        model = ref.TRMModel(cfg)
        with torch.no_grad():
            model.q_head.weight.normal_(0, 0.05)
            if cfg.puzzle_emb_len:
                model.puzzle_emb.weights.normal_(0, 0.05)
            model.H_init.copy_(model.H_init.bfloat16().float())  # what the official bf16 buffers hold
            model.L_init.copy_(model.L_init.bfloat16().float())
        sd = {prefix + k: (v.bfloat16() if k in ("H_init", "L_init") else v).clone() for k, v in model.state_dict().items()}
        run = os.path.join(work, "run")
        os.makedirs(run, exist_ok=True)
        src = os.path.join(run, "step_123")
        torch.save(sd, src)
        with open(os.path.join(run, "all_config.yaml"), "w") as f:
            yaml.dump(official_yaml(cfg), f)
        try:
            engine = trmdis.Model.from_official(src, seq_len=seq_len)
        except trmdis.TRMError as error:
            print(f"    {error}")
            report.check("import failed", 1, 0)
            continue
        ours = os.path.join(work, "imported.safetensors")
        engine.save(ours)
        with safe_open(ours, framework="pt") as f:
            got = ref.TRMConfig.from_json(f.metadata()["trmdis_config"])
        report.check("imported config differs", 0.0 if got == cfg else 1.0, 0.0, "" if got == cfg else str(got))
        back = load_file(ours)
        worst = max(max_diff(back[k], v) for k, v in model.state_dict().items())
        report.check("imported tensors max |diff|", worst, 0.0)
        tokens, _, ids = random_batch(cfg, 3, 5)
        with trmdis.Runner(engine, 3) as runner, torch.no_grad():
            logits_e, q_e = runner.step(tokens, puzzle_ids=ids, time_step=2)
            _, logits_t, q_t = model(model.initial_carry(3), _t(tokens), _t(ids), time_step=2)
        report.check("engine(imported) vs torch logits max |diff|", max_diff(logits_e, logits_t), 2e-3)
        report.check("engine(imported) vs torch q max |diff|", max_diff(q_e, q_t), 2e-3)
        # And back: Model.to_official -> the official state dict, loaded strictly by the PyTorch model.
        official = os.path.join(work, "exported", "step_back")
        os.makedirs(os.path.dirname(official), exist_ok=True)
        engine.to_official(official, os.path.join(work, "exported", f"all_config-{len(title)}.yaml"))
        again = torch.load(official, map_location="cpu", weights_only=True)  # a torch.save archive, written without torch
        same_keys = set(again) == {"_orig_mod.model.inner." + k for k in model.state_dict()}
        report.check("to_official keys differ from the official ones", 0.0 if same_keys else 1.0, 0.0)
        if same_keys:
            reloaded = ref.TRMModel(cfg)
            reloaded.load_state_dict({k[len("_orig_mod.model.inner."):]: v for k, v in again.items()}, strict=True)
            report.check("to_official tensors max |diff|",
                         max(max_diff(reloaded.state_dict()[k], v) for k, v in model.state_dict().items()), 0.0)
        engine.close()


# --------------------------------------------------------------------------------------------------

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cli", default=os.path.join(ROOT, "build", "bin", "trmdis"))
    parser.add_argument("--full", action="store_true", help="also the full-size sudoku-att and sudoku-mlp presets")
    parser.add_argument("--keep", help="write the files here instead of a temporary folder")
    parser.add_argument("--only", help="run only cases whose name contains this")
    parser.add_argument("--skip-converter", action="store_true")
    parser.add_argument("--threads", type=int, default=1, help="PyTorch threads (default 1)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if not os.path.exists(args.cli):
        print(f"{args.cli} not found: build it with `make cli`")
        return 2
    print(f"torch {torch.__version__}, trmdis {trmdis.version()} ({trmdis.library_path})")
    report = Report()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = args.keep or tmp
        os.makedirs(work, exist_ok=True)
        for i, case in enumerate(CASES):
            if (case.full and not args.full) or (args.only and args.only not in case.name):
                continue
            print(f"\n{case.name}")
            base = os.path.join(work, f"case{i}.safetensors")
            path = os.path.join(work, f"case{i}-perturbed.safetensors")
            write_model(case, base, args.cli, report)
            perturb(base, path, case.seed)
            r = {"forward": check_forward(case, path, report)}
            r["grad"] = check_gradients(case, path, work, report)
            if case.dis:
                r["dis"] = check_dis(case, path, work, report)
            results[case.name] = r
        if not args.skip_converter:
            print("\nconverter")
            check_converter(work, report)
    print()
    if report.failures:
        print(f"{len(report.failures)} comparisons outside tolerance: " + "; ".join(report.failures))
        return 1
    print("all comparisons within tolerance")
    return 0


if __name__ == "__main__":
    sys.exit(main())
