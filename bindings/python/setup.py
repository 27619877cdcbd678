"""Builds libtrmdis.so from the Swift sources and puts it inside the package (a platform wheel).

The project's metadata lives in pyproject.toml; this file only adds the build step:

- In a source checkout (`pip install ./bindings/python`) the library is built from the repository's
  Package.swift, in the same scratch directory as `make lib` (.build-static), so a second build is quick.
- From an sdist, the Swift sources travel inside it under `_swift/` with a library-only manifest
  (build_support/Package.swift), so no Swift package dependency has to be fetched.
- TRMDIS_PREBUILT_LIBRARY=/path/libtrmdis.so skips the Swift build and packages that file (for packagers).

The wheel holds a native library, so it is tagged for this platform (py3-none-linux_x86_64): it calls
the C ABI through ctypes and does not depend on the Python ABI. libtrmdis.so links the Swift runtime
statically and loads the system's libopenblas.so.0 at first use (bindings/python/README.md).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sysconfig
from pathlib import Path

from setuptools import Distribution, setup
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist

try:
    from setuptools.command.bdist_wheel import bdist_wheel
except ImportError:  # setuptools < 70.1
    from wheel.bdist_wheel import bdist_wheel

HERE = Path(__file__).resolve().parent
SDIST_SWIFT = "_swift"  # the Swift sources inside an sdist
# What of the repository an sdist needs to build the library: the engine and the C boundary only.
SWIFT_PATHS = ["Include", "Sources/CBLAS", "Sources/TRMDISKernelsC", "Sources/TRMDIS", "Sources/TRMDISCAPI"]


def swift_package() -> Path:
    """The Swift package to build: the sdist's copy, else the repository this directory sits in."""
    for root in (HERE / SDIST_SWIFT, HERE.parent.parent):
        if (root / "Package.swift").is_file() and (root / "Sources" / "TRMDISCAPI").is_dir():
            return root
    raise RuntimeError("trmdis: no Swift sources found (neither an sdist's _swift/ nor a libtrmdis checkout "
                       "around bindings/python); set TRMDIS_PREBUILT_LIBRARY to a built libtrmdis.so")


def build_library() -> Path:
    prebuilt = os.environ.get("TRMDIS_PREBUILT_LIBRARY")
    if prebuilt:
        path = Path(prebuilt)
        if not path.is_file():
            raise RuntimeError(f"TRMDIS_PREBUILT_LIBRARY={prebuilt}: no such file")
        return path
    root = swift_package()
    swift = os.environ.get("SWIFT", "swift")
    if shutil.which(swift) is None:
        raise RuntimeError("trmdis: building the wheel needs the Swift toolchain (swift.org); "
                           "or set TRMDIS_PREBUILT_LIBRARY to a built libtrmdis.so")
    scratch = root / ".build-static"
    command = [swift, "build", "-c", "release", "-Xswiftc", "-static-stdlib", "--product", "TRMDISCAPI",
               "--package-path", str(root), "--scratch-path", str(scratch)]
    print("trmdis: " + " ".join(command), flush=True)
    subprocess.run(command, check=True)
    return scratch / "release" / "libTRMDISCAPI.so"


class BuildWithLibrary(build_py):
    """build_py, then libtrmdis.so into the built package."""

    def run(self) -> None:
        super().run()
        target = Path(self.build_lib) / "trmdis" / "libtrmdis.so"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(build_library(), target)
        target.chmod(0o755)


class BinaryDistribution(Distribution):
    """Holds a native library, so it is installed as platform-specific (platlib)."""

    def has_ext_modules(self) -> bool:
        return True


class PlatformWheel(bdist_wheel):
    """A wheel for this platform that works with any Python 3 (ctypes, no extension module)."""

    def get_tag(self):
        return "py3", "none", sysconfig.get_platform().replace("-", "_").replace(".", "_")


class SdistWithSwift(sdist):
    """An sdist that carries the Swift sources of the library and a manifest that builds only it."""

    def make_release_tree(self, base_dir, files) -> None:
        super().make_release_tree(base_dir, files)
        repo = HERE.parent.parent
        if not (repo / "Package.swift").is_file():
            raise RuntimeError("an sdist is made from a libtrmdis checkout")
        dest = Path(base_dir) / SDIST_SWIFT
        for rel in SWIFT_PATHS:
            shutil.copytree(repo / rel, dest / rel, ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copyfile(HERE / "build_support" / "Package.swift", dest / "Package.swift")


setup(distclass=BinaryDistribution, cmdclass={"build_py": BuildWithLibrary, "bdist_wheel": PlatformWheel, "sdist": SdistWithSwift})
