"""SFTP against a real OpenSSH sshd (tests/sshd.py): files still being uploaded are
not taken, host keys are checked strictly and pinned only by ``filebridge trust``,
claims survive a crash, done-files and checksum files are honoured, hostile names
cannot escape, and a profile with an SFTP source and two SFTP destinations runs
end to end through ``filebridge watch``."""

from __future__ import annotations

import base64
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import paramiko
import pytest
from conftest import write_profile
from helpers import drop, fixed_profile, fixed_rows, ledger_files, read_csv, wait_for
from sshd import Sshd, start_sshd  # the sshd fixture comes through conftest.py

pytestmark = pytest.mark.timeout(120)
TMP = ".filebridge-tmp-"


@pytest.fixture
def remote(sshd: Sshd, tmp_path: Path) -> Path:
    """This test's own folder on the server (the server's root is shared)."""
    folder = sshd.root / tmp_path.name
    for sub in ("inbox", "shop", "erp"):
        (folder / sub).mkdir(parents=True)
    return folder


def rel(sshd: Sshd, path: Path) -> str:
    """A remote path relative to the login folder."""
    return str(path.relative_to(sshd.root))


def profile(tmp_path: Path, sshd: Sshd, remote: Path, known_hosts: Path | None = None,
            **source: object) -> dict:
    known_hosts = known_hosts or pinned(tmp_path, sshd)
    prof = fixed_profile(tmp_path)
    prof["source"] = sshd.server(known_hosts, **{
        "path": rel(sshd, remote / "inbox"), "pattern": ["*.txt"],
        "ready": {"stable_for": "0s"}, "poll_interval": "0.3s",
        "work": str(tmp_path / "work"), **source})
    return prof


def pinned(tmp_path: Path, sshd: Sshd) -> Path:
    kh = tmp_path / "known_hosts"
    kh.write_text(sshd.known_hosts_line())
    return kh


def run(prof: dict, tmp_path: Path, *files: Path):
    from filebridge.job import Job
    from filebridge.profile import load_profile
    from filebridge.runner import run_files

    job = Job(load_profile(write_profile(tmp_path, prof)))
    try:
        return run_files(job, list(files))
    finally:
        job.ledger.close()


def cli(*args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.pop("FILEBRIDGE_LEDGER", None)
    return subprocess.run([sys.executable, "-m", "filebridge", *args], capture_output=True,
                          text=True, env=env, input=input, timeout=60)


def client(sshd: Sshd) -> paramiko.SFTPClient:
    """What an ERP would do: log in and upload."""
    c = paramiko.SSHClient()
    c.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    c.connect("127.0.0.1", sshd.port, username=sshd.user, key_filename=str(sshd.client_key),
              allow_agent=False, look_for_keys=False)
    return c.open_sftp()


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_missing_sshd_fails_with_a_clear_message(tmp_path):
    with pytest.raises(pytest.fail.Exception, match="install-sshd.sh"):
        start_sshd(tmp_path, binary="/nonexistent/sshd")


def test_unknown_or_changed_host_key_is_refused(tmp_path, sshd, remote):
    from filebridge.errors import PermanentTransferError

    (remote / "inbox" / "A.txt").write_bytes(fixed_rows(3))
    kh = tmp_path / "known_hosts"
    with pytest.raises(PermanentTransferError, match="no known_hosts file at .*filebridge trust"):
        run(profile(tmp_path, sshd, remote, kh), tmp_path)

    kh.write_text("[127.0.0.1]:1 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsa"
                  "bgH5C9okWi0dh2l9GKJl\n")  # another host's key only
    with pytest.raises(PermanentTransferError) as e:
        run(profile(tmp_path, sshd, remote, kh), tmp_path)
    msg = str(e.value)
    assert f"unknown host key [127.0.0.1]:{sshd.port} ssh-ed25519 SHA256:" in msg, msg
    assert "filebridge trust" in msg

    other = paramiko.Ed25519Key.from_private_key_file(str(sshd.client_key))  # not the host's
    kh.write_text(f"[127.0.0.1]:{sshd.port} ssh-ed25519 {other.get_base64()}\n")
    with pytest.raises(PermanentTransferError) as e:
        run(profile(tmp_path, sshd, remote, kh), tmp_path)
    msg = str(e.value)
    assert "HOST KEY CHANGED" in msg and other.fingerprint in msg and "may be an attack" in msg
    assert "--replace" in msg

    # On the command line: exit code 6, the same message, and nothing was touched.
    prof = write_profile(tmp_path, profile(tmp_path, sshd, remote, kh))
    done = cli("run", str(prof))
    assert done.returncode == 6, done.stderr
    assert "HOST KEY CHANGED" in done.stderr and "Traceback" not in done.stderr
    assert names(remote / "inbox") == ["A.txt"]
    assert ledger_files(tmp_path / "ledger.db") == []


def test_trust_shows_the_key_and_pins_it(tmp_path, sshd, remote):
    (remote / "inbox" / "A.txt").write_bytes(fixed_rows(3))
    kh = tmp_path / "keys" / "known_hosts"
    prof = profile(tmp_path, sshd, remote, kh)
    prof["destinations"] = {"shop": sshd.server(kh, path=rel(sshd, remote / "shop"))}
    path = write_profile(tmp_path, prof)
    kind, blob = sshd.host_key_pub.split()
    fingerprint = paramiko.PKey.from_type_string(kind, base64.b64decode(blob)).fingerprint

    declined = cli("trust", str(path), input="n\n")
    assert declined.returncode == 2
    assert f"[127.0.0.1]:{sshd.port} ssh-ed25519 {fingerprint}" in declined.stdout
    assert not kh.exists()

    trusted = cli("trust", str(path), "--yes")
    assert trusted.returncode == 0, trusted.stderr
    assert kh.read_text() == sshd.known_hosts_line()  # [127.0.0.1]:PORT ssh-ed25519 AAAA…
    assert "source, destination shop: pinned" in trusted.stdout  # one server, asked once
    assert cli("run", str(path)).returncode == 0
    assert names(remote / "inbox") == ["archive"]

    # A pinned key the server no longer shows: refused unless --replace.
    other = paramiko.Ed25519Key.from_private_key_file(str(sshd.client_key))
    kh.write_text(f"[127.0.0.1]:{sshd.port} ssh-ed25519 {other.get_base64()}\n")
    refused = cli("trust", str(path), "--yes")
    assert refused.returncode == 2 and "WARNING" in refused.stderr and "--replace" in refused.stderr
    assert other.get_base64() in kh.read_text()
    assert cli("trust", str(path), "--yes", "--replace").returncode == 0
    assert kh.read_text() == sshd.known_hosts_line()


def test_claim_left_by_a_crash_is_taken_first_and_once(tmp_path, sshd, remote):
    inbox = remote / "inbox"
    (inbox / "B.txt").write_bytes(fixed_rows(4, seed=2))
    time.sleep(1.1)  # SFTP mtimes are whole seconds
    (inbox / "A.txt").write_bytes(fixed_rows(3, seed=1))
    (inbox / "C.txt.processing").write_bytes(fixed_rows(5, seed=3))  # claimed, then a crash
    outcomes = run(profile(tmp_path, sshd, remote), tmp_path)
    assert [(o.file, o.status) for o in outcomes] == [("C.txt", "done"), ("B.txt", "done"),
                                                      ("A.txt", "done")]
    assert names(inbox) == ["archive"]
    assert len(names(inbox / "archive")) == 3
    assert [r["sku"] for r in read_csv(tmp_path / "out" / "C.csv")] \
        == [f"A3{i:06d}"[:8] for i in range(1, 6)]
    assert run(profile(tmp_path, sshd, remote), tmp_path) == []


def test_done_file_and_checksum_file(tmp_path, sshd, remote):
    import hashlib

    inbox = remote / "inbox"
    good, bad = fixed_rows(6), fixed_rows(7, seed=1)
    prof = profile(tmp_path, sshd, remote, ready={
        "stable_for": "0s", "done_file": "{name}.ok",
        "checksum": {"file": "{name}.sha256", "algorithm": "sha256"}})
    (inbox / "G.txt").write_bytes(good)
    (inbox / "X.txt").write_bytes(bad)
    assert run(prof, tmp_path) == []  # neither done-file nor checksum yet
    (inbox / "G.txt.ok").write_bytes(b"")
    (inbox / "X.txt.ok").write_bytes(b"")
    assert run(prof, tmp_path) == []  # checksums missing
    (inbox / "G.txt.sha256").write_text(hashlib.sha256(good).hexdigest() + "  G.txt\n")
    (inbox / "X.txt.sha256").write_text(hashlib.sha256(good).hexdigest() + "  X.txt\n")
    outcomes = {o.file: o for o in run(prof, tmp_path)}
    assert outcomes["G.txt"].status == "done"
    assert outcomes["X.txt"].status == "rejected"
    assert "checksum mismatch" in outcomes["X.txt"].reason
    assert names(inbox) == ["archive", "errors"]  # markers removed with their files
    (report,) = [p for p in (inbox / "errors").iterdir() if p.name.endswith(".error.txt")]
    assert "checksum mismatch" in report.read_text()
    assert (inbox / "errors" / report.name.removesuffix(".error.txt")).read_bytes() == bad
    ack = read_csv(tmp_path / "feedback" / "X.ack.csv", ";")[0]
    assert ack["status"] == "rejected" and "checksum" in ack["reason"]


def test_after_delete_and_claim_folder(tmp_path, sshd, remote):
    inbox = remote / "inbox"
    (inbox / "D.txt").write_bytes(fixed_rows(2))
    prof = profile(tmp_path, sshd, remote, after="delete", claim={"folder": "../claimed"})
    (outcome,) = run(prof, tmp_path)
    assert outcome.status == "done" and str(outcome.moved_to).endswith("(deleted)")
    assert names(inbox) == [] and names(remote / "claimed") == []


def test_odd_remote_names_land_under_safe_local_names(tmp_path, sshd, remote):
    inbox = remote / "inbox"
    odd = ["x\\..\\..\\evil.txt", "esc\x1b[2Jname.txt", "rtl\u202egpj.txt"]
    for i, name in enumerate(odd):
        (inbox / name).write_bytes(fixed_rows(2, seed=i))
    outcomes = run(profile(tmp_path, sshd, remote), tmp_path)
    assert sorted(o.file for o in outcomes) == sorted(
        ["x_.._.._evil.txt", "esc_[2Jname.txt", "rtl_gpj.txt"])
    assert all(o.status == "done" for o in outcomes)
    assert sorted(names(tmp_path / "out")) == ["esc_[2Jname.csv", "rtl_gpj.csv",
                                               "x_.._.._evil.csv"]
    assert names(tmp_path / "work") == []  # downloads in progress are cleaned up
    assert names(inbox) == ["archive"]


def test_watch_once_takes_what_is_ready(tmp_path, sshd, remote):
    (remote / "inbox" / "W.txt").write_bytes(fixed_rows(4))
    path = write_profile(tmp_path, profile(tmp_path, sshd, remote, ready={"stable_for": "0.5s"}))
    done = cli("watch", "--once", str(path))
    assert done.returncode == 0, done.stderr
    assert ledger_files(tmp_path / "ledger.db") == [("W.txt", "done")]
    assert names(remote / "inbox") == ["archive"]


def test_file_still_uploading_is_not_taken_before_complete(tmp_path, sshd, remote):
    prof = profile(tmp_path, sshd, remote, ready={"stable_for": "1s"})
    w = Watch(write_profile(tmp_path, prof), tmp_path / "watch.log")
    try:
        w.wait_started()
        data = fixed_rows(3000)
        step = len(data) // 10 + 1
        sftp = client(sshd)
        target = f"{rel(sshd, remote / 'inbox')}/ART_slow.txt"
        with sftp.open(target, "wb") as f:  # ~3 s of uploading, pauses < stable_for
            for i in range(0, len(data), step):
                f.write(data[i:i + step])
                f.flush()
                time.sleep(0.3)
                assert ledger_files(tmp_path / "ledger.db") == [], "taken half-uploaded"
                assert not (tmp_path / "out" / "ART_slow.csv").exists()
        complete = time.time()
        sftp.close()
        wait_for(lambda: names(remote / "inbox" / "archive"), what="ART_slow.txt archived")
        assert len(read_csv(tmp_path / "out" / "ART_slow.csv")) == 3000
        assert ledger_files(tmp_path / "ledger.db") == [("ART_slow.txt", "done")]
        (claimed,) = sqlite3.connect(tmp_path / "ledger.db").execute(
            "SELECT claimed FROM files").fetchone()
        assert claimed >= complete, "claimed before the last byte arrived"
        (archived,) = (remote / "inbox" / "archive").iterdir()
        assert archived.read_bytes() == data
        w.alive()
    finally:
        w.stop()


def test_watch_sftp_source_to_two_sftp_destinations(tmp_path, sshd, remote):
    kh = pinned(tmp_path, sshd)
    prof = profile(tmp_path, sshd, remote, kh, ready={"stable_for": "0.5s"})
    prof["destinations"] = {
        "shop": sshd.server(kh, path=rel(sshd, remote / "shop")),
        "erp": sshd.server(kh, path=rel(sshd, remote / "erp")),
        "share": {"kind": "local", "path": str(tmp_path / "share")},  # e.g. a mounted SMB share
    }
    prof["write"][0].update(deliver=["shop"], done_file="{name}.ok")
    prof["feedback"]["ack"]["deliver"] = ["erp", "share"]
    prof["feedback"]["rejects"]["deliver"] = ["erp"]
    local = tmp_path / "local"  # a local profile in the same watcher, alongside
    (local / "inbox").mkdir(parents=True)
    local_prof = write_profile(local, fixed_profile(local, name="loc", stable_for="0.2s"))
    w = Watch(write_profile(tmp_path, prof), tmp_path / "watch.log", local_prof)
    try:
        w.wait_started()
        drop(local / "inbox" / "LOC.txt", fixed_rows(3))
        sftp = client(sshd)
        inbox = rel(sshd, remote / "inbox")
        first, second = fixed_rows(40, {5: "QTY"}), fixed_rows(25, seed=1)
        for name, data in (("ART_1.txt", first), ("ART_2.txt", second)):
            with sftp.open(f"{inbox}/.{name}.part", "wb") as f:  # the usual upload-then-rename
                f.write(data)
            sftp.rename(f"{inbox}/.{name}.part", f"{inbox}/{name}")
        sftp.close()
        wait_for(lambda: len(names(remote / "inbox" / "archive")) == 2, timeout=60,
                 what="both files archived on the server")
        wait_for(lambda: len(names(remote / "erp")) == 3, what="feedback delivered")
        assert names(remote / "shop") == ["ART_1.csv", "ART_1.csv.ok", "ART_2.csv",
                                          "ART_2.csv.ok"]
        assert names(remote / "erp") == ["ART_1.ack.csv", "ART_1.rejects.csv", "ART_2.ack.csv"]
        for name in ("ART_1.csv", "ART_2.csv"):
            assert (remote / "shop" / name).read_bytes() == \
                (tmp_path / "out" / name).read_bytes()
        assert len(read_csv(remote / "shop" / "ART_1.csv")) == 39
        ack = read_csv(remote / "erp" / "ART_1.ack.csv", ";")[0]
        assert (ack["status"], ack["read"], ack["sent"], ack["rejected"]) == ("done", "40",
                                                                              "39", "1")
        assert [r["line"] for r in read_csv(remote / "erp" / "ART_1.rejects.csv", ";")] == ["5"]
        assert names(remote / "inbox") == ["archive"]
        assert not [p for p in remote.rglob(TMP + "*")], "temporaries left on the server"
        assert names(tmp_path / "share") == ["ART_1.ack.csv", "ART_2.ack.csv"]
        assert (tmp_path / "share" / "ART_2.ack.csv").read_bytes() == \
            (remote / "erp" / "ART_2.ack.csv").read_bytes()
        assert sorted(ledger_files(tmp_path / "ledger.db")) == [("ART_1.txt", "done"),
                                                                ("ART_2.txt", "done")]
        wait_for(lambda: ledger_files(local / "ledger.db") == [("LOC.txt", "done")],
                 what="the local profile's file")
        w.alive()
    finally:
        w.stop()
    assert w.proc.returncode == 0, w.text()


class Watch:
    """``filebridge watch`` as a real subprocess, its log in a file."""

    def __init__(self, profile: Path, log: Path, *more: Path):
        self.log = log
        env = dict(os.environ)
        env.pop("FILEBRIDGE_LEDGER", None)
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "filebridge", "watch", str(profile), *map(str, more)],
                cwd=profile.parent, stdout=out, stderr=subprocess.STDOUT, env=env)

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def wait_started(self) -> None:
        wait_for(lambda: "checking its source" in self.text() or self.proc.poll() is not None,
                 timeout=30, what="the watcher to start")
        self.alive()

    def alive(self) -> None:
        assert self.proc.poll() is None, f"watcher exited:\n{self.text()}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
