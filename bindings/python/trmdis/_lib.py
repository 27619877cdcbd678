"""The raw layer: finds libtrmdis, checks its ABI number and declares every function of Include/trmdis.h.

Everything here mirrors the C header one to one; the Pythonic API lives in the other modules.
"""

from __future__ import annotations

import ctypes
import os
from ctypes import POINTER, c_char_p, c_float, c_int, c_int32, c_int64, c_size_t, c_uint32, c_uint64, c_void_p
from pathlib import Path
from typing import List, Sequence, Tuple

#: The TRM_ABI_VERSION this binding was written for.
ABI_VERSION = 1
#: The single environment override: the full path of the library to load.
ENV_VAR = "TRMDIS_LIBRARY"
LIBRARY_NAME = "libtrmdis.so"

_PACKAGE_DIR = Path(__file__).resolve().parent
_REPO_ROOT = _PACKAGE_DIR.parent.parent.parent  # bindings/python/trmdis -> the repository


def candidate_paths() -> List[Path]:
    """The places the library is looked for, in order. $TRMDIS_LIBRARY, when set, is the only one."""
    override = os.environ.get(ENV_VAR)
    if override:
        return [Path(override)]
    return [
        _PACKAGE_DIR / LIBRARY_NAME,
        _REPO_ROOT / "build" / "lib" / LIBRARY_NAME,
        _REPO_ROOT / ".build-static" / "release" / LIBRARY_NAME,
    ]


def _load() -> Tuple[ctypes.CDLL, Path]:
    tried = []
    for path in candidate_paths():
        if not path.is_file():
            tried.append(f"{path} (no such file)")
            continue
        try:
            return ctypes.CDLL(str(path)), path  # RTLD_LOCAL, ctypes' default
        except OSError as error:
            tried.append(f"{path} ({error})")
    hint = (f"unset {ENV_VAR} to use the default places, or point it at libtrmdis.so"
            if os.environ.get(ENV_VAR) else f"or set {ENV_VAR} to the library's path")
    raise ImportError(
        "trmdis: could not load libtrmdis.so. Looked in:\n  " + "\n  ".join(tried)
        + f"\nBuild it with `make lib` at the repository root ({_REPO_ROOT}), {hint}.")


lib, library_path = _load()

# uint32_t trm_abi_version(void); declared and checked before anything else.
try:
    lib.trm_abi_version.restype = c_uint32
    lib.trm_abi_version.argtypes = []
except AttributeError as error:
    raise ImportError(f"trmdis: {library_path} has no trm_abi_version; it is not libtrmdis") from error
if lib.trm_abi_version() != ABI_VERSION:
    raise ImportError(
        f"trmdis: {library_path} has ABI version {lib.trm_abi_version()}, this binding was written for ABI "
        f"{ABI_VERSION}; rebuild the library (`make lib`) or install the matching binding")


class ModelConfigStruct(ctypes.Structure):
    """trm_model_config, field for field (enums stored as int32_t)."""

    _fields_ = [
        ("struct_size", c_size_t),
        ("vocab_size", c_int32),
        ("seq_len", c_int32),
        ("puzzle_emb_len", c_int32),
        ("puzzle_emb_ndim", c_int32),
        ("num_puzzle_identifiers", c_int32),
        ("hidden_size", c_int32),
        ("num_heads", c_int32),
        ("expansion", c_float),
        ("num_layers", c_int32),
        ("mixer", c_int32),
        ("pos_encoding", c_int32),
        ("rope_theta", c_float),
        ("rms_norm_eps", c_float),
        ("h_cycles", c_int32),
        ("l_cycles", c_int32),
        ("supervision_steps", c_int32),
        ("time_embedding", c_int32),
    ]


# Enum constants of the header.
TRM_OK, TRM_ERR_INVALID_ARG, TRM_ERR_IO, TRM_ERR_FORMAT, TRM_ERR_OOM, TRM_ERR_ABORTED, TRM_ERR_ABI, TRM_ERR_INTERNAL = range(8)
TRM_LOG_DEBUG, TRM_LOG_INFO, TRM_LOG_WARN, TRM_LOG_ERROR = range(4)
TRM_MIXER_ATTENTION, TRM_MIXER_MLP_T = range(2)
TRM_POS_ROPE, TRM_POS_LEARNED, TRM_POS_NONE = range(3)

# typedef void (*trm_log_callback)(int32_t level, const char *message, void *user_data);
LOG_CALLBACK = ctypes.CFUNCTYPE(None, c_int32, c_char_p, c_void_p)

_config_p = POINTER(ModelConfigStruct)
_handle = c_void_p  # trm_model *, trm_runner *
_handle_p = POINTER(c_void_p)  # trm_model **, trm_runner **

#: (name, restype, argtypes) for every function of Include/trmdis.h, in the header's order.
SIGNATURES: Sequence[Tuple[str, object, list]] = [
    # const char *trm_version(void);
    ("trm_version", c_char_p, []),
    # uint32_t trm_abi_version(void);
    ("trm_abi_version", c_uint32, []),
    # const char *trm_status_string(int status);
    ("trm_status_string", c_char_p, [c_int]),
    # const char *trm_last_error(void);
    ("trm_last_error", c_char_p, []),
    # void trm_log_set(trm_log_callback callback, void *user_data);
    ("trm_log_set", None, [LOG_CALLBACK, c_void_p]),
    # int trm_set_num_threads(int32_t threads);
    ("trm_set_num_threads", c_int, [c_int32]),
    # int32_t trm_get_num_threads(void);
    ("trm_get_num_threads", c_int32, []),
    # void trm_model_config_init(trm_model_config *config);
    ("trm_model_config_init", None, [_config_p]),
    # int trm_model_config_preset(const char *name, trm_model_config *config);
    ("trm_model_config_preset", c_int, [c_char_p, _config_p]),
    # int trm_model_create(const trm_model_config *config, uint64_t seed, trm_model **out);
    ("trm_model_create", c_int, [_config_p, c_uint64, _handle_p]),
    # void trm_model_free(trm_model *model);
    ("trm_model_free", None, [_handle]),
    # int trm_model_get_config(const trm_model *model, trm_model_config *config);
    ("trm_model_get_config", c_int, [_handle, _config_p]),
    # int trm_model_parameter_count(const trm_model *model, int64_t *count);
    ("trm_model_parameter_count", c_int, [_handle, POINTER(c_int64)]),
    # int trm_runner_create(trm_model *model, int32_t batch_size, trm_runner **out);
    ("trm_runner_create", c_int, [_handle, c_int32, _handle_p]),
    # void trm_runner_free(trm_runner *runner);
    ("trm_runner_free", None, [_handle]),
    # int trm_runner_reset_carry(trm_runner *runner);
    ("trm_runner_reset_carry", c_int, [_handle]),
    # int trm_runner_step(trm_runner *runner, const int32_t *tokens, size_t n_tokens, const int32_t *puzzle_ids,
    #                     size_t n_puzzle_ids, int32_t time_step, float *logits, size_t n_logits,
    #                     float *q_logits, size_t n_q_logits);
    ("trm_runner_step", c_int, [_handle, POINTER(c_int32), c_size_t, POINTER(c_int32), c_size_t, c_int32,
                                POINTER(c_float), c_size_t, POINTER(c_float), c_size_t]),
    # int trm_runner_net_calls(const trm_runner *runner, int64_t *net_calls);
    ("trm_runner_net_calls", c_int, [_handle, POINTER(c_int64)]),
]

for _name, _restype, _argtypes in SIGNATURES:
    try:
        _function = getattr(lib, _name)
    except AttributeError as error:
        raise ImportError(f"trmdis: {library_path} lacks {_name}; rebuild it (`make lib`)") from error
    _function.restype = _restype
    _function.argtypes = _argtypes
