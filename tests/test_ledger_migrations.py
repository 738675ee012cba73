"""A ledger file from before schema versions (commit dbb42fd: no schema_version, no
outbox.ord, no runs.pid/host, no catalog memory or follow-ups; tests/data/
make_old_ledger.py made it) is brought to today's schema on open, and a run on it
keeps its history: the file it processed is a duplicate, its mode: changes snapshot
still decides what changed, its run is still listed."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from conftest import write_profile
from test_pipeline import GOOD, cli, drop, profile, read_csv, rec

from filebridge import digest
from filebridge.delta_index import is_current
from filebridge.ledger import SqliteLedger
from filebridge.ledger.schema import MIGRATIONS, VERSION

OLD = Path(__file__).parent / "data" / "ledger-dbb42fd.db"


def columns(path: Path, table: str) -> set[str]:
    with sqlite3.connect(path) as con:
        return {r[1] for r in con.execute(f"PRAGMA table_info({table})")}


def test_the_old_file_is_what_it_claims_to_be():
    assert "ord" not in columns(OLD, "outbox") and "pid" not in columns(OLD, "runs")
    assert columns(OLD, "schema_version") == set() and columns(OLD, "catalog") == set()


def test_an_old_ledger_is_migrated_once_and_keeps_its_rows(tmp_path):
    path = tmp_path / "ledger.db"
    shutil.copy(OLD, path)
    ledger = SqliteLedger(path)
    assert [v for (v,) in ledger.db.execute("SELECT version FROM schema_version ORDER BY "
                                            "version")] == list(range(1, len(MIGRATIONS) + 1))
    ledger.close()
    assert {"ord"} <= columns(path, "outbox") and {"pid", "host"} <= columns(path, "runs")
    assert {"pos"} <= columns(path, "catalog") and columns(path, "followups")
    again = SqliteLedger(path)
    assert again.db.execute("SELECT count(*) FROM schema_version").fetchone()[0] == VERSION
    [run] = again.recent_runs()
    assert (run["profile"], run["status"], run["tally"]["sent"]) == ("art", "done", 2)
    snapshot = again.load_snapshot("art", "csv:../out/{stem}.csv")
    assert snapshot is not None and snapshot.num_rows == 2


def test_a_run_on_an_old_ledger_keeps_its_history(workdir):
    shutil.copy(OLD, workdir / "ledger.db")
    prof = write_profile(workdir, profile(mode="changes") | {"ledger": "../ledger.db"})
    drop(workdir, "ART_1.txt", GOOD)  # processed under the old schema, digest blake2b
    r = cli("run", str(prof), cwd=workdir)
    assert r.returncode == 0 and "duplicate" in r.stdout, r.stdout + r.stderr
    drop(workdir, "ART_2.txt", [GOOD[0], rec("A2", "Tè verde", "275", "0"),
                                rec("A9", "nuovo", "100", "5")])
    r = cli("run", str(prof), cwd=workdir)
    assert r.returncode == 0 and "sent 2, unchanged 1" in r.stdout, r.stdout + r.stderr
    assert [row["sku"] for row in read_csv(workdir / "out" / "ART_2.csv")] == ["A2", "A9"]
    # The old snapshot was compared as it was (nothing re-sent), then saved as version 2.
    ledger = SqliteLedger(workdir / "ledger.db")
    snapshot = ledger.load_snapshot("art", "csv:../out/{stem}.csv")
    ledger.close()
    assert snapshot is not None and is_current(snapshot) and snapshot.num_rows == 3
    st = cli("status", "--profile", str(prof), cwd=workdir)
    assert "#1 art" in st.stdout and "#3 art" in st.stdout, st.stdout


def _as_of_version_15(path: Path, held: str | None) -> None:
    """A ledger of today's schema taken back to version 15 (before the digest's kind
    was kept), holding a row of ``held`` if given."""
    SqliteLedger(path).close()
    with sqlite3.connect(path) as con:
        con.execute("DROP TABLE ledger_settings")
        con.execute("DELETE FROM schema_version WHERE version > 15")
        if held == "files":
            con.execute("INSERT INTO files(profile, digest, name, size, status, claimed) "
                        "VALUES ('art', ?, 'ART_1.txt', 3, 'done', 0)", ("0" * 64,))
        elif held == "table_versions":
            con.execute("INSERT INTO table_versions(profile, name, file, seen, digest, "
                        "status, loaded) VALUES ('art', 'colours', 'c.csv', 's', ?, 'current', 0)",
                        ("0" * 64,))


def test_a_ledger_that_held_files_keeps_blake2b_and_a_new_one_takes_xxh3(tmp_path):
    kinds = {}
    for held in (None, "files", "table_versions"):
        path = tmp_path / f"{held}.db"
        _as_of_version_15(path, held)
        ledger = SqliteLedger(path)
        kinds[held] = ledger.digest_kind
        ledger.close()
        assert SqliteLedger(path).digest_kind == kinds[held]  # kept, not decided again
    assert kinds == {None: digest.NEW, "files": digest.OLD, "table_versions": digest.OLD}
    assert SqliteLedger(tmp_path / "fresh.db").digest_kind == digest.NEW
    shutil.copy(OLD, tmp_path / "dbb42fd.db")  # from before versions, with files
    assert SqliteLedger(tmp_path / "dbb42fd.db").digest_kind == digest.OLD
