#!/usr/bin/env bash
# The SFTP tests start a real OpenSSH sshd (/usr/sbin/sshd) on 127.0.0.1; install
# it when missing. Idempotent: does nothing but the mkdir when sshd is there.
set -euo pipefail
if [ ! -x /usr/sbin/sshd ]; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        openssh-server openssh-client
fi
# As root, sshd refuses to start without its privilege-separation directory (the
# tests make it too; this covers a manual start). Not needed as another user.
if [ "$(id -u)" -eq 0 ]; then mkdir -p /run/sshd; fi
