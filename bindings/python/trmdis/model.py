"""Model and Runner: the model and per-batch handles of the C API, each owned by one Python object; plus
model files, inference (predict) and evaluation."""

from __future__ import annotations

import ctypes
import dataclasses
import os
import weakref
from typing import Any, Callable, Dict, Mapping, Optional, Tuple, Union

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import _convert, _lib
from .config import METHODS, ModelConfig
from ._handle import NativeHandle, created, sigint_requests_stop
from .dataset import Dataset
from .errors import InvalidArgumentError, check


_lib_fn = _lib.lib
PathLike = Union[str, "os.PathLike[str]"]
FloatArray = NDArray[np.float32]


def _free_model(handle: int) -> None:
    _lib_fn.trm_model_free(handle)


def _free_runner(handle: int) -> None:
    _lib_fn.trm_runner_free(handle)


class Model(NativeHandle):
    """A network with freshly initialised weights (trm_model).

    `config` is a ModelConfig or a preset name; the same seed gives the same weights bit for bit. `method`
    ("dis" or "trm") adapts the configuration to the method that will train it (ModelConfig.for_method: the
    DIS step-time embedding on for "dis", off for "trm"), as `trmdis train --method` does. Release it
    with close() or a `with` block; runners made from it keep the weights alive until they are closed.
    close() frees it (trm_model_free); a model borrowed from a Trainer (Trainer.model) is only detached.
    """

    _kind = "model"

    def __init__(self, config: Union[ModelConfig, str] = "sudoku-att", seed: int = 0,
                 method: Optional[str] = None) -> None:
        self._owner: object = None
        if isinstance(config, str):
            config = ModelConfig.preset(config)
        if not isinstance(config, ModelConfig):
            raise InvalidArgumentError(f"config must be a ModelConfig or a preset name, not {type(config).__name__}")
        if method is not None:
            config = config.for_method(method)
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= int(seed) < 2**64:
            raise InvalidArgumentError(f"seed must be an integer in 0...2**64-1 (got {seed!r})")
        struct = config.to_struct()
        handle = ctypes.c_void_p()
        check(_lib_fn.trm_model_create(ctypes.byref(struct), int(seed), ctypes.byref(handle)))
        self._handle: Optional[int] = created(handle)
        self._finalizer = weakref.finalize(self, _free_model, self._handle)

    @classmethod
    def _from_handle(cls, handle: int, owner: object = None) -> "Model":
        """Wraps a trm_model *: owned (freed by close()) when `owner` is None, else borrowed from `owner`
        (a Trainer), which it keeps alive and which frees it."""
        model = cls.__new__(cls)
        model._handle = handle
        model._owner = owner
        model._finalizer = weakref.finalize(model, _free_model, handle) if owner is None else None
        return model

    @classmethod
    def load(cls, path: PathLike) -> "Model":
        """Loads a model written by save() (trm_model_load). TRMIOError if the file cannot be read,
        FormatError if it is not a complete libtrmdis model file."""
        handle = ctypes.c_void_p()
        check(_lib_fn.trm_model_load(_convert.path(path, "path"), ctypes.byref(handle)))
        return cls._from_handle(created(handle))

    def save(self, path: PathLike) -> None:
        """Writes the weights and configuration as safetensors (trm_model_save), atomically."""
        check(_lib_fn.trm_model_save(self.handle, _convert.path(path, "path")))

    @classmethod
    def from_official(cls, checkpoint: PathLike, config_yaml: Optional[PathLike] = None,
                      seq_len: Optional[int] = None) -> "Model":
        """Imports a checkpoint of the official TRM or DIS PyTorch code (trm_model_import_official).

        checkpoint: what the official pretrain.py saves (a torch.save file such as `step_65104`, read without
        PyTorch and without running its pickle) or the same state dict as safetensors; float32, bfloat16 or
        float16, keys with or without `_orig_mod.model.inner.`.
        config_yaml: the run's all_config.yaml (None: the one beside the checkpoint). It gives T (H_cycles),
        n (L_cycles), N_sup (halt_max_steps), heads, expansion and positions; the tensors give the rest.
        seq_len: only for an attention model whose run dataset (data_paths) is not found.
        FormatError says what the engine cannot represent; TRMIOError when a file cannot be read.
        """
        params = _lib.OfficialParamsStruct()
        _lib_fn.trm_official_params_init(ctypes.byref(params))
        if config_yaml is not None:
            params.config_yaml = _convert.path(config_yaml, "config_yaml")
        if seq_len is not None:
            params.seq_len = _convert.integer(seq_len, "seq_len", 1, 2**20 + 1, "1...2**20")
        handle = ctypes.c_void_p()
        check(_lib_fn.trm_model_import_official(_convert.path(checkpoint, "checkpoint"), ctypes.byref(params),
                                                ctypes.byref(handle)))
        return cls._from_handle(created(handle))

    def to_official(self, path: PathLike, config_yaml: Optional[PathLike] = None) -> None:
        """Writes the model in the official code's terms (trm_model_export_official): `path` gets the state dict
        (float32, keys `_orig_mod.model.inner.<name>`) as a torch.save archive that the official code's
        `torch.load` reads (e.g. "export/step_0"), or as safetensors when `path` ends in ".safetensors"; and
        `config_yaml` the arch section of an all_config.yaml (None: all_config.yaml beside `path`, which must not
        exist yet). No PyTorch is needed."""
        check(_lib_fn.trm_model_export_official(self.handle, _convert.path(path, "path"),
                                                None if config_yaml is None else _convert.path(config_yaml, "config_yaml")))

    def state_dict(self) -> Dict[str, FloatArray]:
        """Every tensor as a float32 array (copies), by the name model files use: the official state-dict names
        without a wrapper prefix, trainable weights first, then the buffers puzzle_emb.weights (with a puzzle
        prefix), H_init and L_init."""
        count = ctypes.c_int32(0)
        check(_lib_fn.trm_model_tensor_count(self.handle, ctypes.byref(count)))
        out: Dict[str, FloatArray] = {}
        for index in range(count.value):
            info = _lib.TensorInfoStruct()
            info.struct_size = ctypes.sizeof(_lib.TensorInfoStruct)
            check(_lib_fn.trm_model_tensor_info(self.handle, index, ctypes.byref(info)))
            array = np.empty(tuple(info.shape[:info.ndim]), dtype=np.float32)
            check(_lib_fn.trm_model_get_tensor(self.handle, info.name, array.ctypes.data_as(ctypes.POINTER(ctypes.c_float)),
                                               array.size))
            out[info.name.decode()] = array
        return out

    @classmethod
    def from_state_dict(cls, config: Union[ModelConfig, str], state: Mapping[str, Any]) -> "Model":
        """A model of `config` holding exactly the tensors of `state` (name -> array-like of floats: numpy,
        or anything np.asarray reads, such as a CPU torch tensor). Names are those of state_dict(); the
        official code's wrapper prefixes (`_orig_mod.`, `model.`, `inner.`, `module.`) are removed first and
        the old time-table name `time_emb.embedding_weight` is accepted. Every tensor must be given, with its
        shape, finite. Values are converted to float32."""
        model = cls(config, seed=0)
        try:
            expected = {name: array.shape for name, array in model.state_dict().items()}
            given: Dict[str, Any] = {}
            for key, value in state.items():
                name = _official_name(str(key))
                if name in given:
                    raise InvalidArgumentError(f"two entries of the state dict are named {name} (one is {key})")
                given[name] = value
            unexpected, missing = sorted(set(given) - set(expected)), sorted(set(expected) - set(given))
            if unexpected or missing:
                raise InvalidArgumentError(f"the state dict does not match the configuration: unexpected {unexpected}, "
                                           f"missing {missing}")
            for name, value in given.items():
                array = np.asarray(value)
                if array.dtype.kind != "f" and array.dtype.name != "bfloat16":
                    raise InvalidArgumentError(f"{name} holds {array.dtype}, not floating-point values")
                array = np.ascontiguousarray(array, dtype=np.float32)
                if array.shape != expected[name]:
                    raise InvalidArgumentError(f"{name} has shape {array.shape}, expected {expected[name]}")
                check(_lib_fn.trm_model_set_tensor(model.handle, name.encode(),
                                                   array.ctypes.data_as(ctypes.POINTER(ctypes.c_float)), array.size))
        except BaseException:
            model.close()
            raise
        return model

    @property
    def config(self) -> ModelConfig:
        """The configuration the model was created with (trm_model_get_config)."""
        struct = _lib.ModelConfigStruct()
        _lib_fn.trm_model_config_init(ctypes.byref(struct))  # sets struct_size
        check(_lib_fn.trm_model_get_config(self.handle, ctypes.byref(struct)))
        return ModelConfig.from_struct(struct)

    @property
    def protocol(self) -> "InferenceProtocol":
        """How the model was trained, which predict() and evaluate() repeat by default (trm_model_protocol)."""
        struct = _lib.ProtocolStruct()
        struct.struct_size = ctypes.sizeof(_lib.ProtocolStruct)
        check(_lib_fn.trm_model_protocol(self.handle, ctypes.byref(struct)))
        return InferenceProtocol.from_struct(struct)

    @property
    def parameter_count(self) -> int:
        """Trainable parameters as the reference counts them (trm_model_parameter_count)."""
        count = ctypes.c_int64(0)
        check(_lib_fn.trm_model_parameter_count(self.handle, ctypes.byref(count)))
        return count.value

    def predict(self, inputs: ArrayLike, puzzle_ids: Optional[ArrayLike] = None, steps: Optional[int] = None, guidance: float = 1.0,
                feedback: Optional[bool] = None, batch_size: Optional[int] = None,
                logits: bool = False, time_rows: Optional[str] = None,
                callback: Optional[Callable[[int, int], Any]] = None) -> "Prediction":
        """Solves puzzles with a fixed number of supervision steps from a fresh carry (trm_model_predict).

        inputs: (N, seq_len) token ids (or one puzzle, (seq_len,), read as N = 1).
        puzzle_ids: (N,) puzzle-embedding rows, or None for all 0.
        steps: supervision steps (None: the model's supervision_steps).
        guidance: the guidance weight w (1 = plain inference).
        feedback: feed each step's prediction back as the next input (None: as the model was trained, see
        `protocol`).
        batch_size: puzzles run together (None: up to 64).
        logits: also return the last step's logits (N, seq_len, vocab_size; N·seq_len·vocab_size floats, so
        opt-in).
        time_rows: the step-time rows, "per-step" (DIS) or "first" (None: as the model was trained).
        callback: called as callback(done, total) after every batch; returning False stops the call
        (AbortedError). Ctrl-C on the main thread also stops it after the current batch (KeyboardInterrupt).
        Returns a Prediction whose trace holds the prediction after every step; its halt_prob means something
        for TRM-ACT models only (DIS never trains the halting head).
        """
        c = self.config
        array = np.asarray(inputs)
        if array.ndim == 1:
            array = array.reshape(1, -1)
        if array.ndim != 2:
            raise InvalidArgumentError(f"inputs must have shape (N, {c.seq_len}), not {array.shape}")
        n = array.shape[0]
        tokens = _convert.int_array(array, "inputs", (n, c.seq_len))
        if puzzle_ids is not None and np.ndim(puzzle_ids) == 0:
            puzzle_ids = np.full(n, puzzle_ids)
        ids = None if puzzle_ids is None else _convert.int_array(puzzle_ids, "puzzle_ids", (n,))
        params = _predict_params(steps, guidance, feedback, batch_size, time_rows)
        n_steps = params.steps or c.supervision_steps
        trace = np.empty((n_steps, n, c.seq_len), dtype=np.int32)
        halt = np.empty((n_steps, n), dtype=np.float32)
        final = np.empty((n, c.seq_len, c.vocab_size), dtype=np.float32) if logits else None
        i32, f32 = ctypes.POINTER(ctypes.c_int32), ctypes.POINTER(ctypes.c_float)
        _interruptible(params, callback, lambda: _lib_fn.trm_model_predict(
            self.handle, ctypes.byref(params), tokens.ctypes.data_as(i32), tokens.size,
            None if ids is None else ids.ctypes.data_as(i32), n,
            trace.ctypes.data_as(i32), trace.size, halt.ctypes.data_as(f32), halt.size,
            None if final is None else final.ctypes.data_as(f32), 0 if final is None else final.size))
        return Prediction(trace=trace, halt_prob=halt, logits=final)

    def evaluate(self, dataset: Dataset, steps: Optional[int] = None, guidance: float = 1.0,
                 feedback: Optional[bool] = None, batch_size: Optional[int] = None,
                 time_rows: Optional[str] = None, callback: Optional[Callable[[int, int], Any]] = None) -> "EvalResult":
        """Accuracy on every example of `dataset` after each supervision step (trm_model_evaluate); the
        arguments are predict()'s (Ctrl-C and `callback` stop it the same way). At most 64 steps."""
        if not isinstance(dataset, Dataset):
            raise InvalidArgumentError(f"dataset must be a trmdis.Dataset, not {type(dataset).__name__}")
        params = _predict_params(steps, guidance, feedback, batch_size, time_rows)
        result = _eval_struct()
        _interruptible(params, callback, lambda: _lib_fn.trm_model_evaluate(
            self.handle, dataset.handle, ctypes.byref(params), ctypes.byref(result)))
        return EvalResult.from_struct(result)

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"{self.parameter_count} parameters"
        return f"<trmdis.Model {state}>"


#: The wrappers the official code puts before a model's names (torch.compile, DDP, the loss head, ACT).
_OFFICIAL_PREFIXES = ("_orig_mod.", "module.", "model.", "inner.")


def _official_name(key: str) -> str:
    """A state-dict key without the official wrappers' prefixes, the old time-table name updated (as the
    engine reads official checkpoints, Interop/OfficialCheckpoint.swift)."""
    stripped = True
    while stripped:
        stripped = False
        for prefix in _OFFICIAL_PREFIXES:
            if key.startswith(prefix):
                key, stripped = key[len(prefix):], True
    return "timestep_embed.embedding_weight" if key == "time_emb.embedding_weight" else key


#: Step-time row choices by name (trm_time_rows).
TIME_ROWS = {"per-step": _lib.TRM_TIME_ROWS_PER_STEP, "first": _lib.TRM_TIME_ROWS_FIRST}


@dataclasses.dataclass
class InferenceProtocol:
    """trm_protocol: how a model was trained, as far as inference repeats it.

    recorded: True when read from the model's training record; False for a model without one (an untrained
    model, or a file written before the record existed), which follows the rule: a time embedding means DIS
    with feedback and per-step rows, none means TRM-ACT.
    method: "dis" or "trm". feedback: each step's prediction was the next step's input.
    time_rows: "per-step" (step s uses row min(s, N_sup)) or "first" (row 1 at every step).
    supervision_steps: N_sup, the default number of inference steps.
    """

    recorded: bool
    method: str
    feedback: bool
    time_rows: str
    supervision_steps: int

    @classmethod
    def from_struct(cls, s: _lib.ProtocolStruct) -> "InferenceProtocol":
        """From the C struct trm_protocol."""
        method = next(k for k, v in METHODS.items() if v == s.method)
        rows = next(k for k, v in TIME_ROWS.items() if v == s.time_rows)
        return cls(recorded=bool(s.recorded), method=method, feedback=bool(s.feedback), time_rows=rows,
                   supervision_steps=s.supervision_steps)


@dataclasses.dataclass
class Prediction:
    """What Model.predict returns.

    trace: (steps, N, seq_len) int32, the prediction (argmax of the guided logits) after every step.
    halt_prob: (steps, N) float32, sigmoid(q_halt) after every step (TRM-ACT only: DIS never trains q_head).
    logits: (N, seq_len, vocab_size) float32, the last step's (guided) logits, or None if not asked for.
    """

    trace: NDArray[np.int32]
    halt_prob: NDArray[np.float32]
    logits: Optional[NDArray[np.float32]]

    @property
    def predictions(self) -> NDArray[np.int32]:
        """(N, seq_len): the prediction after the last step."""
        return self.trace[-1]

    def __repr__(self) -> str:
        steps, n, seq_len = self.trace.shape
        logits = "" if self.logits is None else f", logits {self.logits.shape}"
        return f"<Prediction {n} puzzles x {steps} steps, seq_len {seq_len}{logits}>"


@dataclasses.dataclass
class EvalResult:
    """trm_eval_result: accuracies after the last step and after every step (arrays of length n_steps)."""

    examples: int
    exact_accuracy: float
    token_accuracy: float
    net_calls_per_example: float
    seconds: float
    exact_by_step: NDArray[np.float64]
    token_by_step: NDArray[np.float64]
    hamming_by_step: NDArray[np.float64]

    @property
    def n_steps(self) -> int:
        """Supervision steps evaluated (the length of each *_by_step array)."""
        return len(self.exact_by_step)

    def __repr__(self) -> str:
        return (f"<EvalResult {self.examples} examples, {self.n_steps} steps: exact {self.exact_accuracy:.4f}, "
                f"token {self.token_accuracy:.4f}>")

    @classmethod
    def from_struct(cls, s: _lib.EvalResultStruct) -> "EvalResult":
        """From the C struct trm_eval_result."""
        n = s.n_steps
        return cls(examples=s.examples, exact_accuracy=s.exact_accuracy, token_accuracy=s.token_accuracy,
                   net_calls_per_example=s.net_calls_per_example, seconds=s.seconds,
                   exact_by_step=np.array(s.exact_by_step[:n]), token_by_step=np.array(s.token_by_step[:n]),
                   hamming_by_step=np.array(s.hamming_by_step[:n]))


def _interruptible(params: _lib.PredictParamsStruct, callback: Optional[Callable[[int, int], Any]],
                   call: Callable[[], int]) -> None:
    """Runs a predict or evaluate call with a progress callback that stops it after the current batch when
    `callback` returns False or Ctrl-C is pressed (then KeyboardInterrupt is raised once C has returned)."""
    interrupted: list = []
    failure: list = []

    def progress(done: int, total: int, _user_data: Any) -> bool:
        if interrupted:
            return False
        try:
            return callback is None or callback(int(done), int(total)) is not False
        except BaseException as e:  # an exception must not unwind into C: stop, then re-raise
            failure.append(e)
            return False

    params.progress = _PREDICT_CALLBACK(progress)
    with sigint_requests_stop(lambda: interrupted.append(True)):
        status = call()
    if failure:
        raise failure[0]
    if interrupted:
        raise KeyboardInterrupt
    check(status)


_PREDICT_CALLBACK = next(f[1] for f in _lib.PredictParamsStruct._fields_ if f[0] == "progress")


def _eval_struct() -> _lib.EvalResultStruct:
    result = _lib.EvalResultStruct()
    result.struct_size = ctypes.sizeof(_lib.EvalResultStruct)
    return result


def _predict_params(steps: Optional[int], guidance: float, feedback: Optional[bool],
                    batch_size: Optional[int], time_rows: Optional[str] = None) -> _lib.PredictParamsStruct:
    """A trm_predict_params from predict()'s keyword arguments (None = the library's default)."""
    params = _lib.PredictParamsStruct()
    _lib_fn.trm_predict_params_init(ctypes.byref(params))
    if steps is not None:
        params.steps = _convert.int32(steps, "steps")
        if not 1 <= params.steps <= _lib.MAX_STEPS:  # checked here too: the outputs are allocated first
            raise InvalidArgumentError(f"steps must be in 1...{_lib.MAX_STEPS} (TRM_MAX_STEPS), not {steps}")
    params.guidance = _convert.number(guidance, "guidance")  # the library refuses NaN and infinities
    if feedback is not None:
        params.feedback = 1 if _convert.flag(feedback, "feedback") else 0
    if batch_size is not None:
        params.batch_size = _convert.int32(batch_size, "batch_size")
        if params.batch_size < 1:
            raise InvalidArgumentError(f"batch_size must be at least 1 (got {batch_size})")
    if time_rows is not None:
        if time_rows not in TIME_ROWS:
            raise InvalidArgumentError(f"time_rows must be one of {', '.join(map(repr, TIME_ROWS))} or None "
                                       f"(got {time_rows!r})")
        params.time_rows = TIME_ROWS[time_rows]
    return params






class Runner(NativeHandle):
    """The per-batch state of a model (trm_runner): carry, activations and outputs for `batch_size` examples.

    Each step() is one supervision step on the carried (y, z); reset_carry() starts every example afresh.
    One runner is used by one thread at a time.
    close() frees it (trm_runner_free).
    """

    _kind = "runner"

    def __init__(self, model: Model, batch_size: int) -> None:
        if not isinstance(model, Model):
            raise InvalidArgumentError(f"model must be a trmdis.Model, not {type(model).__name__}")
        batch = _convert.int32(batch_size, "batch_size")
        handle = ctypes.c_void_p()
        check(_lib_fn.trm_runner_create(model.handle, batch, ctypes.byref(handle)))
        self._handle: Optional[int] = created(handle)
        self._finalizer = weakref.finalize(self, _free_runner, self._handle)
        self.model = model
        self.batch_size = batch
        self._config = model.config

    def reset_carry(self) -> None:
        """Starts every example afresh (y = H_init, z = L_init) and restarts the net-call counter."""
        check(_lib_fn.trm_runner_reset_carry(self.handle))

    @property
    def net_calls(self) -> int:
        """Network applications each example has gone through since the last reset: T*(n+1) per step."""
        count = ctypes.c_int64(0)
        check(_lib_fn.trm_runner_net_calls(self.handle, ctypes.byref(count)))
        return count.value

    def step(self, tokens: ArrayLike, puzzle_ids: Optional[ArrayLike] = None,
             time_step: int = 1) -> Tuple[NDArray[np.float32], NDArray[np.float32]]:
        """One supervision step (trm_runner_step); the carry moves on.

        tokens: (batch_size, seq_len) integers in 0...vocab_size-1.
        puzzle_ids: (batch_size,) integers in 0...num_puzzle_identifiers-1, or None for all 0.
        time_step: the 1-based supervision step (selects the DIS time embedding).
        Returns (logits, q_logits): float32 arrays of shapes (batch_size, seq_len, vocab_size) and
        (batch_size, 2) (q_halt, q_continue).
        """
        c, b = self._config, self.batch_size
        tok = _convert.int_array(tokens, "tokens", (b, c.seq_len))
        ids = None if puzzle_ids is None else _convert.int_array(puzzle_ids, "puzzle_ids", (b,))
        step = _convert.int32(time_step, "time_step")
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
