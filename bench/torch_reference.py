#!/usr/bin/env python3
"""A self-contained PyTorch (fp32) reference of the TRM/DIS model, for interop checks and benchmarks.

This is a from-the-spec re-implementation of docs/model.md: The network (model), TRM-ACT (stablemax,
AdamATan2, sparse SignSGD) and docs/model.md: DIS (time embedding, DIS training loop, corruption path). It is
*not* part of the engine, its tests or CI: PyTorch is never needed by `make test`. Run it from a separate
virtualenv (.venv-torch, see docs/pytorch.md).

Module names are chosen so that `TRMModel.state_dict()` has exactly the tensor names of our safetensors
files (Model/ModelCheckpoint.swift): the official PyTorch names without the `_orig_mod.model.inner.`
prefix, plus the buffers `puzzle_emb.weights`, `H_init`, `L_init`. So

    model = TRMModel(TRMConfig.from_json(meta["trmdis_config"]))
    model.load_state_dict(safetensors.torch.load_file(path), strict=True)

loads a file written by `trmdis init`, `trmdis.Model.save` or a trainer checkpoint.

Everything runs in float32 (the reference trains in bfloat16; see docs/model.md: The network); stablemax runs in float64.

Command line:
    python bench/torch_reference.py bench --config tiny|compact|medium|sudoku-mlp [--threads 2] [--mode train|infer]
    python bench/torch_reference.py learn --data DIR [--batches N | --minutes M] [--init engine.safetensors]
    python bench/torch_reference.py selftest
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import time
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import nn

IGNORE_LABEL = -100


# --------------------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------------------

# Our ModelConfig's JSON keys (Model/Config.swift, camelCase) <-> the dataclass fields (snake_case).
_JSON_KEYS = {
    "vocab_size": "vocabSize", "seq_len": "seqLen", "puzzle_emb_len": "puzzleEmbLen",
    "puzzle_emb_ndim": "puzzleEmbDim", "num_puzzle_identifiers": "numPuzzleIdentifiers",
    "hidden_size": "hiddenSize", "num_heads": "numHeads", "expansion": "expansion", "num_layers": "numLayers",
    "mixer": "mixer", "pos_encoding": "posEncoding", "rope_theta": "ropeTheta", "rms_norm_eps": "rmsNormEps",
    "h_cycles": "hCycles", "l_cycles": "lCycles", "supervision_steps": "supervisionSteps",
    "time_embedding": "timeEmbedding",
}


@dataclasses.dataclass
class TRMConfig:
    """Mirrors ModelConfig (Model/Config.swift); defaults are the reference's (docs/model.md: The network)."""

    vocab_size: int
    seq_len: int
    puzzle_emb_len: int = 16
    puzzle_emb_ndim: Optional[int] = None  # None: hidden_size with a prefix, else 0
    num_puzzle_identifiers: int = 1
    hidden_size: int = 512
    num_heads: int = 8
    expansion: float = 4.0
    num_layers: int = 2
    mixer: str = "attention"  # "attention" | "mlp_t"
    pos_encoding: str = "rope"  # "rope" | "learned" | "none"
    rope_theta: float = 10000.0
    rms_norm_eps: float = 1e-5
    h_cycles: int = 3  # T
    l_cycles: int = 6  # n
    supervision_steps: int = 16  # N_sup
    time_embedding: bool = False  # DIS step-time embedding, N_sup + 2 rows

    def __post_init__(self) -> None:
        if self.puzzle_emb_ndim is None:
            self.puzzle_emb_ndim = self.hidden_size if self.puzzle_emb_len > 0 else 0
        if self.mixer not in ("attention", "mlp_t"):
            raise ValueError(f"mixer must be 'attention' or 'mlp_t', not {self.mixer!r}")
        if self.pos_encoding not in ("rope", "learned", "none"):
            raise ValueError(f"pos_encoding must be rope, learned or none, not {self.pos_encoding!r}")
        if self.hidden_size % self.num_heads:
            raise ValueError("hidden_size must be a multiple of num_heads")
        if self.puzzle_emb_ndim > self.puzzle_emb_len * self.hidden_size:
            raise ValueError("puzzle_emb_ndim must be at most puzzle_emb_len * hidden_size")

    @property
    def total_len(self) -> int:
        return self.puzzle_emb_len + self.seq_len

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_heads

    @property
    def mlp_inner(self) -> int:
        return swiglu_inner(self.expansion, self.hidden_size)

    @property
    def token_mixer_inner(self) -> int:
        return swiglu_inner(self.expansion, self.total_len)

    @property
    def time_embedding_rows(self) -> int:
        return self.supervision_steps + 2 if self.time_embedding else 0

    @property
    def net_calls_per_step(self) -> int:
        return self.h_cycles * (self.l_cycles + 1)

    @classmethod
    def from_json(cls, text: Union[str, Dict]) -> "TRMConfig":
        """From our `trmdis_config` metadata JSON (camelCase keys)."""
        data = json.loads(text) if isinstance(text, str) else dict(text)
        values = {field: data[key] for field, key in _JSON_KEYS.items() if key in data}
        missing = sorted(set(_JSON_KEYS) - set(values))
        if missing:
            raise ValueError(f"trmdis_config lacks {', '.join(_JSON_KEYS[m] for m in missing)}")
        values["time_embedding"] = bool(values["time_embedding"])
        return cls(**values)

    def to_json(self) -> str:
        """Our `trmdis_config` metadata JSON (every key, sorted, as the engine writes it)."""
        data = {key: getattr(self, field) for field, key in _JSON_KEYS.items()}
        return json.dumps(dict(sorted(data.items())), separators=(",", ":"))

    def replace(self, **changes) -> "TRMConfig":
        return dataclasses.replace(self, **changes)


def swiglu_inner(expansion: float, width: int) -> int:
    """round(expansion·width·2/3) (Python rounding), then up to a multiple of 256 (docs/model.md: The network)."""
    raw = round(expansion * width * 2 / 3)
    return -(raw // -256) * 256


# --------------------------------------------------------------------------------------------------
# Initialisation (docs/model.md: The network). Only used for models made here (the fake official checkpoint, the
# benchmark); interop checks load the engine's weights instead.
# --------------------------------------------------------------------------------------------------

def trunc_normal_(tensor: torch.Tensor, std: float, lower: float = -2.0, upper: float = 2.0,
                  generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """JAX-style truncated normal whose *actual* std is `std` (bounds ±2 of the underlying normal)."""
    with torch.no_grad():
        if std == 0:
            return tensor.zero_()
        sqrt2 = math.sqrt(2)
        a, b = math.erf(lower / sqrt2), math.erf(upper / sqrt2)
        z = (b - a) / 2
        c = (2 * math.pi) ** -0.5
        pdf_u, pdf_l = c * math.exp(-0.5 * upper ** 2), c * math.exp(-0.5 * lower ** 2)
        comp_std = std / math.sqrt(1 - (upper * pdf_u - lower * pdf_l) / z - ((pdf_u - pdf_l) / z) ** 2)
        tensor.uniform_(a, b, generator=generator)
        tensor.erfinv_()
        tensor.mul_(sqrt2 * comp_std)
        tensor.clip_(lower * comp_std, upper * comp_std)
    return tensor


# --------------------------------------------------------------------------------------------------
# Layers (docs/model.md: The network)
# --------------------------------------------------------------------------------------------------

class Linear(nn.Module):
    """y = x·Wᵀ (+ b); W is [out, in], LeCun truncated-normal init; bias zero."""

    def __init__(self, in_features: int, out_features: int, bias: bool = False) -> None:
        super().__init__()
        self.weight = nn.Parameter(trunc_normal_(torch.empty(out_features, in_features), 1 / in_features ** 0.5))
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight, self.bias)


class Embedding(nn.Module):
    """A table whose parameter is called `embedding_weight` (the reference's CastedEmbedding)."""

    def __init__(self, rows: int, dim: int, init_std: float) -> None:
        super().__init__()
        self.embedding_weight = nn.Parameter(trunc_normal_(torch.empty(rows, dim), init_std))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return F.embedding(ids.long(), self.embedding_weight)


class PuzzleEmbedding(nn.Module):
    """The puzzle-identifier table: a zero-initialised *buffer* `weights` [num_ids, ndim] (not a parameter;
    trained by sparse SignSGD on per-example row copies, docs/model.md: TRM-ACT)."""

    def __init__(self, rows: int, dim: int) -> None:
        super().__init__()
        self.register_buffer("weights", torch.zeros(rows, dim), persistent=True)


def _wide(t: torch.Tensor) -> torch.Tensor:
    """t in float32, or float64 if it already is (the selftest runs the model in float64)."""
    return t if t.dtype == torch.float64 else t.float()


def rms_norm(x: torch.Tensor, eps: float) -> torch.Tensor:
    """x / sqrt(mean(x²) + eps) over the last axis; no gain, no bias (computed in float32)."""
    x32 = _wide(x)
    return (x32 * torch.rsqrt(x32.square().mean(-1, keepdim=True) + eps)).to(x.dtype)


class SwiGLU(nn.Module):
    """Down(SiLU(gate) ⊙ up) with one fused gate_up projection: first half gate, second half up."""

    def __init__(self, width: int, expansion: float) -> None:
        super().__init__()
        inner = swiglu_inner(expansion, width)
        self.gate_up_proj = Linear(width, 2 * inner)
        self.down_proj = Linear(inner, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate, up = self.gate_up_proj(x).chunk(2, dim=-1)
        return self.down_proj(F.silu(gate) * up)


def rope_tables(head_dim: int, length: int, theta: float) -> Tuple[torch.Tensor, torch.Tensor]:
    """cos, sin [length, head_dim] in the half-split layout: columns i and i + head_dim/2 share
    inv_freq_i = θ^(−2i/head_dim), computed in float32 as the reference does."""
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
    freqs = torch.outer(torch.arange(length, dtype=torch.float32), inv_freq)
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos(), emb.sin()


def apply_rope(h: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """h [B, L, H, hd] → h·cos + rot(h)·sin with rot([a; b]) = [−b; a]."""
    half = h.shape[-1] // 2
    rotated = torch.cat((-h[..., half:], h[..., :half]), dim=-1)
    return h * cos[:, None, :] + rotated * sin[:, None, :]


class Attention(nn.Module):
    """Non-causal MHA, fused qkv (features [q heads | k heads | v heads]), RoPE on q and k, no mask."""

    def __init__(self, hidden: int, heads: int) -> None:
        super().__init__()
        self.heads, self.head_dim = heads, hidden // heads
        self.qkv_proj = Linear(hidden, 3 * hidden)
        self.o_proj = Linear(hidden, hidden)

    def forward(self, x: torch.Tensor, rope: Optional[Tuple[torch.Tensor, torch.Tensor]]) -> torch.Tensor:
        b, l, d = x.shape
        qkv = self.qkv_proj(x).view(b, l, 3 * self.heads, self.head_dim)
        q, k, v = qkv[:, :, :self.heads], qkv[:, :, self.heads:2 * self.heads], qkv[:, :, 2 * self.heads:]
        if rope is not None:
            q, k = apply_rope(q, *rope), apply_rope(k, *rope)
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))  # [B, H, L, hd]
        out = F.scaled_dot_product_attention(q, k, v, is_causal=False)  # scale 1/sqrt(hd)
        return self.o_proj(out.transpose(1, 2).reshape(b, l, d))


class Block(nn.Module):
    """Post-norm block: h ← norm(h + mixer(h)); h ← norm(h + SwiGLU_D(h)). The mlp_t mixer works on hᵀ
    [B, D, L] with its RMSNorm over the *sequence* axis (docs/model.md: The network)."""

    def __init__(self, c: TRMConfig) -> None:
        super().__init__()
        self.eps = c.rms_norm_eps
        self.token_mixing = c.mixer == "mlp_t"
        if self.token_mixing:
            self.mlp_t = SwiGLU(c.total_len, c.expansion)
        else:
            self.self_attn = Attention(c.hidden_size, c.num_heads)
        self.mlp = SwiGLU(c.hidden_size, c.expansion)

    def forward(self, h: torch.Tensor, rope) -> torch.Tensor:
        if self.token_mixing:
            ht = h.transpose(1, 2)
            h = rms_norm(ht + self.mlp_t(ht), self.eps).transpose(1, 2)
        else:
            h = rms_norm(h + self.self_attn(h, rope), self.eps)
        return rms_norm(h + self.mlp(h), self.eps)


class ReasoningModule(nn.Module):
    """net(a, b) = blocks(a + b): the single network of TRM (`L_level`)."""

    def __init__(self, c: TRMConfig) -> None:
        super().__init__()
        self.layers = nn.ModuleList(Block(c) for _ in range(c.num_layers))

    def forward(self, hidden: torch.Tensor, injection: torch.Tensor, rope) -> torch.Tensor:
        hidden = hidden + injection
        for layer in self.layers:
            hidden = layer(hidden, rope)
        return hidden


Carry = Tuple[torch.Tensor, torch.Tensor]  # (y = z_H, z = z_L), each [B, L_tot, D]


class TRMModel(nn.Module):
    """The TRM/DIS network. state_dict() keys are our safetensors names exactly."""

    def __init__(self, c: TRMConfig) -> None:
        super().__init__()
        self.config = c
        d = c.hidden_size
        std = 1 / math.sqrt(d)
        # Registration order = the engine's parameter layout (Model/Parameters.swift).
        self.embed_tokens = Embedding(c.vocab_size, d, std)
        self.lm_head = Linear(d, c.vocab_size)
        self.q_head = Linear(d, 2, bias=True)
        with torch.no_grad():
            self.q_head.weight.zero_()
            self.q_head.bias.fill_(-5)
        if c.pos_encoding == "learned":
            self.embed_pos = Embedding(c.total_len, d, std)
        if c.time_embedding:
            self.timestep_embed = Embedding(c.time_embedding_rows, d, std)
        self.L_level = ReasoningModule(c)
        if c.puzzle_emb_len > 0:
            self.puzzle_emb = PuzzleEmbedding(c.num_puzzle_identifiers, c.puzzle_emb_ndim)
        self.register_buffer("H_init", trunc_normal_(torch.empty(d), 1.0), persistent=True)
        self.register_buffer("L_init", trunc_normal_(torch.empty(d), 1.0), persistent=True)
        if c.pos_encoding == "rope":
            cos, sin = rope_tables(c.head_dim, c.total_len, c.rope_theta)
            self.register_buffer("rope_cos", cos, persistent=False)
            self.register_buffer("rope_sin", sin, persistent=False)

    @property
    def rope(self):
        return (self.rope_cos, self.rope_sin) if self.config.pos_encoding == "rope" else None

    def parameter_count(self) -> int:
        return sum(p.numel() for p in self.parameters())

    # ---- the step -----------------------------------------------------------------------------

    def input_embeddings(self, tokens: torch.Tensor, puzzle_ids: Optional[torch.Tensor] = None,
                         time_step: Union[int, torch.Tensor, None] = None,
                         puzzle_rows: Optional[torch.Tensor] = None) -> torch.Tensor:
        """x = √D·([prefix ; embed(tokens)] + time_emb(s)), with learned positions e ← 0.7071·(e + P)
        before the scale. `puzzle_rows` [B, ndim] replaces the table lookup (the training copy that
        receives the gradient). The time embedding is added before the position embedding, as in the
        official DIS code."""
        c = self.config
        e = self.embed_tokens(tokens)
        b = e.shape[0]
        if c.puzzle_emb_len > 0:
            if puzzle_rows is None:
                ids = torch.zeros(b, dtype=torch.long) if puzzle_ids is None else puzzle_ids.long()
                puzzle_rows = self.puzzle_emb.weights[ids]
            pad = c.puzzle_emb_len * c.hidden_size - puzzle_rows.shape[-1]
            prefix = F.pad(puzzle_rows, (0, pad)) if pad > 0 else puzzle_rows
            e = torch.cat((prefix.view(b, c.puzzle_emb_len, c.hidden_size), e), dim=1)
        if c.time_embedding:
            s = 1 if time_step is None else time_step
            idx = s.long() if torch.is_tensor(s) else torch.full((b,), int(s), dtype=torch.long)
            e = e + self.timestep_embed(idx)[:, None, :]
        if c.pos_encoding == "learned":
            e = 0.707106781 * (e + self.embed_pos.embedding_weight)
        return math.sqrt(c.hidden_size) * e

    def initial_carry(self, batch: int) -> Carry:
        """y ← H_init, z ← L_init at every position (docs/model.md: The recursion)."""
        shape = (batch, self.config.total_len, self.config.hidden_size)
        dtype = self.embed_tokens.embedding_weight.dtype
        return self.H_init.to(dtype).expand(shape).clone(), self.L_init.to(dtype).expand(shape).clone()

    def heads(self, y: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """logits [B, seq_len, vocab] from the grid positions of y; q [B, 2] = q_head(y[:, 0])."""
        logits = self.lm_head(y)[:, self.config.puzzle_emb_len:]
        return logits, _wide(self.q_head(y[:, 0]))

    def forward(self, carry: Carry, tokens: torch.Tensor, puzzle_ids: Optional[torch.Tensor] = None,
                time_step: Union[int, torch.Tensor, None] = None,
                puzzle_rows: Optional[torch.Tensor] = None) -> Tuple[Carry, torch.Tensor, torch.Tensor]:
        """One supervision step (docs/model.md: The recursion): T−1 cycles without gradient, then one with; each cycle is n
        updates z ← net(z, y + x) then y ← net(y, z). Returns the detached new carry, logits and q."""
        c = self.config
        rope = self.rope
        x = self.input_embeddings(tokens, puzzle_ids, time_step, puzzle_rows)
        y, z = carry
        with torch.no_grad():
            for _ in range(c.h_cycles - 1):
                for _ in range(c.l_cycles):
                    z = self.L_level(z, y + x, rope)
                y = self.L_level(y, z, rope)
        for _ in range(c.l_cycles):
            z = self.L_level(z, y + x, rope)
        y = self.L_level(y, z, rope)
        logits, q = self.heads(y)
        return (y.detach(), z.detach()), logits, q


# --------------------------------------------------------------------------------------------------
# Losses (docs/model.md: TRM-ACT)
# --------------------------------------------------------------------------------------------------

def stablemax_log_probs(logits: torch.Tensor) -> torch.Tensor:
    """log(s_i / Σ s) in float64 with s(x) = x + 1 (x ≥ 0), 1/(1 − x + 1e-30) (x < 0)."""
    x = logits.to(torch.float64)
    s = torch.where(x < 0, 1 / (1 - x + 1e-30), x + 1)
    return torch.log(s / s.sum(dim=-1, keepdim=True))


def token_cross_entropy(logits: torch.Tensor, labels: torch.Tensor, kind: str = "stablemax") -> torch.Tensor:
    """Per-token CE [B, S] (float64 for stablemax), 0 where the label is ignored."""
    valid = labels != IGNORE_LABEL
    safe = torch.where(valid, labels, 0).long()
    if kind == "stablemax":
        logp = stablemax_log_probs(logits)
    elif kind == "softmax":
        logp = F.log_softmax(logits.float(), dim=-1)
    else:
        raise ValueError(kind)
    picked = torch.gather(logp, -1, safe.unsqueeze(-1)).squeeze(-1)
    return -torch.where(valid, picked, torch.zeros_like(picked))


def lm_loss(logits: torch.Tensor, labels: torch.Tensor, kind: str = "stablemax") -> torch.Tensor:
    """Σ_b (Σ_t CE_bt / max(count_b, 1)): the per-example token mean, summed over the batch (docs/model.md: TRM-ACT)."""
    ce = token_cross_entropy(logits, labels, kind)
    count = (labels != IGNORE_LABEL).sum(-1).clamp_min(1)
    return (ce.sum(-1) / count).sum()


def sequence_correct(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """[B] bool: every non-ignored cell's argmax equals its label (the halting target, docs/model.md: TRM-ACT)."""
    valid = labels != IGNORE_LABEL
    right = valid & (logits.argmax(-1) == labels)
    return right.sum(-1) == valid.sum(-1)


# --------------------------------------------------------------------------------------------------
# Optimisers (docs/model.md: TRM-ACT)
# --------------------------------------------------------------------------------------------------

class AdamATan2(torch.optim.Optimizer):
    """The `adam-atan2` package's update, per element (docs/model.md: TRM-ACT):
        p ← p·(1 − lr·λ);  m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g²
        p ← p − lr/(1−β₁ᵗ) · atan2(m, √v / √(1−β₂ᵗ))
    No epsilon. Parameters whose .grad is None are skipped (no decay either), as torch optimisers do."""

    def __init__(self, params, lr: float = 1e-4, betas: Tuple[float, float] = (0.9, 0.95),
                 weight_decay: float = 0.1) -> None:
        super().__init__(params, dict(lr=lr, betas=betas, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            lr, (b1, b2), wd = group["lr"], group["betas"], group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                state["step"] += 1
                t = state["step"]
                m, v, g = state["exp_avg"], state["exp_avg_sq"], p.grad
                p.mul_(1 - lr * wd)
                m.mul_(b1).add_(g, alpha=1 - b1)
                v.mul_(b2).addcmul_(g, g, value=1 - b2)
                step_size = lr / (1 - b1 ** t)
                denom = v.sqrt() / math.sqrt(1 - b2 ** t)
                p.add_(torch.atan2(m, denom), alpha=-step_size)
        return None


class SparseSignSGD:
    """Sign SGD for the puzzle-embedding rows (docs/model.md: TRM-ACTb): the batch's row gradients are summed per
    unique id; only those rows move, p ← p·(1 − lr·λ) − lr·sign(Σ g)."""

    def __init__(self, table: torch.Tensor, lr: float = 1e-2, weight_decay: float = 0.1) -> None:
        self.table, self.lr, self.weight_decay = table, lr, weight_decay

    @torch.no_grad()
    def step(self, ids: torch.Tensor, grads: torch.Tensor) -> None:
        unique, inverse = torch.unique(ids.long(), return_inverse=True)
        summed = torch.zeros(len(unique), grads.shape[-1], dtype=grads.dtype).index_add_(0, inverse, grads)
        rows = self.table[unique]
        self.table[unique] = rows * (1 - self.lr * self.weight_decay) - self.lr * torch.sign(summed)


def learning_rate(step: int, base: float, warmup: int = 2000, total: int = 1, min_ratio: float = 1.0) -> float:
    """The reference's schedule, 1-based step: linear warm-up, then cosine to base·min_ratio (1 = constant)."""
    if step < warmup:
        return base * step / max(1, warmup)
    progress = (step - warmup) / max(1, total - warmup)
    return base * (min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


@dataclasses.dataclass
class TrainSettings:
    """The hyper-parameters the training steps below use (defaults: the reference's)."""

    lr: float = 1e-4
    warmup_steps: int = 2000
    total_steps: int = 100_000
    min_lr_ratio: float = 1.0
    betas: Tuple[float, float] = (0.9, 0.95)
    weight_decay: float = 0.1
    puzzle_emb_lr: float = 1e-2
    puzzle_emb_weight_decay: float = 0.1
    loss: str = "stablemax"
    halt_loss_weight: float = 0.5
    halt_exploration_prob: float = 0.1
    feedback_predictions: bool = True


class Optimizers:
    """AdamATan2 over the parameters + sparse SignSGD over the puzzle table, sharing the schedule."""

    def __init__(self, model: TRMModel, s: TrainSettings) -> None:
        self.settings = s
        self.dense = AdamATan2(model.parameters(), lr=s.lr, betas=s.betas, weight_decay=s.weight_decay)
        self.sparse = (SparseSignSGD(model.puzzle_emb.weights, s.puzzle_emb_lr, s.puzzle_emb_weight_decay)
                       if model.config.puzzle_emb_len > 0 else None)
        self.steps = 0

    def step(self, ids: torch.Tensor, puzzle_rows: Optional[torch.Tensor]) -> None:
        s = self.settings
        self.steps += 1  # incremented before use: the first update has lr·1/warmup
        lr = learning_rate(self.steps, s.lr, s.warmup_steps, s.total_steps, s.min_lr_ratio)
        for group in self.dense.param_groups:
            group["lr"] = lr
        self.dense.step()
        self.dense.zero_grad(set_to_none=True)
        if self.sparse is not None and puzzle_rows is not None and puzzle_rows.grad is not None:
            self.sparse.lr = learning_rate(self.steps, s.puzzle_emb_lr, s.warmup_steps, s.total_steps, s.min_lr_ratio)
            self.sparse.step(ids, puzzle_rows.grad)


def _puzzle_rows(model: TRMModel, ids: torch.Tensor) -> Optional[torch.Tensor]:
    """The batch's rows of the puzzle table as a leaf that receives the gradient (`local_weights`)."""
    if model.config.puzzle_emb_len == 0:
        return None
    return model.puzzle_emb.weights[ids.long()].clone().requires_grad_(True)


# --------------------------------------------------------------------------------------------------
# DIS (docs/model.md: DIS)
# --------------------------------------------------------------------------------------------------

def reveal_ranks(inputs: torch.Tensor, labels: torch.Tensor,
                 generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """[B, S] rank of each differing cell (inputs ≠ labels) in a uniformly random order; −1 elsewhere.
    An ignored label (−100) differs from every input, as in the official code."""
    diff = inputs != labels
    scores = torch.rand(inputs.shape, generator=generator)
    scores = torch.where(diff, scores, torch.full_like(scores, float("inf")))
    rank = torch.argsort(torch.argsort(scores, dim=1), dim=1)
    return torch.where(diff, rank, torch.full_like(rank, -1))


def path_target(inputs: torch.Tensor, labels: torch.Tensor, ranks: torch.Tensor, step: int,
                n_sup: int) -> torch.Tensor:
    """path[step]: the label at the first ⌊step·|D|/N_sup⌋ cells of the order, the input elsewhere in D,
    the label (= input) outside D. path[0] = inputs, path[N_sup] = labels (official
    batch_corrupt_linear_path_v2 with N_sup + 1 frames)."""
    n_diff = (ranks >= 0).sum(-1, keepdim=True)
    revealed = (step * n_diff) // n_sup
    take_label = (ranks < 0) | (ranks < revealed)
    return torch.where(take_label, labels, inputs)


def dis_train_step(model: TRMModel, opt: Optimizers, inputs: torch.Tensor, labels: torch.Tensor,
                   puzzle_ids: Optional[torch.Tensor] = None, ranks: Optional[torch.Tensor] = None,
                   generator: Optional[torch.Generator] = None) -> List[float]:
    """One DIS mini-batch: N_sup supervision steps from a fresh carry, step s with time index s and target
    path[s], one optimiser update after each, the carry detached between steps, and (official code) each
    step's argmax fed back as the next step's input. Returns each step's loss (token mean per example,
    summed over the batch, / B). `ranks` fixes the reveal order (else drawn from `generator`)."""
    c, s = model.config, opt.settings
    b = inputs.shape[0]
    ids = torch.zeros(b, dtype=torch.long) if puzzle_ids is None else puzzle_ids.long()
    if ranks is None:
        ranks = reveal_ranks(inputs, labels, generator)
    carry = model.initial_carry(b)
    tokens = inputs
    losses = []
    for step in range(1, c.supervision_steps + 1):
        target = path_target(inputs, labels, ranks, step, c.supervision_steps)
        rows = _puzzle_rows(model, ids)
        carry, logits, _q = model(carry, tokens, ids, time_step=step, puzzle_rows=rows)
        loss = lm_loss(logits, target, s.loss) / b
        loss.backward()
        opt.step(ids, rows)
        losses.append(float(loss.detach()))
        if s.feedback_predictions:
            tokens = logits.detach().argmax(-1).to(inputs.dtype)
    return losses


# --------------------------------------------------------------------------------------------------
# TRM-ACT (docs/model.md: TRM-ACT): continuous batching
# --------------------------------------------------------------------------------------------------

class TRMActState:
    """Per-slot carry, step count, halted flag and current example. Every call is one supervision step of
    every slot and one optimiser update. As the reference: halted slots take the *same index's* example of
    the new batch (the other new examples are dropped), the loss covers all slots."""

    def __init__(self, model: TRMModel, batch_size: int, generator: Optional[torch.Generator] = None) -> None:
        c = model.config
        self.model, self.batch_size, self.generator = model, batch_size, generator
        self.y, self.z = model.initial_carry(batch_size)
        self.steps = torch.zeros(batch_size, dtype=torch.long)
        self.halted = torch.ones(batch_size, dtype=torch.bool)
        self.inputs = torch.zeros(batch_size, c.seq_len, dtype=torch.long)
        self.labels = torch.zeros(batch_size, c.seq_len, dtype=torch.long)
        self.ids = torch.zeros(batch_size, dtype=torch.long)

    def step(self, opt: Optimizers, inputs: torch.Tensor, labels: torch.Tensor,
             puzzle_ids: Optional[torch.Tensor] = None, time_step: int = 1) -> Dict[str, float]:
        model, s, b = self.model, opt.settings, self.batch_size
        c = model.config
        ids = torch.zeros(b, dtype=torch.long) if puzzle_ids is None else puzzle_ids.long()
        h = self.halted
        y0, z0 = model.initial_carry(b)
        self.y = torch.where(h[:, None, None], y0, self.y)
        self.z = torch.where(h[:, None, None], z0, self.z)
        self.steps = torch.where(h, torch.zeros_like(self.steps), self.steps)
        self.inputs = torch.where(h[:, None], inputs.long(), self.inputs)
        self.labels = torch.where(h[:, None], labels.long(), self.labels)
        self.ids = torch.where(h, ids, self.ids)

        rows = _puzzle_rows(model, self.ids)
        (self.y, self.z), logits, q = model((self.y, self.z), self.inputs, self.ids, time_step, rows)
        lm = lm_loss(logits, self.labels, s.loss)
        correct = sequence_correct(logits.detach(), self.labels)
        bce = F.binary_cross_entropy_with_logits(q[:, 0], correct.to(q.dtype), reduction="sum")
        ((lm + s.halt_loss_weight * bce) / b).backward()
        opt.step(self.ids, rows)

        with torch.no_grad():
            self.steps = self.steps + 1
            halted = self.steps >= c.supervision_steps
            if c.supervision_steps > 1:
                halted = halted | (q[:, 0] > 0)
                explore = torch.rand(b, generator=self.generator) < s.halt_exploration_prob
                min_halt = explore * torch.randint(2, c.supervision_steps + 1, (b,), generator=self.generator)
                halted = halted & (self.steps >= min_halt)
            self.halted = halted
        return dict(lm_loss=float(lm.detach()) / b, halt_loss=float(bce.detach()) / b, halted=int(halted.sum()))


# --------------------------------------------------------------------------------------------------
# Loading our files
# --------------------------------------------------------------------------------------------------

def load_engine_file(path: str) -> TRMModel:
    """A TRMModel with the config and tensors of one of our safetensors files (strict key match)."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    with safe_open(path, framework="pt") as f:
        meta = f.metadata() or {}
    if "trmdis_config" not in meta:
        raise ValueError(f"{path}: no trmdis_config metadata")
    model = TRMModel(TRMConfig.from_json(meta["trmdis_config"]))
    model.load_state_dict(load_file(path), strict=True)
    return model


def save_engine_file(model: TRMModel, path: str) -> None:
    """Writes `model` as one of our safetensors files (loadable by trmdis.Model.load)."""
    from safetensors.torch import save_file

    tensors = {k: v.detach().float().contiguous() for k, v in model.state_dict().items()}
    save_file(tensors, path, metadata={"format": "pt", "trmdis_config": model.config.to_json()})


# --------------------------------------------------------------------------------------------------
# FLOPs (the engine's count, Model/FlopCount.swift: 2 per multiply-add, matrix products only)
# --------------------------------------------------------------------------------------------------

def flops_per_net_call(c: TRMConfig) -> float:
    l, d, inner = c.total_len, c.hidden_size, c.mlp_inner
    macs = l * 3 * d * inner
    if c.mixer == "attention":
        macs += l * 4 * d * d + 2 * l * l * d
    else:
        macs += d * 3 * l * c.token_mixer_inner
    return 2.0 * macs * c.num_layers


def flops_per_step(c: TRMConfig, training: bool) -> float:
    heads = 2.0 * (c.seq_len * c.hidden_size * c.vocab_size + 2 * c.hidden_size)
    forward = c.net_calls_per_step * flops_per_net_call(c) + heads
    return forward + (2 * ((c.l_cycles + 1) * flops_per_net_call(c) + heads) if training else 0)


# --------------------------------------------------------------------------------------------------
# Benchmark
# --------------------------------------------------------------------------------------------------

BENCH_CONFIGS: Dict[str, Tuple[TRMConfig, int, str]] = {
    # N-Queens 8x8, no puzzle prefix, vocab 3; D 128, 1 layer, 4 heads; DIS T 1 n 2 N_sup 8.
    "tiny": (TRMConfig(vocab_size=3, seq_len=64, puzzle_emb_len=0, num_puzzle_identifiers=0, hidden_size=128,
                       num_heads=4, num_layers=1, h_cycles=1, l_cycles=2, supervision_steps=8,
                       time_embedding=True), 64, "dis"),
    # 9x9 Sudoku shapes (seq 81 + 16 prefix, vocab 11); D 256, 1 layer, 8 heads; DIS T 1 n 2 N_sup 6.
    "compact": (TRMConfig(vocab_size=11, seq_len=81, hidden_size=256, num_heads=8, num_layers=1, h_cycles=1,
                          l_cycles=2, supervision_steps=6, time_embedding=True), 64, "dis"),
    # Same shapes, D 512, 2 layers.
    "medium": (TRMConfig(vocab_size=11, seq_len=81, hidden_size=512, num_heads=8, num_layers=2, h_cycles=1,
                         l_cycles=2, supervision_steps=6, time_embedding=True), 32, "dis"),
    # The sudoku-mlp preset: mlp_t, no positions, T 3 n 6, one TRM supervision step.
    "sudoku-mlp": (TRMConfig(vocab_size=11, seq_len=81, mixer="mlp_t", pos_encoding="none", h_cycles=3,
                             l_cycles=6), 32, "trm"),
}


def _compiled(model: "TRMModel", compile_model: bool):
    """The module to call: `model`, or torch.compile(model) (inductor, the default backend) — the strongest
    PyTorch a CPU user would pick. Each step index is its own graph, so the recompile limit is raised."""
    if not compile_model:
        return model
    import torch._dynamo

    torch._dynamo.config.cache_size_limit = 64
    return torch.compile(model)


def _bench_child(name: str, threads: int, repeats: int, warmup: int, compile_model: bool = False) -> Dict:
    """Runs in a fresh process: builds the model, times `repeats` steps after `warmup`, reports maxrss."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    c, batch, method = BENCH_CONFIGS[name]
    model = TRMModel(c)
    call = _compiled(model, compile_model)
    opt = Optimizers(model, TrainSettings(lr=1e-4, warmup_steps=0))
    g = torch.Generator().manual_seed(0)
    inputs = torch.randint(0, c.vocab_size, (batch, c.seq_len), generator=g)
    labels = torch.randint(0, c.vocab_size, (batch, c.seq_len), generator=g)
    ids = torch.zeros(batch, dtype=torch.long)
    model_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    carry = model.initial_carry(batch)
    state = TRMActState(model, batch, generator=g) if method == "trm" else None

    def one_step() -> None:
        nonlocal carry
        if method == "dis":
            # One DIS optimiser step: one supervision step (T-1 free cycles + 1 with gradient), the loss,
            # backward, AdamATan2 + SignSGD; the carry moves on as inside a DIS mini-batch.
            rows = _puzzle_rows(model, ids)
            carry, logits, _ = call(carry, inputs, ids, time_step=1, puzzle_rows=rows)
            (lm_loss(logits, labels) / batch).backward()
            opt.step(ids, rows)
        else:
            state.step(opt, inputs, labels, ids)

    for _ in range(warmup):
        one_step()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        one_step()
        times.append(time.perf_counter() - t0)
    ms = statistics.median(times) * 1e3
    flops = flops_per_step(c, training=True) * batch
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return dict(config=name, method=method, batch=batch, threads=threads, torch=torch.__version__,
                compiled=compile_model, params=model.parameter_count(), ms=ms, ms_all=[t * 1e3 for t in times],
                examples_steps_per_s=batch / (ms / 1e3), gflops=flops / (ms / 1e3) / 1e9,
                model_gflop_per_step=flops / 1e9, peak_rss_mib=peak / 1024,
                rss_after_import_mib=base_rss / 1024, rss_after_model_mib=model_rss / 1024,
                step_rss_mib=(peak - model_rss) / 1024)


def _bench_infer_child(name: str, threads: int, repeats: int, compile_model: bool = False) -> Dict:
    """Runs in a fresh process: full inference (N_sup supervision steps without gradient from a fresh carry,
    each step's argmax fed back for DIS) at batch 1 and batch 64; median milliseconds per inference (after
    warm-up calls, which include torch.compile's compilation)."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    c, _batch, method = BENCH_CONFIGS[name]
    model = TRMModel(c).eval()
    call = _compiled(model, compile_model)
    g = torch.Generator().manual_seed(0)
    record = dict(config=name, method=method, mode="infer", threads=threads, torch=torch.__version__,
                  compiled=compile_model, params=model.parameter_count(), infer_steps=c.supervision_steps)
    for batch in (1, 64):
        inputs = torch.randint(0, c.vocab_size, (batch, c.seq_len), generator=g)
        ids = torch.zeros(batch, dtype=torch.long)

        def infer() -> None:
            with torch.no_grad():
                carry, tokens = model.initial_carry(batch), inputs
                for s in range(1, c.supervision_steps + 1):
                    carry, logits, _q = call(carry, tokens, ids, time_step=s if c.time_embedding else None)
                    if c.time_embedding:
                        tokens = logits.argmax(-1)

        n = max(repeats, 20) if batch == 1 else repeats
        for _ in range(3 if batch == 1 else 1):
            infer()
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            infer()
            times.append(time.perf_counter() - t0)
        record[f"infer_b{batch}_ms"] = statistics.median(times) * 1e3
    record["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return record


def bench_main(args: argparse.Namespace) -> int:
    names = list(BENCH_CONFIGS) if args.config == "all" else [args.config]
    for name in names:
        if args.child:
            if args.mode == "infer":
                print(json.dumps(_bench_infer_child(name, args.threads, args.repeats, args.compile)))
            else:
                print(json.dumps(_bench_child(name, args.threads, args.repeats, args.warmup, args.compile)))
            continue
        # A fresh interpreter per configuration, so that its maxrss is this configuration's peak alone.
        cmd = [sys.executable, os.path.abspath(__file__), "bench", "--config", name, "--threads",
               str(args.threads), "--repeats", str(args.repeats), "--warmup", str(args.warmup),
               "--mode", args.mode, "--child"] + (["--compile"] if args.compile else [])
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        r = json.loads(out.strip().splitlines()[-1])
        if args.mode == "infer":
            print(f"{name}: full inference ({r['infer_steps']} supervision steps, no gradient), torch {r['torch']} "
                  f"fp32, {r['threads']} threads")
            print(f"  batch 1: {r['infer_b1_ms']:.1f} ms, batch 64: {r['infer_b64_ms']:.1f} ms, "
                  f"peak RSS {r['peak_rss_mib']:.0f} MiB")
            if args.json:
                print(json.dumps(r))
            continue
        what = "one DIS optimiser step" if r["method"] == "dis" else "one TRM supervision step"
        print(f"{name}: {what}, batch {r['batch']}, {r['params']:,} params, torch {r['torch']} fp32, "
              f"{r['threads']} threads")
        print(f"  {r['ms']:.1f} ms (median of {args.repeats}), {r['examples_steps_per_s']:.1f} examples*steps/s, "
              f"{r['gflops']:.1f} model GFLOP/s ({r['model_gflop_per_step']:.2f} GFLOP/step)")
        print(f"  peak RSS {r['peak_rss_mib']:.0f} MiB (after import {r['rss_after_import_mib']:.0f} MiB, "
              f"after model {r['rss_after_model_mib']:.0f} MiB; the step adds {r['step_rss_mib']:.0f} MiB)")
        if args.json:
            print(json.dumps(r))
    return 0


# --------------------------------------------------------------------------------------------------
# Learning run: the same DIS recipe as `trmdis train`, on one of our dataset directories
# --------------------------------------------------------------------------------------------------

def _load_split(directory: str, split: str) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, Dict]:
    """inputs, labels (ignore id -> -100), puzzle ids and dataset.json of a TRM-format split."""
    import numpy as np

    folder = os.path.join(directory, split)
    with open(os.path.join(folder, "dataset.json")) as f:
        meta = json.load(f)
    inputs = torch.from_numpy(np.load(os.path.join(folder, "all__inputs.npy")).astype("int64"))
    labels = torch.from_numpy(np.load(os.path.join(folder, "all__labels.npy")).astype("int64"))
    ids = torch.from_numpy(np.load(os.path.join(folder, "all__puzzle_identifiers.npy")).astype("int64"))
    if meta.get("ignore_label_id") is not None:
        labels = torch.where(labels == meta["ignore_label_id"], torch.full_like(labels, IGNORE_LABEL), labels)
    if ids.shape[0] != inputs.shape[0]:  # one identifier per puzzle, one example per puzzle here
        raise ValueError(f"{folder}: {ids.shape[0]} puzzle identifiers for {inputs.shape[0]} examples")
    return inputs, labels, ids, meta


@torch.no_grad()
def dis_evaluate(model: TRMModel, inputs: torch.Tensor, labels: torch.Tensor, ids: torch.Tensor,
                 feedback: bool, batch: int = 256) -> Dict[str, float]:
    """N_sup steps from a fresh carry, predictions fed back as in training; exact and token accuracy of
    the last step's argmax against the label."""
    c = model.config
    exact = tokens_right = tokens_all = 0
    for start in range(0, inputs.shape[0], batch):
        x, y, pid = inputs[start:start + batch], labels[start:start + batch], ids[start:start + batch]
        carry, tokens = model.initial_carry(x.shape[0]), x
        for step in range(1, c.supervision_steps + 1):
            carry, logits, _ = model(carry, tokens, pid, time_step=step)
            if feedback:
                tokens = logits.argmax(-1)
        valid = y != IGNORE_LABEL
        right = valid & (logits.argmax(-1) == y)
        exact += int((right.sum(-1) == valid.sum(-1)).sum())
        tokens_right += int(right.sum())
        tokens_all += int(valid.sum())
    return dict(exact=exact / inputs.shape[0], token=tokens_right / max(tokens_all, 1))


def learn_main(args: argparse.Namespace) -> int:
    """Trains DIS on a dataset directory for a number of mini-batches or minutes and prints JSON lines
    (mini-batches, optimiser steps, training seconds without evaluation, held-out exact/token accuracy)."""
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    train_x, train_y, train_ids, meta = _load_split(args.data, "train")
    test_x, test_y, test_ids, _ = _load_split(args.data, "test")
    test_x, test_y, test_ids = test_x[:args.eval_limit], test_y[:args.eval_limit], test_ids[:args.eval_limit]
    if args.init:
        model = load_engine_file(args.init)
    else:
        model = TRMModel(TRMConfig(vocab_size=meta["vocab_size"], seq_len=meta["seq_len"],
                                   puzzle_emb_len=args.puzzle_emb_len,
                                   num_puzzle_identifiers=meta["num_puzzle_identifiers"],
                                   hidden_size=args.hidden, num_heads=args.heads, num_layers=args.layers,
                                   h_cycles=1, l_cycles=2, supervision_steps=args.supervision_steps,
                                   time_embedding=True))
    settings = TrainSettings(lr=args.lr, warmup_steps=args.warmup, weight_decay=args.weight_decay,
                             feedback_predictions=not args.no_feedback)
    opt = Optimizers(model, settings)
    g = torch.Generator().manual_seed(args.seed)
    print(json.dumps(dict(params=model.parameter_count(), config=json.loads(model.config.to_json()),
                          train=int(train_x.shape[0]), test=int(test_x.shape[0]), torch=torch.__version__,
                          threads=args.threads)), flush=True)
    order, cursor, batches, train_seconds = torch.randperm(train_x.shape[0], generator=g), 0, 0, 0.0
    budget = args.minutes * 60 if args.minutes else float("inf")
    while (args.batches is None or batches < args.batches) and train_seconds < budget:
        if cursor + args.batch > order.shape[0]:  # a new epoch, the incomplete tail dropped
            order, cursor = torch.randperm(train_x.shape[0], generator=g), 0
        idx = order[cursor:cursor + args.batch]
        cursor += args.batch
        t0 = time.perf_counter()
        losses = dis_train_step(model, opt, train_x[idx], train_y[idx], train_ids[idx], generator=g)
        train_seconds += time.perf_counter() - t0
        batches += 1
        if batches % args.eval_every == 0:
            r = dis_evaluate(model, test_x, test_y, test_ids, settings.feedback_predictions)
            print(json.dumps(dict(batches=batches, optimizer_steps=opt.steps, train_seconds=round(train_seconds, 1),
                                  last_loss=losses[-1], **r)), flush=True)
    r = dis_evaluate(model, test_x, test_y, test_ids, settings.feedback_predictions)
    print(json.dumps(dict(final=True, batches=batches, optimizer_steps=opt.steps,
                          train_seconds=round(train_seconds, 1), **r)), flush=True)
    return 0


# --------------------------------------------------------------------------------------------------
# Self-test (no engine needed)
# --------------------------------------------------------------------------------------------------

def selftest() -> int:
    torch.manual_seed(0)
    torch.set_num_threads(1)
    # Parameter counts of docs/model.md: The recursion
    mlp = TRMModel(TRMConfig(vocab_size=11, seq_len=81, mixer="mlp_t", pos_encoding="none"))
    att = TRMModel(TRMConfig(vocab_size=11, seq_len=81))
    assert mlp.parameter_count() == 5_028_866, mlp.parameter_count()
    assert att.parameter_count() == 6_828_034, att.parameter_count()
    # Stablemax examples of docs/model.md
    p = stablemax_log_probs(torch.tensor([[1.0, -1.0]])).exp()
    assert torch.allclose(p, torch.tensor([[0.8, 0.2]], dtype=torch.float64)), p
    # Gradients of the whole step against finite differences (float64).
    for cfg in (TRMConfig(vocab_size=5, seq_len=6, puzzle_emb_len=2, hidden_size=8, num_heads=2, num_layers=2,
                          h_cycles=1, l_cycles=2, time_embedding=True, supervision_steps=3),
                TRMConfig(vocab_size=5, seq_len=6, puzzle_emb_len=0, hidden_size=8, num_heads=2, num_layers=1,
                          mixer="mlp_t", pos_encoding="learned", h_cycles=1, l_cycles=2)):
        m = TRMModel(cfg).double()
        with torch.no_grad():
            m.q_head.weight.normal_()
        tokens = torch.randint(0, cfg.vocab_size, (2, cfg.seq_len))
        labels = torch.randint(0, cfg.vocab_size, (2, cfg.seq_len))
        carry = m.initial_carry(2)
        names = [n for n, _ in m.named_parameters()]

        def f(*weights):
            params = dict(zip(names, weights))
            _, logits, q = torch.func.functional_call(m, params, (carry, tokens), {"time_step": 2})
            return lm_loss(logits, labels) + q.sum()

        weights = tuple(p.detach().clone().requires_grad_(True) for p in m.parameters())
        assert torch.autograd.gradcheck(f, weights, eps=1e-6, atol=1e-5, fast_mode=True)
    # state_dict keys.
    keys = set(TRMModel(TRMConfig(vocab_size=11, seq_len=81, pos_encoding="learned", time_embedding=True,
                                  num_layers=1)).state_dict())
    assert keys == {"embed_tokens.embedding_weight", "lm_head.weight", "q_head.weight", "q_head.bias",
                    "embed_pos.embedding_weight", "timestep_embed.embedding_weight",
                    "L_level.layers.0.self_attn.qkv_proj.weight", "L_level.layers.0.self_attn.o_proj.weight",
                    "L_level.layers.0.mlp.gate_up_proj.weight", "L_level.layers.0.mlp.down_proj.weight",
                    "puzzle_emb.weights", "H_init", "L_init"}, keys
    # The training steps run and move the weights: DIS (N_sup updates) and three TRM-ACT steps.
    cfg = TRMConfig(vocab_size=5, seq_len=6, puzzle_emb_len=2, num_puzzle_identifiers=3, hidden_size=8,
                    num_heads=2, num_layers=1, h_cycles=2, l_cycles=2, supervision_steps=3, time_embedding=True)
    g = torch.Generator().manual_seed(0)
    inputs, labels = torch.randint(0, 5, (4, 6), generator=g), torch.randint(0, 5, (4, 6), generator=g)
    ids = torch.tensor([0, 1, 1, 2])
    for method in ("dis", "trm"):
        m = TRMModel(cfg)
        before = {k: v.clone() for k, v in m.state_dict().items()}
        opt = Optimizers(m, TrainSettings(lr=1e-2, warmup_steps=0, puzzle_emb_lr=1e-2))
        if method == "dis":
            losses = dis_train_step(m, opt, inputs, labels, ids, generator=g)
            assert len(losses) == 3 and all(math.isfinite(x) for x in losses) and opt.steps == 3
        else:
            state = TRMActState(m, 4, generator=g)
            for _ in range(3):
                info = state.step(opt, inputs, labels, ids)
                assert math.isfinite(info["lm_loss"])
        after = m.state_dict()
        assert not torch.equal(before["lm_head.weight"], after["lm_head.weight"])
        assert not torch.equal(before["puzzle_emb.weights"], after["puzzle_emb.weights"])
        assert torch.equal(before["H_init"], after["H_init"])
        if method == "dis":  # q_head is outside the DIS loss: the reference neither updates nor decays it
            assert torch.equal(before["q_head.bias"], after["q_head.bias"])
    # Reveal path: nested, path[0] = inputs, path[N_sup] = labels.
    ranks = reveal_ranks(inputs, labels, g)
    frames = [path_target(inputs, labels, ranks, s, 3) for s in range(4)]
    assert torch.equal(frames[0], inputs) and torch.equal(frames[3], labels)
    print("selftest: parameter counts, stablemax, gradcheck, state_dict keys, DIS and TRM-ACT steps OK")
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("bench", help="time one DIS optimiser step / one TRM supervision step")
    b.add_argument("--config", default="compact", choices=list(BENCH_CONFIGS) + ["all"])
    b.add_argument("--threads", type=int, default=2)
    b.add_argument("--repeats", type=int, default=5)
    b.add_argument("--warmup", type=int, default=1)
    b.add_argument("--json", action="store_true", help="also print the raw JSON record")
    b.add_argument("--mode", default="train", choices=["train", "infer"],
                   help="train: one optimiser step; infer: full inference at batch 1 and 64")
    b.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    b.add_argument("--compile", action="store_true", help="torch.compile the model (inductor)")
    sub.add_parser("selftest", help="parameter counts, stablemax, gradcheck (no engine needed)")
    le = sub.add_parser("learn", help="train DIS on a dataset directory, print held-out accuracy as JSON lines")
    le.add_argument("--data", required=True, help="a dataset directory (train/ and test/, the TRM format)")
    le.add_argument("--init", help="start from this engine safetensors file (else PyTorch's own init)")
    le.add_argument("--hidden", type=int, default=128)
    le.add_argument("--heads", type=int, default=4)
    le.add_argument("--layers", type=int, default=2)
    le.add_argument("--puzzle-emb-len", type=int, default=16)
    le.add_argument("--supervision-steps", type=int, default=6)
    le.add_argument("--batch", type=int, default=64)
    le.add_argument("--lr", type=float, default=1e-3)
    le.add_argument("--warmup", type=int, default=100)
    le.add_argument("--weight-decay", type=float, default=0.1)
    le.add_argument("--no-feedback", action="store_true")
    le.add_argument("--batches", type=int, help="stop after this many mini-batches")
    le.add_argument("--minutes", type=float, help="stop after this much training time (evaluation excluded)")
    le.add_argument("--eval-every", type=int, default=50)
    le.add_argument("--eval-limit", type=int, default=1000)
    le.add_argument("--threads", type=int, default=2)
    le.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.command == "bench":
        return bench_main(args)
    if args.command == "learn":
        return learn_main(args)
    return selftest()


if __name__ == "__main__":
    sys.exit(main())
