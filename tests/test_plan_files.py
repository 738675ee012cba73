"""``plan`` on file outputs: new / changed / unchanged / removed against the last
delivery for ``mode: changes``, every record for ``mode: full``; and it makes no
ledger where there is none (its help says it records nothing)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from click.testing import CliRunner
from conftest import write_profile

from filebridge.cli import main


def _profile(workdir: Path) -> Path:
    return write_profile(workdir, {
        "name": "stock",
        "source": {"kind": "local", "path": "../inbox", "pattern": ["*.csv"],
                   "ready": {"stable_for": "0s"}},
        "read": {"format": "csv", "delimiter": ";"},
        "map": {"key": "sku", "fields": {"sku": {"from": "SKU"}, "qty": {"from": "QTY"}}},
        "write": [{"format": "csv", "path": "../out/changes/{stem}.csv", "mode": "changes"},
                  {"format": "csv", "path": "../out/full/{stem}.csv"}],
    })


def _plan(prof: Path, file: Path) -> str:
    r = CliRunner().invoke(main, ["plan", str(prof), str(file)])
    assert r.exit_code == 0, r.output
    return r.output


def test_plan_counts_against_the_last_delivery(workdir: Path) -> None:
    prof = _profile(workdir)
    ledger = workdir / "profiles" / "filebridge.db"
    first = workdir / "inbox" / "S_1.csv"
    first.write_text("SKU;QTY\nA;1\nB;2\nC;3\n")
    out = _plan(prof, first)
    assert out.startswith("S_1.csv: 3 rows read, 0 rejected"), out
    lines = [line for line in out.splitlines() if "records" in line]
    assert len(lines) == 2, out
    assert lines[0].endswith(
        ": 3 records (new 3, changed 0, unchanged 0, removed 0; mode: changes)"), out
    assert lines[1].endswith(": 3 records (mode: full, every record)"), out
    assert not ledger.exists()  # nothing recorded, not even an empty ledger

    r = CliRunner().invoke(main, ["run", str(prof)])
    assert r.exit_code == 0, r.output
    runs = sqlite3.connect(ledger).execute("SELECT count(*) FROM runs").fetchone()[0]

    second = workdir / "S_2.csv"  # A unchanged, B changed, C gone, D new
    second.write_text("SKU;QTY\nA;1\nB;5\nD;4\n")
    out = _plan(prof, second)
    lines = [line for line in out.splitlines() if "records" in line]
    assert lines[0].endswith(
        ": 2 records (new 1, changed 1, unchanged 1, removed 1; mode: changes)"), out
    assert lines[1].endswith(": 3 records (mode: full, every record)"), out
    assert sqlite3.connect(ledger).execute("SELECT count(*) FROM runs").fetchone()[0] == runs

    r = CliRunner().invoke(main, ["run", str(prof), str(second)])  # the plan was right
    assert r.exit_code == 0, r.output
    written = (workdir / "out" / "changes" / "S_2.csv").read_text().splitlines()
    assert sorted(written[1:]) == ["B,5", "D,4"], written
