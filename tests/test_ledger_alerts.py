"""The ledger's part of alerts and run reports (filebridge/ledger/alerts.py,
reports.py), on both engines: SQLite and a real PostgreSQL server (the contract
tests' ``opener`` fixture)."""

from __future__ import annotations

from test_ledger_contract import ledger, opener  # noqa: F401  (fixtures: both engines)

from filebridge.ledger import alerts as la
from filebridge.ledger.changelog import ChangeLog
from filebridge.ledger.reports import staged_changes
from filebridge.sinks.api.base import Result


def test_a_problem_is_timed_from_its_first_sighting_and_told_once_per_window(
        opener):  # noqa: F811
    a, b = opener(), opener()  # two processes sharing the ledger
    assert la.trouble_since(a, "p", "down:shop woo", 100.0) == 100.0
    assert la.trouble_since(b, "p", "down:shop woo", 160.0) == 100.0  # still the same one
    assert la.open_troubles(b, "p", "down:") == ["down:shop woo"]
    assert la.open_troubles(b, "q", "down:") == []
    assert la.claim(a, "p", "down:shop woo", 3600.0, 1000.0)
    assert not la.claim(b, "p", "down:shop woo", 3600.0, 2000.0)  # within the window
    assert la.claim(b, "p", "down:shop woo", 3600.0, 4600.0)  # past it
    la.unclaim(a, "p", "down:shop woo", 4600.0)  # it reached nobody
    assert la.claim(b, "p", "down:shop woo", 3600.0, 4601.0)  # so tried again
    assert la.clear(a, "p", "down:shop woo")  # it had been told
    assert not la.clear(a, "p", "down:shop woo")
    assert la.trouble_since(b, "p", "down:shop woo", 5000.0) == 5000.0  # a new outage
    assert not la.clear(b, "p", "down:shop woo")  # never told


def test_one_off_alerts_are_forgotten_after_their_window(ledger):  # noqa: F811
    assert la.claim(ledger, "p", "rejected:A.csv", 60.0, 100.0)
    assert la.claim(ledger, "p", "rejected:B.csv", 60.0, 200.0)  # A's row goes
    assert ledger.db.execute("SELECT key FROM alerts WHERE profile='p'").fetchall() == [
        ("rejected:B.csv",)]


def test_a_files_changes_come_with_the_change_sent_before_for_the_same_key(
        ledger):  # noqa: F811
    rid = ledger.start_run("p")
    f = ledger.claim("p", "d1", "a.csv", 1, rid)
    log = ChangeLog(ledger, "p", "woo")
    log.stage([("A", "upsert", 1, None, '{"price": "1.00", "qty": 1}', 2, 0),
               ("B", "upsert", 2, None, '{"price": "2.00", "qty": 2}', 3, 1)], f.id, rid)
    log.commit(f.id, hold=False)
    sent = log.pending(10)
    log.settle(sent, [Result(p.change.id, True) for p in sent])
    g = ledger.claim("p", "d2", "b.csv", 1, rid)
    log.stage([("A", "upsert", 3, None, '{"price": "1.50", "qty": 1}', 2, 0),
               ("C", "upsert", 4, None, '{"price": "3.00", "qty": 3}', 4, 1)], g.id, rid)
    got = [(s, k, op, rec, before) for s, k, op, rec, before in staged_changes(ledger, g.id)]
    assert got == [("woo", "A", "upsert", '{"price": "1.50", "qty": 1}',
                    '{"price": "1.00", "qty": 1}'),
                   ("woo", "C", "upsert", '{"price": "3.00", "qty": 3}', None)]
