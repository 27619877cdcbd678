#!/usr/bin/env bash
# make test's Python part: builds the wheel as a user would (pip wheel ./bindings/python, which builds
# libtrmdis.so from the Swift sources), installs it into a fresh venv and runs the pytest suite against
# the installed package, from outside the source tree and without TRMDIS_LIBRARY.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=build/wheel-venv
wheels=build/wheels
rm -rf "$venv" "$wheels" bindings/python/build
scripts/make-venv.sh "$venv" >/dev/null  # a fresh venv with numpy, pytest, tqdm
"$venv/bin/python" -m pip wheel -q --no-deps -w "$wheels" ./bindings/python
wheel=$(ls "$wheels"/trmdis-*.whl)
case "$wheel" in *-py3-none-linux_*.whl) ;; *) echo "wrong wheel tag: $wheel" >&2; exit 1 ;; esac
"$venv/bin/python" -c "import sys, zipfile; sys.exit('trmdis/libtrmdis.so' not in zipfile.ZipFile(sys.argv[1]).namelist())" "$wheel" \
  || { echo "$wheel has no trmdis/libtrmdis.so" >&2; exit 1; }
"$venv/bin/python" -m pip install -q "$wheel"
echo "installed $(basename "$wheel") into $venv"
# The sdist builds on its own: it carries the engine's Swift sources and a library-only manifest.
"$venv/bin/python" -m pip install -q build
"$venv/bin/python" -m build -q --sdist -o "$wheels/sdist" ./bindings/python >/dev/null
"$venv/bin/python" -m pip wheel -q --no-deps -w "$wheels/from-sdist" "$wheels"/sdist/trmdis-*.tar.gz
"$venv/bin/python" -c "import sys, zipfile; sys.exit('trmdis/libtrmdis.so' not in zipfile.ZipFile(sys.argv[1]).namelist())" \
  "$wheels"/from-sdist/trmdis-*-py3-none-linux_*.whl || { echo "the sdist's wheel has no trmdis/libtrmdis.so" >&2; exit 1; }
echo "the sdist builds a wheel of its own: $(basename "$wheels"/from-sdist/*.whl)"
rm -rf bindings/python/build  # setuptools' build tree
cd bindings/python/tests
env -u TRMDIS_LIBRARY -u PYTHONPATH TRMDIS_TEST_INSTALLED=1 "../../../$venv/bin/python" -m pytest -q -p no:cacheprovider .
