"""A processed site for the console tests: two profiles on one real SQLite ledger, run by
the real CLI in a subprocess.

- ``stock``: a CSV export to the loopback WooCommerce server (shop API, missing
  products zeroed); its first file has a row the mapping rejects, its second is a
  truncated export the circuit breaker holds (90% of the catalog would be zeroed).
- ``listino``: a department's spreadsheet (xlsx) to a CSV file, with an HTML run report
  per file beside its ack; its source is polled only hourly, so a file put in its
  inbox waits for "sync now" (or an hour).

Users: ``alice`` (operator) and ``victor`` (viewer), in a users file of Argon2 hashes.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import xlsxwriter
from conftest import write_profile

from filebridge.console.users import line

PASSWORDS = {"alice": "alice-Secret-1", "victor": "victor-Secret-2"}
N = 200


def run_cli(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "filebridge", *args], cwd=cwd, env=env,
                          check=False, capture_output=True, text=True, timeout=180)


def stock_rows(n: int, bad: int | None = None) -> str:
    lines = ["SKU;NAME;PRICE;QTY"]
    for i in range(n):
        qty = "many" if i == bad else str(i % 17)
        lines.append(f"SKU{i:05};Article {i};{10 + i % 50}.90;{qty}")
    return "\n".join(lines) + "\n"


def spreadsheet(path: Path, rows: list[tuple[str, str, object, object]]) -> Path:
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("Listino")
    ws.write_row(0, 0, ["Codice", "Nome", "Prezzo", "Giacenza"])
    for r, row in enumerate(rows, start=1):
        ws.write_row(r, 0, row)
    wb.close()
    return path


LISTINO_ROWS: list[tuple[str, str, object, object]] = [
    ("T-100", "Tovaglia lino", 39.9, 12), ("T-101", "Tovaglia cotone", 29.9, 4),
    ("", "Senza codice", 9.9, 1),                 # required SKU missing: rejected
    ("C-200", "Cuscino", -5, 3),                   # a negative price: rejected
    ("P-300", "Plaid", 59.0, 7)]


@dataclass
class Site:
    root: Path
    env: dict[str, str]
    users: Path
    held_run: int
    listino: Path
    stock: Path


def build(root: Path, env: dict[str, str], woo_url: str) -> Site:
    env = env | {"WOO_URL": woo_url, "WOO_KEY": "ck_console", "WOO_SECRET": "cs_console"}
    for d in ("profiles", "inbox/stock", "inbox/listino"):
        (root / d).mkdir(parents=True, exist_ok=True)
    stock = write_profile(root, {
        "name": "stock",
        "source": {"kind": "local", "path": "../inbox/stock", "pattern": ["*.csv"],
                   "ready": {"stable_for": "0s"}, "archive": "../archive/stock",
                   "errors": "../errors/stock"},
        "read": {"format": "csv", "delimiter": ";",
                 "fields": {"QTY": {"type": "integer"}, "PRICE": {"type": "decimal",
                                                                 "scale": 2}}},
        "map": {"key": "sku", "fields": {
            "sku": {"from": "SKU", "required": True}, "title": {"from": "NAME"},
            "price": {"from": "PRICE"}, "stock": {"from": "QTY"}}},
        "write": [{"id": "woo", "format": "woocommerce_api", "url": "${WOO_URL}",
                   "consumer_key": "${WOO_KEY}", "consumer_secret": "${WOO_SECRET}",
                   "missing": "zero", "limits": {"max_backoff": 0.05, "retries": 20}}],
        "feedback": {"ack": {"path": "../feedback/stock/{stem}.ack.csv"},
                     "rejects": {"path": "../feedback/stock/{stem}.rejects.csv"}},
        "ledger": "../ledger.db"}, "stock.yaml")
    listino = write_profile(root, {
        "name": "listino",
        "source": {"kind": "local", "path": "../inbox/listino", "pattern": ["LISTINO_*.xlsx"],
                   "ready": {"stable_for": "0s"}, "archive": "../archive/listino",
                   "errors": "../errors/listino", "watch": "polling",
                   "poll_interval": "1h"},
        "read": {"format": "xlsx", "fields": {"Prezzo": {"type": "decimal", "scale": 2},
                                               "Giacenza": {"type": "integer"}}},
        "map": {"key": "sku", "fields": {
            "sku": {"from": "Codice", "required": True}, "title": {"from": "Nome"},
            "price": {"from": "Prezzo", "min": 0}, "stock": {"from": "Giacenza"}}},
        "write": [{"format": "csv", "path": "../outbox/listino/{stem}.csv", "delimiter": ";"}],
        "feedback": {"ack": {"path": "../feedback/listino/{stem}.ack.csv"},
                     "rejects": {"path": "../feedback/listino/{stem}.rejects.csv"},
                     "report": {}},
        "ledger": "../ledger.db"}, "listino.yaml")
    # stock: a file with one bad row (exit 1: rows rejected), then a truncated one (held).
    (root / "inbox/stock/S_1.csv").write_text(stock_rows(N, bad=7), encoding="utf-8")
    r = run_cli("run", str(stock), cwd=root, env=env)
    if r.returncode != 1:
        raise AssertionError(r.stdout + r.stderr)
    (root / "inbox/stock/S_2.csv").write_text(stock_rows(20), encoding="utf-8")
    r = run_cli("run", str(stock), cwd=root, env=env)
    if r.returncode != 7:
        raise AssertionError(r.stdout + r.stderr)
    st = run_cli("status", "--profile", str(stock), cwd=root, env=env)
    held_run = int(st.stdout.split("held: run #")[1].split()[0])
    # listino: a file that is no workbook (rejected whole), then a spreadsheet with two
    # bad rows.
    (root / "inbox/listino/LISTINO_0.xlsx").write_bytes(b"not a workbook")
    spreadsheet(root / "inbox/listino/LISTINO_1.xlsx", LISTINO_ROWS)
    r = run_cli("run", str(listino), cwd=root, env=env)
    if r.returncode != 3:
        raise AssertionError(r.stdout + r.stderr)
    users = root / "console-users"
    users.write_text(line("alice", "operator", PASSWORDS["alice"]) + "\n"
                     + line("victor", "viewer", PASSWORDS["victor"]) + "\n", encoding="utf-8")
    return Site(root, env, users, held_run, listino, stock)
