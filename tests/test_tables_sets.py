"""A main file and its members as one set: processed once when complete, a missing
member reported and waited for (local and over a real SFTP server), members taken,
archived or quarantined with the main file, a SIGKILL mid-set then a restart
processes it once, a crash between archiving the members and the main file does
not process it again."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import write_profile
from helpers import wait_for
from sshd import Sshd
from test_tables import ack, cli, put, rows

from filebridge.job import Job
from filebridge.profile import load_profile
from filebridge.runner import run_files

pytestmark = pytest.mark.timeout(180)

TRAD = ("ARTICOLO;LINGUA;CAMPO;TESTO\nA1;it;NOME;Giacca\nA1;en;NOME;Jacket\n"
        "A2;it;NOME;Gonna\nA2;en;NOME;Skirt\n")
FOTO = "ARTICOLO;POS;FILE\nA1;2;b.jpg\nA1;1;a.jpg\nA2;1;c.jpg\n"


def set_profile(root: Path, source: dict | None = None, **extra: object) -> dict:
    csvr = {"format": "csv", "delimiter": ";", "encoding": "cp1252"}
    prof: dict[str, Any] = {
        "name": "set",
        "source": source or {"kind": "local", "path": str(root / "inbox"),
                             "pattern": ["ART_*.csv"], "ready": {"stable_for": "0s"},
                             "archive": str(root / "archive"), "errors": str(root / "errors")},
        "read": {"format": "csv", "delimiter": ";"},
        "set": {"match": r"ART_(?P<date>[0-9]{8})[.]csv"},
        "tables": {"trad": {"member": "TRAD_{date}.csv", "read": csvr},
                   "foto": {"member": "FOTO_{date}.csv", "read": {**csvr, "fields": {
                       "POS": {"type": "integer"}}}}},
        "join": [{"table": "trad", "kind": "wide", "on": {"ART": "ARTICOLO"},
                  "language": "LINGUA", "field": "CAMPO", "value": "TESTO",
                  "fields": {"NOME": "name"}},
                 {"table": "foto", "kind": "list", "on": {"ART": "ARTICOLO"},
                  "order": ["POS"], "value": "FILE", "as": "photos", "missing": "empty"}],
        "map": {"languages": ["it", "en"], "key": "sku", "fields": {
            "sku": {"from": "ART"}, "title": {"from": "name@it"},
            "title@en": {"from": "name@en"}, "images": {"from": "photos"}}},
        "write": [{"format": "csv", "path": str(root / "out" / "{stem}.csv")}],
        "feedback": {"ack": {"path": str(root / "out" / "{stem}.ack.csv")},
                     "rejects": {"path": str(root / "out" / "{stem}.rejects.csv")}},
        "ledger": str(root / "ledger.db"),
    }
    prof.update(extra)
    return prof


def ledger_files(db: Path) -> list[tuple[str, str]]:
    try:
        with sqlite3.connect(db) as c:
            return c.execute("SELECT name, status FROM files ORDER BY id").fetchall()
    except sqlite3.OperationalError:  # not made yet
        return []


def names(folder: Path) -> list[str]:
    return sorted(p.name.split(".")[0] for p in folder.iterdir()) if folder.exists() else []


def test_a_set_missing_a_member_waits_is_reported_then_goes(workdir, cli_env):
    inbox = workdir / "inbox"
    put(inbox / "ART_20261127.csv", "ART\nA1\nA2\n")
    put(inbox / "TRAD_20261127.csv", TRAD)
    p = write_profile(workdir, set_profile(workdir))
    r = cli("run", str(p), env=cli_env)
    assert r.returncode == 8, r.stdout + r.stderr
    assert ("ART_20261127.csv: waiting - its set is incomplete: waiting for "
            "FOTO_20261127.csv (table foto)") in r.stdout
    assert "waits: its set is incomplete" in r.stderr
    st = cli("status", "--profile", str(p), env=cli_env).stdout
    assert "waiting:" in st and "ART_20261127.csv [set]" in st and "FOTO_20261127" in st
    assert names(inbox) == ["ART_20261127", "TRAD_20261127"]  # nothing taken
    assert ledger_files(workdir / "ledger.db") == []  # nothing claimed, never half-applied
    assert not (workdir / "out").exists()

    put(inbox / "FOTO_20261127.csv", FOTO)
    r = cli("run", str(p), env=cli_env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert [(x["sku"], x["title"], x["title@en"], x["images"]) for x in
            rows(workdir / "out" / "ART_20261127.csv")] == [
        ("A1", "Giacca", "Jacket", "a.jpg|b.jpg"), ("A2", "Gonna", "Skirt", "c.jpg")]
    assert names(inbox) == []
    assert names(workdir / "archive") == ["ART_20261127", "FOTO_20261127", "TRAD_20261127"]
    assert ledger_files(workdir / "ledger.db") == [("ART_20261127.csv", "done")]
    assert "waiting:" not in cli("status", "--profile", str(p), env=cli_env).stdout
    # The same set again: a duplicate. Another day's set is its own.
    for n, t in (("ART_20261128.csv", "ART\nA1\nA2\n"), ("TRAD_20261128.csv", TRAD),
                 ("FOTO_20261128.csv", FOTO)):
        put(inbox / n, t)
    r = cli("run", str(p), env=cli_env)
    assert "same content as ART_20261127.csv, already processed" in r.stdout
    assert names(inbox) == []


def test_a_set_whose_member_changed_is_new(workdir, cli_env):
    inbox = workdir / "inbox"
    p = write_profile(workdir, set_profile(workdir))
    for day, trad in (("20261127", TRAD), ("20261128", TRAD.replace("Giacca", "Giaccone"))):
        put(inbox / f"ART_{day}.csv", "ART\nA1\nA2\n")
        put(inbox / f"TRAD_{day}.csv", trad)
        put(inbox / f"FOTO_{day}.csv", FOTO)
        assert cli("run", str(p), env=cli_env).returncode == 0
    assert rows(workdir / "out" / "ART_20261128.csv")[0]["title"] == "Giaccone"
    assert [s for _, s in ledger_files(workdir / "ledger.db")] == ["done", "done"]


def test_a_member_in_a_bad_encoding_quarantines_the_whole_set(workdir, cli_env):
    inbox = workdir / "inbox"
    prof = set_profile(workdir)
    prof["tables"]["trad"]["read"]["encoding"] = "utf-8"
    p = write_profile(workdir, prof)
    put(inbox / "ART_20261127.csv", "ART\nA1\nA2\n")
    put(inbox / "TRAD_20261127.csv", TRAD + "A3;it;NOME;Felpa più calda\n")  # cp1252 bytes
    put(inbox / "FOTO_20261127.csv", FOTO)
    r = cli("run", str(p), env=cli_env)
    assert r.returncode == 3, r.stdout + r.stderr
    reason = ("member trad of its set: TRAD_20261127.csv: line 6: TESTO: bytes b'\\xf9' are "
              "not valid utf-8")
    assert reason in r.stdout
    assert ack(workdir, "ART_20261127")["status"] == "rejected"
    assert reason in ack(workdir, "ART_20261127")["reason"]
    assert names(inbox) == []
    errors = workdir / "errors"
    assert sorted(p.name.split(".")[0] for p in errors.iterdir()
                  if not p.name.endswith(".error.txt")) == ["ART_20261127", "FOTO_20261127",
                                                            "TRAD_20261127"]
    reports = [p.read_text() for p in errors.glob("*.error.txt")]
    assert len(reports) == 3 and all(reason in t for t in reports)
    assert not (workdir / "out" / "ART_20261127.csv").exists()


def test_a_done_file_and_a_manifest_complete_the_set(workdir, cli_env):
    inbox = workdir / "inbox"
    prof = set_profile(workdir)
    prof["set"].update(done_file="SET_{date}.ok", manifest="MANIFEST_{date}.txt")
    p = write_profile(workdir, prof)
    put(inbox / "ART_20261127.csv", "ART\nA1\n")
    put(inbox / "TRAD_20261127.csv", TRAD)
    put(inbox / "FOTO_20261127.csv", FOTO)
    r = cli("run", str(p), env=cli_env)
    assert r.returncode == 0 and "still being written; left for later" in r.stderr
    put(inbox / "MANIFEST_20261127.txt", "ART_20261127.csv\nTRAD_20261127.csv\n"
        "FOTO_20261127.csv\nNOTE_20261127.txt\n")
    put(inbox / "SET_20261127.ok", "")
    r = cli("run", str(p), env=cli_env)
    assert r.returncode == 8 and "NOTE_20261127.txt (named in the manifest)" in r.stdout
    put(inbox / "NOTE_20261127.txt", "anything the ERP sends along")
    r = cli("run", str(p), env=cli_env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert names(inbox) == []
    assert names(workdir / "archive") == ["ART_20261127", "FOTO_20261127", "MANIFEST_20261127",
                                          "NOTE_20261127", "SET_20261127", "TRAD_20261127"]


def test_a_crash_between_archiving_members_and_the_main_file(workdir, monkeypatch):
    inbox = workdir / "inbox"
    put(inbox / "ART_20261127.csv", "ART\nA1\n")
    put(inbox / "TRAD_20261127.csv", TRAD)
    put(inbox / "FOTO_20261127.csv", FOTO)
    p = write_profile(workdir, set_profile(workdir))
    job = Job(load_profile(p))
    inner_archive = job.source.inner.archive

    def crash(path: Path):
        if path.name.startswith("ART_"):
            raise SystemExit("killed while archiving")
        return inner_archive(path)

    monkeypatch.setattr(job.source.inner, "archive", crash)
    with pytest.raises(SystemExit):
        run_files(job, [])
    assert names(inbox) == ["ART_20261127"]  # the members went first
    assert ledger_files(workdir / "ledger.db") == [("ART_20261127.csv", "done")]
    out = (workdir / "out" / "ART_20261127.csv").read_bytes()
    monkeypatch.undo()
    job = Job(load_profile(p))
    (o,) = run_files(job, [])
    assert (o.status, o.reason) == ("done", "already processed; archived")
    assert names(inbox) == []
    assert ledger_files(workdir / "ledger.db") == [("ART_20261127.csv", "done")]
    assert (workdir / "out" / "ART_20261127.csv").read_bytes() == out


BIG = 120_000


def _big_set(inbox: Path) -> None:
    arts = [f"A{i:07d}" for i in range(BIG)]
    put(inbox / "ART_20261127.csv", "ART\n" + "\n".join(arts) + "\n")
    put(inbox / "TRAD_20261127.csv", "ARTICOLO;LINGUA;CAMPO;TESTO\n" + "".join(
        f"{a};it;NOME;Articolo {i}\n{a};en;NOME;Item {i}\n" for i, a in enumerate(arts)))
    put(inbox / "FOTO_20261127.csv", "ARTICOLO;POS;FILE\n" + "".join(
        f"{a};{2 - i % 2};{a}_{i % 3}.jpg\n" for i, a in enumerate(arts)))


def test_sigkill_mid_set_then_restart_processes_it_once(tmp_path, cli_env):
    # The reference: the same set, uninterrupted.
    ref = tmp_path / "ref"
    _big_set(ref / "inbox")
    r = cli("run", str(write_profile(ref, set_profile(ref))), env=cli_env)
    assert r.returncode == 0, r.stderr

    root = tmp_path / "crash"
    _big_set(root / "inbox")
    p = write_profile(root, set_profile(root))
    proc = subprocess.Popen([sys.executable, "-m", "filebridge", "run", str(p)], env=cli_env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    db = root / "ledger.db"
    scratch = root / ".filebridge-scratch" / "set"
    wait_for(lambda: db.exists() and ("ART_20261127.csv", "processing") in ledger_files(db)
             and scratch.is_dir() and any(scratch.iterdir()), timeout=60, every=0.005,
             what="the set in flight")
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert ledger_files(db) == [("ART_20261127.csv", "processing")], "finished before the kill"
    assert names(root / "inbox") == ["ART_20261127", "FOTO_20261127", "TRAD_20261127"]
    assert not (root / "out" / "ART_20261127.csv").exists()
    assert any(scratch.iterdir())  # the joins' scratch files, left by the kill

    r = cli("run", str(p), env=cli_env)
    assert r.returncode == 0, r.stderr
    for rel in ("ART_20261127.csv", "ART_20261127.ack.csv"):
        a, b = (root / "out" / rel).read_text(), (ref / "out" / rel).read_text()
        if rel.endswith("ack.csv"):  # the processing time differs
            a, b = a.split(";2026")[0], b.split(";2026")[0]
        assert a == b, rel
    assert len(rows(root / "out" / "ART_20261127.csv")) == BIG
    assert ledger_files(db) == [("ART_20261127.csv", "done")]
    assert names(root / "inbox") == []
    assert names(root / "archive") == ["ART_20261127", "FOTO_20261127", "TRAD_20261127"]
    assert not scratch.exists() or not any(scratch.iterdir())  # swept


def test_a_set_over_sftp_waits_for_its_member_then_goes(tmp_path, sshd: Sshd, cli_env):
    remote = sshd.root / tmp_path.name
    inbox = remote / "inbox"
    inbox.mkdir(parents=True)
    kh = tmp_path / "known_hosts"
    kh.write_text(sshd.known_hosts_line())
    source = sshd.server(kh, path=str(inbox.relative_to(sshd.root)), pattern=["ART_*.csv"],
                         ready={"stable_for": "0s"}, work=str(tmp_path / "work"))
    prof = set_profile(tmp_path, source)
    # A code table found through the same SFTP source: the newest TABCOD_*.csv.
    prof["tables"]["codici"] = {"pattern": "TABCOD_*.csv", "read": {
        "format": "csv", "delimiter": ";", "encoding": "cp1252"}}
    prof["join"].append({"table": "codici", "on": {"ART": "CODICE"}, "take": {"GRUPPO": "group"}})
    prof["map"]["fields"]["group"] = {"from": "group"}
    p = write_profile(tmp_path, prof)
    put(inbox / "TABCOD_20261101.csv", "CODICE;GRUPPO\nA1;old\nA2;old\n")
    put(inbox / "TABCOD_20261120.csv", "CODICE;GRUPPO\nA1;Giacche\nA2;Gonne\n")
    os.utime(inbox / "TABCOD_20261101.csv", (1, 1))  # the older version
    put(inbox / "ART_20261127.csv", "ART\nA1\nA2\n")
    put(inbox / "FOTO_20261127.csv", FOTO)
    r = cli("run", str(p), env=cli_env)
    assert r.returncode == 8, r.stdout + r.stderr
    assert "waiting for TRAD_20261127.csv (table trad)" in r.stdout
    # Nothing was claimed on the server: the files are as the ERP left them.
    assert names(inbox) == ["ART_20261127", "FOTO_20261127", "TABCOD_20261101",
                            "TABCOD_20261120"]
    assert not [x for x in inbox.iterdir() if x.name.endswith(".processing")]

    put(inbox / "TRAD_20261127.csv", TRAD)
    r = cli("run", str(p), env=cli_env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert [(x["sku"], x["title@en"], x["images"], x["group"]) for x in
            rows(tmp_path / "out" / "ART_20261127.csv")] == [
        ("A1", "Jacket", "a.jpg|b.jpg", "Giacche"), ("A2", "Skirt", "c.jpg", "Gonne")]
    # The code tables stay where the ERP keeps them; the set went to the archive.
    assert sorted(x.name for x in inbox.iterdir() if x.is_file()) == [
        "TABCOD_20261101.csv", "TABCOD_20261120.csv"]
    st = cli("status", "--profile", str(p), env=cli_env).stdout
    assert "codici [set] TABCOD_20261120.csv rows=2" in st
    assert names(inbox / "archive") == ["ART_20261127", "FOTO_20261127", "TRAD_20261127"]
    assert ledger_files(tmp_path / "ledger.db") == [("ART_20261127.csv", "done")]


def test_watch_waits_for_the_missing_member_then_takes_the_set(workdir, cli_env):
    inbox = workdir / "inbox"
    p = write_profile(workdir, set_profile(workdir))
    put(inbox / "ART_20261127.csv", "ART\nA1\nA2\n")
    put(inbox / "TRAD_20261127.csv", TRAD)
    log = workdir / "watch.log"
    with open(log, "wb") as f:
        proc = subprocess.Popen([sys.executable, "-m", "filebridge", "watch", str(p)],
                                env=cli_env, stdout=f, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: "waiting for FOTO_20261127.csv" in log.read_text(), timeout=60,
                 what="the waiting line")
        assert names(inbox) == ["ART_20261127", "TRAD_20261127"]
        put(inbox / "FOTO_20261127.csv", FOTO)
        wait_for(lambda: names(workdir / "archive") == [
            "ART_20261127", "FOTO_20261127", "TRAD_20261127"], timeout=60, what="the set")
        assert ledger_files(workdir / "ledger.db") == [("ART_20261127.csv", "done")]
        # Told once, not every time the watcher looked again.
        assert log.read_text().count("waits: its set is incomplete") == 1
        assert proc.poll() is None
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
