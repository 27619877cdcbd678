"""Model and Runner: the two handles of the C API, each owned by one Python object."""

from __future__ import annotations

import ctypes
import weakref
from typing import Optional, Tuple, Union

import numpy as np

from . import _lib
from .config import ModelConfig, _int32
from .errors import InvalidArgumentError, check

_lib_fn = _lib.lib


def _free_model(handle: int) -> None:
    _lib_fn.trm_model_free(handle)


def _free_runner(handle: int) -> None:
    _lib_fn.trm_runner_free(handle)


class Model:
    """A network with freshly initialised weights (trm_model).

    `config` is a ModelConfig or a preset name; the same seed gives the same weights bit for bit. Release it
    with close() or a `with` block; runners made from it keep the weights alive until they are closed.
    """

    def __init__(self, config: Union[ModelConfig, str] = "sudoku-att", seed: int = 0) -> None:
        if isinstance(config, str):
            config = ModelConfig.preset(config)
        if not isinstance(config, ModelConfig):
            raise InvalidArgumentError(f"config must be a ModelConfig or a preset name, not {type(config).__name__}")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= int(seed) < 2**64:
            raise InvalidArgumentError(f"seed must be an integer in 0...2**64-1 (got {seed!r})")
        struct = config.to_struct()
        handle = ctypes.c_void_p()
        check(_lib_fn.trm_model_create(ctypes.byref(struct), int(seed), ctypes.byref(handle)))
        self._handle: Optional[int] = handle.value
        self._finalizer = weakref.finalize(self, _free_model, handle.value)

    @property
    def handle(self) -> int:
        """The trm_model * (raises if closed)."""
        if self._handle is None:
            raise InvalidArgumentError("the model is closed")
        return self._handle

    @property
    def closed(self) -> bool:
        return self._handle is None

    def close(self) -> None:
        """Releases the model (trm_model_free). Idempotent."""
        self._handle = None
        self._finalizer()

    def __enter__(self) -> "Model":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def config(self) -> ModelConfig:
        """The configuration the model was created with (trm_model_get_config)."""
        struct = _lib.ModelConfigStruct()
        _lib_fn.trm_model_config_init(ctypes.byref(struct))  # sets struct_size
        check(_lib_fn.trm_model_get_config(self.handle, ctypes.byref(struct)))
        return ModelConfig.from_struct(struct)

    @property
    def parameter_count(self) -> int:
        """Trainable parameters as the reference counts them (trm_model_parameter_count)."""
        count = ctypes.c_int64(0)
        check(_lib_fn.trm_model_parameter_count(self.handle, ctypes.byref(count)))
        return count.value

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"{self.parameter_count} parameters"
        return f"<trmdis.Model {state}>"


def _int_array(values: object, name: str, shape: Tuple[int, ...]) -> np.ndarray:
    """`values` as a C-contiguous int32 array of `shape`, refusing other shapes and values int32 cannot hold."""
    array = np.asarray(values)
    if array.dtype == np.bool_ or not np.issubdtype(array.dtype, np.integer):
        raise InvalidArgumentError(f"{name} must hold integers, not {array.dtype}")
    if array.shape != shape:
        raise InvalidArgumentError(f"{name} must have shape {shape}, not {array.shape}")
    if array.size and array.dtype != np.int32:
        low, high = int(array.min()), int(array.max())
        if low < -(2**31) or high >= 2**31:
            raise InvalidArgumentError(f"{name} holds {low if low < -(2**31) else high}, outside int32")
    return np.ascontiguousarray(array, dtype=np.int32)


class Runner:
    """The per-batch state of a model (trm_runner): carry, activations and outputs for `batch_size` examples.

    Each step() is one supervision step on the carried (y, z); reset_carry() starts every example afresh.
    One runner is used by one thread at a time.
    """

    def __init__(self, model: Model, batch_size: int) -> None:
        if not isinstance(model, Model):
            raise InvalidArgumentError(f"model must be a trmdis.Model, not {type(model).__name__}")
        batch = _int32(batch_size, "batch_size")
        handle = ctypes.c_void_p()
        check(_lib_fn.trm_runner_create(model.handle, batch, ctypes.byref(handle)))
        self._handle: Optional[int] = handle.value
        self._finalizer = weakref.finalize(self, _free_runner, handle.value)
        self.model = model
        self.batch_size = batch
        self._config = model.config

    @property
    def handle(self) -> int:
        """The trm_runner * (raises if closed)."""
        if self._handle is None:
            raise InvalidArgumentError("the runner is closed")
        return self._handle

    @property
    def closed(self) -> bool:
        return self._handle is None

    def close(self) -> None:
        """Releases the runner (trm_runner_free). Idempotent."""
        self._handle = None
        self._finalizer()

    def __enter__(self) -> "Runner":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def reset_carry(self) -> None:
        """Starts every example afresh (y = H_init, z = L_init) and restarts the net-call counter."""
        check(_lib_fn.trm_runner_reset_carry(self.handle))

    @property
    def net_calls(self) -> int:
        """Network applications each example has gone through since the last reset: T*(n+1) per step."""
        count = ctypes.c_int64(0)
        check(_lib_fn.trm_runner_net_calls(self.handle, ctypes.byref(count)))
        return count.value

    def step(self, tokens: np.ndarray, puzzle_ids: Optional[np.ndarray] = None,
             time_step: int = 1) -> Tuple[np.ndarray, np.ndarray]:
        """One supervision step (trm_runner_step); the carry moves on.

        tokens: (batch_size, seq_len) integers in 0...vocab_size-1.
        puzzle_ids: (batch_size,) integers in 0...num_puzzle_identifiers-1, or None for all 0.
        time_step: the 1-based supervision step (selects the DIS time embedding).
        Returns (logits, q_logits): float32 arrays of shapes (batch_size, seq_len, vocab_size) and
        (batch_size, 2) (q_halt, q_continue).
        """
        c, b = self._config, self.batch_size
        tok = _int_array(tokens, "tokens", (b, c.seq_len))
        ids = None if puzzle_ids is None else _int_array(puzzle_ids, "puzzle_ids", (b,))
        step = _int32(time_step, "time_step")
        logits = np.empty((b, c.seq_len, c.vocab_size), dtype=np.float32)
        q = np.empty((b, 2), dtype=np.float32)
        int_p, float_p = ctypes.POINTER(ctypes.c_int32), ctypes.POINTER(ctypes.c_float)
        check(_lib_fn.trm_runner_step(
            self.handle, tok.ctypes.data_as(int_p), tok.size,
            None if ids is None else ids.ctypes.data_as(int_p), 0 if ids is None else ids.size,
            step, logits.ctypes.data_as(float_p), logits.size, q.ctypes.data_as(float_p), q.size))
        return logits, q

    def __repr__(self) -> str:
        return f"<trmdis.Runner batch_size={self.batch_size}{' closed' if self.closed else ''}>"
