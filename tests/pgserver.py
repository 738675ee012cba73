"""A real PostgreSQL server for the ledger tests: Debian's ``postgresql`` binaries
(/usr/lib/postgresql/*/bin), a temporary cluster made with ``initdb`` and started with
``pg_ctl`` on 127.0.0.1 and a free port, once per test session.

PostgreSQL refuses to run as root, and CI runs as root: the cluster then belongs to the
``postgres`` user the Debian package makes (or ``filebridge-pg``, made here), and its
commands run through ``runuser -u``. Logins over TCP need a password (scram-sha-256),
so the tests see a password reach the server the way a profile gives it.

``ledger_url`` (tests/conftest.py) gives each test a fresh database. If the binaries
are missing the fixture fails, it does not skip: CI installs them with
.ci/install-postgres.sh.
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

USER = "fb"  # the role the ledger logs in as


@dataclass
class PgServer:
    port: int
    password: str
    folder: Path
    bindir: Path
    run_as: str | None
    made: int = field(default=0)

    def url(self, db: str) -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{db}"

    def admin(self) -> object:
        import psycopg

        return psycopg.connect(self.url("postgres"), password=self.password, autocommit=True)

    def new_database(self) -> str:
        self.made += 1
        name = f"t{os.getpid()}_{self.made}"
        with self.admin() as con:  # type: ignore[attr-defined]
            con.execute(f"CREATE DATABASE {name}")
        return name

    def log(self) -> str:
        p = self.folder / "server.log"
        return p.read_text(errors="replace") if p.exists() else ""


def bindir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parent.parent.name.split(".")[0]))
    if not found:
        pytest.fail("PostgreSQL's initdb not found under /usr/lib/postgresql/*/bin: the "
                    "ledger tests need a real server. Install it with: bash "
                    ".ci/install-postgres.sh (apt-get install postgresql)", pytrace=False)
    return Path(found[-1]).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _server_user() -> str | None:
    """Who runs the server: nobody else unless we are root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "filebridge-pg"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            pass
    subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                    "filebridge-pg"], check=True)
    return "filebridge-pg"


def _run(cmd: list[str], run_as: str | None, **kw: object) -> subprocess.CompletedProcess[str]:
    if run_as is not None:
        cmd = ["runuser", "-u", run_as, "--", *cmd]
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)  # type: ignore[call-overload]


def start() -> PgServer:
    bins = bindir()
    run_as = _server_user()
    folder = Path(tempfile.mkdtemp(prefix="fb-pg-"))
    data = folder / "data"
    pwfile = folder / "pw"
    password = secrets.token_urlsafe(16)
    pwfile.write_text(password + "\n")
    if run_as is not None:
        entry = pwd.getpwnam(run_as)
        os.chown(folder, entry.pw_uid, entry.pw_gid)
        os.chown(pwfile, entry.pw_uid, entry.pw_gid)
    os.chmod(folder, 0o700)
    try:
        _run([str(bins / "initdb"), "-D", str(data), "-U", USER, "--pwfile", str(pwfile),
              "--auth-host=scram-sha-256", "--auth-local=peer", "-E", "UTF8",
              "--locale=C.UTF-8", "--no-sync"], run_as)
    except subprocess.CalledProcessError as e:
        pytest.fail(f"initdb failed: {e.stderr}", pytrace=False)
    port = _free_port()
    opts = (f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={folder} "
            "-c fsync=off -c full_page_writes=off -c max_connections=200")
    try:
        _run([str(bins / "pg_ctl"), "-D", str(data), "-l", str(folder / "server.log"),
              "-o", opts, "-w", "-t", "60", "start"], run_as)
    except subprocess.CalledProcessError as e:
        log = (folder / "server.log").read_text(errors="replace") \
            if (folder / "server.log").exists() else ""
        pytest.fail(f"pg_ctl start failed: {e.stderr}\n{log}", pytrace=False)
    return PgServer(port, password, folder, bins, run_as)


def stop(server: PgServer) -> None:
    try:
        _run([str(server.bindir / "pg_ctl"), "-D", str(server.folder / "data"), "-m", "fast",
              "-w", "stop"], server.run_as)
    finally:
        shutil.rmtree(server.folder, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    server = start()
    try:
        yield server
    finally:
        stop(server)


PASSWORD_ENV = "FB_TEST_PG_PASSWORD"


@pytest.fixture
def ledger_url(pg_server: PgServer, monkeypatch: pytest.MonkeyPatch) -> str:
    """``postgresql://fb@127.0.0.1:PORT/DB`` of a fresh database; the password is in
    $FB_TEST_PG_PASSWORD (a profile says ``ledger_password: ${FB_TEST_PG_PASSWORD}``),
    not in libpq's PGPASSWORD: a test passes only if the password is given on purpose."""
    monkeypatch.setenv(PASSWORD_ENV, pg_server.password)
    monkeypatch.delenv("PGPASSWORD", raising=False)
    return pg_server.url(pg_server.new_database())
