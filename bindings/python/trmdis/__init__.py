"""trmdis: Tiny Recursive Models and Deep Improvement Supervision on the CPU, through libtrmdis's C API.

    import trmdis
    model = trmdis.Model(trmdis.ModelConfig.preset("dis-compact").replace(seq_len=10, vocab_size=6), seed=0)
    train = trmdis.Dataset(inputs, labels)     # int arrays (N, seq_len); -100 in labels = ignored
    trainer = trmdis.Trainer(model, train, learning_rate=3e-3, warmup_steps=20, max_steps=200)
    trainer.run()                              # a progress bar; Ctrl-C stops cleanly
    model.save("model.safetensors")
    prediction = model.predict(inputs[:4])     # prediction.trace: (steps, 4, seq_len), every step's answer

    runner = trmdis.Runner(model, batch_size=8)  # the low level: one supervision step at a time
    logits, q = runner.step(tokens)              # tokens: int32 (8, seq_len)
"""

from __future__ import annotations

import atexit
import ctypes
import logging
from typing import Callable, Optional

from . import _convert, _lib
from .config import PRESETS, Mixer, ModelConfig, PosEncoding
from .errors import (
    ABIError,
    AbortedError,
    FormatError,
    InternalError,
    InvalidArgumentError,
    NumericalError,
    OutOfMemoryError,
    TRMError,
    TRMIOError,
    check,
    status_string,
)
from .dataset import IGNORE_LABEL, Dataset
from .model import EvalResult, InferenceProtocol, Model, Prediction, Runner
from .training import LOOP_FIELDS, RunResult, StepInfo, TrainParams, Trainer

__all__ = [
    "ABI_VERSION", "ABIError", "AbortedError", "Dataset", "EvalResult", "FormatError", "IGNORE_LABEL",
    "InferenceProtocol", "InternalError", "InvalidArgumentError", "LOOP_FIELDS", "Mixer", "Model", "ModelConfig", "NumericalError", "OutOfMemoryError",
    "PRESETS", "PosEncoding", "Prediction", "RunResult", "Runner", "StepInfo", "TRMError", "TRMIOError",
    "TrainParams", "Trainer", "abi_version", "blas_info", "get_num_threads", "library_path", "set_log_handler", "set_log_level",
    "set_num_threads", "status_string", "version",
]

ABI_VERSION = _lib.ABI_VERSION
library_path = _lib.library_path


def version() -> str:
    """The library's version, "MAJOR.MINOR.PATCH" (trm_version)."""
    return _lib.lib.trm_version().decode()


def abi_version() -> int:
    """The library's ABI number (trm_abi_version); equal to ABI_VERSION once imported."""
    return int(_lib.lib.trm_abi_version())


__version__ = version()


def set_num_threads(threads: int) -> None:
    """Sets the engine's thread count, 1...1024 and at most the products OpenBLAS can run at once (128 with
    Debian's; trm_set_num_threads). Global: call it between steps."""
    check(_lib.lib.trm_set_num_threads(_convert.int32(threads, "threads")))


def get_num_threads() -> int:
    """The engine's thread count (trm_get_num_threads)."""
    return int(_lib.lib.trm_get_num_threads())


def blas_info() -> dict:
    """The BLAS the matrix products run on (trm_get_blas_info): library, version, core (the kernels in use),
    detected_core (OpenBLAS's own choice), isa ("avx512", "avx2" or "sse"), corrected (the engine replaced a
    core below the CPU's instruction set), core_from_environment (OPENBLAS_CORETYPE was set), threads, warning
    (kernels below the CPU: generic ones, or AVX2 ones on an AVX-512 CPU)."""
    s = _lib.BLASInfoStruct()
    s.struct_size = ctypes.sizeof(_lib.BLASInfoStruct)
    check(_lib.lib.trm_get_blas_info(ctypes.byref(s)))
    return {"library": s.library.decode(), "version": s.version.decode(), "core": s.core.decode(),
            "detected_core": s.detected_core.decode(), "isa": s.isa.decode(), "corrected": bool(s.corrected),
            "core_from_environment": bool(s.core_from_environment), "threads": s.threads, "warning": bool(s.warning)}


# ---- Logging: library lines go to a handler, by default the `trmdis` logger. ----

_LEVELS = {_lib.TRM_LOG_DEBUG: logging.DEBUG, _lib.TRM_LOG_INFO: logging.INFO,
           _lib.TRM_LOG_WARN: logging.WARNING, _lib.TRM_LOG_ERROR: logging.ERROR}
_logger = logging.getLogger("trmdis")
_log_callback = None  # the live CFUNCTYPE object; kept here so it is never collected while C holds it


def _to_logging(level: int, message: str) -> None:
    _logger.log(_LEVELS.get(level, logging.ERROR), "%s", message)


def set_log_handler(handler: Optional[Callable[[int, str], None]] = _to_logging) -> None:
    """Routes library log lines to handler(level, message) (trm_log_set); None discards them.

    The default forwards them to the `trmdis` logger of the logging module. Global and not thread-safe.
    """
    global _log_callback
    if handler is None:
        _lib.lib.trm_log_set(_lib.LOG_CALLBACK(), None)
        _log_callback = None
        return

    def forward(level: int, message: Optional[bytes], _user_data: object) -> None:
        try:
            handler(int(level), (message or b"").decode("utf-8", "replace"))
        except Exception:  # an exception must not unwind into C
            _logger.exception("trmdis log handler failed")

    callback = _lib.LOG_CALLBACK(forward)
    _lib.lib.trm_log_set(callback, None)
    _log_callback = callback


def set_log_level(level: int) -> None:
    """The least severe library lines passed on (trm_log_set_level), as a logging level: WARNING (the default:
    problems only), INFO (what a training run does: its start, evaluations, checkpoints written) or DEBUG
    (every step). The `trmdis` logger's own level filters what is shown."""
    c_level = max((c for c, py in _LEVELS.items() if py <= level), key=lambda c: _LEVELS[c], default=_lib.TRM_LOG_DEBUG)
    check(_lib.lib.trm_log_set_level(c_level))


set_log_handler()
atexit.register(set_log_handler, None)  # C must not call into a finalising interpreter
