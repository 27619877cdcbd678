"""The installed package (make test installs the wheel into a fresh venv): not the source tree, and
libtrmdis.so found inside it with no TRMDIS_LIBRARY."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

import trmdis
from trmdis import _lib
from helpers import REPO

installed = pytest.mark.skipif(os.environ.get("TRMDIS_TEST_INSTALLED") != "1",
                               reason="runs against an installed wheel (TRMDIS_TEST_INSTALLED=1, as make test does)")


@installed
def test_the_installed_package_is_imported():
    package = Path(trmdis.__file__).resolve().parent
    assert not package.is_relative_to(REPO / "bindings"), package
    assert "site-packages" in package.parts
    assert "TRMDIS_LIBRARY" not in os.environ
    assert _lib.library_path == package / "libtrmdis.so"


@installed
def test_import_from_elsewhere_needs_no_variable(tmp_path):
    environment = {k: v for k, v in os.environ.items() if k not in ("TRMDIS_LIBRARY", "PYTHONPATH")}
    code = "import trmdis; m = trmdis.Model('dis-compact'); print(m.parameter_count)"
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=environment, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) > 0


@installed
def test_the_variable_still_overrides(tmp_path):
    missing = tmp_path / "libtrmdis.so"
    environment = dict(os.environ, TRMDIS_LIBRARY=str(missing))
    result = subprocess.run([sys.executable, "-c", "import trmdis"], cwd=tmp_path, env=environment,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode != 0 and str(missing) in result.stderr
