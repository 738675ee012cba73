#!/usr/bin/env bash
# Install the real Vendure the vendure_api tests run (tests/shops/vendure).
# Idempotent: runs `npm ci` only when node_modules is missing or older than the
# lock file. Needs Node 20 and npm.
set -euo pipefail
dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/../tests/shops/vendure" && pwd)"
stamp="$dir/node_modules/.package-lock.json"
if [[ -f "$stamp" && ! "$dir/package-lock.json" -nt "$stamp" \
      && -d "$dir/node_modules/@vendure/core" && -d "$dir/node_modules/sql.js" ]]; then
    exit 0
fi
echo "install-vendure: npm ci in $dir" >&2
cd "$dir"
npm ci --no-audit --no-fund --loglevel=error
