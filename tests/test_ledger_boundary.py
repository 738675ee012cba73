"""The ledger boundary, kept mechanically: SQL against the ledger lives in
filebridge/ledger/ only, so a second backend (PostgreSQL) is one package to write
and every statement runs through the same retries, placeholders and error mapping.

Two modules keep a private SQLite file that is not the ledger and never shared
between processes, so they are allowed their own connection:
- tables/store.py: a scratch, read-only indexed copy of a large related table;
- sinks/productfile.py: a temporary spill that groups a file's rows by product.
errors.py imports sqlite3 only to recognise a full disk in a driver error.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "filebridge"
SCRATCH = {"tables/store.py", "sinks/productfile.py"}
DRIVERS = {"sqlite3", "psycopg", "psycopg2", "psycopg_pool"}
SQL_CALLS = {"execute", "executemany", "executescript"}


def _outside_the_ledger():
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        if not rel.startswith("ledger/"):
            yield rel, ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def test_no_sql_runs_outside_the_ledger_package_but_in_the_scratch_stores():
    found = []
    for rel, tree in _outside_the_ledger():
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in SQL_CALLS and rel not in SCRATCH):
                found.append(f"{rel}:{node.lineno}: .{node.func.attr}(")
    assert found == [], "SQL outside filebridge/ledger/:\n" + "\n".join(found)


def test_database_drivers_are_imported_only_by_the_ledger_and_the_scratch_stores():
    found = []
    for rel, tree in _outside_the_ledger():
        for node in ast.walk(tree):
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""])
            for name in names:
                if name.split(".")[0] in DRIVERS and rel not in SCRATCH | {"errors.py"}:
                    found.append(f"{rel}:{node.lineno}: import {name}")
    assert found == [], "database drivers outside filebridge/ledger/:\n" + "\n".join(found)


def test_the_walk_sees_the_package_and_the_scratch_stores_still_need_their_exception():
    # Guard against a vacuous pass: the walk finds the modules, and the scratch stores
    # really do run SQL (if they stopped, SCRATCH should shrink).
    seen = dict(_outside_the_ledger())
    assert {"pipeline.py", "runner.py", "stock/inventory.py", *SCRATCH} <= seen.keys()
    for rel in SCRATCH:
        assert any(isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
                   and n.func.attr in SQL_CALLS for n in ast.walk(seen[rel])), rel
