"""The price of the day for shops that cannot schedule a sale: which rows are on
sale on a date (column-wise and row-wise agree), and the delta of an API sink that
is sent the price of the day (DAY_PRICE) sends a record again on the day its sale
starts or ends, not on the days between; other API sinks are not."""

from __future__ import annotations

import itertools
import json
from datetime import date
from types import SimpleNamespace

import pyarrow as pa

from filebridge.catalog.prices import in_force, sale_in_force, selling
from filebridge.ledger.changelog import ChangeLog
from filebridge.ledger.sqlite import SqliteLedger
from filebridge.records import Batch
from filebridge.sinks.api.base import ApiSinkOptions, Result
from filebridge.sync.changes import ApiSync

DAY = date(2026, 3, 10)


def test_the_column_and_the_row_say_the_same():
    sales = [None, "", "19.90"]
    starts = [None, "", "2026-03-01", "2026-03-10", "2026-03-11"]
    ends = [None, "", "2026-03-09", "2026-03-10", "2026-04-01"]
    rows = [{"sku": f"S{i}", "price": "25.00", "sale_price": s, "sale_from": a, "sale_to": b}
            for i, (s, a, b) in enumerate(itertools.product(sales, starts, ends))]
    table = pa.table({k: [r[k] for r in rows] for k in rows[0]})
    in_force_now = sale_in_force(table, DAY)
    assert in_force_now is not None
    column = in_force_now.to_pylist()
    assert column == [in_force(r, DAY) for r in rows]
    # (open, blank, started, starts today) x (open, blank, ends today, later)
    assert sum(column) == 4 * 4
    typed = table.set_column(3, "sale_from", pa.array(
        [date.fromisoformat(x) if x else None for x in table["sale_from"].to_pylist()]))
    typed_now = sale_in_force(typed, DAY)
    assert typed_now is not None and typed_now.to_pylist() == column  # date32 columns too
    assert sale_in_force(table.drop(["sale_price"]), DAY) is None


def test_selling_is_the_sale_price_only_while_the_sale_holds():
    rec = {"sku": "A", "price": "25.00", "sale_price": "19.90", "sale_from": "2026-03-10",
           "sale_to": "2026-03-20"}
    assert selling(rec, date(2026, 3, 9)) == ("25.00", "")
    assert selling(rec, DAY) == ("19.90", "25.00")
    assert selling(rec, date(2026, 3, 21)) == ("25.00", "")


def test_the_day_a_sale_starts_or_ends_the_record_is_sent_again(tmp_path):
    log = ChangeLog(SqliteLedger(tmp_path / "l.db"), "p", "shop")
    sink = SimpleNamespace(o=ApiSinkOptions(url="http://x"), job=None, DAY_PRICE=True)
    batch = Batch(pa.table({"sku": ["A", "B"], "price": ["25.00", "30.00"],
                            "sale_price": ["19.90", None],
                            "sale_from": ["2026-03-10", None],
                            "sale_to": ["2026-03-20", None]}), pa.array([2, 3], pa.int64()))
    sent_on: list[date] = []

    def run(file_id: int, day: date) -> list[str]:
        sync = ApiSync(sink, "shop", log, None, file_id, file_id, day)
        sync.write(batch, None)
        log.commit(file_id, hold=False)
        pending = log.pending(10)
        log.settle(pending, [Result(p.change.id, True) for p in pending])
        for p in pending:
            assert "derived:sale_in_force" not in p.change.record  # hashed, not sent
            assert json.dumps(p.change.record)
        if pending:
            sent_on.append(day)
        return sorted(p.change.key for p in pending)

    assert run(1, date(2026, 3, 8)) == ["A", "B"]  # first load
    assert run(2, date(2026, 3, 9)) == []  # nothing changed
    assert run(3, date(2026, 3, 10)) == ["A"]  # the sale starts
    assert run(4, date(2026, 3, 15)) == []
    assert run(5, date(2026, 3, 21)) == ["A"]  # and ends
    assert run(6, date(2026, 3, 22)) == []
    # A shop that schedules the sale itself (DAY_PRICE false) is not sent it again.
    sink.DAY_PRICE = False
    assert run(7, date(2026, 3, 23)) == ["A", "B"]  # the hash now leaves the day out
    assert run(8, date(2026, 3, 10)) == []
