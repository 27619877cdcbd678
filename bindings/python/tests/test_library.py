"""Loading, the ABI handshake, and the binding's declarations checked against Include/trmdis.h."""

import ctypes
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import trmdis
from trmdis import _lib

from helpers import HEADER, REPO


def header_text() -> str:
    text = HEADER.read_text()
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"//[^\n]*", " ", text)
    return re.sub(r"^\s*#.*$", " ", text, flags=re.M)  # preprocessor lines


def header_prototypes() -> dict:
    """name -> (return type, [parameter types]) for every trm_* function declared in the header."""
    prototypes = {}
    for match in re.finditer(r"([A-Za-z_][\w\s\*]*?)\b(trm_\w+)\s*\(([^)]*)\)\s*;", header_text()):
        result, name, params = match.groups()
        types = []
        for param in params.split(","):
            param = " ".join(param.split())
            if param == "void":
                continue
            types.append(re.sub(r"\s*\b\w+$", "", param) if not param.endswith("*") else param)
        prototypes[name] = (" ".join(result.split()), types)
    return prototypes


C_TO_CTYPES = {
    "void": None,
    "int": ctypes.c_int,
    "int32_t": ctypes.c_int32,
    "uint32_t": ctypes.c_uint32,
    "uint64_t": ctypes.c_uint64,
    "size_t": ctypes.c_size_t,
    "const char *": ctypes.c_char_p,
    "void *": ctypes.c_void_p,
    "trm_log_callback": _lib.LOG_CALLBACK,
    "trm_model_config *": ctypes.POINTER(_lib.ModelConfigStruct),
    "trm_protocol *": ctypes.POINTER(_lib.ProtocolStruct),
    "trm_blas_info *": ctypes.POINTER(_lib.BLASInfoStruct),
    "const trm_model_config *": ctypes.POINTER(_lib.ModelConfigStruct),
    "trm_model *": ctypes.c_void_p,
    "const trm_model *": ctypes.c_void_p,
    "trm_runner *": ctypes.c_void_p,
    "const trm_runner *": ctypes.c_void_p,
    "trm_model **": ctypes.POINTER(ctypes.c_void_p),
    "trm_runner **": ctypes.POINTER(ctypes.c_void_p),
    "int64_t *": ctypes.POINTER(ctypes.c_int64),
    "int32_t *": ctypes.POINTER(ctypes.c_int32),
    "const int32_t *": ctypes.POINTER(ctypes.c_int32),
    "float *": ctypes.POINTER(ctypes.c_float),
    "trm_dataset *": ctypes.c_void_p,
    "const trm_dataset *": ctypes.c_void_p,
    "trm_dataset **": ctypes.POINTER(ctypes.c_void_p),
    "trm_trainer *": ctypes.c_void_p,
    "trm_trainer **": ctypes.POINTER(ctypes.c_void_p),
    "trm_predict_params *": ctypes.POINTER(_lib.PredictParamsStruct),
    "const trm_predict_params *": ctypes.POINTER(_lib.PredictParamsStruct),
    "trm_train_params *": ctypes.POINTER(_lib.TrainParamsStruct),
    "const trm_train_params *": ctypes.POINTER(_lib.TrainParamsStruct),
    "trm_eval_result *": ctypes.POINTER(_lib.EvalResultStruct),
    "trm_step_info *": ctypes.POINTER(_lib.StepInfoStruct),
    "trm_tensor_info *": ctypes.POINTER(_lib.TensorInfoStruct),
    "trm_official_params *": ctypes.POINTER(_lib.OfficialParamsStruct),
    "const trm_official_params *": ctypes.POINTER(_lib.OfficialParamsStruct),
    "const float *": ctypes.POINTER(ctypes.c_float),
    "const char *const *": ctypes.POINTER(ctypes.c_char_p),
}


def normalise(c_type: str) -> str:
    return re.sub(r"\s*\*", " *", c_type).replace("* *", "**").strip()


def test_header_parses_to_every_function():
    names = set(header_prototypes())
    assert len(names) >= 18
    assert {"trm_runner_step", "trm_model_create", "trm_last_error", "trm_log_set"} <= names


def test_every_header_function_is_declared_with_matching_types():
    declared = {name: (restype, argtypes) for name, restype, argtypes in _lib.SIGNATURES}
    prototypes = header_prototypes()
    assert set(declared) == set(prototypes), "binding and header disagree on the function list"
    for name, (result, params) in prototypes.items():
        restype, argtypes = declared[name]
        assert restype is C_TO_CTYPES[normalise(result)], f"{name} returns {result}"
        assert len(argtypes) == len(params), f"{name} takes {len(params)} arguments"
        for i, (param, argtype) in enumerate(zip(params, argtypes)):
            want = C_TO_CTYPES[normalise(param)]
            assert argtype is want or argtype == want, f"{name} argument {i}: {param}"
        function = getattr(_lib.lib, name)
        assert function.restype is restype and function.argtypes == argtypes, f"{name} not declared at import"


def test_every_header_function_appears_in_the_package_source():
    source = "".join(p.read_text() for p in Path(trmdis.__file__).parent.glob("*.py"))
    for name in header_prototypes():
        assert name in source


def test_config_struct_matches_header_and_library():
    body = re.search(r"typedef struct trm_model_config\s*\{(.*?)\}", header_text(), re.S).group(1)
    fields = re.findall(r"\b(\w+)\s*;", body)
    assert fields == [name for name, _ in _lib.ModelConfigStruct._fields_]
    s = _lib.ModelConfigStruct()
    _lib.lib.trm_model_config_init(ctypes.byref(s))
    assert s.struct_size == ctypes.sizeof(_lib.ModelConfigStruct) == 80


def struct_fields(name: str) -> list:
    """The field names of `typedef struct name { ... }` in the header, arrays included."""
    body = re.search(r"typedef struct %s\s*\{(.*?)\}\s*%s;" % (name, name), header_text(), re.S).group(1)
    return re.findall(r"\b(\w+)\s*(?:\[\s*\w+\s*\])?\s*;", body)


@pytest.mark.parametrize("name,struct", [
    ("trm_model_config", _lib.ModelConfigStruct), ("trm_predict_params", _lib.PredictParamsStruct),
    ("trm_eval_result", _lib.EvalResultStruct), ("trm_step_info", _lib.StepInfoStruct),
    ("trm_train_params", _lib.TrainParamsStruct), ("trm_protocol", _lib.ProtocolStruct),
    ("trm_blas_info", _lib.BLASInfoStruct),
])
def test_every_struct_matches_the_header(name, struct):
    assert struct_fields(name) == [field for field, _ in struct._fields_]


def test_struct_sizes_match_the_library():
    for init, struct, size in [("trm_predict_params_init", _lib.PredictParamsStruct, 48),
                               ("trm_train_params_init", _lib.TrainParamsStruct, 216)]:
        s = struct()
        getattr(_lib.lib, init)(ctypes.byref(s))
        assert s.struct_size == ctypes.sizeof(struct) == size, init
        getattr(_lib.lib, init)(None)  # NULL does nothing
    assert ctypes.sizeof(_lib.EvalResultStruct) == 48 + 8 + 3 * 8 * _lib.EVAL_MAX_STEPS
    assert int(re.search(r"#define TRM_EVAL_MAX_STEPS (\d+)", HEADER.read_text()).group(1)) == _lib.EVAL_MAX_STEPS
    assert int(re.search(r"#define TRM_MAX_STEPS (\d+)", HEADER.read_text()).group(1)) == _lib.MAX_STEPS
    assert ctypes.sizeof(_lib.StepInfoStruct) == 144
    assert ctypes.sizeof(_lib.ProtocolStruct) == 32


def test_enum_constants_match_the_header():
    text = header_text()
    for constant in ("TRM_METHOD_DIS", "TRM_METHOD_TRM", "TRM_LOSS_STABLEMAX", "TRM_LOSS_SOFTMAX",
                     "TRM_OPTIMIZER_ADAM_ATAN2", "TRM_OPTIMIZER_ADAMW", "TRM_CORRUPTION_PATH", "TRM_CORRUPTION_MASK",
                     "TRM_CORRUPTION_RANDOM", "TRM_STEP_WEIGHTS_CONSTANT", "TRM_STEP_WEIGHTS_LINEAR",
                     "TRM_TIME_ROWS_PER_STEP", "TRM_TIME_ROWS_FIRST"):
        value = int(re.search(r"\b%s\s*=\s*(\d+)" % constant, text).group(1))
        assert getattr(_lib, constant) == value, constant


def test_abi_and_version():
    assert trmdis.abi_version() == trmdis.ABI_VERSION == 3
    major, minor, patch = (int(x) for x in re.findall(r"#define TRM_VERSION_(?:MAJOR|MINOR|PATCH) (\d+)", HEADER.read_text()))
    assert trmdis.version() == f"{major}.{minor}.{patch}" == trmdis.__version__
    assert int(re.search(r"#define TRM_ABI_VERSION (\d+)", HEADER.read_text()).group(1)) == trmdis.ABI_VERSION


def test_status_strings():
    assert trmdis.status_string(0) == "ok"
    for status in range(1, 8):
        assert trmdis.status_string(status) not in ("", "unknown status")
    assert trmdis.status_string(99) == trmdis.status_string(-1) == "unknown status"


def test_lookup_order(monkeypatch):
    monkeypatch.delenv(_lib.ENV_VAR, raising=False)
    paths = _lib.candidate_paths()
    assert paths[0] == Path(_lib.__file__).resolve().parent / "libtrmdis.so"
    if Path(_lib.__file__).resolve().is_relative_to(REPO / "bindings" / "python"):  # the source tree
        assert paths[1:] == [REPO / "build" / "lib" / "libtrmdis.so", REPO / ".build-static" / "release" / "libTRMDISCAPI.so"]
    else:  # an installed package looks inside itself only
        assert paths[1:] == []
    monkeypatch.setenv(_lib.ENV_VAR, "/somewhere/libtrmdis.so")
    assert _lib.candidate_paths() == [Path("/somewhere/libtrmdis.so")]


def run_python(code: str, **env) -> subprocess.CompletedProcess:
    environment = dict(os.environ, PYTHONPATH=str(Path(trmdis.__file__).parent.parent), **env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=environment, timeout=120)


def test_missing_library_lists_where_it_looked(tmp_path):
    missing = tmp_path / "nope" / "libtrmdis.so"
    result = run_python("import trmdis", TRMDIS_LIBRARY=str(missing))
    assert result.returncode != 0
    assert "ImportError" in result.stderr and str(missing) in result.stderr and "TRMDIS_LIBRARY is set" in result.stderr
    # Without the variable, in this checkout: where to build it.
    environment = {k: v for k, v in os.environ.items() if k != "TRMDIS_LIBRARY"}
    blocked = subprocess.run([sys.executable, "-c", "import trmdis._lib"], capture_output=True, text=True, timeout=120,
                             env=dict(environment, PYTHONPATH=str(Path(trmdis.__file__).parent.parent)))
    assert blocked.returncode == 0 or "make lib" in blocked.stderr


def test_a_library_without_the_abi_symbol_is_refused():
    libm = "/lib/x86_64-linux-gnu/libm.so.6"
    if not Path(libm).exists():
        pytest.skip("no libm at the expected path")
    result = run_python("import trmdis", TRMDIS_LIBRARY=libm)
    assert result.returncode != 0 and "trm_abi_version" in result.stderr


def test_threads():
    before = trmdis.get_num_threads()
    try:
        trmdis.set_num_threads(1)
        assert trmdis.get_num_threads() == 1
        for bad in (0, -1, 1025, 2**40):
            with pytest.raises(trmdis.InvalidArgumentError):
                trmdis.set_num_threads(bad)
        # OpenBLAS runs at most twice its build's MAX_THREADS products at once; past that it prints and stops.
        slots = 2 * int(re.search(r"MAX_THREADS=(\d+)", trmdis.blas_info()["version"]).group(1))
        with pytest.raises(trmdis.InvalidArgumentError, match=f"at most {slots} with this OpenBLAS"):
            trmdis.set_num_threads(slots + 1)
        assert trmdis.get_num_threads() == 1
    finally:
        trmdis.set_num_threads(before)
    assert trmdis.get_num_threads() == before


def test_log_handler_receives_library_warnings():
    lines = []
    trmdis.set_log_handler(lambda level, message: lines.append((level, message)))
    try:
        with trmdis.Model("dis-compact") as model, trmdis.Runner(model, 1) as runner:
            _lib.lib.trm_model_free(runner.handle)  # a runner is not a model: ignored with a warning
            runner.reset_carry()  # still alive
    finally:
        trmdis.set_log_handler()
    # The library's one setup warning (OpenBLAS on kernels below the CPU, e.g. a user's OPENBLAS_CORETYPE=Haswell
    # on an AVX-512 CPU) reaches a handler when it is installed; it is not this test's.
    lines = [line for line in lines if "OpenBLAS runs its" not in line[1]]
    assert lines == [(_lib.TRM_LOG_WARN, "trm_model_free: ignored a pointer that is not a live model")]
