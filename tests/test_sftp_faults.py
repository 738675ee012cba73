"""SFTP faults, provoked by an in-process asyncssh server (tests/faultsftp.py): a
connection dropped mid-download or mid-upload, a refused rename, refused logins,
a server restart, a slow server, a full local disk, hostile names. In every case
a partial file is never processed or published, the remote file stays until it
has been processed, it is processed once, and secrets never show."""

from __future__ import annotations

import errno
import logging
import threading
import time
from pathlib import Path

import pytest
from conftest import write_profile
from faultsftp import PASSWORD, FaultServer
from helpers import drop, fixed_profile, fixed_rows, ledger_files, read_csv, wait_for

pytestmark = pytest.mark.timeout(120)
TMP = ".filebridge-tmp-"


@pytest.fixture
def server(tmp_path: Path):
    srv = FaultServer(tmp_path / "remote", tmp_path)
    for sub in ("inbox", "shop", "erp"):
        (srv.root / sub).mkdir()
    yield srv
    srv.shutdown()


def known_hosts(tmp_path: Path, server: FaultServer) -> Path:
    kh = tmp_path / "known_hosts"
    kh.write_text(server.known_hosts_line())
    return kh


def sftp_source(tmp_path: Path, server: FaultServer, **extra: object) -> dict:
    prof = fixed_profile(tmp_path)
    prof["source"] = server.server(known_hosts(tmp_path, server), **{
        "path": "inbox", "pattern": ["*.txt"], "ready": {"stable_for": "0s"},
        "poll_interval": "0.2s", "work": str(tmp_path / "work"), **extra})
    return prof


def to_shop(prof: dict, tmp_path: Path, server: FaultServer, **extra: object) -> dict:
    prof["destinations"] = {"shop": server.server(known_hosts(tmp_path, server),
                                                  path="shop", **extra)}
    prof["write"][0]["deliver"] = ["shop"]
    return prof


def job_for(prof: dict, tmp_path: Path):
    from filebridge.job import Job
    from filebridge.profile import load_profile

    return Job(load_profile(write_profile(tmp_path, prof)))


def run(job):
    from filebridge.runner import run_files

    return [(o.file, o.status) for o in run_files(job, [])]


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_drop_mid_download_leaves_the_file_and_the_next_poll_takes_it_once(tmp_path, server):
    data = fixed_rows(20_000)  # 840 kB: several read requests
    (server.root / "inbox" / "BIG.txt").write_bytes(data)
    server.faults.drop_read_after, server.faults.drops = 300_000, 2  # both tries of poll 1
    job = job_for(sftp_source(tmp_path, server), tmp_path)

    assert run(job) == [("BIG.txt", "failed")]
    assert server.faults.dropped == 2
    assert names(server.root / "inbox") == ["BIG.txt"]  # claim undone, content intact
    assert (server.root / "inbox" / "BIG.txt").read_bytes() == data
    assert ledger_files(tmp_path / "ledger.db") == []  # a partial file is never processed
    assert not (tmp_path / "out").exists() and names(tmp_path / "work") == []

    assert run(job) == [("BIG.txt", "done")]
    assert run(job) == []
    assert ledger_files(tmp_path / "ledger.db") == [("BIG.txt", "done")]
    assert len(read_csv(tmp_path / "out" / "BIG.csv")) == 20_000
    (archived,) = (server.root / "inbox" / "archive").iterdir()
    assert archived.read_bytes() == data


def test_drop_mid_upload_never_leaves_a_file_under_its_final_name(tmp_path, server):
    (server.root / "inbox" / "UP.txt").write_bytes(fixed_rows(20_000))
    job = job_for(to_shop(sftp_source(tmp_path, server), tmp_path, server), tmp_path)
    shop, seen, stop = server.root / "shop", [], threading.Event()

    def watch_shop() -> None:  # what the shop's importer would see, all along
        while not stop.is_set():
            for p in shop.iterdir():
                if not p.name.startswith("."):
                    try:
                        seen.append((p.name, p.stat().st_size))
                    except FileNotFoundError:
                        pass
            time.sleep(0.002)

    watcher = threading.Thread(target=watch_shop, daemon=True)
    watcher.start()
    try:
        server.faults.drop_write_after, server.faults.drops = 200_000, 2
        assert run(job) == [("UP.txt", "failed")]
        assert seen == [] and all(n.startswith(TMP) for n in names(shop))
        assert names(server.root / "inbox") == ["UP.txt"]
        assert ledger_files(tmp_path / "ledger.db") == [("UP.txt", "processing")]

        assert run(job) == [("UP.txt", "done")]
    finally:
        stop.set()
        watcher.join()
    size = (tmp_path / "out" / "UP.csv").stat().st_size
    assert names(shop) == ["UP.csv"]  # the dropped tries' temporaries are gone too
    assert (shop / "UP.csv").read_bytes() == (tmp_path / "out" / "UP.csv").read_bytes()
    assert {s for n, s in seen} == {size}, "the final name showed a partial file"
    assert ledger_files(tmp_path / "ledger.db") == [("UP.txt", "done")]


def test_refused_rename_publishes_nothing(tmp_path, server, caplog):
    caplog.set_level(logging.INFO, logger="filebridge")
    (server.root / "inbox" / "R.txt").write_bytes(fixed_rows(5))
    # claim: null, or the source could not claim the file either
    job = job_for(to_shop(sftp_source(tmp_path, server, claim=None), tmp_path, server),
                  tmp_path)
    server.faults.refuse_rename = True
    from filebridge.runner import run_files

    (outcome,) = run_files(job, [])
    assert outcome.status == "failed"
    assert "destination shop" in outcome.reason and "permission denied" in outcome.reason
    assert "try 1 of" not in caplog.text  # permanent: not retried
    assert names(server.root / "shop") == []  # no final name, no temporary either
    assert names(server.root / "inbox") == ["R.txt"]
    assert ledger_files(tmp_path / "ledger.db") == [("R.txt", "processing")]


def test_refused_login_is_retried_then_reported_without_the_secret(tmp_path, server, caplog,
                                                                  monkeypatch):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("FB_TEST_SFTP_PW", PASSWORD)
    (server.root / "inbox" / "L.txt").write_bytes(fixed_rows(5))
    prof = sftp_source(tmp_path, server, password="${FB_TEST_SFTP_PW}", key=None,
                       retry={"attempts": 3, "wait": "0.05s"})
    job = job_for(prof, tmp_path)
    server.faults.refuse_logins = 100
    from filebridge.errors import RetryableTransferError
    from filebridge.runner import run_files

    with pytest.raises(RetryableTransferError) as e:
        run_files(job, [])
    assert server.faults.logins == 3  # attempts: 3, then give up (for this poll)
    assert "login refused for user erp" in str(e.value)
    assert "${FB_TEST_SFTP_PW}" in str(e.value)  # the reference, never the value
    assert PASSWORD not in str(e.value) and PASSWORD not in caplog.text
    assert "try 2 of 3 failed" in caplog.text

    server.faults.refuse_logins = 0
    assert run(job) == [("L.txt", "done")]


def test_server_restart_between_and_during_polls(tmp_path, server, caplog):
    caplog.set_level(logging.INFO, logger="filebridge")
    (server.root / "inbox" / "S1.txt").write_bytes(fixed_rows(5))
    job = job_for(sftp_source(tmp_path, server), tmp_path)
    from filebridge.errors import RetryableTransferError

    server.stop()
    t = time.monotonic()
    with pytest.raises(RetryableTransferError, match="list inbox: cannot connect"):
        run(job)
    assert time.monotonic() - t < 5  # refused at once, not a hang
    server.start()
    assert run(job) == [("S1.txt", "done")]

    # Restarted in the middle of a download: the retry reconnects, the file is taken once.
    (server.root / "inbox" / "S2.txt").write_bytes(fixed_rows(20_000, seed=1))
    server.faults.read_delay, server.faults.reads = 0.3, 0
    restarted = threading.Event()

    def restart_mid_way() -> None:
        wait_for(lambda: server.faults.reads > 0, what="S2 being read", every=0.001)
        server.faults.read_delay = 0
        server.restart()
        restarted.set()

    thread = threading.Thread(target=restart_mid_way, daemon=True)
    thread.start()
    assert run(job) == [("S2.txt", "done")]
    thread.join(10)
    assert restarted.is_set()
    assert "download inbox/S2.txt.processing: connection lost" in caplog.text  # then retried
    assert ledger_files(tmp_path / "ledger.db") == [("S1.txt", "done"), ("S2.txt", "done")]
    assert len(read_csv(tmp_path / "out" / "S2.csv")) == 20_000


def test_full_local_disk_is_retried_and_the_remote_file_stays(tmp_path, server, monkeypatch):
    import builtins

    from filebridge.transport import sftp as transport

    data = fixed_rows(10_000)
    (server.root / "inbox" / "F.txt").write_bytes(data)
    job = job_for(sftp_source(tmp_path, server), tmp_path)
    real_open, tries = builtins.open, []

    class Full:
        def __init__(self, f):
            self.f, self.n = f, 0

        def write(self, b):
            self.n += len(b)
            if self.n > 100_000:
                raise OSError(errno.ENOSPC, "No space left on device")
            return self.f.write(b)

        def __enter__(self):
            return self

        def __exit__(self, *a):
            self.f.close()

    def full_open(path, mode="r", *a, **kw):
        f = real_open(path, mode, *a, **kw)
        if "w" in mode and "work" in str(path):
            tries.append(path)
            return Full(f)
        return f

    monkeypatch.setattr(transport, "open", full_open, raising=False)
    from filebridge.runner import run_files

    (outcome,) = run_files(job, [])
    # A full disk is not the server's trouble (issue 11 defect 5): exit code 9 at once,
    # not retries of the download; the next run takes the file.
    assert outcome.status == "disk_full" and "No space left on device" in outcome.reason
    assert len(tries) == 1
    assert names(server.root / "inbox") == ["F.txt"]
    assert ledger_files(tmp_path / "ledger.db") == []
    assert names(tmp_path / "work") == []  # the partial download is gone

    monkeypatch.undo()
    assert run(job) == [("F.txt", "done")]
    assert len(read_csv(tmp_path / "out" / "F.csv")) == 10_000


def test_hostile_names_from_the_server_cannot_escape(tmp_path, server, caplog):
    caplog.set_level(logging.WARNING, logger="filebridge")
    server.faults.extra_names = ["../../etc/x", "a/../../b.txt", "..", "/abs.txt"]
    (server.root / "inbox" / "ok.txt").write_bytes(fixed_rows(3))
    job = job_for(sftp_source(tmp_path, server), tmp_path)
    before = set(tmp_path.parent.iterdir())

    assert run(job) == [("ok.txt", "done")]
    assert set(tmp_path.parent.iterdir()) == before  # nothing written beside the test folder
    assert names(tmp_path / "out") == ["ok.csv"]
    assert "skipped the remote name '../../etc/x'" in caplog.text
    assert "skipped the remote name 'a/../../b.txt'" in caplog.text
    assert names(tmp_path / "work") == []


def test_safe_name():
    from filebridge.sources.sftp import safe_name

    assert safe_name("ART_1.txt") == "ART_1.txt"
    for bad in ("", ".", "..", "../x", "a/b", "/etc/passwd", "x\x00y"):
        assert safe_name(bad) is None, bad
    assert safe_name("a\\..\\b.txt") == "a_.._b.txt"
    assert safe_name("bell\x07\u202e.txt") == "bell__.txt"
    long = safe_name("é" * 300 + ".txt")
    assert long is not None and long.endswith(".txt") and len(long.encode()) <= 200


def test_slow_server_times_out_while_other_profiles_are_served(tmp_path, server, caplog):
    """The watcher keeps serving a local profile while an SFTP destination hangs."""
    caplog.set_level(logging.INFO, logger="filebridge")
    from filebridge.job import Job
    from filebridge.profile import load_profile
    from filebridge.watch import Watcher

    remote_root = tmp_path / "r"
    (remote_root / "inbox").mkdir(parents=True)
    prof = fixed_profile(remote_root, name="slow", stable_for="0s", poll_interval="0.2s")
    to_shop(prof, tmp_path, server, timeout="1s", retry={"attempts": 2, "wait": "0.05s"})
    slow_profile = write_profile(remote_root, prof)
    local_root = tmp_path / "l"
    (local_root / "inbox").mkdir(parents=True)
    local_profile = write_profile(local_root, fixed_profile(local_root, name="fast",
                                                            stable_for="0s"))
    server.faults.write_delay = 3.0  # every write request: longer than timeout
    drop(remote_root / "inbox" / "SLOW.txt", fixed_rows(50))

    watchers: list[Watcher] = []
    result: list[int] = []

    def serve() -> None:  # the ledger belongs to the thread that opens it
        jobs = [Job(load_profile(slow_profile)), Job(load_profile(local_profile))]
        watchers.append(Watcher(jobs))
        result.append(watchers[0].serve())

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        wait_for(lambda: "next try in" in caplog.text, timeout=30, what="the upload to fail")
        for i in range(3):  # the local profile goes on, file after file
            drop(local_root / "inbox" / f"L{i}.txt", fixed_rows(5, seed=i))
            wait_for(lambda i=i: (local_root / "out" / f"L{i}.csv").exists(), timeout=10,
                     what=f"L{i} processed while the SFTP destination hangs")
    finally:
        for w in watchers:
            w.stop()
        thread.join(30)
    assert result == [0]
    assert "slow: SLOW.txt: destination shop" in caplog.text and "timed out" in caplog.text
    assert names(server.root / "shop") == [] or all(
        n.startswith(TMP) for n in names(server.root / "shop"))
    assert ledger_files(remote_root / "ledger.db") == [("SLOW.txt", "processing")]
    assert (remote_root / "inbox" / "SLOW.txt").exists()
