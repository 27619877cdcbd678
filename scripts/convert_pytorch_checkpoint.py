#!/usr/bin/env python3
"""Converts official TRM / DIS PyTorch checkpoints to our safetensors model files, and back.

    convert_pytorch_checkpoint.py SRC DST.safetensors [--seq-len N] [--heads 8] [--T 3] [--n 6] ...
    convert_pytorch_checkpoint.py to-official SRC.safetensors DST [--dis-names] [--no-compile-prefix]

SRC is what the official `pretrain.py` saves (docs/formats.md): a `torch.save`d state_dict in a file named like
`step_65104`, with keys prefixed `_orig_mod.model.inner.` (or `model.inner.` when torch.compile was off).
When training ran with EMA the file already holds the EMA weights. The DIS repository names the time
embedding `timestep_embed.embedding_weight` (always N_sup + 2 rows); it becomes our
`time_emb.embedding_weight`. H_init / L_init (bfloat16 in the official code) and everything else are
converted to float32.

What the shapes tell (and so is inferred): vocabulary, hidden size, layers, mixer (mlp_t or attention),
learned positions, the time embedding and N_sup (its rows − 2), the puzzle table (identifiers and width)
and, for mlp_t or learned positions, the sequence length. What they do not tell comes from flags with the
reference's defaults: --heads 8, --T 3 (H_cycles), --n 6 (L_cycles), --supervision-steps 16 (halt_max_steps),
--puzzle-emb-len 16, --expansion 4, --rope-theta 10000, --rms-norm-eps 1e-5, and --pos-encoding (rope
for attention, none for mlp_t, unless the file has embed_pos); --seq-len is needed for attention models
(81 for Sudoku, 900 for Maze and ARC).

The output loads with trmdis.Model.load (Python), trm_model_load (C) and Model.load (Swift). PyTorch is
needed only for reading the pickle (`torch.load(weights_only=True)`); this script is not used by CI.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import struct
import sys
from typing import Dict, List, Optional, Tuple

import numpy as np

OFFICIAL_PREFIX = "_orig_mod.model.inner."
# Buffers the reference registers as non-persistent; dropped if a file holds them anyway.
_TRANSIENT = re.compile(r"^(puzzle_emb\.local_(weights|ids)|rotary_emb\.(cos|sin)_cached)$")
_RENAMES = {"timestep_embed.embedding_weight": "time_emb.embedding_weight"}


def swiglu_inner(expansion: float, width: int) -> int:
    raw = round(expansion * width * 2 / 3)
    return -(raw // -256) * 256


# --------------------------------------------------------------------------------------------------
# safetensors, by hand (no dependency beyond numpy)
# --------------------------------------------------------------------------------------------------

_DTYPES = {"F32": np.float32, "F64": np.float64, "F16": np.float16, "I32": np.int32, "I64": np.int64,
           "U8": np.uint8}


def write_safetensors(path: str, tensors: Dict[str, np.ndarray], metadata: Dict[str, str]) -> None:
    header: Dict[str, object] = {"__metadata__": metadata}
    offset = 0
    for name, a in tensors.items():
        assert a.dtype == np.float32 and a.flags.c_contiguous
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [offset, offset + a.nbytes]}
        offset += a.nbytes
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for a in tensors.values():
            f.write(a.astype("<f4", copy=False).tobytes())
    os.replace(tmp, path)


def read_safetensors(path: str) -> Tuple[Dict[str, np.ndarray], Dict[str, str]]:
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {}) or {}
    base = 8 + n
    out = {}
    for name, e in header.items():
        if e["dtype"] not in _DTYPES:
            raise SystemExit(f"{path}: tensor {name} has unsupported dtype {e['dtype']}")
        begin, end = e["data_offsets"]
        out[name] = np.frombuffer(data[base + begin:base + end], dtype=_DTYPES[e["dtype"]]).reshape(e["shape"])
    return out, meta


# --------------------------------------------------------------------------------------------------
# official -> ours
# --------------------------------------------------------------------------------------------------

def load_official(path: str, trust_pickle: bool) -> Dict[str, "object"]:
    import torch

    try:
        obj = torch.load(path, map_location="cpu", weights_only=not trust_pickle)
    except Exception as e:  # noqa: BLE001 - reported to the user
        raise SystemExit(f"{path}: torch.load failed ({e}); if you trust the file, retry with --trust-pickle")
    for key in ("state_dict", "model", "model_state_dict"):  # wrapped dicts from other training scripts
        if isinstance(obj, dict) and key in obj and isinstance(obj[key], dict):
            obj = obj[key]
    if not isinstance(obj, dict):
        raise SystemExit(f"{path}: expected a state_dict, got {type(obj).__name__}")
    return obj


def normalise_keys(sd: Dict[str, "object"], notes: List[str]) -> Dict[str, "object"]:
    out = {}
    for key, value in sd.items():
        name = key
        for prefix in ("_orig_mod.", "model.", "inner."):
            if name.startswith(prefix):
                name = name[len(prefix):]
        if name in _RENAMES:
            notes.append(f"renamed {name} -> {_RENAMES[name]}")
            name = _RENAMES[name]
        if _TRANSIENT.match(name):
            notes.append(f"dropped non-persistent {name}")
            continue
        if name in out:
            raise SystemExit(f"two keys map to {name} (one is {key})")
        out[name] = value
    return out


def infer_config(t: Dict[str, np.ndarray], a: argparse.Namespace, notes: List[str]) -> Dict[str, object]:
    def need(name: str) -> np.ndarray:
        if name not in t:
            raise SystemExit(f"the checkpoint has no {name}: not a TRM/DIS model state_dict?")
        return t[name]

    vocab, d = need("embed_tokens.embedding_weight").shape
    layers = sorted({int(m.group(1)) for k in t for m in [re.match(r"L_level\.layers\.(\d+)\.", k)] if m})
    if not layers or layers != list(range(len(layers))):
        raise SystemExit(f"L_level.layers indices must be 0...L-1, found {layers}")
    mixer = "mlp_t" if "L_level.layers.0.mlp_t.gate_up_proj.weight" in t else "attention"

    # Puzzle prefix.
    if "puzzle_emb.weights" in t:
        num_ids, ndim = t["puzzle_emb.weights"].shape
        plen = a.puzzle_emb_len if a.puzzle_emb_len > 0 else -(ndim // -d)  # 0: the reference's ceil(ndim/D)
        if a.puzzle_table == "mean":
            t["puzzle_emb.weights"] = t["puzzle_emb.weights"].mean(axis=0, keepdims=True)
            notes.append(f"puzzle table: {num_ids} rows replaced by their mean (1 row)")
            num_ids = 1
    else:
        num_ids, ndim, plen = 0, 0, 0
        if a.puzzle_emb_len not in (0, 16):
            raise SystemExit("--puzzle-emb-len given but the checkpoint has no puzzle_emb.weights")
    if ndim > plen * d:
        raise SystemExit(f"puzzle rows are {ndim} wide: more than puzzle_emb_len {plen} x hidden {d}")

    # Positions.
    if "embed_pos.embedding_weight" in t:
        pos = "learned"
        if a.pos_encoding not in (None, "learned"):
            raise SystemExit(f"--pos-encoding {a.pos_encoding}, but the checkpoint has embed_pos (learned)")
    else:
        pos = a.pos_encoding or ("none" if mixer == "mlp_t" else "rope")
        if pos == "learned":
            raise SystemExit("--pos-encoding learned, but the checkpoint has no embed_pos.embedding_weight")
        if a.pos_encoding is None:
            notes.append(f"position encoding {pos} (not visible in the weights; --pos-encoding to change)")

    # Sequence length.
    total = None
    if pos == "learned":
        total = t["embed_pos.embedding_weight"].shape[0]
    elif mixer == "mlp_t":
        total = t["L_level.layers.0.mlp_t.gate_up_proj.weight"].shape[1]
    if total is not None:
        seq = total - plen
        if a.seq_len is not None and a.seq_len != seq:
            raise SystemExit(f"--seq-len {a.seq_len}, but the weights say {seq} (+ {plen} prefix)")
    elif a.seq_len is None:
        raise SystemExit("--seq-len is needed for an attention model with RoPE or no positions "
                         "(81 for Sudoku, 900 for Maze/ARC)")
    else:
        seq = a.seq_len

    # Time embedding and N_sup.
    n_sup = a.supervision_steps
    time_emb = "time_emb.embedding_weight" in t
    if time_emb and a.time_embedding == "off":
        del t["time_emb.embedding_weight"]
        notes.append("time embedding dropped (--time-embedding off)")
        time_emb = False
    elif a.time_embedding == "on" and not time_emb:
        raise SystemExit("--time-embedding on, but the checkpoint has no time embedding")
    if time_emb:
        rows = t["time_emb.embedding_weight"].shape[0]
        if n_sup is not None and n_sup + 2 != rows:
            raise SystemExit(f"--supervision-steps {n_sup}, but the time embedding has {rows} = N_sup + 2 rows")
        n_sup = rows - 2
    n_sup = 16 if n_sup is None else n_sup

    if d % a.heads or (pos == "rope" and (d // a.heads) % 2):
        raise SystemExit(f"--heads {a.heads} does not divide hidden size {d} into an even head dimension")
    inner = t["L_level.layers.0.mlp.gate_up_proj.weight"].shape[0] // 2 if \
        "L_level.layers.0.mlp.gate_up_proj.weight" in t else None
    if inner != swiglu_inner(a.expansion, d):
        raise SystemExit(f"the SwiGLU inner width is {inner}; expansion {a.expansion} gives "
                         f"{swiglu_inner(a.expansion, d)}: pass the right --expansion")
    return {
        "vocabSize": int(vocab), "seqLen": int(seq), "puzzleEmbLen": int(plen), "puzzleEmbDim": int(ndim),
        "numPuzzleIdentifiers": int(num_ids), "hiddenSize": int(d), "numHeads": int(a.heads),
        "expansion": float(a.expansion), "numLayers": len(layers), "mixer": mixer, "posEncoding": pos,
        "ropeTheta": float(a.rope_theta), "rmsNormEps": float(a.rms_norm_eps), "hCycles": int(a.T),
        "lCycles": int(a.n), "supervisionSteps": int(n_sup), "timeEmbedding": bool(time_emb),
    }


def expected_shapes(c: Dict[str, object]) -> Dict[str, Tuple[int, ...]]:
    """Every tensor of our file for config `c` (Model/Parameters.swift, ModelCheckpoint.swift)."""
    d, v = c["hiddenSize"], c["vocabSize"]
    total = c["puzzleEmbLen"] + c["seqLen"]
    inner = swiglu_inner(c["expansion"], d)
    s = {"embed_tokens.embedding_weight": (v, d), "lm_head.weight": (v, d), "q_head.weight": (2, d),
         "q_head.bias": (2,), "H_init": (d,), "L_init": (d,)}
    if c["posEncoding"] == "learned":
        s["embed_pos.embedding_weight"] = (total, d)
    if c["timeEmbedding"]:
        s["time_emb.embedding_weight"] = (c["supervisionSteps"] + 2, d)
    if c["puzzleEmbLen"] > 0:
        s["puzzle_emb.weights"] = (c["numPuzzleIdentifiers"], c["puzzleEmbDim"])
    for i in range(c["numLayers"]):
        p = f"L_level.layers.{i}."
        if c["mixer"] == "attention":
            s[p + "self_attn.qkv_proj.weight"] = (3 * d, d)
            s[p + "self_attn.o_proj.weight"] = (d, d)
        else:
            ti = swiglu_inner(c["expansion"], total)
            s[p + "mlp_t.gate_up_proj.weight"] = (2 * ti, total)
            s[p + "mlp_t.down_proj.weight"] = (total, ti)
        s[p + "mlp.gate_up_proj.weight"] = (2 * inner, d)
        s[p + "mlp.down_proj.weight"] = (d, inner)
    return s


def from_official(a: argparse.Namespace) -> int:
    import torch

    notes: List[str] = []
    sd = normalise_keys(load_official(a.src, a.trust_pickle), notes)
    tensors: Dict[str, np.ndarray] = {}
    for name, value in sd.items():
        if not torch.is_tensor(value):
            raise SystemExit(f"{name} is a {type(value).__name__}, not a tensor")
        if value.dtype != torch.float32:
            notes.append(f"{name}: {str(value.dtype).replace('torch.', '')} -> float32")
        tensors[name] = value.detach().to(torch.float32).contiguous().numpy()
    config = infer_config(tensors, a, notes)
    shapes = expected_shapes(config)
    unknown = sorted(set(tensors) - set(shapes))
    missing = sorted(set(shapes) - set(tensors))
    if unknown or missing:
        raise SystemExit(f"tensor names do not match the inferred configuration: unexpected {unknown}, "
                         f"missing {missing}")
    for name, shape in shapes.items():
        if tuple(tensors[name].shape) != shape:
            raise SystemExit(f"{name} has shape {tuple(tensors[name].shape)}, expected {shape}")
        if not np.isfinite(tensors[name]).all():
            raise SystemExit(f"{name} holds non-finite values")
    meta = {"format": "pt", "trmdis_config": json.dumps(dict(sorted(config.items())), separators=(",", ":"))}
    ordered = {name: np.ascontiguousarray(tensors[name]) for name in shapes}
    write_safetensors(a.dst, ordered, meta)
    params = sum(v.size for k, v in ordered.items() if k not in ("H_init", "L_init", "puzzle_emb.weights"))
    for n in notes:
        print(f"note: {n}")
    print(f"wrote {a.dst}: {params:,} trainable parameters, config {meta['trmdis_config']}")
    return 0


# --------------------------------------------------------------------------------------------------
# ours -> official
# --------------------------------------------------------------------------------------------------

def to_official(a: argparse.Namespace) -> int:
    import torch

    tensors, meta = read_safetensors(a.src)
    if "trmdis_config" not in meta:
        raise SystemExit(f"{a.src}: no trmdis_config metadata (not one of our model files)")
    c = json.loads(meta["trmdis_config"])
    prefix = "model.inner." if a.no_compile_prefix else OFFICIAL_PREFIX
    out = {}
    for name, value in tensors.items():
        key = "timestep_embed.embedding_weight" if a.dis_names and name == "time_emb.embedding_weight" else name
        t = torch.from_numpy(value.copy())
        if a.bf16_buffers and name in ("H_init", "L_init"):
            t = t.bfloat16()
        out[prefix + key] = t
    torch.save(out, a.dst)
    arch = {"hidden_size": c["hiddenSize"], "num_heads": c["numHeads"], "expansion": c["expansion"],
            "L_layers": c["numLayers"], "H_cycles": c["hCycles"], "L_cycles": c["lCycles"],
            "halt_max_steps": c["supervisionSteps"], "puzzle_emb_ndim": c["puzzleEmbDim"],
            "puzzle_emb_len": c["puzzleEmbLen"], "pos_encodings": c["posEncoding"],
            "mlp_t": c["mixer"] == "mlp_t", "rope_theta": c["ropeTheta"], "rms_norm_eps": c["rmsNormEps"]}
    print(f"wrote {a.dst} ({len(out)} tensors, prefix {prefix!r})")
    print("official arch settings: " + " ".join(f"arch.{k}={v}" for k, v in arch.items()))
    print(f"data: seq_len {c['seqLen']}, vocab_size {c['vocabSize']}, "
          f"num_puzzle_identifiers {c['numPuzzleIdentifiers']}")
    if c["timeEmbedding"] and not a.dis_names:
        print("note: time_emb.embedding_weight kept under our name; --dis-names writes the DIS repo's "
              "timestep_embed.embedding_weight")
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "to-official":
        p = argparse.ArgumentParser(prog="convert_pytorch_checkpoint.py to-official",
                                    description="our safetensors model -> an official-style torch.save state_dict")
        p.add_argument("src")
        p.add_argument("dst")
        p.add_argument("--dis-names", action="store_true", help="name the time embedding timestep_embed (DIS repo)")
        p.add_argument("--no-compile-prefix", action="store_true", help="prefix model.inner. instead of "
                       "_orig_mod.model.inner.")
        p.add_argument("--bf16-buffers", action="store_true", help="store H_init/L_init in bfloat16 as the "
                       "official code does")
        return to_official(p.parse_args(argv[1:]))
    if argv and argv[0] == "from-official":
        argv = argv[1:]
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                epilog="Also: convert_pytorch_checkpoint.py to-official SRC DST (see --help there)")
    p.add_argument("src", help="official checkpoint (torch.save'd state_dict, e.g. step_65104)")
    p.add_argument("dst", help="output .safetensors")
    p.add_argument("--seq-len", type=int, help="grid tokens per example (inferred for mlp_t / learned positions)")
    p.add_argument("--heads", type=int, default=8)
    p.add_argument("--T", type=int, default=3, help="H_cycles")
    p.add_argument("--n", type=int, default=6, help="L_cycles")
    p.add_argument("--supervision-steps", type=int, help="halt_max_steps (default 16; from the time embedding)")
    p.add_argument("--puzzle-emb-len", type=int, default=16, help="prefix tokens (0: ceil(ndim/D) as HRM)")
    p.add_argument("--pos-encoding", choices=["rope", "learned", "none"])
    p.add_argument("--expansion", type=float, default=4.0)
    p.add_argument("--rope-theta", type=float, default=10000.0)
    p.add_argument("--rms-norm-eps", type=float, default=1e-5)
    p.add_argument("--time-embedding", choices=["auto", "on", "off"], default="auto")
    p.add_argument("--puzzle-table", choices=["all", "mean"], default="all",
                   help="mean: keep one row, the mean of all (as the reference does for new puzzles)")
    p.add_argument("--trust-pickle", action="store_true", help="torch.load with weights_only=False")
    a = p.parse_args(argv)
    for name in ("heads", "T", "n"):
        if getattr(a, name) < 1:
            raise SystemExit(f"--{name} must be at least 1")
    return from_official(a)


if __name__ == "__main__":
    sys.exit(main())
