"""Test data and small utilities shared by the end-to-end tests."""

from __future__ import annotations

import csv
import sqlite3
import subprocess
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from filebridge.ledger.sqlite import Ledger
    from filebridge.readers.base import Reader
    from filebridge.records import FileReport
    from filebridge.sinks.base import Sink

# A fixed-width article record: 8 + 20 + 7 + 5 = 40 characters.
FIXED_LAYOUT: dict[str, dict[str, Any]] = {
    "ART": {"start": 1, "length": 8},
    "DESC": {"start": 9, "length": 20},
    "PRICE": {"start": 29, "length": 7, "type": "decimal", "scale": 2, "implied": True},
    "QTY": {"start": 36, "length": 5, "type": "integer"},
}
DESCRIPTIONS = ["Caffè macinato", "Tè verde", "Crème brûlée", "Größe XL Jacke",
                "Niño ñandú", "Façade gris", "Smørrebrød"]
# What a bad row breaks, and how: the field named in the rejects file.
BAD = {"QTY": lambda art, desc: fixed_record(art, desc, "1000", "  x1"),
       "PRICE": lambda art, desc: fixed_record(art, desc, "12a", "1"),
       "sku": lambda art, desc: fixed_record("", desc, "500", "1")}


def fixed_record(art: str, desc: str, price: str, qty: str) -> str:
    return f"{art:<8}{desc:<20}{price:0>7}{qty:>5}"


def fixed_rows(n: int, bad: dict[int, str] | None = None, *, seed: int = 0) -> bytes:
    """``n`` fixed-width records in cp1252 (CRLF), line ``i`` (1-based) broken as
    ``bad[i]`` says (a key of :data:`BAD`)."""
    bad = bad or {}
    lines = []
    for i in range(1, n + 1):
        art = f"A{seed}{i:06d}"[:8]
        desc = DESCRIPTIONS[i % len(DESCRIPTIONS)]
        if i in bad:
            lines.append(BAD[bad[i]](art, desc))
        else:
            lines.append(fixed_record(art, desc, str(100 + i % 9000), str(i % 50)))
    return ("\r\n".join(lines) + "\r\n").encode("cp1252")


def fixed_profile(root: Path, *, name: str = "art", watch: str = "events",
                  poll_interval: str = "1s", stable_for: str = "1s") -> dict:
    """A fixed-width -> CSV profile whose folders all live under ``root``."""
    return {
        "name": name,
        "source": {"kind": "local", "path": str(root / "inbox"), "pattern": ["*.txt"],
                   "ready": {"stable_for": stable_for}, "archive": str(root / "archive"),
                   "errors": str(root / "errors"), "watch": watch,
                   "poll_interval": poll_interval},
        "read": {"format": "fixed", "encoding": "cp1252",
                 "fields": {k: dict(v) for k, v in FIXED_LAYOUT.items()}},
        "map": {"key": "sku", "fields": {
            "sku": {"from": "ART", "required": True},
            "title": {"from": "DESC", "apply": ["trim"]},
            "price": {"from": "PRICE"},
            "stock": {"from": "QTY"}}},
        "write": [{"format": "csv", "path": str(root / "out" / "{stem}.csv")}],
        "feedback": {"ack": {"path": str(root / "feedback" / "{stem}.ack.csv")},
                     "rejects": {"path": str(root / "feedback" / "{stem}.rejects.csv")}},
        "ledger": str(root / "ledger.db"),
    }


T = TypeVar("T")


# Callable[...]: callers in a loop bind the loop's value as a default argument
def wait_for(check: Callable[..., T], timeout: float = 20, what: str = "condition",
             every: float = 0.05) -> T:
    """Poll ``check`` until it returns something truthy; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(every)


def ledger_files(db: Path) -> list[tuple[str, str]]:
    """(name, status) of every file row, in order; [] while there is no ledger."""
    if not db.exists():
        return []
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        return con.execute("SELECT name, status FROM files ORDER BY id").fetchall()
    except sqlite3.OperationalError:  # schema not created yet
        return []
    finally:
        con.close()


def read_csv(path: Path, delimiter: str = ",") -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter=delimiter))


def drop(path: Path, data: bytes) -> Path:
    """Put a complete file in place at once (written under a dot-name, then renamed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name("." + path.name + ".part")
    tmp.write_bytes(data)
    tmp.rename(path)
    return path


def read_all(reader: Reader, path: Path) -> tuple[list[dict], list[int], FileReport, list]:
    """Every row of ``path`` through a reader instance: rows, their lines, the report
    and the batches. The report's spool is an anonymous temp file: nothing to clean."""
    from filebridge.records import FileReport

    report = FileReport(path.name)
    batches = list(reader.read(path, report))
    rows = [r for b in batches for r in b.rows()]
    lines = [n for b in batches for n in b.lines.to_pylist()]
    return rows, lines, report, batches


def run_sink(sink: Sink, base: Path, batches: list, product: dict | None, *,
             languages: list[str] | None = None, attributes: dict | None = None,
             ledger: Ledger | None = None, file_id: int = 1,
             today: date | None = None) -> FileReport:
    """Drive a sink through one input file as the pipeline does (bound to a job with
    a real ledger, rows numbered and accounted for) and publish what it staged.
    Returns the file's report, its tally counted."""
    from filebridge.ledger.sqlite import SqliteLedger
    from filebridge.mapping import MapSpec
    from filebridge.outputs import Outbox
    from filebridge.records import FileReport, Rows
    from filebridge.sinks.base import JobInfo, SinkContext

    spec = MapSpec.model_validate({"product": product, "languages": languages or [],
                                   "attributes": attributes or {}})
    ledger = ledger or SqliteLedger(base / "ledger.db")
    sink.bind(JobInfo("p", "p", ledger, spec, base))
    report = FileReport("x.csv")
    rows = Rows(report)
    ctx = SinkContext(base=base, vars={"stem": "x", "name": "x.csv", "profile": "p",
                                       "date": "20261127", "time": "020000"},
                      outbox=Outbox(), product=spec.product, rows=rows, report=report,
                      file_id=file_id, run_id=1, today=today or date(2026, 11, 27),
                      scratch_root=base / ".scratch")
    try:
        sink.start(ctx)
        for b in batches:
            b = rows.add(b)
            report.tally.read += len(b)
            sink.write(b)
        sink.finish()
    finally:
        sink.close()
    ctx.outbox.publish()
    ledger.finish(file_id, "p", "done", {})  # (commits memory)
    rows.count()
    report.flush()
    return report


def filebridge(*args: str, crash_at: str | None = None, env: dict[str, str] | None = None,
               cwd: Path | None = None, timeout: float = 120,
               preexec_fn: Callable[[], None] | None = None
               ) -> subprocess.CompletedProcess[str]:
    """``filebridge ARGS`` in a subprocess; ``crash_at`` names the point where it
    SIGKILLs itself (filebridge/crashpoints.py): its return code is then -9."""
    import os
    import sys

    full = dict(os.environ)
    full.pop("FILEBRIDGE_LEDGER", None)
    full.pop("FILEBRIDGE_CRASH_AT", None)
    if crash_at is not None:
        full["FILEBRIDGE_CRASH_AT"] = crash_at
    full.update(env or {})
    return subprocess.run([sys.executable, "-m", "filebridge", *args], capture_output=True,
                          text=True, env=full, cwd=cwd, timeout=timeout,
                          preexec_fn=preexec_fn)


KILLED = -9  # the return code of a process that SIGKILLed itself
