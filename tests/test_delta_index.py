"""mode: changes finds a batch's keys in the snapshot by a sorted key-hash index; it
must say exactly what the join (:func:`filebridge.delta.differs`) says, send exactly
what changed since the last delivery, and read a snapshot saved before version 2."""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from filebridge import delta_index
from filebridge.delta import Delta, differs, row_hashes
from filebridge.delta_index import KeyIndex, is_current
from filebridge.keys import UniqueKeys
from filebridge.ledger.sqlite import SqliteLedger
from filebridge.records import Batch, FileReport


def test_index_agrees_with_the_join() -> None:
    rng = random.Random(5)
    for _ in range(300):
        names = rng.sample([f"k{i}" for i in range(50)], rng.randint(1, 20))
        known = pa.table({"key": pa.array(names, pa.string()),
                          "hash": pa.array([rng.randint(0, 3) for _ in names], pa.uint64())})
        n = rng.randint(0, 20)
        keys = pa.array([None if rng.random() < 0.1 else f"k{rng.randint(0, 60)}"
                         for _ in range(n)], pa.string())
        hashes = pa.array([rng.randint(0, 3) for _ in range(n)], pa.uint64())
        index = KeyIndex.of(known)
        assert index is not None
        want = [m.to_pylist() for m in differs(known, keys, hashes)]
        assert [m.to_pylist() for m in index.differs(keys, hashes)] == want


def test_no_index_without_a_snapshot() -> None:
    assert KeyIndex.of(None) is None
    assert KeyIndex.of(pa.table({"key": pa.array([], pa.string()),
                                 "hash": pa.array([], pa.uint64())})) is None


# --- snapshot version 2 (filebridge.delta_index): against a model of what was sent ---

def _ledger(tmp_path: Path) -> SqliteLedger:
    return SqliteLedger(tmp_path / "ledger.db")


def _deliver(ledger: SqliteLedger, rows: Sequence[tuple[str | None, str]], name: str
             ) -> tuple[list[bool], pa.Table | None]:
    """One file of (key, value) rows through a Delta, in batches of 7; its snapshot saved
    as the pipeline saves it. Returns the mask (rows sent) and the saved snapshot."""
    delta = Delta(ledger, "p", "s", "key")
    sent: list[bool] = []
    for i in range(0, len(rows), 7):
        part = rows[i:i + 7]
        table = pa.table({"key": pa.array([k for k, _ in part], pa.string()),
                          "value": pa.array([v for _, v in part], pa.string())})
        sent += delta.changed(Batch(table, pa.array(range(len(part)), pa.int64()))).to_pylist()
    merged = delta.merged()
    run = ledger.start_run("p")
    fid = ledger.claim("p", name, name, 1, run).id
    ledger.finish(fid, "p", "done", {}, snapshots={"s": merged} if merged is not None else {})
    return sent, delta_index.load(ledger, "p", "s").table


def _fuzz(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    ledger = _ledger(tmp_path)
    model: dict[str, str] = {}  # key -> value the sink last received
    names = [f"SKU-{i}" for i in range(40)]
    for run in range(8):
        rows = [(None if rng.random() < 0.05 else rng.choice(names),
                 str(rng.randint(0, 2))) for _ in range(rng.randint(0, 60))]
        sent, snap = _deliver(ledger, rows, f"f{run}")
        # A row goes when its key is new or its value differs from the last delivery
        # (earlier files: rows of this file are not compared with each other).
        want = [key is None or model.get(key) != value for key, value in rows]
        # The sink holds the last row it was sent per key.
        model |= {k: v for (k, v), go in zip(rows, want, strict=True) if go and k is not None}
        assert sent == want
        if snap is not None:
            assert is_current(snap)
            kh = snap["khash"].to_numpy()
            assert (kh[1:] >= kh[:-1]).all()  # sorted: the next run needs no sort
            assert sorted(snap["key"].to_pylist()) == sorted(model)


@pytest.mark.parametrize("seed", range(20))
def test_runs_send_what_changed_since_the_last_delivery(tmp_path: Path, seed: int) -> None:
    _fuzz(tmp_path, seed)


@pytest.mark.parametrize("seed", range(10))
def test_key_hash_collisions_change_nothing(tmp_path: Path, seed: int,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """With a key hash that collides all the time (the key's length), a key is still
    found only by itself: the index confirms on the key, or the join takes over."""
    def weak(keys: pa.Array) -> np.ndarray:
        return np.asarray(pc.fill_null(pc.utf8_length(keys), 0).to_numpy(
            zero_copy_only=False), np.uint64) % np.uint64(3)
    monkeypatch.setattr(delta_index, "key_hashes", weak)
    _fuzz(tmp_path, seed)


def _v1(ledger: SqliteLedger, rows: dict[str, str]) -> None:
    """A snapshot as filebridge saved it before version 2: (key, hash), file order,
    hashed as row_hashes hashes (the same in both versions)."""
    table = pa.table({"key": pa.array(list(rows), pa.string()),
                      "value": pa.array(list(rows.values()), pa.string())})
    hashes = row_hashes(Batch(table, pa.array(range(len(rows)), pa.int64())))
    old = pa.table({"key": table["key"], "hash": hashes})
    assert not is_current(old)
    run = ledger.start_run("p")
    fid = ledger.claim("p", "old", "old", 1, run).id
    ledger.finish(fid, "p", "done", {}, snapshots={"s": old})


def test_a_version_1_snapshot_is_compared_then_saved_as_version_2(tmp_path: Path) -> None:
    ledger = _ledger(tmp_path)
    before = {f"K{i:03d}": str(i % 5) for i in range(200)}
    _v1(ledger, before)
    now = dict(before) | {"K007": "changed", "K500": "new"}
    sent, snap = _deliver(ledger, list(now.items()), "upgrade")
    assert [k for (k, _), s in zip(now.items(), sent, strict=True) if s] == ["K007", "K500"]
    assert snap is not None and is_current(snap) and snap.num_rows == 201
    sent, _ = _deliver(ledger, list(now.items()), "after")
    assert not any(sent)


def test_an_unchanged_version_1_snapshot_is_still_saved_as_version_2(tmp_path: Path) -> None:
    ledger = _ledger(tmp_path)
    before = {f"K{i}": "x" for i in range(30)}
    _v1(ledger, before)
    sent, snap = _deliver(ledger, list(before.items())[:10], "part")
    assert not any(sent)
    assert snap is not None and is_current(snap)  # keys not in the file are kept
    assert sorted(snap["key"].to_pylist()) == sorted(before)
    sent, snap2 = _deliver(ledger, list(before.items())[:10], "again")
    assert not any(sent) and snap2 is not None and snap2.equals(snap)  # not rewritten


def test_a_key_hash_shared_with_another_key_is_not_a_match(monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    def by_length(keys: pa.Array) -> np.ndarray:
        return np.asarray(pc.fill_null(pc.utf8_length(keys), 0).to_numpy(
            zero_copy_only=False), np.uint64)
    monkeypatch.setattr(delta_index, "key_hashes", by_length)
    known = pa.table({"key": pa.array(["a", "bb", "ccc"]),
                      "hash": pa.array([1, 2, 3], pa.uint64())})
    index = KeyIndex.of(known)
    assert index is not None
    keys = pa.array(["x", "bb", "ccc", "dddd", "ccd"])
    changed, new = index.differs(keys, pa.array([1, 2, 4, 4, 3], pa.uint64()))
    assert new.to_pylist() == [True, False, False, True, True]
    assert changed.to_pylist() == [True, False, True, True, True]


def test_a_snapshot_indexed_by_another_key_hash_is_indexed_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The key hashes are stored: a later filebridge whose key_hashes differs (and so
    names its KEY_HASH anew) must not look keys up among the old hashes."""
    ledger = _ledger(tmp_path)
    before = {f"K{i:03d}": str(i % 5) for i in range(100)}
    old_hash = delta_index.key_hashes
    monkeypatch.setattr(delta_index, "key_hashes",
                        lambda keys: old_hash(keys) ^ np.uint64(0x5A5A))
    older = b"2/an-older-key-hash"
    monkeypatch.setattr(delta_index, "VERSION", older)
    monkeypatch.setattr(delta_index, "SCHEMA",
                        delta_index.SCHEMA.with_metadata({delta_index.META: older}))
    _, snap = _deliver(ledger, list(before.items()), "old")
    monkeypatch.undo()
    assert snap is not None and not is_current(snap)  # as today's code reads it
    now = dict(before) | {"K042": "changed"}
    sent, snap = _deliver(ledger, list(now.items()), "upgrade")
    assert [k for (k, _), s in zip(now.items(), sent, strict=True) if s] == ["K042"]
    assert snap is not None and is_current(snap) and snap.num_rows == 100


def test_keys_hashed_by_the_duplicate_check_are_not_hashed_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ledger = _ledger(tmp_path)
    before = {f"K{i:03d}": "0" for i in range(50)}
    _deliver(ledger, list(before.items()), "first")
    delta = Delta(ledger, "p", "s", "key")
    rows = [("K001", "1"), ("K002", "0"), ("K001", "2"), ("NEW", "0"), ("K003", "1")]
    table = pa.table({"key": [k for k, _ in rows], "value": [v for _, v in rows]})
    report = FileReport("f")
    batch = UniqueKeys("key").check(Batch(table, pa.array(range(5), pa.int64())), report)

    def unused(keys: pa.Array) -> np.ndarray:
        raise AssertionError("keys hashed again")
    monkeypatch.setattr(delta_index, "key_hashes", unused)
    # The second K001 is a repeat (rejected): the hashes of the rows left line up.
    assert delta.changed(batch).to_pylist() == [True, False, True, True]


def _check_all(unique: UniqueKeys, rows: list[tuple[str | None, str]], sizes: list[int]
               ) -> tuple[list[Batch], list[tuple[int, str]]]:
    """``rows`` through the duplicate check in batches of ``sizes``: the batches kept and
    the rejects (line, reason)."""
    report = FileReport("f")
    kept, at = [], 0
    for n in sizes:
        part = rows[at:at + n]
        table = pa.table({"key": pa.array([k for k, _ in part], pa.string()),
                          "value": pa.array([v for _, v in part], pa.string())})
        kept.append(unique.check(Batch(table, pa.array(range(at + 1, at + 1 + len(part)),
                                                       pa.int64())), report))
        at += n
    return kept, [(r.line, r.reason) for r in report._pending]


@pytest.mark.parametrize("seed", range(12))
def test_the_duplicate_check_decides_alike_with_the_snapshot_of_its_key(
        tmp_path: Path, seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keys of the snapshot are remembered by their place in it, others in the runs:
    the same rows are kept and the same repeats rejected, naming the same first lines,
    as without the snapshot; and the delta's answer from the check's lookup is the
    one its own lookup gives. Key hashes made to collide across the two: S<i> and N<i>
    share a hash (none of the snapshot's keys share one, so it is indexed)."""
    def weak(keys: pa.Array) -> np.ndarray:
        return np.array([0 if k is None else int(k[1:]) + 1 for k in keys.to_pylist()],
                        np.uint64)
    import filebridge.keys as keys_mod
    monkeypatch.setattr(keys_mod, "key_hashes", weak)
    monkeypatch.setattr(delta_index, "key_hashes", weak)
    rng = random.Random(seed)
    ledger = _ledger(tmp_path)
    _deliver(ledger, [(f"S{i}", "0") for i in range(30)], "first")
    names = [f"S{i}" for i in range(40)] + [f"N{i}" for i in range(40)]
    rows = [(None if rng.random() < 0.05 else rng.choice(names), str(rng.randint(0, 1)))
            for _ in range(rng.randint(50, 200))]
    sizes: list[int] = []
    while sum(sizes) < len(rows):
        sizes.append(rng.randint(1, 30))

    plain, plain_rejects = _check_all(UniqueKeys("key"), rows, sizes)
    delta = Delta(ledger, "p", "s", "key")
    assert delta.index is not None
    looked, rejects = _check_all(UniqueKeys("key", delta.index), rows, sizes)
    assert rejects == plain_rejects
    assert len(rejects) > 0  # the seeds make repeats, across batches and within them
    for a, b in zip(plain, looked, strict=True):
        assert a.lines.to_pylist() == b.lines.to_pylist()
        assert b.keyed is not None and b.keyed.found_in(delta.index) is not None
    fresh = Delta(ledger, "p", "s", "key")
    for a, b in zip(plain, looked, strict=True):
        assert delta.changed(b).to_pylist() == fresh.changed(a).to_pylist()
