#!/usr/bin/env bash
# Creates .venv-experiment with what scripts/experiment.py needs to draw its figures (numpy, matplotlib).
# Kept apart from .venv so `make test` never needs matplotlib.
set -euo pipefail
venv=${1:-.venv-experiment}
if [ ! -x "$venv/bin/python" ]; then
  if ! python3 -m venv "$venv" 2>/dev/null; then
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq python3-venv
    python3 -m venv "$venv"
  fi
fi
"$venv/bin/python" -c "import matplotlib, numpy" 2>/dev/null && exit 0
"$venv/bin/python" -m pip install -q --upgrade pip >/dev/null
"$venv/bin/python" -m pip install -q numpy matplotlib
