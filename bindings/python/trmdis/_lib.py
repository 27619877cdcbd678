"""The raw layer: finds libtrmdis, checks its ABI number and declares every function of Include/trmdis.h.

Everything here mirrors the C header one to one; the Pythonic API lives in the other modules.
"""

from __future__ import annotations

import ctypes
import os
from ctypes import POINTER, c_bool, c_char_p, c_double, c_float, c_int, c_int32, c_int64, c_size_t, c_uint32, c_uint64, c_void_p
from pathlib import Path
from typing import List, Sequence, Tuple

#: The TRM_ABI_VERSION this binding was written for.
ABI_VERSION = 3
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
    paths = [_PACKAGE_DIR / LIBRARY_NAME]  # where the wheel puts it (setup.py)
    if (_REPO_ROOT / "Package.swift").is_file():  # the package used from a source checkout
        paths += [_REPO_ROOT / "build" / "lib" / LIBRARY_NAME, _REPO_ROOT / ".build-static" / "release" / "libTRMDISCAPI.so"]
    return paths


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
    if os.environ.get(ENV_VAR):
        where = f"{ENV_VAR} is set, so only that path was tried: point it at libtrmdis.so, or unset it."
    elif (_REPO_ROOT / "Package.swift").is_file():  # a source checkout
        where = f"Build it with `make lib` in {_REPO_ROOT}, or set {ENV_VAR} to the library's path."
    else:  # an installed package without the library inside
        where = (f"This installed package has no libtrmdis.so inside it (was it installed from a wheel built "
                 f"elsewhere?): reinstall with `pip install ./bindings/python` from the libtrmdis sources, or "
                 f"set {ENV_VAR} to the library's path.")
    raise ImportError("trmdis: could not load libtrmdis.so. Looked in:\n  " + "\n  ".join(tried) + "\n" + where)


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


class PredictParamsStruct(ctypes.Structure):
    """trm_predict_params."""

    _fields_ = [
        ("struct_size", c_size_t),
        ("steps", c_int32),
        ("guidance", c_float),
        ("feedback", c_int32),
        ("batch_size", c_int32),
        ("time_rows", c_int32),
        ("progress", ctypes.CFUNCTYPE(c_bool, c_int64, c_int64, c_void_p)),
        ("progress_user_data", c_void_p),
    ]


class BLASInfoStruct(ctypes.Structure):
    """trm_blas_info."""

    _fields_ = [
        ("struct_size", c_size_t),
        ("library", ctypes.c_char * 256),
        ("version", ctypes.c_char * 256),
        ("core", ctypes.c_char * 32),
        ("detected_core", ctypes.c_char * 32),
        ("isa", ctypes.c_char * 16),
        ("corrected", c_int32),
        ("core_from_environment", c_int32),
        ("threads", c_int32),
        ("warning", c_int32),
    ]


class ProtocolStruct(ctypes.Structure):
    """trm_protocol."""

    _fields_ = [
        ("struct_size", c_size_t),
        ("recorded", c_int32),
        ("method", c_int32),
        ("feedback", c_int32),
        ("time_rows", c_int32),
        ("supervision_steps", c_int32),
    ]


#: TRM_MAX_STEPS: the most supervision steps one prediction runs.
MAX_STEPS = 4096
#: TRM_EVAL_MAX_STEPS: the length of trm_eval_result's per-step arrays.
EVAL_MAX_STEPS = 64


class EvalResultStruct(ctypes.Structure):
    """trm_eval_result."""

    _fields_ = [
        ("struct_size", c_size_t),
        ("examples", c_int64),
        ("exact_accuracy", c_double),
        ("token_accuracy", c_double),
        ("net_calls_per_example", c_double),
        ("seconds", c_double),
        ("n_steps", c_int32),
        ("exact_by_step", c_double * EVAL_MAX_STEPS),
        ("token_by_step", c_double * EVAL_MAX_STEPS),
        ("hamming_by_step", c_double * EVAL_MAX_STEPS),
    ]


class StepInfoStruct(ctypes.Structure):
    """trm_step_info."""

    _fields_ = [
        ("struct_size", c_size_t),
        ("step", c_int64),
        ("total_steps", c_int64),
        ("optimizer_steps", c_int64),
        ("examples_seen", c_int64),
        ("finished", c_int64),
        ("elapsed", c_double),
        ("loss", c_double),
        ("token_accuracy", c_double),
        ("exact_accuracy", c_double),
        ("halt_accuracy", c_double),
        ("mean_steps", c_double),
        ("net_calls_per_example", c_double),
        ("examples_per_second", c_double),
        ("learning_rate", c_double),
        ("has_eval", c_int32),
        ("eval_exact_accuracy", c_double),
        ("eval_token_accuracy", c_double),
    ]


# typedef bool (*trm_progress_callback)(const trm_step_info *info, void *user_data);
PROGRESS_CALLBACK = ctypes.CFUNCTYPE(c_bool, POINTER(StepInfoStruct), c_void_p)


# typedef int (*trm_allreduce_fn)(void *user_data, float *data, size_t count);
ALLREDUCE_CALLBACK = ctypes.CFUNCTYPE(c_int, c_void_p, POINTER(c_float), c_size_t)


class TrainParamsStruct(ctypes.Structure):
    """trm_train_params (enums stored as int32_t)."""

    _fields_ = [
        ("struct_size", c_size_t),
        ("method", c_int32),
        ("batch_size", c_int32),
        ("seed", c_uint64),
        ("loss", c_int32),
        ("optimizer", c_int32),
        ("learning_rate", c_float),
        ("warmup_steps", c_int64),
        ("total_steps", c_int64),
        ("min_lr_ratio", c_float),
        ("beta1", c_float),
        ("beta2", c_float),
        ("weight_decay", c_float),
        ("puzzle_emb_lr", c_float),
        ("puzzle_emb_weight_decay", c_float),
        ("grad_clip", c_float),
        ("ema_rate", c_float),
        ("corruption", c_int32),
        ("mask_token", c_int32),
        ("feedback_predictions", c_int32),
        ("step_weights", c_int32),
        ("optimizer_step_per_supervision_step", c_int32),
        ("halt_exploration_prob", c_float),
        ("halt_loss_weight", c_float),
        ("max_steps", c_int64),
        ("max_seconds", c_double),
        ("eval_every", c_int64),
        ("eval_limit", c_int64),
        ("checkpoint_every", c_int64),
        ("checkpoint_dir", c_char_p),
        ("progress", PROGRESS_CALLBACK),
        ("progress_user_data", c_void_p),
        ("allow_other_dataset", c_int32),
        ("rank", c_int32),
        ("world_size", c_int32),
        ("allreduce", ALLREDUCE_CALLBACK),
        ("allreduce_user_data", c_void_p),
    ]


class TensorInfoStruct(ctypes.Structure):
    """trm_tensor_info."""

    _fields_ = [
        ("struct_size", c_size_t),
        ("name", ctypes.c_char * 128),
        ("ndim", c_int32),
        ("shape", c_int64 * 4),
        ("count", c_int64),
    ]


class OfficialParamsStruct(ctypes.Structure):
    """trm_official_params."""

    _fields_ = [
        ("struct_size", c_size_t),
        ("config_yaml", c_char_p),
        ("seq_len", c_int32),
    ]


# Enum constants of the header.
(TRM_OK, TRM_ERR_INVALID_ARG, TRM_ERR_IO, TRM_ERR_FORMAT, TRM_ERR_OOM, TRM_ERR_ABORTED, TRM_ERR_ABI, TRM_ERR_INTERNAL,
 TRM_ERR_NUMERIC) = range(9)
TRM_LOG_DEBUG, TRM_LOG_INFO, TRM_LOG_WARN, TRM_LOG_ERROR = range(4)
TRM_MIXER_ATTENTION, TRM_MIXER_MLP_T = range(2)
TRM_POS_ROPE, TRM_POS_LEARNED, TRM_POS_NONE = range(3)
TRM_METHOD_DIS, TRM_METHOD_TRM = range(2)
TRM_LOSS_STABLEMAX, TRM_LOSS_SOFTMAX = range(2)
TRM_OPTIMIZER_ADAM_ATAN2, TRM_OPTIMIZER_ADAMW = range(2)
TRM_CORRUPTION_PATH, TRM_CORRUPTION_MASK, TRM_CORRUPTION_RANDOM, TRM_CORRUPTION_DATASET = range(4)
TRM_STEP_WEIGHTS_CONSTANT, TRM_STEP_WEIGHTS_LINEAR = range(2)
TRM_TIME_ROWS_PER_STEP, TRM_TIME_ROWS_FIRST = range(2)

# typedef void (*trm_log_callback)(int32_t level, const char *message, void *user_data);
LOG_CALLBACK = ctypes.CFUNCTYPE(None, c_int32, c_char_p, c_void_p)

_config_p = POINTER(ModelConfigStruct)
_handle = c_void_p  # trm_model *, trm_runner *, trm_dataset *, trm_trainer *
_handle_p = POINTER(c_void_p)  # trm_model **, trm_runner **, trm_dataset **, trm_trainer **
_i32_p, _f32_p = POINTER(c_int32), POINTER(c_float)
_predict_p, _eval_p = POINTER(PredictParamsStruct), POINTER(EvalResultStruct)
_train_p, _info_p = POINTER(TrainParamsStruct), POINTER(StepInfoStruct)

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
    # int trm_log_set_level(int32_t level);
    ("trm_log_set_level", c_int, [c_int32]),
    # int trm_set_num_threads(int32_t threads);
    ("trm_set_num_threads", c_int, [c_int32]),
    # int32_t trm_get_num_threads(void);
    ("trm_get_num_threads", c_int32, []),
    # int trm_get_blas_info(trm_blas_info *out);
    ("trm_get_blas_info", c_int, [POINTER(BLASInfoStruct)]),
    # void trm_model_config_init(trm_model_config *config);
    ("trm_model_config_init", None, [_config_p]),
    # int trm_model_config_preset(const char *name, trm_model_config *config);
    ("trm_model_config_preset", c_int, [c_char_p, _config_p]),
    # int trm_model_config_for_method(trm_model_config *config, int32_t method);
    ("trm_model_config_for_method", c_int, [_config_p, c_int32]),
    # int trm_model_create(const trm_model_config *config, uint64_t seed, trm_model **out);
    ("trm_model_create", c_int, [_config_p, c_uint64, _handle_p]),
    # void trm_model_free(trm_model *model);
    ("trm_model_free", None, [_handle]),
    # int trm_model_get_config(const trm_model *model, trm_model_config *config);
    ("trm_model_get_config", c_int, [_handle, _config_p]),
    # int trm_model_parameter_count(const trm_model *model, int64_t *count);
    ("trm_model_parameter_count", c_int, [_handle, POINTER(c_int64)]),
    # int trm_model_protocol(const trm_model *model, trm_protocol *out);
    ("trm_model_protocol", c_int, [_handle, POINTER(ProtocolStruct)]),
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
    # int trm_model_save(const trm_model *model, const char *path);
    ("trm_model_save", c_int, [_handle, c_char_p]),
    # int trm_model_load(const char *path, trm_model **out);
    ("trm_model_load", c_int, [c_char_p, _handle_p]),
    # int trm_model_tensor_count(const trm_model *model, int32_t *count);
    ("trm_model_tensor_count", c_int, [_handle, POINTER(c_int32)]),
    # int trm_model_tensor_info(const trm_model *model, int32_t index, trm_tensor_info *out);
    ("trm_model_tensor_info", c_int, [_handle, c_int32, POINTER(TensorInfoStruct)]),
    # int trm_model_get_tensor(const trm_model *model, const char *name, float *out, size_t count);
    ("trm_model_get_tensor", c_int, [_handle, c_char_p, POINTER(c_float), c_size_t]),
    # int trm_model_set_tensor(trm_model *model, const char *name, const float *values, size_t count);
    ("trm_model_set_tensor", c_int, [_handle, c_char_p, POINTER(c_float), c_size_t]),
    # void trm_official_params_init(trm_official_params *params);
    ("trm_official_params_init", None, [POINTER(OfficialParamsStruct)]),
    # int trm_model_import_official(const char *checkpoint, const trm_official_params *params, trm_model **out);
    ("trm_model_import_official", c_int, [c_char_p, POINTER(OfficialParamsStruct), _handle_p]),
    # int trm_model_export_official(const trm_model *model, const char *path, const char *config_yaml);
    ("trm_model_export_official", c_int, [_handle, c_char_p, c_char_p]),
    # int trm_dataset_create(int32_t seq_len, const int32_t *inputs, const int32_t *labels, size_t n_cells,
    #                        const int32_t *puzzle_ids, size_t n_examples, trm_dataset **out);
    ("trm_dataset_create", c_int, [c_int32, _i32_p, _i32_p, c_size_t, _i32_p, c_size_t, _handle_p]),
    # int trm_dataset_load(const char *directory, const char *split, trm_dataset **out);
    ("trm_dataset_load", c_int, [c_char_p, c_char_p, _handle_p]),
    # int trm_dataset_load_paths(const char *const *directories, size_t count, const char *split, trm_dataset **out);
    ("trm_dataset_load_paths", c_int, [POINTER(c_char_p), c_size_t, c_char_p, _handle_p]),
    # void trm_dataset_free(trm_dataset *dataset);
    ("trm_dataset_free", None, [_handle]),
    # int trm_dataset_size(const trm_dataset *dataset, int64_t *examples);
    ("trm_dataset_size", c_int, [_handle, POINTER(c_int64)]),
    # int trm_dataset_seq_len(const trm_dataset *dataset, int32_t *seq_len);
    ("trm_dataset_seq_len", c_int, [_handle, _i32_p]),
    # void trm_predict_params_init(trm_predict_params *params);
    ("trm_predict_params_init", None, [_predict_p]),
    # int trm_model_predict(const trm_model *model, const trm_predict_params *params, const int32_t *inputs,
    #                       size_t n_cells, const int32_t *puzzle_ids, size_t n_examples, int32_t *trace_out,
    #                       size_t n_trace, float *halt_prob_out, size_t n_halt, float *final_logits_out,
    #                       size_t n_logits);
    ("trm_model_predict", c_int, [_handle, _predict_p, _i32_p, c_size_t, _i32_p, c_size_t, _i32_p, c_size_t,
                                  _f32_p, c_size_t, _f32_p, c_size_t]),
    # int trm_model_evaluate(const trm_model *model, const trm_dataset *dataset, const trm_predict_params *params,
    #                        trm_eval_result *out);
    ("trm_model_evaluate", c_int, [_handle, _handle, _predict_p, _eval_p]),
    # void trm_train_params_init(trm_train_params *params);
    ("trm_train_params_init", None, [_train_p]),
    # int trm_train_params_recipe(const char *name, int32_t method, trm_train_params *params);
    ("trm_train_params_recipe", c_int, [c_char_p, c_int32, _train_p]),
    # int trm_trainer_create(trm_model *model, const trm_dataset *train, const trm_dataset *eval,
    #                        const trm_train_params *params, trm_trainer **out);
    ("trm_trainer_create", c_int, [_handle, _handle, _handle, _train_p, _handle_p]),
    # int trm_trainer_resume(const char *directory, const trm_dataset *train, const trm_dataset *eval,
    #                        const trm_train_params *params, trm_trainer **out);
    ("trm_trainer_resume", c_int, [c_char_p, _handle, _handle, _train_p, _handle_p]),
    # void trm_trainer_free(trm_trainer *trainer);
    ("trm_trainer_free", None, [_handle]),
    # int trm_trainer_model(trm_trainer *trainer, trm_model **model);
    ("trm_trainer_model", c_int, [_handle, _handle_p]),
    # int trm_trainer_run(trm_trainer *trainer, trm_eval_result *eval_out);
    ("trm_trainer_run", c_int, [_handle, _eval_p]),
    # int trm_trainer_step(trm_trainer *trainer, trm_step_info *info);
    ("trm_trainer_step", c_int, [_handle, _info_p]),
    # int trm_trainer_request_stop(trm_trainer *trainer);
    ("trm_trainer_request_stop", c_int, [_handle]),
    # int trm_trainer_save_checkpoint(trm_trainer *trainer, const char *directory);
    ("trm_trainer_save_checkpoint", c_int, [_handle, c_char_p]),
    # int trm_trainer_evaluate(trm_trainer *trainer, const trm_dataset *dataset, trm_eval_result *out);
    ("trm_trainer_evaluate", c_int, [_handle, _handle, _eval_p]),
]

for _name, _restype, _argtypes in SIGNATURES:
    try:
        _function = getattr(lib, _name)
    except AttributeError as error:
        raise ImportError(f"trmdis: {library_path} lacks {_name}; rebuild it (`make lib`)") from error
    _function.restype = _restype
    _function.argtypes = _argtypes
