#!/usr/bin/env bash
# Creates .venv (once) and installs obliviate with its test tools. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
fi
# ray: the grid's Ray tests run a local instance (tests/test_grid.py).
# constraints.txt pins the CPU build of torch: any other torch pulls gigabytes of CUDA wheels.
.venv/bin/pip install --quiet -c constraints.txt -e ".[test,ray]"
