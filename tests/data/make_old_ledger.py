"""Makes tests/data/ledger-dbb42fd.db: a ledger file with the schema of commit dbb42fd
(before schema versions, outbox.ord, runs.pid/host, catalog memory and follow-ups), with
the history of one run of tests/test_pipeline.py's "art" profile in mode: changes over
its two GOOD rows. The history is made by today's code on a scratch ledger, then copied
into the old schema (only the columns it had), so file digests and snapshot hashes are
what today's code computes. Run from the repository: python tests/data/make_old_ledger.py
"""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
OLD = "dbb42fd"
OUT = HERE / "ledger-dbb42fd.db"


def old_schema() -> str:
    out = ""
    for path, var in (("filebridge/ledger/sqlite.py", "SCHEMA"), ("filebridge/stock.py", "SCHEMA"),
                      ("filebridge/schedule.py", "TABLE")):
        src = subprocess.run(["git", "-C", str(REPO), "show", f"{OLD}:{path}"],
                             capture_output=True, text=True, check=True).stdout
        found = re.search(var + r' = """(.*?)"""', src, re.DOTALL)
        assert found is not None, var
        out += found.group(1)
    return out


def main() -> None:
    sys.path[:0] = [str(REPO), str(REPO / "tests")]
    from conftest import write_profile
    from test_pipeline import GOOD, drop, profile

    from filebridge.job import Job
    from filebridge.ledger import SqliteLedger
    from filebridge.profile import load_profile
    from filebridge.runner import run_files

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "inbox").mkdir()
        prof = write_profile(work, profile(mode="changes"))
        ledger = SqliteLedger(work / "now.db")
        job = Job(load_profile(prof), ledger)
        [outcome] = run_files(job, [drop(work, "ART_1.txt", GOOD)])
        assert outcome.status == "done", outcome.reason
        OUT.unlink(missing_ok=True)
        old = sqlite3.connect(OUT)
        old.executescript(old_schema())
        for table in ("runs", "files", "snapshots"):
            cols = [r[1] for r in old.execute(f"PRAGMA table_info({table})")]
            rows = ledger.db.execute(f"SELECT {', '.join(cols)} FROM {table}").fetchall()
            old.executemany(f"INSERT INTO {table}({', '.join(cols)}) VALUES "
                            f"({', '.join('?' * len(cols))})", rows)
        old.commit()
        old.execute("VACUUM")
        old.close()
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
