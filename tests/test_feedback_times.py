"""Files for the ERP say what they mean: times in the ERP's own zone (local wall time
in fixed-width records, ISO 8601 with the offset in CSV), and an orders file's counts
equal the movement lines written."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from conftest import write_profile
from helpers import read_csv

ROME = ZoneInfo("Europe/Rome")

# 2026-03-29: Italy goes from CET (+01:00) to CEST (+02:00) at 02:00 local time.
ORDERS = ("ORDER;LINE;SKU;QTY;STATUS;PLACED\n"
          "W1;1;A;1;processing;2026-03-29T00:30:00Z\n"     # 01:30 CET
          "W2;1;B;2;processing;2026-03-29T01:30:00Z\n"     # 03:30 CEST
          "W3;1;A;1;cancelled;2026-03-29T01:45:00Z\n")     # never sold: nothing to move

FIXED = {"seq": {"start": 1, "length": 6, "type": "integer"},
         "kind": {"start": 7, "length": 8},
         "order": {"start": 15, "length": 10},
         "sku": {"start": 25, "length": 10},
         "qty": {"start": 35, "length": 6, "type": "integer"},
         "date": {"start": 41, "length": 8, "type": "date", "format": "YYYYMMDD"},
         "time": {"start": 49, "length": 6}}


def orders_profile(workdir: Path, feedback: dict, movements: dict, as_of: dict | None = None,
                   ack: dict | None = None) -> Path:
    stock = {"inventory": "web", "role": "orders", "sku": "SKU", "quantity": "QTY",
             "order": "ORDER", "line": "LINE", "status": "STATUS", "at": "PLACED",
             "feedback": movements}
    if as_of is not None:
        stock["as_of"] = as_of
    (workdir / "inbox" / "orders").mkdir(parents=True, exist_ok=True)
    return write_profile(workdir, {
        "name": "orders",
        "source": {"kind": "local", "path": "../inbox/orders", "pattern": ["*.csv"],
                   "ready": {"stable_for": "0s"}},
        "read": {"format": "csv", "delimiter": ";", "fields": {"QTY": {"type": "integer"}}},
        "map": {"key": "SKU"}, "stock": stock, "write": [],
        "feedback": {"ack": ack or {"path": "../feedback/{stem}.ack.csv"}} | feedback,
        "ledger": "../ledger.db"}, "orders.yaml")


def run(workdir: Path, profile: Path, env: dict[str, str], name: str, text: str
        ) -> subprocess.CompletedProcess[str]:
    (workdir / "inbox" / "orders" / name).write_text(text, encoding="utf-8")
    r = subprocess.run([sys.executable, "-m", "filebridge", "run", str(profile)], cwd=workdir,
                       env=env, capture_output=True, text=True, timeout=120, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    return r


@pytest.fixture
def utc_env(cli_env: dict[str, str]) -> dict[str, str]:
    """This machine keeps UTC, as servers do; the ERP is in Italy."""
    return cli_env | {"TZ": "UTC"}


def test_a_fixed_movement_file_carries_rome_wall_time_across_the_dst_change(workdir, utc_env):
    profile = orders_profile(workdir, {"timezone": "Europe/Rome"}, {
        "path": "../outbox/erp/MOV{seq:06d}.txt", "format": "fixed", "fields": FIXED})
    run(workdir, profile, utc_env, "ORDERS_1.csv", ORDERS)
    lines = (workdir / "outbox" / "erp" / "MOV000001.txt").read_text().splitlines()
    assert [(ln[14:24].strip(), ln[40:48], ln[48:54]) for ln in lines] == [
        ("W1", "20260329", "013000"), ("W2", "20260329", "033000")]


def test_a_csv_movement_file_and_ack_carry_the_erp_offset(workdir, utc_env):
    profile = orders_profile(workdir, {"timezone": "Europe/Rome"}, {
        "path": "../outbox/erp/MOV{seq:06d}.csv",
        "columns": ["seq", "kind", "order", "sku", "qty", "date", "time", "occurred"]})
    run(workdir, profile, utc_env, "ORDERS_1.csv", ORDERS)
    rows = read_csv(workdir / "outbox" / "erp" / "MOV000001.csv", ";")
    assert [(r["order"], r["date"], r["time"], r["occurred"]) for r in rows] == [
        ("W1", "2026-03-29", "013000", "2026-03-29T01:30:00+01:00"),
        ("W2", "2026-03-29", "033000", "2026-03-29T03:30:00+02:00")]
    processed = datetime.fromisoformat(read_csv(
        workdir / "feedback" / "ORDERS_1.ack.csv", ";")[0]["processed"])
    assert processed.utcoffset() == datetime.now(ROME).utcoffset()
    assert abs(processed - datetime.now(ROME)) < timedelta(minutes=2)


def test_a_fixed_ack_has_the_erp_wall_time_in_its_layout(workdir, utc_env):
    ack = {"path": "../feedback/{stem}.ack.txt", "format": "fixed", "fields": {
        "processed": {"start": 1, "length": 14, "type": "date", "format": "%Y%m%d%H%M%S"},
        "read": {"start": 15, "length": 5, "type": "integer"}}}
    profile = orders_profile(workdir, {"timezone": "Europe/Rome"},
                             {"path": "../outbox/erp/MOV{seq:06d}.csv"}, ack=ack)
    run(workdir, profile, utc_env, "ORDERS_1.csv", ORDERS)
    record = (workdir / "feedback" / "ORDERS_1.ack.txt").read_text().rstrip("\r\n")
    wall = datetime.strptime(record[:14], "%Y%m%d%H%M%S").replace(tzinfo=ROME)
    assert abs(wall - datetime.now(ROME)) < timedelta(minutes=2)
    assert record[14:19] == "00003"


def test_without_feedback_timezone_the_erp_zone_of_as_of_then_the_machine_zone(
        workdir, cli_env):
    movements = {"path": "../outbox/erp/MOV{seq:06d}.csv", "columns": ["order", "occurred"]}
    profile = orders_profile(workdir, {}, movements, as_of={"timezone": "Europe/Rome"})
    run(workdir, profile, cli_env | {"TZ": "UTC"}, "ORDERS_1.csv", ORDERS)
    rows = read_csv(workdir / "outbox" / "erp" / "MOV000001.csv", ";")
    assert rows[0]["occurred"] == "2026-03-29T01:30:00+01:00"
    profile = orders_profile(workdir, {}, movements)  # no zone declared: this machine's
    run(workdir, profile, cli_env | {"TZ": "America/New_York"}, "ORDERS_2.csv",
        ORDERS.replace("W1;1;A;1;", "W1;1;A;2;"))
    rows = read_csv(workdir / "outbox" / "erp" / "MOV000002.csv", ";")
    assert rows == [{"order": "W1", "occurred": "2026-03-28T20:30:00-04:00"}]


def test_an_unknown_timezone_is_a_profile_error(workdir, cli_env):
    profile = orders_profile(workdir, {"timezone": "Europe/Roma"},
                             {"path": "../outbox/erp/MOV{seq:06d}.csv"})
    r = subprocess.run([sys.executable, "-m", "filebridge", "check", str(profile)],
                       cwd=workdir, env=cli_env, capture_output=True, text=True, timeout=120,
                       check=False)
    assert r.returncode != 0
    assert "unknown timezone 'Europe/Roma'" in r.stdout + r.stderr


def test_the_counts_printed_and_acked_are_the_lines_written(workdir, utc_env):
    profile = orders_profile(workdir, {"timezone": "Europe/Rome"}, {
        "path": "../outbox/erp/MOV{seq:06d}.txt", "format": "fixed", "fields": FIXED})
    r = run(workdir, profile, utc_env, "ORDERS_1.csv", ORDERS)
    lines = (workdir / "outbox" / "erp" / "MOV000001.txt").read_text().splitlines()
    assert len(lines) == 2
    ack = read_csv(workdir / "feedback" / "ORDERS_1.ack.csv", ";")[0]
    assert (ack["read"], ack["sent"], ack["unchanged"], ack["movements"]) == ("3", "2", "1", "2")
    assert "(read 3, sent 2, unchanged 1, rejected 0, skipped 0, queued 0)" in r.stdout
    assert "MOV000001.txt: 2 lines written (3 order lines: 1 cancelled)" in r.stdout, r.stdout

    # The same orders again, W2 now cancelled: one line (its stock back), the rest as
    # recorded; the counts still add up and equal the lines.
    r = run(workdir, profile, utc_env, "ORDERS_2.csv",
            ORDERS.replace("W2;1;B;2;processing", "W2;1;B;2;cancelled"))
    lines = (workdir / "outbox" / "erp" / "MOV000002.txt").read_text().splitlines()
    assert [ln[6:14].strip() for ln in lines] == ["cancel"]
    ack = read_csv(workdir / "feedback" / "ORDERS_2.ack.csv", ";")[0]
    assert (ack["read"], ack["sent"], ack["unchanged"], ack["movements"]) == ("3", "1", "2", "1")
    assert "MOV000002.txt: 1 line written (3 order lines: 1 as recorded, 1 cancelled)" \
        in r.stdout, r.stdout


def test_what_a_movement_file_holds_adds_up_in_words():
    from filebridge.stock.files import Quiet, written

    quiet = Quiet(movements=4)
    quiet.add("A", "cancelled")
    assert written(4, 5, quiet) == "4 lines written (5 order lines: 1 cancelled)"
    # Two movements recorded before the file (a pull) go out with it.
    assert written(6, 5, quiet) == ("6 lines written (5 order lines: 1 cancelled, 2 lines "
                                    "recorded before this file)")
    # A line whose SKU changed gives the old one back and sells the new: two movements.
    assert written(2, 1, Quiet(movements=2)) == ("2 lines written (1 order line: 2 movements "
                                                 "from 1 line)")
