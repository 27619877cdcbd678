"""Files shaped like the official PyTorch code's, written without PyTorch: state dicts as safetensors
(float32, bfloat16, float16) and as torch.save archives, and all_config.yaml as PyYAML's yaml.dump writes it.

The torch.save archive is built the way PyTorch builds it: a zip of stored entries, `<name>/data.pkl` (a
protocol-2 pickle whose globals are torch._utils._rebuild_tensor_v2, torch.FloatStorage and friends, and
collections.OrderedDict) and `<name>/data/<key>` with each storage's bytes. Pickle looks the globals up by
module and name, so stand-ins named like PyTorch's are registered as `torch` modules while it runs.
"""

from __future__ import annotations

import collections
import contextlib
import io
import json
import pickle
import struct
import sys
import types
import zipfile
from pathlib import Path
from typing import Dict, Iterator

import numpy as np

PREFIX = "_orig_mod.model.inner."


def to_bfloat16_bits(a: np.ndarray) -> np.ndarray:
    """float32 -> bfloat16 bit patterns (uint16), rounded to nearest even as torch does."""
    bits = np.ascontiguousarray(a, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
    return rounded.astype(np.uint16)


def from_bfloat16_bits(b: np.ndarray) -> np.ndarray:
    return (b.astype(np.uint32) << 16).view(np.float32)


def encode(a: np.ndarray, dtype: str) -> bytes:
    """Little-endian bytes of `a` as F32, BF16 or F16."""
    if dtype == "F32":
        return np.ascontiguousarray(a, dtype="<f4").tobytes()
    if dtype == "BF16":
        return to_bfloat16_bits(a).astype("<u2").tobytes()
    return np.ascontiguousarray(a, dtype="<f2").tobytes()


def write_safetensors(path: Path, tensors: Dict[str, np.ndarray], dtype: str = "F32") -> None:
    """`tensors` (float32 arrays) stored as F32, BF16 or F16."""
    header: Dict[str, object] = {"__metadata__": {"format": "pt"}}
    blobs = []
    offset = 0
    for name, a in tensors.items():
        raw = encode(a, dtype)
        header[name] = {"dtype": dtype, "shape": list(a.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    path.write_bytes(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def yaml_dump(value: object, indent: int = 0) -> str:
    """The block YAML PyYAML's yaml.dump writes for a config dict (sorted keys, indentless lists)."""
    pad = " " * indent
    lines = []
    for key in sorted(value):  # type: ignore[arg-type]
        v = value[key]  # type: ignore[index]
        if isinstance(v, dict):
            lines.append(f"{pad}{key}:" + ("\n" + yaml_dump(v, indent + 2) if v else " {}"))
        elif isinstance(v, list):
            lines.append(f"{pad}{key}:" + ("".join(f"\n{pad}- {item}" for item in v) if v else " []"))
        elif isinstance(v, bool):
            lines.append(f"{pad}{key}: {'true' if v else 'false'}")
        elif v is None:
            lines.append(f"{pad}{key}: null")
        else:
            lines.append(f"{pad}{key}: {v}")
    return "\n".join(lines)


def official_config(config, **arch_changes) -> str:
    """An all_config.yaml of an official run that trained a model of `config` (a trmdis.ModelConfig)."""
    arch = dict(H_cycles=config.h_cycles, H_layers=0, L_cycles=config.l_cycles, L_layers=config.num_layers,
                expansion=float(config.expansion), forward_dtype="bfloat16", halt_exploration_prob=0.1,
                halt_max_steps=config.supervision_steps, hidden_size=config.hidden_size,
                loss={"loss_type": "stablemax_cross_entropy", "name": "losses@ACTLossHead"},
                mlp_t=config.mixer.name == "MLP_T", name="recursive_reasoning.trm@TinyRecursiveReasoningModel_ACTV1",
                no_ACT_continue=True, num_heads=config.num_heads, pos_encodings=config.pos_encoding.name.lower(),
                puzzle_emb_len=config.puzzle_emb_len, puzzle_emb_ndim=config.puzzle_emb_ndim)
    arch.update(arch_changes)
    run = dict(arch=arch, beta1=0.9, beta2=0.95, checkpoint_every_eval=True,
               checkpoint_path="checkpoints/Sudoku-extreme-1k-aug-1000 ACT-torch/pretrain_att_sudoku",
               data_paths=["data/sudoku-extreme-1k-aug-1000"], data_paths_test=[], ema=True, ema_rate=0.999,
               epochs=50000, eval_interval=5000, evaluators=[], global_batch_size=768, lr=0.0001,
               lr_min_ratio=1.0, lr_warmup_steps=2000, project_name="Sudoku-extreme-1k-aug-1000 ACT-torch",
               puzzle_emb_lr=0.0001, puzzle_emb_weight_decay=1.0, run_name="pretrain_att_sudoku", seed=0,
               weight_decay=1.0)
    return yaml_dump(run) + "\n"


# ---- torch.save without torch -------------------------------------------------------------------------------

class _Storage:
    """A storage: pickled as the persistent id ('storage', <torch.XStorage>, key, 'cpu', numel)."""

    def __init__(self, kind: type, key: str, data: bytes, numel: int) -> None:
        self.kind, self.key, self.data, self.numel = kind, key, data, numel


class _Tensor:
    def __init__(self, rebuild, storage: _Storage, shape, offset: int = 0, stride=None) -> None:
        self.rebuild, self.storage, self.shape, self.offset = rebuild, storage, tuple(shape), offset
        if stride is None:
            stride, step = [], 1
            for n in reversed(self.shape):
                stride.insert(0, step)
                step *= n
        self.stride = tuple(stride)

    def __reduce__(self):
        return (self.rebuild, (self.storage, self.offset, self.shape, self.stride, False, collections.OrderedDict()))


@contextlib.contextmanager
def _fake_torch() -> Iterator[types.SimpleNamespace]:
    """Stand-ins importable as torch, torch._utils and torch.XStorage while pickling."""
    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")

    def _rebuild_tensor_v2(*args):  # never called: only its name is pickled
        raise AssertionError

    _rebuild_tensor_v2.__module__, _rebuild_tensor_v2.__qualname__ = "torch._utils", "_rebuild_tensor_v2"
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2
    kinds = {}
    for name in ("FloatStorage", "BFloat16Storage", "HalfStorage", "LongStorage"):
        kind = type(name, (), {"__module__": "torch"})
        setattr(torch, name, kind)
        kinds[name] = kind
    torch._utils = utils
    saved = {k: sys.modules.get(k) for k in ("torch", "torch._utils")}
    sys.modules["torch"], sys.modules["torch._utils"] = torch, utils
    try:
        yield types.SimpleNamespace(rebuild=_rebuild_tensor_v2, **kinds)
    finally:
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v


def write_torch_save(path: Path, tensors: Dict[str, np.ndarray], dtype: str = "F32", archive: str = "step_10",
                     transpose_first: bool = False) -> None:
    """`tensors` as a torch.save archive of an OrderedDict (with the `_metadata` attribute state_dict() has).
    dtype F32, BF16 or F16; transpose_first stores the first 2-D tensor as a transposed (non-contiguous)
    view, as a state dict may hold."""
    with _fake_torch() as fake:
        kind = {"F32": fake.FloatStorage, "BF16": fake.BFloat16Storage, "F16": fake.HalfStorage}[dtype]
        state = collections.OrderedDict()
        storages = []
        transposed = False
        for i, (name, a) in enumerate(tensors.items()):
            shape, stride = a.shape, None
            source = a
            if transpose_first and not transposed and a.ndim == 2:
                source, transposed = np.ascontiguousarray(a.T), True  # storage holds the transpose
                stride = (1, a.shape[0])
            raw = encode(source, dtype)
            storage = _Storage(kind, str(i), raw, int(a.size))
            storages.append(storage)
            state[name] = _Tensor(fake.rebuild, storage, shape, 0, stride)
        state._metadata = collections.OrderedDict({"": {"version": 1}})  # type: ignore[attr-defined]

        class Pickler(pickle.Pickler):
            def persistent_id(self, obj):
                if isinstance(obj, _Storage):
                    return ("storage", obj.kind, obj.key, "cpu", obj.numel)
                return None

        buffer = io.BytesIO()
        Pickler(buffer, protocol=2).dump(state)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as z:
        z.writestr(f"{archive}/data.pkl", buffer.getvalue())
        z.writestr(f"{archive}/byteorder", "little")
        for storage in storages:
            z.writestr(f"{archive}/data/{storage.key}", storage.data)
        z.writestr(f"{archive}/version", "3\n")
