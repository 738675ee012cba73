#!/usr/bin/env bash
# Sets up a virtualenv with filebridge, then runs every bundled sample profile on
# its sample file in a fresh working folder (./demo by default).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
fi
.venv/bin/pip install --quiet --disable-pip-version-check -c requirements.lock -e .
exec .venv/bin/filebridge demo "${1:-demo}"
