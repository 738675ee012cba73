#!/usr/bin/env bash
# The ledger tests start a real PostgreSQL server (a temporary cluster made with initdb,
# tests/pgserver.py): install Debian's server binaries when missing. Idempotent.
set -euo pipefail
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        postgresql
fi
