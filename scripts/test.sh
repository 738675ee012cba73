#!/usr/bin/env bash
# Sets up a virtualenv with filebridge and its test dependencies, runs the gates
# (scripts/check: ruff and mypy), then the whole test suite. Used as-is by CI (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
fi
.venv/bin/pip install --quiet --disable-pip-version-check -c requirements.lock -e '.[test]'
# The SFTP tests run a real OpenSSH server: install it if the machine lacks it.
bash .ci/install-sshd.sh
# The console's browser tests drive a real headless Chromium (Debian's package).
bash .ci/install-chromium.sh
# The ledger tests run a real PostgreSQL server (a temporary cluster per session).
bash .ci/install-postgres.sh
# The vendure_api tests run a real Vendure (Node 20 + npm ci, about 20 s once).
bash scripts/install-vendure.sh
# The gates first: a lint or type error fails in seconds, not after the suite.
bash scripts/check
exec .venv/bin/python -m pytest "$@"
