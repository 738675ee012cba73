"""One ledger contract, run over both backends: SQLite (a file) and PostgreSQL (a real
server, tests/pgserver.py). Every store: files and runs, snapshots, catalog memory,
follow-ups, outbox and shop state, the shared inventory, schedules, code tables; and
the seam itself: schema versions, errors as LedgerError, serialised writers, retries.

What PostgreSQL does differently and these tests pin: 64-bit hashes at both ends of
the range (BIGINT), epoch timestamps to the microsecond (DOUBLE PRECISION, not REAL's
6 digits), BYTEA read back as bytes, sum() of BIGINT read back as int (NUMERIC in
PostgreSQL), ``?`` placeholders next to a literal ``%`` (psycopg's ``%s``).
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from pgserver import PASSWORD_ENV

from filebridge import delta_index
from filebridge.delta import Delta, row_hashes
from filebridge.errors import LedgerError
from filebridge.followup import ledger_rows
from filebridge.ledger import Ledger, SqliteLedger, followups, open_target
from filebridge.ledger import tables as tl
from filebridge.ledger.changelog import ChangeLog, drop, rekey
from filebridge.ledger.schema import MIGRATIONS, VERSION
from filebridge.ledger.sqlite import SnapshotPatch
from filebridge.orders.base import OrderLine
from filebridge.records import Batch
from filebridge.schedule import Schedule, ScheduledJob, Scheduler
from filebridge.sinks.api.base import Result
from filebridge.stock.inventory import Inventory, inventory_counts
from filebridge.stock.spec import StockSpec

BIG, SMALL = 2**63 - 1, -(2**63)


@pytest.fixture(params=["sqlite", "postgresql"])
def opener(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], Ledger]]:
    """Opens the test's ledger (again: each call is a new connection, like a second
    process)."""
    if request.param == "sqlite":
        def make() -> Ledger:
            return SqliteLedger(tmp_path / "ledger.db")
    else:
        url = request.getfixturevalue("ledger_url")

        def make() -> Ledger:
            return open_target(url, os.environ[PASSWORD_ENV], home=tmp_path / "home")
    opened: list[Ledger] = []

    def open_() -> Ledger:
        opened.append(make())
        return opened[-1]
    yield open_
    for led in opened:
        led.close()


@pytest.fixture
def ledger(opener: Callable[[], Ledger]) -> Ledger:
    return opener()


# the seam ---------------------------------------------------------------------------
def test_a_new_ledger_has_every_migration_once_and_reopening_adds_none(opener):
    first = opener()
    rows = first.db.execute("SELECT version, what FROM schema_version ORDER BY version").fetchall()
    assert [v for v, _ in rows] == list(range(1, VERSION + 1))
    assert [w for _, w in rows] == [w for w, _ in MIGRATIONS]
    opener()
    assert first.db.execute("SELECT count(*) FROM schema_version").fetchone()[0] == VERSION


def test_a_ledger_newer_than_this_filebridge_is_refused(opener):
    first = opener()
    with first.tx() as db:
        db.execute("INSERT INTO schema_version VALUES (?,?,?)", (VERSION + 1, time.time(), "x"))
    with pytest.raises(LedgerError, match=f"schema version {VERSION + 1} is newer"):
        opener()


def test_driver_errors_are_ledger_errors_in_and_out_of_transactions(ledger):
    with pytest.raises(LedgerError, match="no_such_table|no such table|does not exist"):
        ledger.db.execute("SELECT * FROM no_such_table")
    rid = ledger.start_run("p")
    with pytest.raises(LedgerError), ledger.tx() as db:
        db.execute("UPDATE runs SET status='x' WHERE id=?", (rid,))
        db.execute("INSERT INTO runs(id, profile, started) VALUES (?,?,?)", (rid, "p", 1.0))
    # the failed transaction left nothing behind, and the connection still works
    assert ledger.recent_runs()[0]["status"] == "running"


def test_a_literal_percent_beside_placeholders(ledger):
    rid = ledger.start_run("p")
    f = ledger.claim("p", "d", "a.csv", 1, rid)
    ledger.finish(f.id, "p", "done", {"read": 7}, reason="held: 100% changed")
    ledger.approved(rid)  # 'approved: ' || reason, NOT LIKE 'approved:%'
    assert ledger.verdict(f.id)[0] == "approved: held: 100% changed"
    ledger.approved(rid)  # once only
    assert ledger.verdict(f.id)[0] == "approved: held: 100% changed"
    assert ledger.last_read("p") == 7


def test_writers_on_two_connections_lose_no_update(opener):
    """Read-modify-write inside tx() on two connections at once: writers are
    serialised (SQLite: BEGIN IMMEDIATE; PostgreSQL: the advisory write lock)."""
    a, b = opener(), opener()
    rid = a.start_run("p")

    def bump(led: Ledger) -> None:
        for _ in range(40):
            with led.tx() as db:
                n = db.execute("SELECT files FROM runs WHERE id=?", (rid,)).fetchone()[0]
                time.sleep(0.0005)
                db.execute("UPDATE runs SET files=? WHERE id=?", (n + 1, rid))
    threads = [threading.Thread(target=bump, args=(led,)) for led in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert a.db.execute("SELECT files FROM runs WHERE id=?", (rid,)).fetchone()[0] == 80


def test_transact_runs_again_after_a_serialization_failure(ledger):
    calls = []

    def work(db) -> int:
        calls.append(1)
        db.execute("INSERT INTO runs(profile, started) VALUES (?,?)", ("p", 1.0))
        if len(calls) == 1:
            if ledger.backend.dialect == "postgresql":
                db.execute("DO $$ BEGIN RAISE EXCEPTION 'conflict' USING ERRCODE='40001'; "
                           "END $$")
            raise LedgerError("database is locked")  # SQLite's busy error, as the seam words it
        return db.execute("SELECT count(*) FROM runs").fetchone()[0]
    if ledger.backend.dialect == "sqlite":
        # SQLite's busy error raised by hand carries no driver cause: pin the wording rule
        assert ledger.backend.retryable(LedgerError("ledger x: database is locked"))
    assert ledger.backend.transact(work) == 1  # the first attempt's insert was rolled back
    assert len(calls) == 2


# files and runs -----------------------------------------------------------------------
def test_a_file_claimed_finished_and_found_with_exact_times(ledger):
    rid = ledger.start_run("p")
    f = ledger.claim("p", "digest1", "a.csv", 123, rid)
    assert f.status == "processing" and f.claimed == pytest.approx(time.time(), abs=5)
    assert ledger.find("p", "digest1").id == f.id  # in flight: redo it
    ledger.finish(f.id, "p", "done", {"read": 3, "written": 3})
    ledger.end_run(rid, "done", 1, {"read": 3})
    found = ledger.find("p", "digest1")
    assert (found.id, found.status, found.claimed) == (f.id, "done", f.claimed)  # to the µs
    assert ledger.find("q", "digest1") is None
    [run] = ledger.recent_runs(profile="p")
    assert (run["status"], run["files"], run["tally"]) == ("done", 1, {"read": 3})
    assert isinstance(run["started"], float)
    [file] = ledger.recent_files(profile="p")
    assert (file["name"], file["status"], file["tally"]) == ("a.csv", "done",
                                                            {"read": 3, "written": 3})
    assert ledger.verdict(f.id) == ("", {"read": 3, "written": 3})


def test_once_by_name_and_content(ledger):
    rid = ledger.start_run("p")
    a = ledger.claim("p", "d1", "stock.csv", 1, rid)
    ledger.finish(a.id, "p", "done", {})
    assert ledger.find("p", "d1", "stock.csv").id == a.id
    assert ledger.find("p", "d1", "other.csv") is None  # same bytes, new name: new file
    time.sleep(0.01)
    b = ledger.claim("p", "d2", "stock.csv", 1, rid)
    ledger.finish(b.id, "p", "done", {})
    assert ledger.find("p", "d1", "stock.csv") is None  # back after a different file


def test_a_failed_file_is_redone_in_its_row_with_its_claim_time(ledger):
    rid = ledger.start_run("p")
    f = ledger.claim("p", "d", "a.csv", 1, rid)
    ledger.failed(f.id, "disk full")
    again = ledger.find("p", "d")
    assert (again.id, again.status) == (f.id, "failed")
    rid2 = ledger.start_run("p")
    redo = ledger.claim("p", "d", "a.csv", 1, rid2, redo=again)
    assert (redo.id, redo.claimed) == (f.id, f.claimed)
    assert ledger.db.execute("SELECT run_id, reason FROM files WHERE id=?",
                             (f.id,)).fetchone() == (rid2, None)


def test_rejections_and_duplicates_are_seen_through(ledger):
    rid = ledger.start_run("p")
    f = ledger.claim("p", "d", "bad.csv", 1, rid)
    ledger.finish(f.id, "p", "rejecting", {}, reason="no header", moved_to="errors/bad.csv")
    [r] = ledger.rejecting("p")
    assert (r.id, r.moved_to) == (f.id, "errors/bad.csv")
    assert [x.id for x in ledger.rejecting("p", "d", "bad.csv")] == [f.id]
    ledger.rejected(f.id, "errors/bad.1.csv")
    assert ledger.rejecting("p") == []
    dup = ledger.record("p", "d", "copy.csv", 1, rid, "duplicate", "same as bad.csv")
    assert ledger.unmoved_duplicate("p", "d", "copy.csv") == dup
    ledger.moved(dup, "archive/copy.csv")
    assert ledger.unmoved_duplicate("p", "d", "copy.csv") is None


def test_a_run_whose_process_died_is_interrupted(ledger):
    rid = ledger.start_run("p")
    with ledger.tx() as db:
        db.execute("UPDATE runs SET pid=? WHERE id=?", (2**22 + 12345, rid))  # above pid_max
    assert ledger.recent_runs()[0]["status"] == "interrupted"
    assert ledger.end_dead_runs("p") == 1
    assert ledger.db.execute("SELECT status FROM runs WHERE id=?", (rid,)).fetchone()[0] \
        == "interrupted"
    assert ledger.end_dead_runs("p") == 0


# snapshots and catalog memory --------------------------------------------------------
def test_snapshots_keep_64_bit_hashes_and_the_last_one_wins(opener):
    ledger = opener()
    rid = ledger.start_run("p")
    first = pa.table({"key": ["a", "b"], "hash": pa.array([BIG, SMALL], pa.int64())})
    f = ledger.claim("p", "d1", "a.csv", 1, rid)
    ledger.finish(f.id, "p", "done", {}, snapshots={"out": first})
    assert opener().load_snapshot("p", "out").equals(first)
    second = pa.table({"key": ["c"], "hash": pa.array([0], pa.int64())})
    g = ledger.claim("p", "d2", "b.csv", 1, rid)
    ledger.finish(g.id, "p", "done", {}, snapshots={"out": second})
    assert ledger.load_snapshot("p", "out").equals(second)
    assert ledger.db.execute("SELECT rows FROM snapshots WHERE profile=? AND sink=?",
                             ("p", "out")).fetchone()[0] == 1
    assert ledger.load_snapshot("p", "other") is None


def _snapshot(n: int) -> pa.Table:
    """A version-2 snapshot of keys K0..K{n-1}, key Ki with hash i."""
    keys = pa.array([f"K{i}" for i in range(n)], pa.string())
    return delta_index.sorted_table(keys, np.arange(n, dtype=np.uint64))


def _as_dict(table: pa.Table | None) -> dict[str, int]:
    assert table is not None
    return dict(zip(table["key"].to_pylist(), table["hash"].to_pylist(), strict=True))


def _finish(ledger: Ledger, name: str, snapshots: dict) -> int:
    fid = ledger.claim("p", name, name, 1, ledger.start_run("p")).id
    ledger.finish(fid, "p", "done", {}, snapshots=snapshots)
    return fid


def test_snapshot_patches_apply_in_order_over_the_full_snapshot(opener):
    ledger = opener()
    _finish(ledger, "f1", {"out": _snapshot(100)})
    _finish(ledger, "f2", {"out": delta_index.patch_of(
        pa.array(["K5", "K7"]), np.array([1, 2], np.uint64))})
    _finish(ledger, "f3", {"out": delta_index.patch_of(
        pa.array(["K5", "NEW"]), np.array([3, 4], np.uint64))})
    stored = delta_index.load(opener(), "p", "out")  # another connection sees them
    assert (stored.full_rows, stored.patches, stored.patched_rows) == (100, 2, 4)
    want = _as_dict(_snapshot(100)) | {"K5": 3, "K7": 2, "NEW": 4}
    assert stored.table is not None and delta_index.is_current(stored.table)
    assert _as_dict(stored.table) == want
    kh = stored.table["khash"].to_numpy()
    assert (kh[1:] > kh[:-1]).all()  # sorted as a full snapshot is
    assert ledger.load_snapshot("p", "out").num_rows == 100  # the full one is as it was
    _finish(ledger, "f4", {"out": stored.table})  # a full save drops the patches
    assert ledger.load_patches("p", "out") == []
    assert _as_dict(delta_index.load(ledger, "p", "out").table) == want


def _deliver(ledger: Ledger, name: str, values: dict[str, str]) -> pa.Table | SnapshotPatch:
    delta = Delta(ledger, "p", "out", "key")
    table = pa.table({"key": list(values), "value": list(values.values())})
    delta.changed(Batch(table, pa.array(range(len(values)), pa.int64())))
    saved = delta.merged()
    assert saved is not None
    _finish(ledger, name, {"out": saved})
    return saved


def test_a_full_snapshot_is_saved_once_the_patches_reach_their_limits(opener, monkeypatch):
    ledger = opener()
    values = {f"K{i:03d}": "0" for i in range(160)}  # PATCH_SHARE of 160: 20 rows
    assert not isinstance(_deliver(ledger, "f0", values), SnapshotPatch)
    kinds = []
    for run in range(1, 4):  # 8 rows each: two patches, then a full save (24 > 20)
        values |= {f"K{i:03d}": str(run) for i in range(run, 160, 20)}
        kinds.append(isinstance(_deliver(ledger, f"f{run}", values), SnapshotPatch))
        assert _as_dict(delta_index.load(ledger, "p", "out").table) == _as_dict(
            _deliver_model(values))
    assert kinds == [True, True, False]
    assert ledger.load_patches("p", "out") == []
    monkeypatch.setattr(delta_index, "MAX_PATCHES", 2)
    for run in range(4, 7):  # one row each: two patches, then a full save (MAX_PATCHES)
        values |= {"K000": str(run)}
        kinds.append(isinstance(_deliver(ledger, f"f{run}", values), SnapshotPatch))
    assert kinds[3:] == [True, True, False]
    values |= {"K000": "new", "K999": "added"}
    assert isinstance(_deliver(ledger, "f7", values), SnapshotPatch)
    assert _as_dict(delta_index.load(ledger, "p", "out").table) == _as_dict(
        _deliver_model(values))


def _deliver_model(values: dict[str, str]) -> pa.Table:
    """What a full save of ``values`` holds."""
    table = pa.table({"key": list(values), "value": list(values.values())})
    hashes = row_hashes(Batch(table, pa.array(range(len(values)), pa.int64())))
    return delta_index.sorted_table(table["key"].combine_chunks(), hashes.to_numpy())


CRASH = """
import os, sys
from pathlib import Path
import numpy as np, pyarrow as pa
from filebridge import delta_index
from filebridge.ledger import open_target
ledger = open_target(sys.argv[1], os.environ.get(sys.argv[3]), home=Path(sys.argv[2]))
fid = ledger.claim("p", "f2", "f2", 1, ledger.start_run("p")).id
ledger.finish(fid, "p", "done", {}, snapshots={"out": delta_index.patch_of(
    pa.array(["K5"]), np.array([99], np.uint64))})
"""


@pytest.fixture(params=["sqlite", "postgresql"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "ledger.db")
    return str(request.getfixturevalue("ledger_url"))


def test_a_crash_between_a_patch_and_the_files_outcome_leaves_neither(target, tmp_path):
    """The patch is written in the transaction that marks the file done: a process
    killed in between (filebridge/crashpoints.py) leaves the file in flight, to be
    redone, and the snapshot as it was."""
    import subprocess
    import sys

    from helpers import KILLED

    def ledger() -> Ledger:
        return open_target(target, os.environ.get(PASSWORD_ENV), home=tmp_path / "home")

    first = ledger()
    _finish(first, "f1", {"out": _snapshot(10)})
    env = dict(os.environ, FILEBRIDGE_CRASH_AT="snapshot.saved")
    r = subprocess.run([sys.executable, "-c", CRASH, target, str(tmp_path / "home"),
                        PASSWORD_ENV], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == KILLED, r.stderr
    again = ledger()
    assert again.load_patches("p", "out") == []
    assert _as_dict(delta_index.load(again, "p", "out").table) == _as_dict(_snapshot(10))
    row = again.find("p", "f2")
    assert row is not None and row.status == "processing"  # claimed: the next run redoes it
    first.close()
    again.close()


def test_catalog_memory_counts_once_the_file_is_done(ledger):
    rid = ledger.start_run("p")
    f = ledger.claim("p", "d1", "a.csv", 1, rid)
    ledger.catalog_stage(f.id, "p", "shop", [("A-1", "A", BIG, '{"v": 1}', 0),
                                             ("A-2", "A", SMALL, '{"v": 2}', 1),
                                             ("B-1", "B", 5, '{"v": 3}', 0)])
    assert ledger.catalog_hashes("p", "shop", ["A-1"]) == {}  # staged, not yet done
    ledger.finish(f.id, "p", "done", {})
    assert ledger.catalog_hashes("p", "shop", ["A-1", "A-2", "Z"]) == {"A-1": BIG, "A-2": SMALL}
    assert ledger.catalog_products("p", "shop", ["A"]) == {
        "A": [("A-1", BIG, '{"v": 1}', 0), ("A-2", SMALL, '{"v": 2}', 1)]}
    g = ledger.claim("p", "d2", "b.csv", 1, rid)  # rewrites A-1; its place is kept
    ledger.catalog_stage(g.id, "p", "shop", [("A-1", "A", 7, '{"v": 9}', 5)])
    ledger.finish(g.id, "p", "done", {})
    assert ledger.catalog_products("p", "shop", ["A"])["A"][0] == ("A-1", 7, '{"v": 9}', 0)
    h = ledger.claim("p", "d3", "c.csv", 1, rid)  # rejected: what it staged is forgotten
    ledger.catalog_stage(h.id, "p", "shop", [("B-1", "B", 8, "{}", 0)])
    ledger.finish(h.id, "p", "rejected", {}, reason="bad")
    assert ledger.catalog_hashes("p", "shop", ["B-1"]) == {"B-1": 5}
    assert ledger.db.execute("SELECT count(*) FROM catalog_staged").fetchone()[0] == 0
    many = [f"K{i}" for i in range(1200)]  # past one IN (...) chunk of 500
    assert ledger.catalog_hashes("p", "shop", many + ["A-1"]) == {"A-1": 7}


def test_followups_keep_their_ordinals_as_bytes(ledger):
    rid = ledger.start_run("p")
    f = ledger.claim("p", "d", "a.csv", 1, rid)
    ords = np.array([1, 5, 9], np.int64).tobytes()
    ledger.finish(f.id, "p", "done", {}, queued=(ords, None))
    blob, weights, written = ledger.db.execute(
        "SELECT ordinals, weights, written FROM followups WHERE file_id=?", (f.id,)).fetchone()
    assert np.frombuffer(bytes(blob), np.int64).tolist() == [1, 5, 9]
    assert (weights, written) == (None, None)
    ledger.finish(f.id, "p", "done", {"read": 3}, queued=(np.array([2], np.int64).tobytes(),
                                                          np.array([4], np.int64).tobytes()))
    assert ledger.db.execute("SELECT count(*) FROM followups").fetchone()[0] == 1
    [due] = followups.due(ledger, "p")  # no change of it staged, queued or held
    assert (due.file_id, due.name, due.claimed, due.tally) == (f.id, "a.csv", f.claimed,
                                                               {"read": 3})
    assert due.weights is not None and np.frombuffer(due.weights, np.int64).tolist() == [4]
    followups.written(ledger, f.id, Path("feedback/a.ack.followup.csv"))
    assert followups.due(ledger, "p") == []


# outbox and shop state --------------------------------------------------------------
def test_outbox_stage_commit_send_settle_rekey_drop(ledger):
    rid = ledger.start_run("p")
    f = ledger.claim("p", "d", "a.csv", 1, rid)
    log = ChangeLog(ledger, "p", "woo")
    log.stage([("A", "upsert", BIG, "A", '{"qty": 1}', 2, 0),
               ("A", "upsert", 11, "A", '{"qty": 2}', 3, 1),  # a key twice: the last wins
               ("B", "upsert", SMALL, None, '{"qty": 3}', 4, 2)], f.id, rid)
    assert log.counts() == {"staged": 2}
    assert log.commit(f.id, hold=False) == 2
    known = log.known()
    assert dict(zip(known["key"].to_pylist(), known["hash"].to_pylist(),
                    strict=True)) == {"A": 11, "B": SMALL}
    sent = log.pending(10)
    assert [(p.change.key, p.change.record, p.change.attempts) for p in sent] == [
        ("A", {"qty": 2}, 0), ("B", {"qty": 3}, 0)]  # attempts before this one
    log.settle(sent, [Result(sent[0].change.id, True, remote={"id": 42}),
                      Result(sent[1].change.id, False, message="SKU refused")])
    assert log.counts() == {"sent": 1, "rejected": 1}
    assert log.acknowledged(["A", "B"]) == {"A": {"qty": 2}}
    assert log.siblings("A") == [{"qty": 2, "_remote": {"id": 42}}]
    assert log.catalog_size() == 1
    assert [(o, key, s) for o, _, key, s, _, _ in log.outcomes(f.id)] == [
        (1, "A", "sent"), (2, "B", "rejected")]
    log.enqueue([("C", "upsert", 3, None, "{}")], rid)
    assert rekey(ledger, "p", "woo", "woo2")
    moved = ChangeLog(ledger, "p", "woo2")
    assert moved.acknowledged(["A"]) == {"A": {"qty": 2}} and moved.queued() == 1
    assert drop(ledger, "p", "woo2") == 1 and moved.queued() == 0


def test_rekey_keeps_what_the_new_id_has_of_an_order_and_takes_the_old_state(opener):
    ledger = opener()
    inv = Inventory(ledger, StockSpec.model_validate({"inventory": "main"}))
    line = OrderLine("W1", "1", "A", 1, "processing", 100.0, 100.0)
    inv.record_orders("web:old", [line])
    inv.record_orders("web:new", [line])
    inv.set_cursor("web:old", "c-old")
    assert rekey(ledger, "inventory:main", "old", "new")
    rows = ledger.db.execute("SELECT source, count(*) FROM movements GROUP BY source "
                             "ORDER BY source").fetchall()
    assert rows == [("web:new", 1), ("web:old", 1)]  # the twin stays behind, not doubled
    assert inv.cursor("web:new") == "c-old"


# inventory --------------------------------------------------------------------------
def test_inventory_figures_orders_feedback_and_counts(ledger):
    inv = Inventory(ledger, StockSpec.model_validate({"inventory": "main"}))
    batch = Batch.from_pydict({"sku": ["A", "B"], "stock": [5, 2]}, [1, 2])
    inv.stage_figures(batch, 1, 1000.5)
    assert list(inv.staged_skus(1)) == [("A", 1, 1), ("B", 2, 1)]
    inv.commit_figures(1)
    assert inv.record_orders("web:woo", [OrderLine("W1", "1", "A", 7, "processing",
                                                   1001.25, 1001.25)]) == 1
    assert inv.available(["A", "B", "C"]) == {"A": 0, "B": 2, "C": None}  # never below 0
    assert inv.oversold() == {"A": 2}
    [m] = inv.unexported()
    assert (m.sku, m.qty, m.occurred) == ("A", -7, 1001.25)
    seq, path = inv.export([m.id], lambda seq, now: f"MOV{seq}.txt")
    assert (seq, path) == (1, "MOV1.txt") and inv.file_oversold(1) == {"A": 2}
    assert inv.acknowledge(seqs=[1], when=2000.0) == 1
    [(name, counts, oversold)] = inventory_counts(ledger)
    assert name == "main" and oversold == {"A": 2}
    assert (counts["skus"], counts["to_erp"], counts["awaiting_ack"], counts["acknowledged"],
            counts["store"]) == (2, 0, 0, 1, 0)
    assert all(type(v) is int for v in counts.values()), counts
    assert json.dumps(counts)


def test_inventory_rules_receipts_files_and_overdue(opener):
    """The rest of filebridge/ledger/inventory.py on both engines: the figures profile's
    rules seen by another process's store profile, a corrected receipt, a rejected
    file's staged rows, pending and published movement files, overdue movements."""
    ledger = opener()
    figures = Inventory(ledger, StockSpec.model_validate(
        {"inventory": "main", "safety": [{"sku": "A", "qty": 1}], "erp_knows": "acknowledged",
         "overdue": "1h"}))
    store = Inventory(opener(), StockSpec.model_validate({"inventory": "main",
                                                          "role": "movements"}))
    assert [r.qty for r in store.spec.safety] == [1] and store.spec.erp_knows == "acknowledged"
    figures.stage_figures(Batch.from_pydict({"sku": ["A"], "stock": [9]}, [1]), 1, 1000.0)
    figures.stage_figures(Batch.from_pydict({"sku": ["Z"], "stock": [4]}, [1]), 2, 1000.0)
    figures.unstage(2)  # file 2 was rejected: its rows never count
    assert list(figures.staged_skus(2)) == []
    figures.commit_figures(1)
    assert sorted(figures.rows.figures()) == [("A", "*", 9)]
    receipt = [OrderLine("R1", "1", "A", 2, "", 1001.0, 1001.0),
               OrderLine("R1", "2", "A", 1, "", 1001.0, 1001.0)]
    assert store.record_store("pos:p", [("R1", receipt)], changed=1001.0) == 2
    assert store.record_store("pos:p", [("R1", receipt)], changed=1002.0) == 0  # sent again
    # Corrected: line 2 is gone, line 1 now sells 3.
    again = OrderLine("R1", "1", "A", 3, "", 1001.0, 1003.0)
    assert store.record_store("pos:p", [("R1", [again])], changed=1003.0) == 2
    assert [(m.kind, m.qty, m.occurred) for m in store.movements()] == [
        ("store_sale", -2, 1001.0), ("store_sale", -1, 1001.0),
        ("store_correction", -1, 1003.0), ("store_correction", 1, 1003.0)]
    assert store.available(["A"]) == {"A": 5}  # 9 - 3 sold after the export, - 1 kept
    assert figures.order_changed("pos:p", "R1") == 1003.0
    assert figures.order_changed("pos:p", "R2") is None
    assert figures.record_orders("web:woo", [OrderLine("W1", "1", "A", 1, "processing",
                                                       1004.0, 1004.0)]) == 1
    assert [m.source for m in figures.unexported()] == ["web:woo"]  # store sales: ERP has them
    [web] = figures.unexported()
    seq, _ = figures.export([web.id], lambda seq, now: f"MOV{seq}.txt")
    assert figures.rows.pending_files() == [(seq, f"MOV{seq}.txt")]
    assert [m.id for m in figures.file_movements(seq)] == [web.id]
    figures.rows.published([seq], 1005.0)
    assert figures.rows.pending_files() == []
    exported = time.time()
    assert figures.overdue(exported + 1800) == []
    assert [m.id for m in figures.overdue(exported + 3700)] == [web.id]
    assert figures.acknowledge(ids=[web.id], when=exported) == 1
    assert figures.overdue(exported + 3700) == []


def test_a_movement_file_that_fails_to_be_made_leaves_no_trace(ledger):
    """Export is one transaction: a failure while recording the file (here: its path)
    takes back the sequence number and the movements' tie to it."""
    inv = Inventory(ledger, StockSpec.model_validate({"inventory": "main"}))
    inv.record_orders("web:woo", [OrderLine("W1", "1", "A", 1, "processing", 10.0, 10.0)])
    [m] = inv.unexported()

    def broken(seq: int, now: float) -> str:
        raise OSError("no such folder")
    with pytest.raises(OSError):
        inv.export([m.id], broken)
    assert [x.id for x in inv.unexported()] == [m.id] and inv.rows.pending_files() == []
    assert inv.export([m.id], lambda seq, now: f"MOV{seq}.txt")[0] == 1  # not 2


# schedules --------------------------------------------------------------------------
def test_a_schedule_runs_once_per_occurrence_across_restarts(opener):
    calls: list[object] = []
    job = [ScheduledJob("j", Schedule.model_validate({"every": "1h"}), calls.append)]
    start = 1_800_000_000.0
    s = Scheduler(opener(), "p", job)
    s.run_due(start)  # on the hour: due at once
    s.run_due(start + 1800.0)
    assert len(calls) == 1
    s.run_due(start + 3600.5)
    assert len(calls) == 2
    again = Scheduler(opener(), "p", job)  # the watcher restarted: nothing repeated
    again.run_due(start + 3601.0)
    assert len(calls) == 2
    again.run_due(start + 7300.0)
    assert len(calls) == 3


# code tables ------------------------------------------------------------------------
def test_code_tables_versions_and_waiting_files(ledger):
    assert tl.install(ledger, "p", "colors", "c1.csv", '["c1.csv"]', "d1", 3, "v1.db") is None
    old = tl.install(ledger, "p", "colors", "c2.csv", '["c2.csv"]', "d2", 4, "v2.db")
    assert old is not None and old.digest == "d1"
    cur = tl.current(ledger, "p", "colors")
    assert cur is not None
    assert (cur.digest, cur.rows, cur.data) == ("d2", 4, "v2.db")
    tl.refuse(ledger, "p", "colors", "c3.csv", '["c3.csv"]', "d3", "no code column")
    refused = tl.refused(ledger, "p", "colors", '["c3.csv"]')
    assert refused is not None and refused.reason == "no code column"
    assert tl.data_files(ledger, "p") == {"v2.db"}
    assert tl.note_waiting(ledger, "p", "main.csv", "colors missing") is True
    assert tl.note_waiting(ledger, "p", "main.csv", "colors missing") is False
    rep = tl.report(ledger, "p")
    assert [(t["file"], t["status"]) for t in rep["tables"]] == [("c2.csv", "current"),
                                                                ("c3.csv", "refused")]
    assert [w["file"] for w in rep["waiting"]] == ["main.csv"]
    tl.clear_waiting(ledger, "p", "main.csv")
    assert tl.report(ledger, None)["waiting"] == []


def test_followup_rows_read_back(ledger):
    rid = ledger.start_run("p")
    f = ledger.claim("p", "d", "a.csv", 1, rid)
    log = ChangeLog(ledger, "p", "woo")
    log.stage([("A", "upsert", 1, None, "{}", 2, 0)], f.id, rid)
    assert ledger_rows(ledger, f.id) == [(0, "staged", "woo", "A", None, 2, "{}")]


def test_a_connection_the_server_dropped_is_made_again_between_transactions(
        tmp_path, ledger_url, pg_server):
    """PostgreSQL only: a server restart or failover drops connections."""
    ledger = open_target(ledger_url, os.environ[PASSWORD_ENV], home=tmp_path)
    rid = ledger.start_run("p")
    pid = ledger.db.execute("SELECT pg_backend_pid()").fetchone()[0]
    with pg_server.admin() as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone()[0]
    assert ledger.recent_runs()[0]["id"] == rid  # a read: tried again on a new connection
    assert ledger.db.execute("SELECT pg_backend_pid()").fetchone()[0] != pid
    pid = ledger.db.execute("SELECT pg_backend_pid()").fetchone()[0]
    with pg_server.admin() as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    ledger.end_run(rid, "done", 0, {})  # a write: its transaction starts on a new one
    assert ledger.recent_runs()[0]["status"] == "done"
    with pytest.raises(LedgerError), ledger.tx() as db:  # dropped inside: the error stands
        db.execute("UPDATE runs SET status='x' WHERE id=?", (rid,))
        with pg_server.admin() as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (db.execute(
                "SELECT pg_backend_pid()").fetchone()[0],))
        db.execute("SELECT 1")
    assert ledger.recent_runs()[0]["status"] == "done"
    ledger.close()


def test_a_server_that_cannot_be_reached_is_a_ledger_error(tmp_path):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"postgresql://fb@127.0.0.1:{port}/filebridge"
    with pytest.raises(LedgerError, match=f"ledger {url}: .*(refused|connect)"):
        open_target(url, "pw", home=tmp_path)


def test_held_runs_approved_and_reported(ledger):
    from filebridge.ledger.changelog import held_runs, outbox_counts, stranded

    rid = ledger.start_run("p")
    f = ledger.claim("p", "d1", "a.csv", 1, rid)
    log = ChangeLog(ledger, "p", "woo")
    log.stage([("A", "upsert", 1, None, '{"v": 1}', 2, 0),
               ("B", "upsert", 2, None, '{"v": 2}', 3, 1)], f.id, rid)
    assert log.commit(f.id, hold=True) == 2  # the breaker held the run
    rid2 = ledger.start_run("p")  # a later file changes B before the approval
    g = ledger.claim("p", "d2", "b.csv", 1, rid2)
    log.stage([("B", "upsert", 3, None, '{"v": 3}', 2, 0)], g.id, rid2)
    log.commit(g.id, hold=False)
    assert held_runs(ledger, "p") == [(rid, "p", "woo", 2)]
    assert stranded(ledger, "p", {"woo"}) == {} and stranded(ledger, "p", set()) == {"woo": 3}
    assert log.approve(rid) == 1  # A released; B overtaken by the later change
    assert outbox_counts(ledger, "p") == {("p", "woo"): {"queued": 2, "superseded": 1}}
    assert held_runs(ledger) == []
    assert [p.change.record for p in log.pending(10)] == [{"v": 1}, {"v": 3}]


def test_store_receipts_and_overdue_movements(ledger):
    inv = Inventory(ledger, StockSpec.model_validate({"inventory": "main", "overdue": "1h"}))
    inv.stage_figures(Batch.from_pydict({"sku": ["A"], "stock": [10]}, [1]), 1, 100.0)
    inv.commit_figures(1)
    receipt = [OrderLine("R1", "1", "A", 2, "", 200.0, 200.0)]
    assert inv.record_store("pos:shop", [("R1", receipt)], changed=200.0) == 1
    assert inv.record_store("pos:shop", [("R1", receipt)], changed=300.0) == 0  # again: same
    assert inv.available(["A"]) == {"A": 8}
    inv.record_orders("web:woo", [OrderLine("W1", "1", "A", 1, "processing", 400.0, 400.0)])
    [m] = inv.unexported()
    inv.export([m.id], lambda seq, now: f"MOV{seq}.txt")
    assert inv.overdue(time.time() + 10) == []
    assert [x.id for x in inv.overdue(time.time() + 7200)] == [m.id]
    assert inv.available(["A"]) == {"A": 7}


# leases (filebridge/ledger/leases.py) -------------------------------------------------
def test_a_lease_is_held_by_one_connection_taken_over_when_stale_and_fences_the_loser(
        opener):
    from filebridge.ledger.leases import Busy, Lease, LeaseLost

    a, b = opener(), opener()
    first, second = Lease(a, "p", ttl=60.0), Lease(b, "p", ttl=60.0)
    with first.hold():
        assert not second.try_take()
        with pytest.raises(Busy), second.hold(wait=0.0):
            pass
        held = second.holder()
        assert held is not None
        owner, taken = held
        assert owner == first.owner and taken == pytest.approx(time.time(), abs=5)
    assert second.holder() is None  # given back
    rid = a.start_run("p")
    with first.hold():
        f = a.claim("p", "d", "a.csv", 1, rid)
        with a.tx() as db:  # it stalls past its expiry, its host unknown: stale
            db.execute("UPDATE leases SET expires=?, host=? WHERE name=?",
                       (time.time() - 1.0, "elsewhere", "profile:p"))
        assert second.try_take() and second.took_over
        with pytest.raises(LeaseLost):  # the stalled holder commits nothing more
            a.finish(f.id, "p", "done", {"read": 1})
        assert a.find("p", "d").status == "processing"
        first.lost = True  # as its heartbeat would find; it then leaves the row alone
    held = second.holder()
    assert held is not None and held[0] == second.owner
    with b.tx() as db:
        expires = db.execute("SELECT expires FROM leases WHERE name=?",
                             ("profile:p",)).fetchone()[0]
    assert expires == pytest.approx(time.time() + 60.0, abs=5)  # to the second: not REAL


def test_shipment_lines_are_kept_once_and_marked_delivered(opener):
    from filebridge.ledger import shipments

    led = opener()
    shipments.record(led, "shop", "O1", "DDT-1", "p", "f1.csv", "F9", [("sku:A", 2),
                                                                     ("sku:B", 1)])
    again = opener()  # another process sees it
    assert shipments.sent(again, "shop", "O1", "DDT-1") == {"sku:A": (2, False),
                                                            "sku:B": (1, False)}
    shipments.record(again, "shop", "O1", "DDT-1", "p", "f2.csv", None, [("sku:A", 2)], True)
    assert shipments.sent(led, "shop", "O1", "DDT-1")["sku:A"] == (2, True)
    assert shipments.sent(led, "shop", "O1", "DDT-2") == {}
    assert shipments.count(led, "shop") == 2 and shipments.count(led, "other") == 0


def test_photo_files_remember_size_mtime_and_digest_per_profile(opener):
    """What lets a new process skip downloading an unchanged SFTP photo: the last
    (size, mtime, digest) per name, seen by another connection; mtimes past 2**31
    (whole seconds and nanoseconds alike) kept exactly; a name gone is forgotten."""
    from filebridge.ledger import images

    led = opener()
    images.note_hashed(led, "p", [("a.jpg", 10, 1_700_000_000, "d1"),
                                  ("b.jpg", 2**33, 1_700_000_000_123_456_789, "d2")])
    images.note_hashed(led, "q", [("a.jpg", 11, 5, "dq")])
    again = opener()
    assert images.hashed(again, "p") == {"a.jpg": (10, 1_700_000_000, "d1"),
                                         "b.jpg": (2**33, 1_700_000_000_123_456_789, "d2")}
    images.note_hashed(again, "p", [("a.jpg", 12, 1_700_000_001, "d3")], gone=["b.jpg"])
    assert images.hashed(led, "p") == {"a.jpg": (12, 1_700_000_001, "d3")}
    assert images.hashed(led, "q") == {"a.jpg": (11, 5, "dq")}


def test_published_photos_retired_then_removed_after_the_grace(opener):
    """images.retire: a published photo the folder no longer holds is retired, one
    back is not; once retired for ``keep`` it is marked removing (seen by another
    connection, as after a crash) until :func:`removed` forgets it; the other
    variant is never current; refused photos are left alone."""
    from filebridge.ledger import images

    led = opener()
    images.record(led, "p", "original", [("d1", "a.jpg", "published", "d1.jpg", None),
                                         ("d2", "b.jpg", "published", "d2.jpg", None),
                                         ("d3", "c.jpg", "refused", None, "broken")])
    images.record(led, "p", "w9q9-jpeg", [("d1", "a.jpg", "published", "d1-w9.jpg", None)])
    assert images.retire(led, "p", "original", {"d1", "d3"}, 100.0, 10.0) == []
    assert images.retire(led, "p", "original", {"d1", "d2"}, 105.0, 10.0) == []  # d2 back
    assert images.retire(led, "p", "original", {"d1"}, 109.0, 10.0) == []
    assert images.in_use(led, "d1.jpg") and not images.in_use(led, "d1-w9.jpg")
    due = images.retire(led, "p", "original", {"d1"}, 119.5, 10.0)
    assert sorted(due) == [("d1", "w9q9-jpeg", "d1-w9.jpg"), ("d2", "original", "d2.jpg")]
    again = opener()  # a crash before removed(): the next process finds them again
    assert sorted(images.retire(again, "p", "original", {"d1"}, 120.0, 10.0)) == sorted(due)
    assert images.known(again, "p", "original", ["d2"])["d2"].status == "removing"
    images.removed(again, "p", due)
    assert images.retire(led, "p", "original", {"d1"}, 500.0, 10.0) == []
    assert sorted(images.known(led, "p", "original", ["d1", "d2", "d3"])) == ["d1", "d3"]
    assert images.known(led, "p", "w9q9-jpeg", ["d1"]) == {}


def test_url_keys_count_once_their_file_is_done_and_stay_with_the_first(opener):
    """filebridge/ledger/url_keys.py: a key claimed by a file counts once that file
    is done; a key a done file gave stays its product's; a claim from a failed file
    is ignored and taken over by the next file that claims the key."""
    from filebridge.ledger import url_keys

    led = opener()
    rid = led.start_run("p")
    f1 = led.claim("p", "d1", "a.csv", 1, rid)
    url_keys.claim(led, "p", "out", f1.id, [("scarf", "A"), ("hat", "C")])
    assert url_keys.owners(led, "p", "out", ["scarf", "hat"]) == {}  # not done yet
    led.finish(f1.id, "p", "done", {})
    again = opener()
    assert url_keys.owners(again, "p", "out", ["scarf", "hat", "x"]) == {"scarf": "A",
                                                                         "hat": "C"}
    assert url_keys.owners(again, "p", "other", ["scarf"]) == {}
    f2 = again.claim("p", "d2", "b.csv", 1, rid)
    url_keys.claim(again, "p", "out", f2.id, [("scarf", "B"), ("coat", "D")])
    again.finish(f2.id, "p", "failed", {}, reason="boom")
    assert url_keys.owners(led, "p", "out", ["scarf", "coat"]) == {"scarf": "A"}
    f3 = led.claim("p", "d3", "c.csv", 1, rid)
    url_keys.claim(led, "p", "out", f3.id, [("coat", "E")])
    led.finish(f3.id, "p", "done", {})
    assert url_keys.owners(again, "p", "out", ["scarf", "coat"]) == {"scarf": "A",
                                                                     "coat": "E"}


def test_attribute_values_count_once_their_file_is_done_in_the_shops_order(opener):
    """filebridge/ledger/attribute_values.py: like url_keys, a value a failed file
    created is not in the group; a done file's value keeps its position, its place
    follows the last file's order; the next file that sends a value takes it over."""
    from filebridge.ledger import attribute_values

    led = opener()
    rid = led.start_run("p")
    done = led.claim("p", "d1", "a.csv", 1, rid)
    attribute_values.save(led, "p", "s", done.id, [("size", [("S", 1), ("L", 2)])])
    assert attribute_values.load(led, "p", "s") == {}  # not done yet
    led.finish(done.id, "p", "done", {})
    failed = led.claim("p", "d2", "b.csv", 1, rid)
    attribute_values.save(led, "p", "s", failed.id, [("size", [("S", 9), ("M", 1),
                                                                ("L", 9)])])
    led.finish(failed.id, "p", "failed", {}, reason="boom")
    again = opener()
    assert attribute_values.load(again, "p", "s") == {"size": [("S", 1), ("L", 2)]}
    assert attribute_values.load(again, "p", "other") == {}
    later = again.claim("p", "d3", "c.csv", 1, rid)
    attribute_values.save(again, "p", "s", later.id, [("size", [("S", 1), ("M", 1),
                                                                 ("L", 2)])])
    again.finish(later.id, "p", "done", {})
    assert attribute_values.load(led, "p", "s") == {"size": [("S", 1), ("M", 1),
                                                             ("L", 2)]}
