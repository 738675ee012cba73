#!/usr/bin/env python3
"""Download one large file from a local OpenSSH sshd: filebridge's SFTP code
(paramiko, capped prefetch) beside OpenSSH's own client (``sftp -b``).

Starts its own sshd on 127.0.0.1 exactly as the tests do (tests/sshd.py), writes
a file of random bytes into its folder, then alternates the two clients for a
few rounds. Each timing covers connect, log in, transfer and the local write,
and each download is checked byte for byte. Prints both throughputs (MB/s) and
the ratio; the target is filebridge >= 0.5 x OpenSSH.

    .venv/bin/python bench/sftp_download.py            # 100 MB, 5 rounds
    .venv/bin/python bench/sftp_download.py --mb 500 --rounds 3
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
sys.path.insert(0, str(HERE.parent))

from sshd import start_sshd  # noqa: E402  (the tests' sshd: one config, not two)

from filebridge.transport.options import SftpServer  # noqa: E402
from filebridge.transport.sftp import Session  # noqa: E402


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def openssh(server, known_hosts: Path, name: str, dest: Path) -> float:
    batch = dest.with_suffix(".batch")
    batch.write_text(f"get {name} {dest}\n")
    t = time.perf_counter()
    subprocess.run(["sftp", "-q", "-b", str(batch), "-i", str(server.client_key),
                    "-o", f"UserKnownHostsFile={known_hosts}", "-o", "StrictHostKeyChecking=yes",
                    "-o", "BatchMode=yes", "-P", str(server.port), f"{server.user}@127.0.0.1"],
                   check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t


def filebridge(server, known_hosts: Path, name: str, dest: Path) -> float:
    opts = SftpServer(host="127.0.0.1", port=server.port, user=server.user,
                      key=f"file:{server.client_key}", known_hosts=known_hosts)
    t = time.perf_counter()
    session = Session(opts)
    try:
        session.download(name, dest)
    finally:
        session.close()
    return time.perf_counter() - t


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mb", type=int, default=100, help="file size in MB (10^6 bytes)")
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="fb-sftp-bench-"))
    server = start_sshd(work / "sshd")
    try:
        known_hosts = work / "known_hosts"
        known_hosts.write_text(server.known_hosts_line())
        src = server.root / "big.bin"
        with open(src, "wb") as f:
            for _ in range(args.mb):
                f.write(os.urandom(1_000_000))
        size, want = src.stat().st_size, sha256(src)
        times: dict[str, list[float]] = {"OpenSSH sftp -b": [], "filebridge": []}
        for r in range(args.rounds):
            # Alternate who goes first: the page cache and the machine's load are shared.
            order = [("OpenSSH sftp -b", openssh), ("filebridge", filebridge)]
            for label, fn in order if r % 2 == 0 else order[::-1]:
                dest = work / f"got-{label.split()[0]}.bin"
                times[label].append(fn(server, known_hosts, "big.bin", dest))
                assert dest.stat().st_size == size and sha256(dest) == want, label
                dest.unlink()
        print(f"download of {size / 1e6:.0f} MB from a local sshd, {args.rounds} rounds "
              "(connect + log in + transfer + local write)")
        rate = {k: [size / 1e6 / t for t in v] for k, v in times.items()}
        for label, r in rate.items():
            print(f"  {label:16s} best {max(r):7.1f} MB/s   median {statistics.median(r):7.1f}"
                  f" MB/s")
        ssh, fb = rate["OpenSSH sftp -b"], rate["filebridge"]
        print(f"  ratio filebridge / OpenSSH: best {max(fb) / max(ssh):.2f}, median "
              f"{statistics.median(fb) / statistics.median(ssh):.2f} (target >= 0.5)")
    finally:
        server.proc.terminate()
        server.proc.wait()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
