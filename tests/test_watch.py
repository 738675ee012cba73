"""``filebridge watch`` as a real subprocess on real folders: files are picked up
once and only when complete, duplicates are skipped, bad rows and bad files are
reported without stopping the flow, a SIGKILL mid-file loses nothing, SIGTERM
stops cleanly, and the polling observer works too."""

from __future__ import annotations

import logging
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import write_profile
from helpers import drop, fixed_profile, fixed_record, fixed_rows, ledger_files, read_csv, wait_for

pytestmark = pytest.mark.timeout(90)

TMP = ".filebridge-tmp-"
BIG_ROWS = 400_000
BIG_BAD = {7: "QTY", 20_000: "sku", 399_990: "PRICE"}


@pytest.fixture(scope="module")
def big_file() -> bytes:
    return fixed_rows(BIG_ROWS, BIG_BAD)


class Watch:
    """One ``filebridge watch`` process, its log in a file (a pipe could fill up)."""

    def __init__(self, profile: Path, log: Path, *args: str):
        self.log = log
        env = dict(os.environ)
        env.pop("FILEBRIDGE_LEDGER", None)
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "filebridge", "watch", str(profile), *args],
                cwd=profile.parent, stdout=out, stderr=subprocess.STDOUT, env=env)

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def wait_watching(self) -> None:
        wait_for(lambda: "watching" in self.text() or self.proc.poll() is not None,
                 timeout=30, what="the watcher to start")
        assert self.proc.poll() is None, self.text()

    def alive(self) -> None:
        assert self.proc.poll() is None, f"watcher exited:\n{self.text()}"


@pytest.fixture
def watch(tmp_path: Path):
    started: list[Watch] = []

    def start(root: Path, *args: str, **profile_options: object) -> Watch:
        (root / "inbox").mkdir(parents=True, exist_ok=True)
        prof = write_profile(root, fixed_profile(root, **profile_options))  # type: ignore
        w = Watch(prof, root / f"watch-{len(started)}.log", *args)
        started.append(w)
        return w

    yield start
    for w in started:
        if w.proc.poll() is None:
            w.proc.kill()
        w.proc.wait(timeout=10)


def archived(root: Path, name: str) -> list[Path]:
    stem, suffix = os.path.splitext(name)
    return sorted((root / "archive").glob(f"{stem}.*{suffix}"))


def no_temporaries(root: Path) -> None:
    leftovers = list(root.rglob(TMP + "*"))
    assert not leftovers, leftovers


def test_slow_copy_is_processed_once_when_complete(tmp_path, watch):
    w = watch(tmp_path)
    w.wait_watching()
    data = fixed_rows(3000)
    target = tmp_path / "inbox" / "ART_slow.txt"
    chunks = [data[i:i + len(data) // 10 + 1] for i in range(0, len(data), len(data) // 10 + 1)]
    with open(target, "wb") as f:  # ~3 s of writing, pauses shorter than stable_for
        for chunk in chunks:
            f.write(chunk)
            f.flush()
            time.sleep(0.3)
            assert not (tmp_path / "out" / "ART_slow.csv").exists(), "picked up half-written"
            assert ledger_files(tmp_path / "ledger.db") == []
    complete = time.time()
    wait_for(lambda: archived(tmp_path, "ART_slow.txt"), what="ART_slow.txt archived")
    rows = read_csv(tmp_path / "out" / "ART_slow.csv")
    assert len(rows) == 3000
    assert rows[0] == {"sku": "A0000001", "title": "Tè verde", "price": "1.01", "stock": "1"}
    assert rows[-1]["sku"] == "A0003000"
    assert ledger_files(tmp_path / "ledger.db") == [("ART_slow.txt", "done")]
    db = sqlite3.connect(tmp_path / "ledger.db")
    (claimed,) = db.execute("SELECT claimed FROM files").fetchone()
    assert claimed >= complete, "claimed before the last byte was written"
    assert archived(tmp_path, "ART_slow.txt")[0].read_bytes() == data
    assert not list((tmp_path / "inbox").iterdir())
    w.alive()


def test_duplicate_content_is_skipped_but_same_name_new_content_is_processed(tmp_path, watch):
    w = watch(tmp_path)
    db = tmp_path / "ledger.db"
    first = fixed_rows(50)
    drop(tmp_path / "inbox" / "ART_1.txt", first)
    wait_for(lambda: ledger_files(db) == [("ART_1.txt", "done")] and
             archived(tmp_path, "ART_1.txt"), what="ART_1 done")

    drop(tmp_path / "inbox" / "ART_2.txt", first)  # same content, new name
    wait_for(lambda: len(ledger_files(db)) == 2 and archived(tmp_path, "ART_2.txt"),
             what="ART_2 handled")
    assert ledger_files(db)[1] == ("ART_2.txt", "duplicate")
    assert not (tmp_path / "out" / "ART_2.csv").exists()
    assert not (tmp_path / "feedback" / "ART_2.ack.csv").exists()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["ART_1.csv"]

    second = fixed_rows(70, seed=1)  # same name, new content
    drop(tmp_path / "inbox" / "ART_1.txt", second)
    wait_for(lambda: len(ledger_files(db)) == 3 and len(archived(tmp_path, "ART_1.txt")) == 2,
             what="ART_1 (new content) done")
    assert ledger_files(db)[2] == ("ART_1.txt", "done")
    rows = read_csv(tmp_path / "out" / "ART_1.csv")
    assert len(rows) == 70 and rows[0]["sku"] == "A1000001"
    assert not list((tmp_path / "inbox").iterdir())
    w.alive()


def test_bad_rows_are_rejected_with_line_and_field(tmp_path, watch):
    w = watch(tmp_path)
    drop(tmp_path / "inbox" / "ART_bad.txt", fixed_rows(20, {3: "QTY", 8: "sku", 15: "PRICE"}))
    wait_for(lambda: archived(tmp_path, "ART_bad.txt"), what="ART_bad archived")
    rows = read_csv(tmp_path / "out" / "ART_bad.csv")
    expected = [f"A0{i:06d}" for i in range(1, 21) if i not in (3, 8, 15)]
    assert [r["sku"] for r in rows] == expected
    rejects = read_csv(tmp_path / "feedback" / "ART_bad.rejects.csv", ";")
    assert [(r["line"], r["field"]) for r in rejects] == [("3", "QTY"), ("8", "sku"),
                                                          ("15", "PRICE")]
    assert all(r["reason"] for r in rejects)
    ack = read_csv(tmp_path / "feedback" / "ART_bad.ack.csv", ";")[0]
    assert (ack["status"], ack["read"], ack["sent"], ack["rejected"]) == ("done", "20", "17",
                                                                          "3")
    assert ledger_files(tmp_path / "ledger.db") == [("ART_bad.txt", "done")]
    w.alive()


def _quarantined(errors: Path, name: str) -> list[Path]:
    """The error reports of ``name`` whose file has been moved beside them."""
    return [r for r in sorted(errors.glob(f"{name}.*.txt.error.txt"))
            if r.with_name(r.name.removesuffix(".error.txt")).exists()]


def test_bad_files_go_to_errors_and_the_watcher_goes_on(tmp_path, watch):
    w = watch(tmp_path)
    inbox, errors = tmp_path / "inbox", tmp_path / "errors"
    drop(inbox / "empty.txt", b"")
    drop(inbox / "junk.txt", bytes(range(256)) * 64)
    for name, reason in (("empty", "empty"), ("junk", "binary")):
        # The report is written before the file is moved beside it (so a crash between
        # the two leaves the reason): wait for both.
        report = wait_for(lambda: _quarantined(errors, name),  # noqa: B023  (wait_for calls it within this iteration)
                          what=f"{name}.txt quarantined")[0]
        text = report.read_text(encoding="utf-8")
        assert "status: rejected" in text and reason in text, text
    w.alive()
    drop(inbox / "ART_ok.txt", fixed_rows(10))
    wait_for(lambda: archived(tmp_path, "ART_ok.txt"), what="the good file after bad ones")
    assert len(read_csv(tmp_path / "out" / "ART_ok.csv")) == 10
    assert sorted(ledger_files(tmp_path / "ledger.db")) == [
        ("ART_ok.txt", "done"), ("empty.txt", "rejected"), ("junk.txt", "rejected")]
    assert not list(inbox.iterdir())
    w.alive()


def test_sigkill_mid_file_then_restart_gives_the_same_outputs(tmp_path, watch, big_file):
    # The reference: the same file, uninterrupted, in a folder of its own.
    ref = tmp_path / "ref"
    drop(ref / "inbox" / "BIG.txt", big_file)
    once = watch(ref, "--once")
    assert once.proc.wait(timeout=60) == 1, once.text()  # 1: some rows rejected
    assert archived(ref, "BIG.txt")

    root = tmp_path / "crash"
    db = root / "ledger.db"
    w = watch(root)
    w.wait_watching()
    drop(root / "inbox" / "BIG.txt", big_file)

    def in_flight() -> bool:
        tmps = (root / "out").exists() and any((root / "out").glob(TMP + "*"))
        return tmps or ("BIG.txt", "processing") in ledger_files(db)

    wait_for(in_flight, timeout=30, every=0.005, what="BIG.txt in flight")
    w.proc.send_signal(signal.SIGKILL)
    w.proc.wait(timeout=10)
    assert ledger_files(db) == [("BIG.txt", "processing")], "finished before the kill"
    assert not (root / "out" / "BIG.csv").exists()
    assert (root / "inbox" / "BIG.txt").exists()

    again = watch(root)
    wait_for(lambda: archived(root, "BIG.txt"), timeout=60, what="BIG.txt done after restart")
    for rel in ("out/BIG.csv", "feedback/BIG.rejects.csv"):
        assert (root / rel).read_bytes() == (ref / rel).read_bytes(), rel
    rejects = read_csv(root / "feedback" / "BIG.rejects.csv", ";")
    assert [(int(r["line"]), r["field"]) for r in rejects] == sorted(BIG_BAD.items())
    assert len(read_csv(root / "out" / "BIG.csv")) == BIG_ROWS - len(BIG_BAD)
    no_temporaries(root)
    assert not list((root / "inbox").iterdir())
    assert archived(root, "BIG.txt")[0].read_bytes() == big_file
    assert [s for n, s in ledger_files(db) if s == "done"] == ["done"]
    again.alive()


def test_sigterm_stops_cleanly(tmp_path, watch):
    w = watch(tmp_path)
    w.wait_watching()
    t = time.monotonic()
    w.proc.send_signal(signal.SIGTERM)
    assert w.proc.wait(timeout=10) == 0, w.text()
    assert time.monotonic() - t < 3


def test_sigterm_mid_file_finishes_that_file_first(tmp_path, watch, big_file):
    w = watch(tmp_path)
    w.wait_watching()
    drop(tmp_path / "inbox" / "BIG.txt", big_file)
    wait_for(lambda: ("BIG.txt", "processing") in ledger_files(tmp_path / "ledger.db"),
             timeout=30, every=0.005, what="BIG.txt in flight")
    w.proc.send_signal(signal.SIGTERM)
    assert w.proc.wait(timeout=30) == 0, w.text()
    assert ledger_files(tmp_path / "ledger.db") == [("BIG.txt", "done")]
    assert archived(tmp_path, "BIG.txt")
    assert len(read_csv(tmp_path / "out" / "BIG.csv")) == BIG_ROWS - len(BIG_BAD)
    no_temporaries(tmp_path)


def test_polling_mode_picks_files_up(tmp_path, watch):
    w = watch(tmp_path, watch="polling", poll_interval="0.5s")
    w.wait_watching()
    assert "polling every 0.5s" in w.text()
    drop(tmp_path / "inbox" / "ART_p.txt", fixed_rows(5))
    wait_for(lambda: archived(tmp_path, "ART_p.txt"), what="ART_p archived")
    assert [r["sku"] for r in read_csv(tmp_path / "out" / "ART_p.csv")] == [
        f"A0{i:06d}" for i in range(1, 6)]
    (tmp_path / "inbox" / "ART_q.txt").write_bytes(
        (fixed_record("Q1", "Crème", "100", "1") + "\r\n").encode("cp1252"))
    wait_for(lambda: archived(tmp_path, "ART_q.txt"), what="ART_q archived")
    assert ledger_files(tmp_path / "ledger.db") == [("ART_p.txt", "done"), ("ART_q.txt", "done")]
    w.alive()


# In-process: failures the subprocess tests cannot provoke. -----------------------

def _in_process(tmp_path: Path, monkeypatch, fail: Exception):
    from filebridge import watch as watch_mod
    from filebridge.job import Job
    from filebridge.profile import load_profile

    prof = write_profile(tmp_path, fixed_profile(tmp_path, stable_for="0s"))
    real, calls = watch_mod.process, []

    def process(job, path, run_id, **kw):
        calls.append(path.name)
        if path.name == "boom.txt":
            raise fail
        return real(job, path, run_id, **kw)

    monkeypatch.setattr(watch_mod, "process", process)
    watchers: list[watch_mod.Watcher] = []
    result: list[int] = []

    def serve() -> None:  # the ledger connection belongs to the thread that opens it
        watchers.append(watch_mod.Watcher([Job(load_profile(prof))]))
        result.append(watchers[0].serve())

    thread = threading.Thread(target=serve, daemon=True)
    return watchers, thread, result, calls


def test_unexpected_error_leaves_the_file_in_place_and_goes_on(tmp_path, monkeypatch, caplog):
    caplog.set_level(logging.INFO, logger="filebridge")
    inbox = tmp_path / "inbox"
    drop(inbox / "boom.txt", fixed_rows(3))
    drop(inbox / "ok.txt", fixed_rows(4, seed=2))
    watchers, thread, result, calls = _in_process(tmp_path, monkeypatch,
                                                  RuntimeError("disk on fire"))
    thread.start()
    try:
        wait_for(lambda: archived(tmp_path, "ok.txt"), what="ok.txt after boom.txt failed")
        drop(inbox / "ok2.txt", fixed_rows(5, seed=3))
        wait_for(lambda: archived(tmp_path, "ok2.txt"), what="ok2.txt")
        time.sleep(1.5)  # several rescans: boom.txt is backed off, not retried in a loop
    finally:
        for w in watchers:
            w.stop()
        thread.join(10)
    assert result == [0]
    assert calls.count("boom.txt") == 1
    assert (inbox / "boom.txt").exists()
    failed = [r for r in caplog.records if "boom.txt: unexpected error" in r.getMessage()]
    assert failed and failed[0].exc_info and "disk on fire" in caplog.text


def test_ledger_error_stops_the_watcher(tmp_path, monkeypatch):
    from filebridge.errors import LedgerError
    from filebridge.runner import LEDGER_ERROR

    drop(tmp_path / "inbox" / "boom.txt", fixed_rows(3))
    _, thread, result, calls = _in_process(tmp_path, monkeypatch, LedgerError("disk I/O error"))
    thread.start()
    thread.join(20)
    assert not thread.is_alive()
    assert result == [LEDGER_ERROR] and calls == ["boom.txt"]


XML_GOOD = (b'<?xml version="1.0" encoding="UTF-8"?>\n<stock>\n'
            b'  <item sku="A1"><qty>3</qty></item>\n  <item sku="A2"><qty>5</qty></item>\n'
            b'</stock>\n')
XML_TRUNCATED = XML_GOOD[:60]
XML_ENTITIES = (b'<?xml version="1.0"?>\n<!DOCTYPE stock [<!ENTITY a "aaaaaaaaaa">'
                b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>\n'
                b'<stock><item sku="&b;"><qty>1</qty></item></stock>\n')


def test_bad_xml_files_go_to_errors_and_the_watcher_goes_on(tmp_path):
    root = tmp_path
    profile = {
        "name": "xml-stock",
        "source": {"kind": "local", "path": str(root / "inbox"), "pattern": ["*.xml"],
                   "ready": {"stable_for": "1s"}, "archive": str(root / "archive"),
                   "errors": str(root / "errors")},
        "read": {"format": "xml", "record": "item",
                 "fields": {"sku": {"path": "@sku"}, "qty": {"path": "qty", "type": "integer"}}},
        "write": [{"format": "csv", "path": str(root / "out" / "{stem}.csv")}],
        "feedback": {"ack": {"path": str(root / "feedback" / "{stem}.ack.csv")}},
        "ledger": str(root / "ledger.db"),
    }
    (root / "inbox").mkdir()
    w = Watch(write_profile(root, profile), root / "watch.log")
    try:
        w.wait_watching()
        drop(root / "inbox" / "cut.xml", XML_TRUNCATED)
        drop(root / "inbox" / "bomb.xml", XML_ENTITIES)
        for name, reason in (("cut", "malformed XML"), ("bomb", "entities")):
            report = wait_for(lambda: sorted((root / "errors").glob(f"{name}.*.xml.error.txt")),  # noqa: B023  (wait_for calls it within this iteration)
                              what=f"{name}.xml quarantined")[0]
            assert reason in report.read_text(encoding="utf-8")
            ack = read_csv(root / "feedback" / f"{name}.ack.csv", ";")[0]
            assert ack["status"] == "rejected"
        w.alive()
        drop(root / "inbox" / "good.xml", XML_GOOD)
        wait_for(lambda: archived(root, "good.xml"), what="the good XML after the bad ones")
        assert read_csv(root / "out" / "good.csv") == [{"sku": "A1", "qty": "3"},
                                                       {"sku": "A2", "qty": "5"}]
        assert "aaaaaaaaaa" not in "".join(p.read_text(errors="replace")
                                           for p in (root / "feedback").iterdir())
        w.alive()
    finally:
        w.proc.kill()
        w.proc.wait(timeout=10)


def test_profiles_do_not_wait_for_each_other(tmp_path):
    """A long file in one profile does not hold up another profile's small file.

    Independent of the machine's speed: the slow profile's file is held in flight
    by its shop (a loopback WooCommerce whose first request waits for the test to
    open a gate), so it cannot finish before the small file, however fast or loaded
    the machine; the order is then read from the ledger's own claim and finish
    times. The timeouts only guard against a hang."""
    from shops.woocommerce import WooServer

    slow, fast = tmp_path / "slow", tmp_path / "fast"
    for root in (slow, fast):
        (root / "inbox").mkdir(parents=True)
    db = tmp_path / "ledger.db"  # one ledger for both, as with one profiles/ folder
    slow_profile = fixed_profile(slow, name="slow", stable_for="0.2s") | {"ledger": str(db)}
    slow_profile["write"] = [{"format": "woocommerce_api", "url": "${WOO_URL}",
                              "consumer_key": "${WOO_KEY}", "consumer_secret": "${WOO_SECRET}"}]
    fast_profile = fixed_profile(fast, name="fast", stable_for="0.2s") | {"ledger": str(db)}
    paths = [write_profile(slow, slow_profile), write_profile(fast, fast_profile)]
    gate = threading.Event()
    with WooServer(key="ck_w", secret="cs_w") as shop:
        shop.faults.hold(1, gate)
        env = dict(os.environ) | {"WOO_URL": shop.url, "WOO_KEY": "ck_w", "WOO_SECRET": "cs_w"}
        env.pop("FILEBRIDGE_LEDGER", None)
        log = tmp_path / "watch.log"
        with open(log, "ab") as out:
            proc = subprocess.Popen([sys.executable, "-m", "filebridge", "watch",
                                     *map(str, paths)], stdout=out,
                                    stderr=subprocess.STDOUT, env=env, cwd=tmp_path)
        try:
            wait_for(lambda: log.read_text().count("watching") >= 2, timeout=60,
                     what="both profiles watched")
            drop(slow / "inbox" / "BIG.txt", fixed_rows(50))
            assert shop.faults.holding.wait(timeout=60), "the slow file reached its shop"
            assert ("BIG.txt", "processing") in ledger_files(db)
            drop(fast / "inbox" / "SMALL.txt", fixed_rows(10))
            wait_for(lambda: ("SMALL.txt", "done") in ledger_files(db), timeout=60,
                     what="the small file done")
            assert ("BIG.txt", "processing") in ledger_files(db)  # still held by its shop
            gate.set()
            wait_for(lambda: ("BIG.txt", "done") in ledger_files(db), timeout=60,
                     what="the big file done")
            # The ledger's own claim and finish times, not when the test looked.
            with sqlite3.connect(db) as con:
                t = {name: (claimed, finished) for name, claimed, finished in con.execute(
                    "SELECT name, claimed, finished FROM files")}
            assert t["BIG.txt"][0] < t["SMALL.txt"][0] < t["SMALL.txt"][1] < t["BIG.txt"][1]
            assert (fast / "out" / "SMALL.csv").exists() and len(shop.catalog()) == 50
            assert proc.poll() is None, log.read_text()
        finally:
            gate.set()
            proc.terminate()
            assert proc.wait(timeout=30) == 0, log.read_text()
