"""The API outbox in a real SQLite ledger: staging, commit, hold and approve,
coalescing, write-ahead attempts, acknowledged state, and the sender's lanes."""

from __future__ import annotations

import json
import threading

from filebridge.errors import RetryableSinkError
from filebridge.ledger.changelog import ChangeLog, held_runs
from filebridge.ledger.sqlite import SqliteLedger
from filebridge.sinks.api.base import ApiSinkOptions, Change, Result, ShopClient, State
from filebridge.sync.send import drain, lanes


def rec(sku: str, stock: int, product: str | None = None) -> str:
    return json.dumps({"sku": sku, "stock": stock} | ({"product": product} if product else {}))


def changelog(tmp_path, sink: str = "s") -> ChangeLog:
    return ChangeLog(SqliteLedger(tmp_path / "l.db"), "p", sink)


def stage(log: ChangeLog, file_id: int, items: list[tuple[str, int]], run_id: int = 1) -> None:
    log.stage([(k, "upsert", 100 + n, None, rec(k, n), i + 1, i)
               for i, (k, n) in enumerate(items)], file_id, run_id)


class Recorder(ShopClient):
    """A shop that accepts everything except SKUs starting with 'bad'."""

    batch_size = max_batch = 3
    parallel = 2

    def __init__(self, fail_after: int | None = None):
        super().__init__(ApiSinkOptions(url="http://x"), State(lambda p: []))
        self.seen: list[Change] = []
        self.lock = threading.Lock()
        self.fail_after = fail_after

    def send(self, changes: list[Change]) -> list[Result]:
        with self.lock:
            if self.fail_after is not None and len(self.seen) >= self.fail_after:
                raise RetryableSinkError("shop down")
            self.seen += changes
        return [Result(c.id, not c.key.startswith("bad"), "no such thing" if
                       c.key.startswith("bad") else "", {"id": f"remote-{c.key}"})
                for c in changes]


def test_staged_changes_wait_for_the_file_and_a_rejected_file_leaves_none(tmp_path):
    log = changelog(tmp_path)
    stage(log, 1, [("A", 1), ("B", 2)])
    assert log.pending(10) == []  # staged: not sendable yet
    log.unstage(1)  # the file was rejected at its end
    assert log.commit(1, hold=False) == 0
    stage(log, 2, [("A", 1)])
    assert log.commit(2, hold=False) == 1
    assert [p.change.key for p in log.pending(10)] == ["A"]


def test_a_key_twice_in_a_file_keeps_its_last_row(tmp_path):
    log = changelog(tmp_path)
    stage(log, 1, [("A", 1), ("A", 7)])
    log.commit(1, hold=False)
    [p] = log.pending(10)
    assert p.change.record["stock"] == 7 and p.hash == 107


def test_pending_supersedes_older_changes_and_counts_attempts(tmp_path):
    log = changelog(tmp_path)
    stage(log, 1, [("A", 1), ("B", 2)])
    log.commit(1, hold=False)
    stage(log, 2, [("A", 5)], run_id=2)
    log.commit(2, hold=False)
    first = log.pending(10)
    assert sorted((p.change.key, p.change.record["stock"]) for p in first) == [("A", 5),
                                                                            ("B", 2)]
    assert all(p.change.attempts == 0 for p in first)
    again = log.pending(10)  # nothing settled: the same changes, now maybe sent once
    assert all(p.change.attempts == 1 for p in again)
    assert log.counts() == {"queued": 2, "superseded": 1}
    # The idempotency key is the same on every retry of one change.
    assert {p.change.idem for p in first} == {p.change.idem for p in again}


def test_settle_moves_state_and_known_reflects_acknowledged_or_queued(tmp_path):
    log = changelog(tmp_path)
    stage(log, 1, [("A", 1), ("bad", 2)])
    log.commit(1, hold=False)
    pend = log.pending(10)
    log.settle(pend, [Result(p.change.id, p.change.key == "A", "refused",
                             {"id": 9} if p.change.key == "A" else None) for p in pend])
    known = dict(zip(log.known()["key"].to_pylist(), log.known()["hash"].to_pylist(),
                     strict=True))
    assert known == {"A": 101}  # the refused one is not known: it is sent again next time
    stage(log, 2, [("A", 3)], run_id=2)
    log.commit(2, hold=False)
    [p] = log.pending(10)
    assert p.change.remote == {"id": 9} and p.change.previous == {"sku": "A", "stock": 1}
    assert [(r[2], r[3], r[4]) for r in log.outcomes(1)] == [("A", "sent", None),
                                                             ("bad", "rejected", "refused")]


def test_held_run_is_released_by_approve_unless_overtaken(tmp_path):
    log = changelog(tmp_path)
    stage(log, 1, [("A", 0), ("B", 0)], run_id=7)
    log.commit(1, hold=True)
    assert log.pending(10) == []
    assert held_runs(log.ledger, "p") == [(7, "p", "s", 2)]
    stage(log, 2, [("A", 4)], run_id=8)  # a later file changed A again
    log.commit(2, hold=False)
    assert log.approve(7) == 1  # B only; A's held change is superseded
    assert sorted((p.change.key, p.change.record["stock"]) for p in log.pending(10)) == [
        ("A", 4), ("B", 0)]
    assert held_runs(log.ledger, "p") == []


def test_drain_sends_everything_and_rejects_per_record(tmp_path):
    log = changelog(tmp_path)
    stage(log, 1, [(f"K{i:02}", i) for i in range(20)] + [("bad1", 1)])
    log.commit(1, hold=False)
    shop = Recorder()
    out = drain(log, shop, shop.o)
    assert (out.sent, out.rejected, out.error) == (20, 1, None)
    assert len(shop.seen) == 21 and all(len(c.record) == 2 for c in shop.seen)
    assert log.counts() == {"sent": 20, "rejected": 1}
    assert drain(log, shop, shop.o).sent == 0  # nothing left


def test_a_shop_going_down_leaves_the_rest_queued(tmp_path):
    log = changelog(tmp_path)
    stage(log, 1, [(f"K{i:02}", i) for i in range(30)])
    log.commit(1, hold=False)
    shop = Recorder(fail_after=9)
    out = drain(log, shop, shop.o)
    assert out.error and "shop down" in out.error
    counts = log.counts()
    assert counts["sent"] == out.sent and counts["sent"] + counts["queued"] == 30
    shop.fail_after = None  # back up: the next run sends the rest
    assert drain(log, shop, shop.o).sent == 30 - out.sent
    assert log.counts() == {"sent": 30}


def test_lanes_keep_a_product_in_one_batch_when_it_fits():
    from filebridge.ledger.changelog import Pending

    sizes = {"A": 4, "B": 3, "C": 7, "D": 2, "E": 1}
    pend = [Pending(Change(n, f"{p}{i}", "upsert", {}, ""), 0, p)
            for n, (p, i) in enumerate((p, i) for p, k in sizes.items() for i in range(k))]
    got = lanes(pend, 5, 1)
    batches = [[p.change.key for p in b] for lane in got for b in lane]
    assert all(len(b) <= 5 for b in batches)
    for product, k in sizes.items():
        holding = [b for b in batches if any(key.startswith(product) for key in b)]
        assert len(holding) == (1 if k <= 5 else 2), (product, batches)
    assert sum(len(b) for b in batches) == sum(sizes.values())


def test_lanes_keep_a_product_in_one_lane_and_batches_small():
    from filebridge.ledger.changelog import Pending

    pend = [Pending(Change(i, f"S{i}", "upsert", {}, ""), 0, f"P{i % 4}") for i in range(40)]
    got = lanes(pend, 3, 3)
    owner: dict[str | None, int] = {}
    for n, lane in enumerate(got):
        for batch in lane:
            assert 1 <= len(batch) <= 3
            for p in batch:
                assert owner.setdefault(p.product, n) == n
    assert sorted(p.change.id for lane in got for b in lane for p in b) == list(range(40))
