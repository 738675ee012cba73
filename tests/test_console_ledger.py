"""The console's ledger queries (filebridge/ledger/console.py) over both backends, SQLite
and a real PostgreSQL server (the contract fixtures of tests/test_ledger_contract.py):
sync requests asked twice are one, taken by one connection only; a held run's plan
with create/update/zero and what the shop holds now; the last error; stock SKUs."""

from __future__ import annotations

import json

from test_ledger_contract import ledger, opener  # noqa: F401  (fixtures)

from filebridge.ledger import console as q
from filebridge.ledger.changelog import ChangeLog
from filebridge.sinks.api.base import Result


def test_sync_requests_are_asked_once_and_taken_by_one_connection(opener):  # noqa: F811
    web, watcher, other = opener(), opener(), opener()
    assert not q.sync_asked(watcher, "p")
    first = q.ask_sync(web, "p", "alice")
    assert q.ask_sync(web, "p", "bob") == first  # still open: the same request
    assert q.sync_asked(watcher, "p") and not q.sync_asked(watcher, "other")
    assert q.take_syncs(watcher, "p") == [first]
    assert q.take_syncs(other, "p") == []  # taken already
    second = q.ask_sync(web, "p", "bob")  # asked while the first runs: a new one
    assert second != first
    q.syncs_done(watcher, [first], "done")
    rows = q.syncs(web, "p")
    assert [(r["id"], r["asked_by"], r["outcome"]) for r in rows] == [
        (second, "bob", None), (first, "alice", "done")]
    assert rows[1]["asked"] <= rows[1]["taken"] <= rows[1]["done"]


def test_a_held_runs_plan_and_the_profiles_last_error(ledger):  # noqa: F811
    rid = ledger.start_run("p")
    f = ledger.claim("p", "d1", "a.csv", 1, rid)
    log = ChangeLog(ledger, "p", "woo")
    log.stage([("A", "upsert", 1, None, '{"sku": "A", "stock": 5}', 2, 0)], f.id, rid)
    log.commit(f.id, hold=False)
    sent = log.pending(10)
    assert q.shop_health(ledger, "p")["woo"]["waiting_since"] is not None  # queued
    log.settle(sent, [Result(sent[0].change.id, True)])  # the shop has A with 5
    health = q.shop_health(ledger, "p")["woo"]
    assert health["last_sent"] is not None and health["waiting_since"] is None
    assert health["error"] is None
    rid1 = ledger.start_run("p")
    e = ledger.claim("p", "d0", "z.csv", 1, rid1)
    log.stage([("Z", "upsert", 9, None, '{"sku": "Z", "stock": -1}', 2, 0)], e.id, rid1)
    log.commit(e.id, hold=False)
    bad = log.pending(10)
    log.settle(bad, [Result(bad[0].change.id, False, message="stock below 0")])
    health = q.shop_health(ledger, "p")["woo"]
    assert "stock below 0" in health["error"] and health["error_at"] >= health["last_sent"]
    rid2 = ledger.start_run("p")
    g = ledger.claim("p", "d2", "b.csv", 1, rid2)
    log.stage([("A", "upsert", 2, None, '{"sku": "A", "stock": 4}', 2, 0),
               ("B", "upsert", 3, None, '{"sku": "B", "stock": 1}', 3, 1),
               ("C", "zero", 4, None, '{"sku": "C", "stock": 9}', None, 2)], g.id, rid2)
    log.commit(g.id, hold=True)
    assert q.held(ledger, "p") == [{"run": rid2, "sink": "woo", "changes": 3}]
    counts, changes = q.held_changes(ledger, "p", rid2)
    assert counts == {"woo": {"update": 1, "create": 1, "zero": 1}}
    by_key = {c["key"]: c for c in changes}
    assert (by_key["A"]["op"], by_key["A"]["old"], by_key["A"]["new"]) == (
        "update", {"sku": "A", "stock": 5}, {"sku": "A", "stock": 4})
    assert (by_key["B"]["op"], by_key["B"]["old"], by_key["B"]["line"]) == ("create", None, 3)
    assert by_key["C"]["new"] == {"stock": 0}
    assert q.held_changes(ledger, "p", rid2, limit=1)[1] == [changes[0]]
    ledger.finish(g.id, "p", "done", {"read": 3}, "held")
    assert q.last_error(ledger, "p") is None
    h = ledger.claim("p", "d3", "c.csv", 1, rid2)
    ledger.finish(h.id, "p", "rejected", {"read": 0}, "not a workbook")
    err = q.last_error(ledger, "p")
    assert err is not None
    assert (err["what"], err["error"]) == ("c.csv", "not a workbook")
    assert (q.file(ledger, h.id) or {}).get("status") == "rejected"
    assert [x["name"] for x in q.files(ledger, "p", run_id=rid2)] == ["c.csv", "b.csv"]
    assert json.dumps((q.run(ledger, "p", rid2) or {}).get("tally")) == "{}"
