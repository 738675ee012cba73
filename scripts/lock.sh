#!/usr/bin/env bash
# Refreshes requirements.lock: the exact versions of every dependency (runtime and
# test extras) that scripts/demo.sh, scripts/test.sh and so CI install. Resolves
# pyproject.toml's ranges afresh in a throwaway venv, then freezes it. Run it when a
# dependency changes or to take updates, run the tests, and commit the lock with them.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$PY" -m venv "$tmp/venv"
"$tmp/venv/bin/pip" install --quiet --disable-pip-version-check -e '.[test]'
{
    echo "# Exact versions installed by scripts/demo.sh and scripts/test.sh (CI)."
    echo "# Made by scripts/lock.sh from pyproject.toml; refresh with: bash scripts/lock.sh"
    "$tmp/venv/bin/pip" freeze --exclude-editable --disable-pip-version-check | LC_ALL=C sort -f
} > requirements.lock
echo "requirements.lock: $(grep -c '==' requirements.lock) packages pinned"
