"""Bad training and inference arguments: the matching exception, the library's message, untouched outputs."""

import ctypes

import numpy as np
import pytest

import trmdis
from trmdis import _lib

from helpers import FAST, progression, progression_config

L = _lib.lib


@pytest.fixture(scope="module")
def setup():
    x, y = progression(64, seed=1)
    model = trmdis.Model(progression_config(), seed=1)
    train = trmdis.Dataset(x, y)
    yield model, train
    train.close()
    model.close()


@pytest.mark.parametrize("changes,pattern", [
    (dict(batch_size=0), "params->batch_size must be in 1...1048576"),
    (dict(batch_size=2**20 + 1), "batch_size"),
    (dict(learning_rate=float("nan")), "params->learning_rate must be finite"),
    (dict(learning_rate=-1.0), "learning_rate"),
    (dict(warmup_steps=-1), "warmup_steps"),
    (dict(total_steps=0), "total_steps"),
    (dict(min_lr_ratio=1.5), "min_lr_ratio"),
    (dict(beta1=1.0), "beta1"),
    (dict(beta2=float("nan")), "beta2"),
    (dict(weight_decay=float("inf")), "weight_decay"),
    (dict(puzzle_emb_lr=-0.1), "puzzle_emb_lr"),
    (dict(grad_clip=-1.0), "grad_clip"),
    (dict(grad_clip=float("nan")), "grad_clip"),
    (dict(ema_rate=1.0), "ema_rate"),
    (dict(ema_rate=-0.5), "ema_rate"),
    (dict(corruption="mask", mask_token=6), "mask_token must be inside the model's vocabulary"),
    (dict(corruption="mask", mask_token=-1), "mask_token"),
    (dict(halt_exploration_prob=1.5), "halt_exploration_prob"),
    (dict(halt_loss_weight=float("nan")), "halt_loss_weight"),
    (dict(checkpoint_every=5), "checkpoint_dir is NULL"),
    (dict(eval_every=5), "no evaluation dataset"),
    (dict(eval_every=-1), "eval_every must be >= 0"),
    (dict(checkpoint_every=-2), "checkpoint_every"),
    (dict(checkpoint_dir=""), "checkpoint_dir is empty"),
])
def test_bad_train_params(setup, changes, pattern):
    model, train = setup
    with pytest.raises(trmdis.InvalidArgumentError, match=pattern) as info:
        trmdis.Trainer(model, train, **changes)
    assert info.value.message.startswith("trm_trainer_create: ")


@pytest.mark.parametrize("changes", [dict(method="hrm"), dict(loss="mse"), dict(optimizer="sgd"),
                                     dict(corruption="zero"), dict(step_weights="cubic"), dict(batch_size=1.5),
                                     dict(seed=-1), dict(feedback_predictions=2), dict(max_steps=0),
                                     dict(max_seconds=0), dict(max_seconds=float("nan")), dict(eval_limit=0),
                                     dict(learning_rate="fast"), dict(no_such_field=1)])
def test_params_python_refuses(setup, changes):
    model, train = setup
    with pytest.raises(trmdis.InvalidArgumentError):
        trmdis.Trainer(model, train, **changes)


def raw_params(**fields):
    p = _lib.TrainParamsStruct()
    L.trm_train_params_init(ctypes.byref(p))
    for name, value in fields.items():
        setattr(p, name, value)
    return p


@pytest.mark.parametrize("fields,pattern", [
    (dict(method=2), "method must be"),
    (dict(loss=-1), "loss must be"),
    (dict(optimizer=7), "optimizer must be"),
    (dict(corruption=4), "corruption must be"),
    (dict(step_weights=2), "step_weights must be"),
    (dict(feedback_predictions=2), "feedback_predictions must be 0 or 1"),
    (dict(optimizer_step_per_supervision_step=-1), "optimizer_step_per_supervision_step"),
    (dict(max_steps=-1), "max_steps must be >= 0"),
    (dict(max_seconds=-1.0), "max_seconds"),
    (dict(max_seconds=float("inf")), "max_seconds"),
    (dict(eval_limit=-3), "eval_limit"),
])
def test_raw_params_values(setup, fields, pattern):
    model, train = setup
    out = ctypes.c_void_p(1234)
    status = L.trm_trainer_create(model.handle, train.handle, None, ctypes.byref(raw_params(**fields)),
                                  ctypes.byref(out))
    assert status == _lib.TRM_ERR_INVALID_ARG and out.value == 1234
    assert pattern in L.trm_last_error().decode()


def test_struct_sizes(setup, tmp_path):
    model, train = setup
    out = ctypes.c_void_p(1234)
    for size in (0, ctypes.sizeof(_lib.TrainParamsStruct) - 8, ctypes.sizeof(_lib.TrainParamsStruct) + 8):
        p = raw_params(struct_size=size)
        assert L.trm_trainer_create(model.handle, train.handle, None, ctypes.byref(p), ctypes.byref(out)) == \
            _lib.TRM_ERR_ABI
        assert L.trm_trainer_resume(str(tmp_path).encode(), train.handle, None, ctypes.byref(p),
                                    ctypes.byref(out)) == _lib.TRM_ERR_ABI
    assert out.value == 1234
    # NULL params are the defaults (batch 64 here).
    assert L.trm_trainer_create(model.handle, train.handle, None, None, ctypes.byref(out)) == _lib.TRM_OK
    trainer = out.value

    info = _lib.StepInfoStruct()
    info.struct_size = ctypes.sizeof(info) - 8
    info.loss = -5.0
    assert L.trm_trainer_step(trainer, ctypes.byref(info)) == _lib.TRM_ERR_ABI and info.loss == -5.0
    info.struct_size = ctypes.sizeof(info)
    assert L.trm_trainer_step(trainer, ctypes.byref(info)) == _lib.TRM_OK
    assert info.struct_size == ctypes.sizeof(info) and info.loss > 0 and info.step == 1
    assert L.trm_trainer_step(trainer, None) == _lib.TRM_OK  # NULL info: just the step

    result = _lib.EvalResultStruct()
    result.struct_size = 3
    result.examples = -1
    assert L.trm_trainer_evaluate(trainer, train.handle, ctypes.byref(result)) == _lib.TRM_ERR_ABI
    assert L.trm_model_evaluate(model.handle, train.handle, None, ctypes.byref(result)) == _lib.TRM_ERR_ABI
    assert L.trm_trainer_run(trainer, ctypes.byref(result)) == _lib.TRM_ERR_ABI
    assert result.examples == -1
    assert L.trm_trainer_evaluate(trainer, None, None) == _lib.TRM_ERR_INVALID_ARG
    result.struct_size = ctypes.sizeof(result)
    assert L.trm_trainer_evaluate(trainer, None, ctypes.byref(result)) == _lib.TRM_ERR_INVALID_ARG
    assert "no evaluation dataset" in L.trm_last_error().decode()

    pp = _lib.PredictParamsStruct()
    L.trm_predict_params_init(ctypes.byref(pp))
    assert pp.struct_size == ctypes.sizeof(pp) and pp.steps == 0 and pp.guidance == 1 and pp.feedback == -1
    pp.struct_size += 4
    assert L.trm_model_evaluate(model.handle, train.handle, ctypes.byref(pp), ctypes.byref(result)) == _lib.TRM_ERR_ABI
    L.trm_trainer_free(trainer)


def raw_predict(model, n=2, params=None, **deltas):
    """trm_model_predict with buffer lengths changed by `deltas`; returns (status, trace, halt, logits)."""
    c = model.config
    steps = c.supervision_steps
    x = np.zeros((n, c.seq_len), dtype=np.int32) + 2
    trace = np.full((steps, n, c.seq_len), -7, dtype=np.int32)
    halt = np.full((steps, n), -7, dtype=np.float32)
    logits = np.full((n, c.seq_len, c.vocab_size), -7, dtype=np.float32)
    i32, f32 = ctypes.POINTER(ctypes.c_int32), ctypes.POINTER(ctypes.c_float)
    status = L.trm_model_predict(
        model.handle, None if params is None else ctypes.byref(params), x.ctypes.data_as(i32),
        x.size + deltas.get("cells", 0), None, n + deltas.get("examples", 0),
        trace.ctypes.data_as(i32), trace.size + deltas.get("trace", 0),
        halt.ctypes.data_as(f32), halt.size + deltas.get("halt", 0),
        logits.ctypes.data_as(f32), logits.size + deltas.get("logits", 0))
    return status, trace, halt, logits


@pytest.mark.parametrize("deltas,word", [
    (dict(cells=-1), "n_cells"), (dict(cells=1), "n_cells"), (dict(examples=1), "n_cells"),
    (dict(examples=-2), "n_examples"), (dict(trace=-1), "n_trace"), (dict(halt=1), "n_halt"),
    (dict(logits=-1), "n_logits"),
])
def test_predict_buffer_lengths(setup, deltas, word):
    model, _ = setup
    status, trace, halt, logits = raw_predict(model, **deltas)
    assert status == _lib.TRM_ERR_INVALID_ARG and word in L.trm_last_error().decode()
    assert (trace == -7).all() and (halt == -7).all() and (logits == -7).all()  # untouched
    assert raw_predict(model)[0] == _lib.TRM_OK


def test_predict_untouched_when_a_later_batch_is_bad(setup):
    model, _ = setup
    c = model.config
    n = 5
    x = np.full((n, c.seq_len), 2, dtype=np.int32)
    x[4, 9] = 99  # in the third batch of two
    trace = np.full((c.supervision_steps, n, c.seq_len), -7, dtype=np.int32)
    i32 = ctypes.POINTER(ctypes.c_int32)
    params = _lib.PredictParamsStruct()
    L.trm_predict_params_init(ctypes.byref(params))
    params.batch_size = 2
    status = L.trm_model_predict(model.handle, ctypes.byref(params), x.ctypes.data_as(i32), x.size, None, n,
                                 trace.ctypes.data_as(i32), trace.size, None, 0, None, 0)
    assert status == _lib.TRM_ERR_INVALID_ARG and "token 99" in L.trm_last_error().decode()
    assert (trace == -7).all()


def test_resume_errors(setup, tmp_path):
    model, train = setup
    with pytest.raises(trmdis.TRMIOError, match="trm_trainer_resume"):
        trmdis.Trainer.resume(tmp_path / "nothing", train)
    (tmp_path / "garbage").mkdir()
    (tmp_path / "garbage" / "state.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all")
    with pytest.raises(trmdis.FormatError):
        trmdis.Trainer.resume(tmp_path / "garbage", train)
    with trmdis.Trainer(model, train, **FAST) as trainer:
        trainer.step()
        trainer.save_checkpoint(tmp_path / "ok")
    state = (tmp_path / "ok" / "state.safetensors").read_bytes()
    (tmp_path / "cut").mkdir()
    (tmp_path / "cut" / "state.safetensors").write_bytes(state[: len(state) // 2])
    with pytest.raises(trmdis.FormatError):
        trmdis.Trainer.resume(tmp_path / "cut", train)
    with pytest.raises(trmdis.InvalidArgumentError, match="only the loop options"):
        trmdis.Trainer.resume(tmp_path / "ok", train, learning_rate=1.0)
    x, y = progression(4, seq_len=6)
    with trmdis.Dataset(x, y) as short:
        with pytest.raises(trmdis.InvalidArgumentError, match="do not fit the checkpoint"):
            trmdis.Trainer.resume(tmp_path / "ok", short)
    with trmdis.Trainer.resume(tmp_path / "ok", train, max_steps=1) as resumed:
        assert resumed.run(progress=False).steps == 1


def test_handles_of_the_wrong_kind(setup):
    model, train = setup
    out = ctypes.c_void_p(77)
    assert L.trm_trainer_create(train.handle, train.handle, None, None, ctypes.byref(out)) == _lib.TRM_ERR_INVALID_ARG
    assert "not a live trm_model" in L.trm_last_error().decode()
    assert L.trm_trainer_create(model.handle, model.handle, None, None, ctypes.byref(out)) == _lib.TRM_ERR_INVALID_ARG
    assert "train is not a live trm_dataset" in L.trm_last_error().decode()
    assert L.trm_trainer_request_stop(model.handle) == _lib.TRM_ERR_INVALID_ARG
    assert L.trm_trainer_request_stop(None) == _lib.TRM_ERR_INVALID_ARG
    size = ctypes.c_int64(-1)
    assert L.trm_dataset_size(model.handle, ctypes.byref(size)) == _lib.TRM_ERR_INVALID_ARG and size.value == -1
    assert out.value == 77
    with pytest.raises(trmdis.InvalidArgumentError, match="must be a trmdis.Dataset"):
        trmdis.Trainer(model, np.zeros((2, 10)))
    with pytest.raises(trmdis.InvalidArgumentError, match="must be a trmdis.Model"):
        trmdis.Trainer(train, train)


def test_run_cannot_be_reentered_from_its_callback(setup):
    model, train = setup
    with trmdis.Trainer(model, train, max_steps=2, **dict(FAST, batch_size=4)) as trainer:
        errors = []

        def callback(info):
            for call in (trainer.step, trainer.run):
                try:
                    call()
                except trmdis.InvalidArgumentError as error:
                    errors.append(error.message)
            trainer.evaluate(train)  # allowed: the weights are consistent between steps

        result = trainer.run(progress=False, callback=callback)
        assert not result.stopped and len(errors) == 4
        assert all("while the trainer is running" in e for e in errors)
