"""mode: changes finds a batch's keys in the snapshot by a sorted key-hash index; it
must say exactly what the join (:func:`filebridge.delta.differs`) says."""

from __future__ import annotations

import random

import pyarrow as pa

from filebridge.delta import KeyIndex, differs


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
