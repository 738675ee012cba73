"""A real OpenSSH ``sshd`` for the SFTP tests: 127.0.0.1, a free port, generated
host and client keys, its own config (``Subsystem sftp internal-sftp``), started
as ``/usr/sbin/sshd -D -e -f CONFIG``. Session-scoped: one server for the run.

tests/conftest.py imports the fixture, so every test module can ask for ``sshd``.
If sshd is not installed the fixture fails (it does not skip): CI installs it
with .ci/install-sshd.sh.
"""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

SSHD = "/usr/sbin/sshd"


@dataclass
class Sshd:
    port: int
    root: Path           # the SFTP login folder; relative remote paths start here
    user: str
    client_key: Path     # private key file the server accepts
    host_key_pub: str    # "ssh-ed25519 AAAA…"
    folder: Path         # config, keys and log
    proc: subprocess.Popen[bytes]

    @property
    def host_id(self) -> str:
        return f"[127.0.0.1]:{self.port}"

    def known_hosts_line(self) -> str:
        return f"{self.host_id} {self.host_key_pub}\n"

    def log(self) -> str:
        return (self.folder / "sshd.log").read_text(errors="replace")

    def server(self, known_hosts: Path, **extra: object) -> dict[str, object]:
        """The connection part of a profile's sftp source or destination."""
        return {"kind": "sftp", "host": "127.0.0.1", "port": self.port, "user": self.user,
                "key": f"file:{self.client_key}", "known_hosts": str(known_hosts),
                "connect_timeout": "10s", "timeout": "20s",
                "retry": {"attempts": 2, "wait": "0.1s"}, **extra}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _keygen(path: Path) -> str:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "", "-f", str(path)],
                   check=True)
    return " ".join(path.with_suffix(".pub").read_text().split()[:2])


def start_sshd(folder: Path, binary: str = SSHD) -> Sshd:
    if not os.path.isfile(binary):
        pytest.fail(f"{binary} not found: the SFTP tests need OpenSSH's server. Install it "
                    "with: bash .ci/install-sshd.sh (apt-get install openssh-server)",
                    pytrace=False)
    if shutil.which("ssh-keygen") is None:
        pytest.fail("ssh-keygen not found: install openssh-client", pytrace=False)
    if os.geteuid() == 0:
        os.makedirs("/run/sshd", exist_ok=True)  # privilege separation directory
    root = folder / "root"
    root.mkdir(parents=True)
    host_pub = _keygen(folder / "host_ed25519")
    client_pub = _keygen(folder / "client_ed25519")
    (folder / "authorized_keys").write_text(client_pub + "\n")
    user = getpass.getuser()
    for _ in range(5):  # the port is free when picked; another process may take it
        port = _free_port()
        config = folder / "sshd_config"
        config.write_text(f"""\
Port {port}
ListenAddress 127.0.0.1
HostKey {folder / "host_ed25519"}
PidFile none
AuthorizedKeysFile {folder / "authorized_keys"}
StrictModes no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
PermitRootLogin prohibit-password
AllowUsers {user}
MaxStartups 200
MaxSessions 50
LogLevel VERBOSE
Subsystem sftp internal-sftp -d {root}
""")
        log = open(folder / "sshd.log", "wb")
        proc = subprocess.Popen([binary, "-D", "-e", "-f", str(config)], stdout=log,
                                stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and proc.poll() is None:
            if f"listening on 127.0.0.1 port {port}" in (folder / "sshd.log").read_text():
                return Sshd(port, root, user, folder / "client_ed25519", host_pub, folder,
                            proc)
            time.sleep(0.05)
        text = (folder / "sshd.log").read_text(errors="replace")
        proc.kill()
        proc.wait()
        if "Address already in use" not in text:
            pytest.fail(f"sshd did not start:\n{text}", pytrace=False)
    pytest.fail("sshd: no free port after 5 tries", pytrace=False)


@pytest.fixture(scope="session")
def sshd(tmp_path_factory: pytest.TempPathFactory):
    server = start_sshd(tmp_path_factory.mktemp("sshd"))
    yield server
    server.proc.terminate()
    try:
        server.proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.proc.kill()
        server.proc.wait()
