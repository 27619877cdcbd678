"""Training: TrainParams (trm_train_params), Trainer (trm_trainer) and what a step reports."""

from __future__ import annotations

import ctypes
import dataclasses
import math
import os
import weakref
from typing import Any, Callable, Dict, List, Optional, Union

import numpy as np
from numpy.typing import NDArray

from . import _convert, _lib
from .config import METHODS as _METHODS
from .dataset import Dataset
from ._handle import NativeHandle, created, sigint_requests_stop as _sigint_requests_stop
from .errors import AbortedError, InvalidArgumentError, check
from .model import EvalResult, Model, _eval_struct

_lib_fn = _lib.lib

_LOSSES = {"stablemax": _lib.TRM_LOSS_STABLEMAX, "softmax": _lib.TRM_LOSS_SOFTMAX}
_OPTIMIZERS = {"adam-atan2": _lib.TRM_OPTIMIZER_ADAM_ATAN2, "adamw": _lib.TRM_OPTIMIZER_ADAMW}
_CORRUPTIONS = {"path": _lib.TRM_CORRUPTION_PATH, "mask": _lib.TRM_CORRUPTION_MASK, "random": _lib.TRM_CORRUPTION_RANDOM,
                "dataset": _lib.TRM_CORRUPTION_DATASET}
_STEP_WEIGHTS = {"constant": _lib.TRM_STEP_WEIGHTS_CONSTANT, "linear": _lib.TRM_STEP_WEIGHTS_LINEAR}
_ENUMS: Dict[str, Dict[str, int]] = {"method": _METHODS, "loss": _LOSSES, "optimizer": _OPTIMIZERS,
                                     "corruption": _CORRUPTIONS, "step_weights": _STEP_WEIGHTS}
_INT32_FIELDS = ("batch_size", "mask_token")
_INT64_FIELDS = ("warmup_steps", "total_steps", "eval_every", "checkpoint_every")
_FLOAT_FIELDS = ("learning_rate", "min_lr_ratio", "beta1", "beta2", "weight_decay", "puzzle_emb_lr",
                 "puzzle_emb_weight_decay", "halt_exploration_prob", "halt_loss_weight")
_BOOL_FIELDS = ("feedback_predictions", "optimizer_step_per_supervision_step")
#: The fields that configure trm_trainer_run's loop; the others are training hyper-parameters.
LOOP_FIELDS = ("max_steps", "max_seconds", "eval_every", "eval_limit", "checkpoint_every", "checkpoint_dir")


def _defaults() -> _lib.TrainParamsStruct:
    s = _lib.TrainParamsStruct()
    _lib_fn.trm_train_params_init(ctypes.byref(s))
    return s


_D = _defaults()


def _f(value: float) -> float:
    """A float32 default as the decimal it was written as (1e-4, not 9.99999974e-05)."""
    return float(f"{value:.7g}")


def _name(table: Dict[str, int], value: int) -> str:
    return next(k for k, v in table.items() if v == value)


@dataclasses.dataclass
class TrainParams:
    """trm_train_params as a dataclass; defaults are trm_train_params_init's (the reference's).

    Enums are strings: method "dis" | "trm", loss "stablemax" | "softmax", optimizer "adam-atan2" | "adamw",
    corruption "path" | "mask" | "random" | "dataset" (the dataset's intermediate steps), step_weights "constant" | "linear". None turns grad_clip off,
    gives ema_rate the method's default (0.999 for "trm", off for "dis"; 0 turns it off) and leaves max_steps,
    max_seconds and eval_limit unbounded. The library validates values.
    """

    method: str = _name(_METHODS, _D.method)
    batch_size: int = _D.batch_size
    seed: int = _D.seed
    loss: str = _name(_LOSSES, _D.loss)
    optimizer: str = _name(_OPTIMIZERS, _D.optimizer)
    learning_rate: float = _f(_D.learning_rate)
    #: Linear warm-up in optimiser steps (a DIS trainer step makes N_sup of them); max_steps counts trainer steps.
    warmup_steps: int = _D.warmup_steps
    total_steps: int = _D.total_steps
    min_lr_ratio: float = _f(_D.min_lr_ratio)
    beta1: float = _f(_D.beta1)
    beta2: float = _f(_D.beta2)
    weight_decay: float = _f(_D.weight_decay)
    puzzle_emb_lr: float = _f(_D.puzzle_emb_lr)
    puzzle_emb_weight_decay: float = _f(_D.puzzle_emb_weight_decay)
    grad_clip: Optional[float] = None
    ema_rate: Optional[float] = None
    corruption: str = _name(_CORRUPTIONS, _D.corruption)
    mask_token: int = _D.mask_token
    feedback_predictions: bool = bool(_D.feedback_predictions)
    step_weights: str = _name(_STEP_WEIGHTS, _D.step_weights)
    optimizer_step_per_supervision_step: bool = bool(_D.optimizer_step_per_supervision_step)
    halt_exploration_prob: float = _f(_D.halt_exploration_prob)
    halt_loss_weight: float = _f(_D.halt_loss_weight)
    max_steps: Optional[int] = None
    max_seconds: Optional[float] = None
    eval_every: int = 0
    eval_limit: Optional[int] = None
    checkpoint_every: int = 0
    checkpoint_dir: Optional[Union[str, "os.PathLike[str]"]] = None

    @classmethod
    def recipe(cls, name: str, method: str = "dis", **changes: Any) -> "TrainParams":
        """A named starting point (trm_train_params_recipe): "paper" (the official runs' settings, made for long
        GPU runs) or "small-task" (lr 1e-3, warm-up 100, batch 32, weight decay 0.01, gradient clip 1, no EMA:
        a task a CPU learns in minutes; docs/your-task.md has what each reaches). `changes` override fields."""
        if not isinstance(name, str):
            raise InvalidArgumentError(f"recipe name must be a str, not {type(name).__name__}")
        s = _lib.TrainParamsStruct()
        check(_lib_fn.trm_train_params_recipe(name.encode("utf-8"), _METHODS.get(method, -1), ctypes.byref(s)))
        values: Dict[str, Any] = {f.name: getattr(cls(), f.name) for f in dataclasses.fields(cls)}
        for field in dataclasses.fields(cls):
            if field.name in _ENUMS:
                values[field.name] = _name(_ENUMS[field.name], getattr(s, field.name))
            elif field.name in _INT32_FIELDS + _INT64_FIELDS + ("seed",):
                values[field.name] = getattr(s, field.name)
            elif field.name in _FLOAT_FIELDS:
                values[field.name] = _f(getattr(s, field.name))
            elif field.name in _BOOL_FIELDS:
                values[field.name] = bool(getattr(s, field.name))
        values["grad_clip"] = _f(s.grad_clip) if s.grad_clip > 0 else None
        values["ema_rate"] = _f(s.ema_rate) if s.ema_rate > 0 else 0.0
        return dataclasses.replace(cls(**values), **changes)

    def replace(self, **changes: Any) -> "TrainParams":
        """A copy with some fields changed (TypeError names an unknown field)."""
        return dataclasses.replace(self, **changes)

    def to_struct(self) -> _lib.TrainParamsStruct:
        """A trm_train_params with struct_size set and no callback; InvalidArgumentError for values C cannot
        hold."""
        s = _defaults()
        for name, table in _ENUMS.items():
            value = getattr(self, name)
            if value not in table:
                raise InvalidArgumentError(f"{name} must be one of {', '.join(map(repr, table))} (got {value!r})")
            setattr(s, name, table[value])
        for name in _INT32_FIELDS:
            setattr(s, name, _convert.int32(getattr(self, name), name))
        for name in _INT64_FIELDS:
            setattr(s, name, _convert.int64(getattr(self, name), name))
        s.seed = _convert.uint64(self.seed, "seed")
        for name in _FLOAT_FIELDS:
            setattr(s, name, _convert.number(getattr(self, name), name))
        for name in _BOOL_FIELDS:
            setattr(s, name, 1 if _convert.flag(getattr(self, name), name) else 0)
        s.grad_clip = 0.0 if self.grad_clip is None else _convert.number(self.grad_clip, "grad_clip")
        s.ema_rate = -1.0 if self.ema_rate is None else _convert.number(self.ema_rate, "ema_rate")
        s.max_steps = 0 if self.max_steps is None else _convert.positive(self.max_steps, "max_steps")
        s.eval_limit = 0 if self.eval_limit is None else _convert.positive(self.eval_limit, "eval_limit")
        if self.max_seconds is None:
            s.max_seconds = 0.0
        else:
            seconds = _convert.number(self.max_seconds, "max_seconds")
            if not seconds > 0:
                raise InvalidArgumentError(f"max_seconds must be > 0 or None (got {self.max_seconds!r})")
            s.max_seconds = seconds
        if self.checkpoint_dir is not None:
            s.checkpoint_dir = _convert.path(self.checkpoint_dir, "checkpoint_dir")  # ctypes keeps the bytes alive
        return s










def _nan_to_none(value: float) -> Optional[float]:
    return None if math.isnan(value) else value


@dataclasses.dataclass
class StepInfo:
    """trm_step_info: what one training step reports. `step` counts the steps of the current run (1 for
    Trainer.step()); halt_accuracy and mean_steps are None for DIS, eval_* None without an evaluation."""

    step: int
    total_steps: Optional[int]
    optimizer_steps: int
    examples_seen: int
    finished: int
    elapsed: float
    loss: float
    token_accuracy: float
    exact_accuracy: float
    halt_accuracy: Optional[float]
    mean_steps: Optional[float]
    net_calls_per_example: float
    examples_per_second: float
    learning_rate: float
    eval_exact_accuracy: Optional[float]
    eval_token_accuracy: Optional[float]

    @classmethod
    def from_struct(cls, s: _lib.StepInfoStruct) -> "StepInfo":
        """From the C struct trm_step_info."""
        has_eval = bool(s.has_eval)
        return cls(step=s.step, total_steps=s.total_steps or None, optimizer_steps=s.optimizer_steps,
                   examples_seen=s.examples_seen, finished=s.finished, elapsed=s.elapsed, loss=s.loss,
                   token_accuracy=s.token_accuracy, exact_accuracy=s.exact_accuracy,
                   halt_accuracy=_nan_to_none(s.halt_accuracy), mean_steps=_nan_to_none(s.mean_steps),
                   net_calls_per_example=s.net_calls_per_example, examples_per_second=s.examples_per_second,
                   learning_rate=s.learning_rate,
                   eval_exact_accuracy=s.eval_exact_accuracy if has_eval else None,
                   eval_token_accuracy=s.eval_token_accuracy if has_eval else None)


@dataclasses.dataclass
class RunResult:
    """What Trainer.run returns. `stopped` is True when the callback, a KeyboardInterrupt handled by
    re-raising, or request_stop ended the run early (TRM_ERR_ABORTED); then there is no final evaluation or
    checkpoint. `history` holds every step's report."""

    steps: int
    stopped: bool
    evaluation: Optional[EvalResult]
    history: List[StepInfo]

    @property
    def last(self) -> Optional[StepInfo]:
        """The last step's report (None if no step ran)."""
        return self.history[-1] if self.history else None

    def __repr__(self) -> str:
        last = self.last
        loss = f", last loss {last.loss:.4g}" if last is not None else ""
        exact = f", eval exact {self.evaluation.exact_accuracy:.3f}" if self.evaluation is not None else ""
        return f"<RunResult {self.steps} steps{' (stopped)' if self.stopped else ''}{loss}{exact}>"


class _Dispatch:
    """The progress callback C calls during trm_trainer_run: records the step, updates the bar, calls the
    user's function, and turns any exception (KeyboardInterrupt included) into a stop. Holds no reference to
    the Trainer, so the trainer's finalizer can keep it alive without keeping the trainer alive."""

    def __init__(self) -> None:
        self.reset()
        self.c_function = _lib.PROGRESS_CALLBACK(self)

    def reset(self, callback: Optional[Callable[[StepInfo], Any]] = None, bar: Any = None) -> None:
        self.callback, self.bar = callback, bar
        self.history: List[StepInfo] = []
        self.error: Optional[BaseException] = None
        self.stopped_by_callback = False

    def __call__(self, info: Any, _user_data: Any) -> bool:
        try:
            step = StepInfo.from_struct(info.contents)
            self.history.append(step)
            if self.bar is not None:
                postfix = {"loss": f"{step.loss:.4f}", "acc": f"{step.token_accuracy:.3f}",
                           "exact": f"{step.exact_accuracy:.3f}", "ex/s": f"{step.examples_per_second:.0f}"}
                if step.eval_exact_accuracy is not None:
                    postfix["eval"] = f"{step.eval_exact_accuracy:.3f}"
                self.bar.set_postfix(postfix, refresh=False)
                self.bar.update(1)
            if self.callback is not None and self.callback(step) is False:
                self.stopped_by_callback = True
                return False
            return True
        except BaseException as error:  # noqa: B902 - nothing may unwind into C; re-raised after the run
            self.error = error
            return False


class _Allreduce:
    """The trm_allreduce_fn C calls during a data-parallel step: hands the buffer to the user's function as a
    float32 numpy view to sum in place over the ranks (e.g. mpi4py's comm.Allreduce(MPI.IN_PLACE, a)).
    Any exception becomes a failed status (TRM_ERR_IO in C) and is re-raised by the Trainer method."""

    def __init__(self, function: Callable[[Any], Any]) -> None:
        self.function = function
        self.error: Optional[BaseException] = None
        self.c_function = _lib.ALLREDUCE_CALLBACK(self)

    def __call__(self, _user_data: Any, data: Any, count: int) -> int:
        try:
            self.function(np.ctypeslib.as_array(data, shape=(count,)))
            return 0
        except BaseException as error:  # noqa: B902 - nothing may unwind into C
            self.error = error
            return 1

    def raise_error(self) -> None:
        if self.error is not None:
            error, self.error = self.error, None
            raise error


def _free_trainer(handle: int, _dispatch: _Dispatch, _allreduce: Optional[_Allreduce] = None) -> None:
    _lib_fn.trm_trainer_free(handle)  # the callbacks ride along so C's pointers outlive the handle


class Trainer(NativeHandle):
    """Trains a model (trm_trainer) with DIS or the TRM-ACT baseline on a Dataset.

        trainer = trmdis.Trainer(model, train, eval=test, learning_rate=3e-3, warmup_steps=20, max_steps=200)
        result = trainer.run()            # a tqdm bar; Ctrl-C stops cleanly after the current step
        trainer.save_checkpoint("ckpt")   # later: trmdis.Trainer.resume("ckpt", train)

    The model's weights change in place. `params` is a TrainParams; keyword arguments override its fields.
    One trainer is used by one thread at a time, except request_stop(), which any thread may call.
    close() frees it (trm_trainer_free); a resumed trainer's model goes with it.

    Data-parallel training (docs/distributed.md): `world_size` processes each create a trainer with the same
    params (batch_size is the global batch), model seed and datasets, their own `rank`, and `allreduce`, a
    function that sums a float32 numpy array in place over the ranks, e.g. with mpi4py
    ``allreduce=lambda a: comm.Allreduce(MPI.IN_PLACE, a, op=MPI.SUM)``.
    """

    _kind = "trainer"

    def __init__(self, model: Model, train: Dataset, eval: Optional[Dataset] = None,
                 params: Optional[TrainParams] = None, *, rank: int = 0, world_size: int = 1,
                 allreduce: Optional[Callable[[NDArray[np.float32]], Any]] = None, **changes: Any) -> None:
        if not isinstance(model, Model):
            raise InvalidArgumentError(f"model must be a trmdis.Model, not {type(model).__name__}")
        self.params = _params(params, changes)
        self._group = (rank, world_size, allreduce)
        self._allow_other_dataset = False
        self._open(lambda struct, out: _lib_fn.trm_trainer_create(
            model.handle, _dataset_handle(train, "train"), _optional_dataset(eval), ctypes.byref(struct), out))
        self.model = model

    @classmethod
    def resume(cls, directory: Union[str, "os.PathLike[str]"], train: Dataset, eval: Optional[Dataset] = None,
               params: Optional[TrainParams] = None, *, rank: int = 0, world_size: int = 1,
               allreduce: Optional[Callable[[NDArray[np.float32]], Any]] = None, allow_other_dataset: bool = False,
               **changes: Any) -> "Trainer":
        """Continues the training saved in `directory` (trm_trainer_resume) exactly where it stopped, on the
        same training dataset (the checkpoint records its fingerprint; another one raises InvalidArgumentError
        unless allow_other_dataset). The hyper-parameters are the checkpoint's; only the loop options
        (LOOP_FIELDS: max_steps, max_seconds, eval_every, eval_limit, checkpoint_every, checkpoint_dir) may be
        given, and the data-parallel group (rank, world_size, allreduce: any number of ranks, whatever wrote
        it). `.model` is a new Model owned by the trainer."""
        wrong = sorted(set(changes) - set(LOOP_FIELDS))
        if wrong:
            raise InvalidArgumentError(f"resume continues the checkpoint's hyper-parameters; only the loop options "
                                       f"{', '.join(LOOP_FIELDS)} can be given (got {', '.join(wrong)})")
        trainer = cls.__new__(cls)
        trainer.params = _params(params, changes)
        trainer._group = (rank, world_size, allreduce)
        trainer._allow_other_dataset = _convert.flag(allow_other_dataset, "allow_other_dataset")
        trainer._open(lambda struct, out: _lib_fn.trm_trainer_resume(
            _convert.path(directory, "directory"), _dataset_handle(train, "train"), _optional_dataset(eval),
            ctypes.byref(struct), out))
        borrowed = ctypes.c_void_p()
        check(_lib_fn.trm_trainer_model(trainer.handle, ctypes.byref(borrowed)))
        trainer.model = Model._from_handle(created(borrowed), owner=trainer)
        return trainer

    def _open(self, create: Callable[[_lib.TrainParamsStruct, Any], int]) -> None:
        self._dispatch = _Dispatch()
        self._running = False
        struct = self.params.to_struct()
        struct.progress = self._dispatch.c_function
        rank, world_size, allreduce = self._group
        struct.rank = _convert.int32(rank, "rank")
        struct.world_size = _convert.int32(world_size, "world_size")
        struct.allow_other_dataset = 1 if self._allow_other_dataset else 0
        if allreduce is not None and not callable(allreduce):
            raise InvalidArgumentError(f"allreduce must be callable, not {type(allreduce).__name__}")
        self._allreduce = _Allreduce(allreduce) if allreduce is not None else None
        if self._allreduce is not None:
            struct.allreduce = self._allreduce.c_function
        handle = ctypes.c_void_p()
        check(create(struct, ctypes.byref(handle)))
        self._handle: Optional[int] = created(handle)
        self._finalizer = weakref.finalize(self, _free_trainer, self._handle, self._dispatch, self._allreduce)

    def _check(self, status: int) -> None:
        """check(status), but an exception the allreduce function raised comes first."""
        if status != _lib.TRM_OK and self._allreduce is not None:
            self._allreduce.raise_error()
        check(status)

    def run(self, progress: bool = True, callback: Optional[Callable[[StepInfo], Any]] = None) -> RunResult:
        """Trains for params.max_steps steps or params.max_seconds seconds (trm_trainer_run), evaluating and
        checkpointing as configured, then (unless stopped) writes the last checkpoint and evaluates.

        progress: show a tqdm bar (loss, token and exact accuracy, examples/s) when tqdm is installed, else a
        plain line on stderr every 10 seconds.
        callback(info: StepInfo) runs after every step; returning False stops the run.
        Stopping early (the callback, request_stop() from another thread) is not an error: run() returns
        with stopped=True and the trainer can continue later. Ctrl-C (SIGINT) during a run on the main thread
        requests a stop: the run ends cleanly after the current step, then KeyboardInterrupt is raised. An
        exception raised by the callback likewise stops the run and is re-raised.
        """
        handle = self.handle
        if self._running:  # as the library would refuse it, before this run's state is touched
            raise InvalidArgumentError("trm_trainer_run cannot be called while the trainer is running (from its "
                                       "progress callback)")
        bar = _progress_bar(self.params.max_steps) if progress else None
        self._dispatch.reset(callback, bar)
        result = _eval_struct()
        interrupted: List[bool] = []
        self._running = True
        def stop() -> None:
            interrupted.append(True)
            _lib_fn.trm_trainer_request_stop(handle)

        with _sigint_requests_stop(stop):
            try:
                status = _lib_fn.trm_trainer_run(handle, ctypes.byref(result))
            finally:
                self._running = False
                if bar is not None:
                    bar.close()
        dispatch = self._dispatch
        if dispatch.error is not None:
            error, dispatch.error = dispatch.error, None
            raise error
        if interrupted:
            raise KeyboardInterrupt
        stopped = status == _lib.TRM_ERR_ABORTED
        if not stopped:
            self._check(status)
        evaluation = EvalResult.from_struct(result) if not stopped and result.examples > 0 else None
        history = dispatch.history
        dispatch.reset()
        return RunResult(steps=history[-1].step if history else 0, stopped=stopped, evaluation=evaluation,
                         history=history)

    def step(self) -> StepInfo:
        """One training step outside any run (trm_trainer_step)."""
        info = _lib.StepInfoStruct()
        info.struct_size = ctypes.sizeof(_lib.StepInfoStruct)
        self._check(_lib_fn.trm_trainer_step(self.handle, ctypes.byref(info)))
        return StepInfo.from_struct(info)

    def request_stop(self) -> None:
        """Asks a running run() to stop after its current step (trm_trainer_request_stop); callable from any
        thread. Made while no run is in progress, it stops the next run before its first step."""
        status = _lib_fn.trm_trainer_request_stop(self.handle)
        if status != _lib.TRM_OK:  # this call sets no trm_last_error
            raise InvalidArgumentError("trm_trainer_request_stop: trainer is not a live trm_trainer handle", status)

    def save_checkpoint(self, directory: Union[str, "os.PathLike[str]"]) -> None:
        """Writes model.safetensors and state.safetensors into `directory` (trm_trainer_save_checkpoint).
        Data-parallel: every rank calls it; rank 0 writes."""
        self._check(_lib_fn.trm_trainer_save_checkpoint(self.handle, _convert.path(directory, "directory")))

    def evaluate(self, dataset: Optional[Dataset] = None) -> EvalResult:
        """Evaluates with the evaluation weights (the EMA copy when ema_rate is set) on `dataset`, or on the
        trainer's evaluation dataset (at most eval_limit examples) when None (trm_trainer_evaluate)."""
        result = _eval_struct()
        check(_lib_fn.trm_trainer_evaluate(self.handle, _optional_dataset(dataset), ctypes.byref(result)))
        return EvalResult.from_struct(result)

    def __repr__(self) -> str:
        return f"<trmdis.Trainer {self.params.method}{' closed' if self.closed else ''}>"




def _params(params: Optional[TrainParams], changes: Dict[str, Any]) -> TrainParams:
    if params is not None and not isinstance(params, TrainParams):
        raise InvalidArgumentError(f"params must be a trmdis.TrainParams, not {type(params).__name__}")
    try:
        return (params or TrainParams()).replace(**changes)
    except TypeError as error:
        raise InvalidArgumentError(str(error)) from None


def _dataset_handle(dataset: Any, name: str) -> int:
    if not isinstance(dataset, Dataset):
        raise InvalidArgumentError(f"{name} must be a trmdis.Dataset, not {type(dataset).__name__}")
    return dataset.handle


def _optional_dataset(dataset: Any) -> Optional[int]:
    return None if dataset is None else _dataset_handle(dataset, "eval")


class _PlainProgress:
    """The progress display without tqdm: one line on stderr at most every 10 seconds, and at the end."""

    def __init__(self, total: Optional[int]) -> None:
        self.postfix: Dict[str, Any] = {}
        self.total, self.step, self.last = total, 0, 0.0

    def set_postfix(self, postfix: Dict[str, Any], refresh: bool = False) -> None:
        self.postfix = postfix

    def update(self, n: int) -> None:
        import sys
        import time
        self.step += n
        now = time.monotonic()
        if now - self.last >= 10 or self.step == self.total:
            self.last = now
            fields = " ".join(f"{k} {v}" for k, v in self.postfix.items())
            print(f"step {self.step}{'/' + str(self.total) if self.total else ''} {fields}", file=sys.stderr, flush=True)

    def close(self) -> None:
        pass


def _progress_bar(total: Optional[int]) -> Any:
    """A tqdm bar when tqdm is installed, else a plain line every 10 seconds."""
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return _PlainProgress(total)
    return tqdm(total=total, unit="step", dynamic_ncols=True, leave=True)


__all__ = ["AbortedError", "LOOP_FIELDS", "RunResult", "StepInfo", "TrainParams", "Trainer"]
