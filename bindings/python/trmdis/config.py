"""ModelConfig: a dataclass mirroring trm_model_config."""

from __future__ import annotations

import ctypes
import dataclasses
import enum
import math
from typing import Any, Optional

from . import _convert, _lib
from .errors import InvalidArgumentError, check


class Mixer(enum.IntEnum):
    """trm_mixer: the token mixer inside each block."""

    ATTENTION = _lib.TRM_MIXER_ATTENTION
    MLP_T = _lib.TRM_MIXER_MLP_T


class PosEncoding(enum.IntEnum):
    """trm_pos_encoding: how positions enter the model."""

    ROPE = _lib.TRM_POS_ROPE
    LEARNED = _lib.TRM_POS_LEARNED
    NONE = _lib.TRM_POS_NONE


PRESETS = ("sudoku-mlp", "sudoku-att", "maze-att", "arc-att", "dis-compact", "dis-medium", "nqueens")

_INT_FIELDS = ("vocab_size", "seq_len", "puzzle_emb_len", "puzzle_emb_ndim", "num_puzzle_identifiers",
               "hidden_size", "num_heads", "num_layers", "h_cycles", "l_cycles", "supervision_steps")
_FLOAT_FIELDS = ("expansion", "rope_theta", "rms_norm_eps")


def _defaults() -> _lib.ModelConfigStruct:
    s = _lib.ModelConfigStruct()
    _lib.lib.trm_model_config_init(ctypes.byref(s))
    return s


_D = _defaults()  # the library's trm_model_config_init: the sudoku-att shapes


@dataclasses.dataclass
class ModelConfig:
    """The shapes of a network and its recursion; defaults are trm_model_config_init's (sudoku-att).

    Field names and meanings are those of trm_model_config in Include/trmdis.h. The library validates the
    values when a Model is created.
    """

    vocab_size: int = _D.vocab_size
    seq_len: int = _D.seq_len
    puzzle_emb_len: int = _D.puzzle_emb_len
    #: None means the usual width: hidden_size with a puzzle prefix, else 0 (what trm_model_config_init and the
    #: presets use); from_struct gives None for that value too, so it follows hidden_size through replace().
    puzzle_emb_ndim: Optional[int] = None
    num_puzzle_identifiers: int = _D.num_puzzle_identifiers
    hidden_size: int = _D.hidden_size
    num_heads: int = _D.num_heads
    expansion: float = _D.expansion
    num_layers: int = _D.num_layers
    mixer: Mixer = Mixer(_D.mixer)
    pos_encoding: PosEncoding = PosEncoding(_D.pos_encoding)
    rope_theta: float = _D.rope_theta
    rms_norm_eps: float = _D.rms_norm_eps
    h_cycles: int = _D.h_cycles
    l_cycles: int = _D.l_cycles
    supervision_steps: int = _D.supervision_steps
    time_embedding: bool = bool(_D.time_embedding)

    @classmethod
    def preset(cls, name: str, method: Optional[str] = None) -> "ModelConfig":
        """A named preset (see PRESETS); InvalidArgumentError for another name. With a method ("dis" or
        "trm"), adapted to it as for_method() does."""
        if not isinstance(name, str):
            raise InvalidArgumentError(f"preset name must be a str, not {type(name).__name__}")
        s = _lib.ModelConfigStruct()
        check(_lib.lib.trm_model_config_preset(name.encode("utf-8"), ctypes.byref(s)))
        config = cls.from_struct(s)
        return config if method is None else config.for_method(method)

    def for_method(self, method: str) -> "ModelConfig":
        """This configuration as `method` ("dis" or "trm") trains it (trm_model_config_for_method): the DIS
        step-time embedding on for "dis", off for "trm", whose training never uses more than its first row.
        `trmdis train --method` does the same unless --time-embedding is given."""
        s = self.to_struct()
        check(_lib.lib.trm_model_config_for_method(ctypes.byref(s), method_value(method)))
        return ModelConfig.from_struct(s)

    @classmethod
    def default(cls) -> "ModelConfig":
        """trm_model_config_init's values (the same as ModelConfig())."""
        return cls.from_struct(_defaults())

    @classmethod
    def from_struct(cls, s: _lib.ModelConfigStruct) -> "ModelConfig":
        """The dataclass for a filled trm_model_config."""
        values: dict[str, Any] = {name: getattr(s, name) for name in _INT_FIELDS + _FLOAT_FIELDS}
        values["mixer"] = Mixer(s.mixer) if s.mixer in Mixer._value2member_map_ else s.mixer
        values["pos_encoding"] = (PosEncoding(s.pos_encoding)
                                  if s.pos_encoding in PosEncoding._value2member_map_ else s.pos_encoding)
        values["time_embedding"] = bool(s.time_embedding)
        if s.puzzle_emb_ndim == (s.hidden_size if s.puzzle_emb_len > 0 else 0):
            values["puzzle_emb_ndim"] = None
        return cls(**values)

    def to_struct(self) -> _lib.ModelConfigStruct:
        """A trm_model_config with struct_size set; InvalidArgumentError for values C cannot hold."""
        s = _defaults()  # sets struct_size
        for name in _INT_FIELDS + ("mixer", "pos_encoding"):
            if name != "puzzle_emb_ndim":
                setattr(s, name, _convert.int32(getattr(self, name), name))
        s.puzzle_emb_ndim = (_convert.int32(self.puzzle_emb_ndim, "puzzle_emb_ndim") if self.puzzle_emb_ndim is not None
                             else s.hidden_size if s.puzzle_emb_len > 0 else 0)
        for name in _FLOAT_FIELDS:
            value = getattr(self, name)
            try:
                setattr(s, name, float(value))
            except (TypeError, ValueError):
                raise InvalidArgumentError(f"{name} must be a number, not {value!r}") from None
            if math.isfinite(float(value)) and not math.isfinite(getattr(s, name)):
                raise InvalidArgumentError(f"{name} = {value!r} does not fit in a float")
        s.time_embedding = 1 if _convert.flag(self.time_embedding, "time_embedding") else 0
        return s

    def replace(self, **changes: Any) -> "ModelConfig":
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)


#: Training methods by name (trm_method).
METHODS = {"dis": _lib.TRM_METHOD_DIS, "trm": _lib.TRM_METHOD_TRM}


def method_value(method: Any) -> int:
    """The trm_method of a method name; InvalidArgumentError for anything else."""
    if method not in METHODS:
        raise InvalidArgumentError(f"method must be one of {', '.join(map(repr, METHODS))} (got {method!r})")
    return METHODS[method]
