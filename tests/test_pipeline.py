"""End to end through the CLI on real folders: outputs, feedback, ledger, exit codes."""

import copy
import csv
import subprocess
import sys

import pytest
from conftest import write_profile

from filebridge.job import Job
from filebridge.profile import load_profile
from filebridge.runner import run_files

LAYOUT = {"ART": {"start": 1, "length": 6}, "DESC": {"start": 7, "length": 12},
          "PRICE": {"start": 19, "length": 7, "type": "decimal", "implied": True},
          "QTY": {"start": 26, "length": 5, "type": "integer"}}


def profile(mode="full"):
    return {
        "name": "art",
        "source": {"kind": "local", "path": "../inbox", "pattern": ["*.txt"],
                   "ready": {"stable_for": "0s"}},
        "read": {"format": "fixed", "encoding": "cp1252", "fields": copy.deepcopy(LAYOUT)},
        "map": {"key": "sku", "fields": {
            "sku": {"from": "ART", "required": True},
            "title": {"from": "DESC"},
            "price": {"from": "PRICE", "min": 0},
            "stock": {"from": "QTY"}}},
        "write": [{"format": "csv", "path": "../out/{stem}.csv", "mode": mode}],
    }


def rec(art, desc, price, qty):
    return f"{art:<6}{desc:<12}{price:0>7}{qty:>5}"


def drop(workdir, name, rows):
    p = workdir / "inbox" / name
    p.write_bytes(("\r\n".join(rows) + "\r\n").encode("cp1252"))
    return p


def cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "filebridge", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def read_csv(path, delimiter=","):
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter=delimiter))


GOOD = [rec("A1", "Caffè", "1990", "3"), rec("A2", "Tè verde", "250", "0")]


def test_run_writes_outputs_feedback_and_archives(workdir):
    p = profile()
    p["map"]["fields"]["sku"]["regex"] = "[A-Z0-9]+"
    prof = write_profile(workdir, p)
    drop(workdir, "ART_1.txt", GOOD + [rec("", "no sku", "100", "1"),
                                       rec("=CMD", "formula", "100", "1"),
                                       rec("A4", "bad qty", "100", "x")])
    r = cli("run", str(prof), cwd=workdir)
    assert r.returncode == 1, r.stderr  # rows rejected
    out = read_csv(workdir / "out" / "ART_1.csv")
    assert out == [{"sku": "A1", "title": "Caffè", "price": "19.90", "stock": "3"},
                   {"sku": "A2", "title": "Tè verde", "price": "2.50", "stock": "0"}]
    ack = read_csv(workdir / "profiles" / "feedback" / "ART_1.ack.csv", ";")[0]
    assert (ack["status"], ack["read"], ack["sent"], ack["rejected"]) == ("done", "5", "2", "3")
    assert int(ack["read"]) == sum(int(ack[k]) for k in ("sent", "unchanged", "rejected",
                                                         "skipped"))
    rej = read_csv(workdir / "profiles" / "feedback" / "ART_1.rejects.csv", ";")
    assert [(r["line"], r["field"]) for r in rej] == [("3", "sku"), ("4", "sku"), ("5", "QTY")]
    assert rej[0]["reason"] == "required field sku is empty"
    assert rej[1]["value"] == "'=CMD"  # a spreadsheet must not run it as a formula
    assert "is not a valid integer" in rej[2]["reason"] and rej[2]["value"] == "    x"
    assert not list((workdir / "inbox").iterdir())
    assert len(list((workdir / "archive").iterdir())) == 1
    st = cli("status", "--profile", str(prof), cwd=workdir)
    assert "ART_1.txt [art] done" in st.stdout and "rejected=3" in st.stdout


def test_duplicate_content_is_skipped_new_content_processed(workdir):
    prof = write_profile(workdir, profile())
    drop(workdir, "ART_1.txt", GOOD)
    assert cli("run", str(prof), cwd=workdir).returncode == 0
    drop(workdir, "ART_2.txt", GOOD)  # same content, new name
    r = cli("run", str(prof), cwd=workdir)
    assert r.returncode == 0 and "duplicate" in r.stdout
    assert not (workdir / "out" / "ART_2.csv").exists()
    drop(workdir, "ART_1.txt", GOOD + [rec("A3", "new", "100", "1")])  # same name, new bytes
    r = cli("run", str(prof), cwd=workdir)
    assert "ART_1.txt: done" in r.stdout
    assert len(read_csv(workdir / "out" / "ART_1.csv")) == 3
    assert len(list((workdir / "archive").iterdir())) == 3


def test_changes_mode_sends_only_new_and_changed(workdir):
    prof = write_profile(workdir, profile(mode="changes"))
    drop(workdir, "ART_1.txt", GOOD)
    assert cli("run", str(prof), cwd=workdir).returncode == 0
    drop(workdir, "ART_2.txt", [GOOD[0], rec("A2", "Tè verde", "275", "0"),
                                rec("A9", "nuovo", "100", "5")])
    r = cli("run", str(prof), cwd=workdir)
    assert "sent 2, unchanged 1" in r.stdout
    assert [row["sku"] for row in read_csv(workdir / "out" / "ART_2.csv")] == ["A2", "A9"]


def test_changes_mode_rejects_repeats_of_known_and_new_keys(workdir):
    """The second file's duplicate check looks keys up in the sink's snapshot first
    (filebridge.keys): a repeat of a key the snapshot holds and a repeat of a new
    key are rejected alike, each naming its first line; the first rows count as
    they would alone."""
    prof = write_profile(workdir, profile(mode="changes"))
    drop(workdir, "ART_1.txt", GOOD)
    assert cli("run", str(prof), cwd=workdir).returncode == 0
    drop(workdir, "ART_2.txt", [rec("A2", "Tè verde", "275", "0"),  # known, changed
                                rec("A9", "nuovo", "100", "5"),  # new
                                GOOD[0],  # known, unchanged
                                rec("A2", "again", "300", "1"),  # repeats line 1
                                rec("A9", "again", "100", "5"),  # repeats line 2
                                rec("A1", "again", "1990", "3")])  # repeats line 3
    r = cli("run", str(prof), cwd=workdir)
    assert r.returncode == 1, r.stderr
    assert "read 6, sent 2, unchanged 1, rejected 3" in r.stdout
    out = read_csv(workdir / "out" / "ART_2.csv")
    assert [(row["sku"], row["price"]) for row in out] == [("A2", "2.75"), ("A9", "1.00")]
    rej = read_csv(workdir / "profiles" / "feedback" / "ART_2.rejects.csv", ";")
    assert [(r["line"], r["reason"]) for r in rej] == [
        ("4", "sku A2 appears twice: line 1 and line 4; line 1 is kept"),
        ("5", "sku A9 appears twice: line 2 and line 5; line 2 is kept"),
        ("6", "sku A1 appears twice: line 3 and line 6; line 3 is kept")]


def test_changes_mode_duplicate_check_is_given_the_snapshot(workdir, monkeypatch):
    import filebridge.job as job_mod

    prof = write_profile(workdir, profile(mode="changes"))
    drop(workdir, "ART_1.txt", GOOD)
    run_files(Job(load_profile(prof)), [])
    given = []

    class Spy(job_mod.UniqueKeys):
        def __init__(self, field, known=None):
            given.append(known)
            super().__init__(field, known)
    monkeypatch.setattr(job_mod, "UniqueKeys", Spy)
    drop(workdir, "ART_2.txt", GOOD + [GOOD[0]])
    (outcome,) = run_files(Job(load_profile(prof)), [])
    assert (outcome.tally.unchanged, outcome.tally.rejected) == (2, 1)
    assert len(given) == 1 and given[0] is not None and len(given[0].sorted) == 2


def test_bad_file_goes_to_errors_with_report_and_ack(workdir):
    prof = write_profile(workdir, profile())
    (workdir / "inbox" / "EMPTY.txt").write_bytes(b"")
    (workdir / "inbox" / "JUNK.txt").write_bytes(bytes(range(256)) * 40)
    r = cli("run", str(prof), cwd=workdir)
    assert r.returncode == 3
    errors = sorted(p.name for p in (workdir / "errors").iterdir())
    assert len(errors) == 4 and sum(n.endswith(".error.txt") for n in errors) == 2
    report = next((workdir / "errors").glob("JUNK*.error.txt")).read_text()
    assert "binary" in report and "status: rejected" in report
    ack = read_csv(workdir / "profiles" / "feedback" / "EMPTY.ack.csv", ";")[0]
    assert ack["status"] == "rejected" and "empty" in ack["reason"]


def test_profile_error_exit_code_and_lines(workdir):
    bad = profile()
    bad["read"]["fields"]["QTY"]["tipe"] = "integer"
    prof = write_profile(workdir, bad)
    r = cli("run", str(prof), cwd=workdir)
    assert r.returncode == 4
    assert "p.yaml:" in r.stderr and "read.fields.QTY.tipe: unknown key" in r.stderr


def test_crash_before_commit_reprocesses_to_the_same_outputs(workdir, monkeypatch):
    prof_path = write_profile(workdir, profile(mode="changes"))
    drop(workdir, "ART_1.txt", GOOD)
    job = Job(load_profile(prof_path))

    def crash(*a, **k):
        raise SystemExit("killed")  # stands for a crash after outputs were published

    monkeypatch.setattr(job.ledger, "finish", crash)
    with pytest.raises(SystemExit):
        run_files(job, [])
    first = (workdir / "out" / "ART_1.csv").read_bytes()
    assert (workdir / "inbox" / "ART_1.txt").exists()  # not archived: will be redone
    monkeypatch.undo()
    job = Job(load_profile(prof_path))
    (outcome,) = run_files(job, [])
    assert outcome.status == "done" and outcome.tally.sent == 2  # hashes were not committed
    assert (workdir / "out" / "ART_1.csv").read_bytes() == first
    assert not any(p.name.startswith(".filebridge-tmp") for p in (workdir / "out").iterdir())
    rows = job.ledger.db.execute("SELECT status FROM files ORDER BY id").fetchall()
    assert rows == [("done",)]  # the crashed claim's own row, finished


def test_preview_writes_nothing(workdir):
    prof = write_profile(workdir, profile())
    f = drop(workdir, "ART_1.txt", GOOD + [rec("", "x", "1", "1")])
    r = cli("preview", str(prof), str(f), cwd=workdir)
    assert r.returncode == 1
    assert '"sku": "A1"' in r.stdout and "reject line 3: sku" in r.stdout
    assert not (workdir / "out").exists() and f.exists()


def test_check_reports_every_problem(workdir, monkeypatch):
    monkeypatch.delenv("FB_TOKEN", raising=False)
    good = write_profile(workdir, profile(), "good.yaml")
    bad = profile()
    bad["read"]["format"] = "fixd"
    bad["write"][0]["mode"] = "sometimes"
    bad["sourc"] = {}
    badp = write_profile(workdir, bad, "bad.yaml")
    r = cli("check", str(good), str(badp), cwd=workdir)
    assert r.returncode == 4
    assert "good.yaml: ok" in r.stdout
    assert "does not match any of the expected tags: 'csv', 'fixed'" in r.stderr or \
        "'fixd'" in r.stderr
    assert "write.0.mode" in r.stderr and "sourc: unknown key" in r.stderr


def test_fixed_width_ack_and_done_files(workdir):
    p = profile()
    p["source"]["ready"] = {"stable_for": "0s", "done_file": "{name}.ok"}
    p["write"][0]["done_file"] = "{stem}.ready"
    p["feedback"] = {"ack": {"format": "fixed", "path": "../ack/{stem}.ack", "fields": {
        "file": {"start": 1, "length": 20},
        "status": {"start": 21, "length": 8},
        "read": {"start": 29, "length": 6, "type": "integer"},
        "sent": {"start": 35, "length": 6, "type": "integer"},
        "rejected": {"start": 41, "length": 6, "type": "integer"}}}, "rejects": None}
    prof = write_profile(workdir, p)
    drop(workdir, "ART_1.txt", GOOD)
    r = cli("run", str(prof), cwd=workdir)
    assert "nothing to do" in r.stdout  # no done-file yet: the file may still be written
    (workdir / "inbox" / "ART_1.txt.ok").write_text("")
    r = cli("run", str(prof), cwd=workdir)
    assert r.returncode == 0 and "ART_1.txt: done" in r.stdout
    assert not list((workdir / "inbox").iterdir())  # the done-file went with it
    assert (workdir / "out" / "ART_1.ready").exists()
    ack = (workdir / "ack" / "ART_1.ack").read_bytes()
    assert ack == b"ART_1.txt           done    000002000002000000\r\n"
    from filebridge.readers.fixed import FixedOptions, FixedReader
    from filebridge.records import FileReport
    o = FixedOptions.model_validate({"format": "fixed", "fields": p["feedback"]["ack"]["fields"]})
    (batch,) = FixedReader(o).read(workdir / "ack" / "ART_1.ack", FileReport("ack"))
    assert batch.rows() == [{"file": "ART_1.txt", "status": "done", "read": 2, "sent": 2,
                             "rejected": 0}]  # the same layout reads back what was written


@pytest.mark.parametrize("sink", [
    {"format": "csv", "path": "../out/{stem}.csv"},
    {"format": "csv", "path": "../out/{stem}.csv", "empty": True},
    {"format": "shopify_csv", "path": "../out/{stem}.csv", "empty": True},
], ids=["csv", "csv-empty", "shopify_csv-empty"])
def test_a_forced_rerun_with_mode_changes_keeps_the_earlier_output(workdir, sink):
    """run --force of the same file, nothing changed since: the earlier delivery of
    that name stays byte for byte (never a header-only file over it), and run says why
    no output was written."""
    p = profile("changes")
    p["write"] = [sink | {"mode": "changes"}]
    prof = write_profile(workdir, p)
    drop(workdir, "ART_1.txt", GOOD)
    first = cli("run", str(prof), cwd=workdir)
    assert first.returncode == 0, first.stdout + first.stderr
    out = workdir / "out" / "ART_1.csv"
    delivered = out.read_bytes()
    assert delivered.count(b"\n") >= 3  # a header and the records
    again = drop(workdir, "ART_1.txt", GOOD)
    forced = cli("run", str(prof), str(again), "--force", cwd=workdir)
    assert forced.returncode == 0, forced.stdout + forced.stderr
    assert out.read_bytes() == delivered
    assert "sent 0, unchanged 2" in forced.stdout
    assert "nothing changed since the last delivery" in forced.stdout
    assert f"-> {out}" not in forced.stdout


def sku_city(write: dict) -> dict:
    """A `;` CSV of SKU;CITY to a CSV output with ``write``'s options, in blocks of
    64 KiB (a file of 20,000 rows is several batches)."""
    return {"name": "art",
            "source": {"kind": "local", "path": "../inbox", "pattern": ["*.csv"],
                       "ready": {"stable_for": "0s"}},
            "read": {"format": "csv", "delimiter": ";", "chunk_size": 65536},
            "map": {"key": "sku", "fields": {"sku": {"from": "SKU"},
                                             "city": {"from": "CITY"}}},
            "write": [{"format": "csv", "path": "../out/{stem}.csv", **write}]}


def test_a_value_the_output_code_page_lacks_rejects_its_row_only(workdir):
    """A cp1252 output cannot hold Ł: that row is a reject naming its line and field,
    the others are written, and mode: changes sends it once it can be written."""
    prof = write_profile(workdir, sku_city({"encoding": "cp1252", "mode": "changes"}))
    (workdir / "inbox" / "A_1.csv").write_text("SKU;CITY\nA1;Città\nA2;Łódź\nA3;Köln\n",
                                               encoding="utf-8")
    r = cli("run", str(prof), cwd=workdir)
    assert r.returncode == 1, r.stderr  # a row rejected, the file done
    out = (workdir / "out" / "A_1.csv").read_bytes().decode("cp1252")
    assert out.splitlines() == ["sku,city", "A1,Città", "A3,Köln"]
    ack = read_csv(workdir / "profiles" / "feedback" / "A_1.ack.csv", ";")[0]
    assert (ack["read"], ack["sent"], ack["rejected"]) == ("3", "2", "1")
    rej = read_csv(workdir / "profiles" / "feedback" / "A_1.rejects.csv", ";")
    assert [(x["line"], x["field"], x["value"]) for x in rej] == [("3", "city", "Łódź")]
    assert "cannot be written in cp1252" in rej[0]["reason"]
    (workdir / "inbox" / "A_2.csv").write_text("SKU;CITY\nA1;Città\nA2;Lodz\nA3;Köln\n",
                                               encoding="utf-8")
    r = cli("run", str(prof), cwd=workdir)
    assert r.returncode == 0, r.stderr
    assert (workdir / "out" / "A_2.csv").read_bytes().decode("cp1252").splitlines() == \
        ["sku,city", "A2,Lodz"]


def test_a_utf8_sig_output_has_one_bom_at_its_start(workdir):
    """Excel's UTF-8 has a BOM first; one before a row would be part of its SKU."""
    prof = write_profile(workdir, sku_city({"encoding": "utf-8-sig"}))
    rows = [f"A{i};Città {i}" for i in range(20_000)]  # several batches
    (workdir / "inbox" / "A_1.csv").write_text("SKU;CITY\n" + "\n".join(rows) + "\n",
                                               encoding="utf-8")
    r = cli("run", str(prof), cwd=workdir)
    assert r.returncode == 0, r.stderr
    data = (workdir / "out" / "A_1.csv").read_bytes()
    assert data.startswith(b"\xef\xbb\xbfsku,city\n") and data.count(b"\xef\xbb\xbf") == 1
    assert data[3:].decode().splitlines()[1:] == [r.replace(";", ",") for r in rows]


def test_a_big_csv_output_goes_to_disk_as_it_is_written(workdir, monkeypatch):
    """The writer's thread syncs every SYNC_EVERY bytes, so the commit's fsync waits
    for the tail only; the file is whole and the same as without."""
    import os
    import threading

    import filebridge.sinks.csv as csv_sink

    monkeypatch.setattr(csv_sink, "SYNC_EVERY", 4096)
    synced = []
    real = os.fdatasync

    def fdatasync(fd):
        synced.append((threading.current_thread().name, os.fstat(fd).st_size))
        real(fd)
    monkeypatch.setattr(os, "fdatasync", fdatasync)
    prof = write_profile(workdir, sku_city({}))
    rows = [f"A{i};Città {i}" for i in range(20_000)]
    (workdir / "inbox" / "A_1.csv").write_text("SKU;CITY\n" + "\n".join(rows) + "\n",
                                               encoding="utf-8")
    (outcome,) = run_files(Job(load_profile(prof)), [])
    assert outcome.tally.sent == 20_000
    out = (workdir / "out" / "A_1.csv").read_text(encoding="utf-8").splitlines()
    assert out == ["sku,city"] + [r.replace(";", ",") for r in rows]
    size = (workdir / "out" / "A_1.csv").stat().st_size
    assert len(synced) >= 3 and all(n.startswith("write ") for n, _ in synced)
    assert [s for _, s in synced] == sorted(s for _, s in synced) and synced[0][1] < size / 2
