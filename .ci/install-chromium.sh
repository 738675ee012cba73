#!/usr/bin/env bash
# The console tests (tests/test_console_browser.py) drive Debian's chromium with
# Playwright's Python client (no browser download: there may be no internet for it).
# Install it when missing. Idempotent.
set -euo pipefail
if [ ! -x /usr/bin/chromium ]; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        chromium
fi
