"""Which records changed since the last delivered run, per sink and key.

A record's hash covers every mapped field. The ledger keeps, per sink, a snapshot
table (key, hash) of what was last delivered; a run loads it once, compares each
batch with an Arrow join (no per-row lookups), collects the changed keys, and the
merged snapshot is saved in the same transaction that marks the file done.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import xxhash

from filebridge.keys import key_hashes
from filebridge.ledger.sqlite import Ledger
from filebridge.records import Batch
from filebridge.textcol import text_column

SCHEMA = pa.schema([("key", pa.string()), ("hash", pa.uint64())])


def row_hashes(batch: Batch) -> pa.Array:
    """A 64-bit content hash per row over all fields (field order matters)."""
    cols = [text_column(batch.column(n), separator="\x1e") for n in batch.names]
    joined = pc.binary_join_element_wise(*cols, "\x1f") if len(cols) > 1 else cols[0]
    digest = xxhash.xxh3_64_intdigest
    return pa.array([digest(s) for s in joined.cast(pa.binary()).to_pylist()], pa.uint64())


def differs(known: pa.Table | None, keys: pa.Array, hashes: pa.Array) -> tuple[pa.Array, pa.Array]:
    """Masks (changed, new) of rows against a (key, hash) table: new rows are changed."""
    n = len(keys)
    if known is None or known.num_rows == 0:
        everything = pa.array([True] * n, pa.bool_())  # typed: n may be 0
        return everything, everything
    probe = pa.table({"key": keys, "hash": hashes, "row": pa.array(range(n), pa.int64())})
    # The known table probes the (smaller) batch's hash table; sorted back to rows.
    old = known.rename_columns(["key", "old"])
    joined = old.join(probe, "key", join_type="right outer", use_threads=False).sort_by("row")
    changed = pc.fill_null(pc.not_equal(joined["old"], joined["hash"]), True)
    new = pc.is_null(joined["old"])
    return _flat(changed), _flat(new)


class KeyIndex:
    """The snapshot's keys by a 64-bit hash of each, sorted: a batch finds its keys'
    rows with one binary search (NumPy) instead of a join that scans the whole
    snapshot per batch. Built once per file; None when two snapshot keys share a hash
    (then :func:`differs` joins)."""

    def __init__(self, known: pa.Table):
        self.keys = _flat(known["key"])
        self.hashes = np.asarray(_flat(known["hash"]).to_numpy(zero_copy_only=False))
        # In slices: key_hashes holds a few words per byte of the keys it is given.
        step = 1 << 16
        kh = np.concatenate([key_hashes(self.keys.slice(i, step))
                             for i in range(0, len(self.keys), step)])
        self.order = np.argsort(kh, kind="stable")
        self.sorted = kh[self.order]

    @classmethod
    def of(cls, known: pa.Table | None) -> KeyIndex | None:
        if known is None or known.num_rows == 0:
            return None
        index = cls(known)
        return None if (index.sorted[1:] == index.sorted[:-1]).any() else index

    def differs(self, keys: pa.Array, hashes: pa.Array) -> tuple[pa.Array, pa.Array]:
        """As :func:`differs` against the indexed snapshot."""
        bh = key_hashes(keys)
        pos = np.minimum(np.searchsorted(self.sorted, bh), len(self.sorted) - 1)
        rows = self.order[pos]
        hit = self.sorted[pos] == bh
        at = np.flatnonzero(hit)
        found = np.zeros(len(keys), bool)
        if len(at):  # a hash match is confirmed on the key itself
            same = pc.equal(self.keys.take(pa.array(rows[at])), keys.take(pa.array(at)))
            found[at] = np.asarray(pc.fill_null(same, False).to_numpy(zero_copy_only=False),
                                   bool)
        mine = np.asarray(hashes.to_numpy(zero_copy_only=False), np.uint64)
        changed = ~found | (self.hashes[rows] != mine)
        return pa.array(changed), pa.array(~found)


def _flat(a: pa.Array | pa.ChunkedArray) -> pa.Array:
    return a.combine_chunks() if isinstance(a, pa.ChunkedArray) else a


class Delta:
    def __init__(self, ledger: Ledger, profile: str, sink: str, key: str):
        self.sink, self.key = sink, key
        self.snapshot = ledger.load_snapshot(profile, sink)
        self.index = KeyIndex.of(self.snapshot)
        self.changes: list[pa.Table] = []

    def changed(self, batch: Batch) -> pa.Array:
        """Mask of rows that are new or differ from the last delivery."""
        keys = pc.cast(batch.column(self.key), pa.string())
        hashes = row_hashes(batch)
        mask, _ = self.index.differs(keys, hashes) if self.index is not None else \
            differs(self.snapshot, keys, hashes)
        probe = pa.table({"key": keys, "hash": hashes})
        staged = probe.filter(pc.and_(mask, pc.is_valid(probe["key"])))
        if staged.num_rows:
            self.changes.append(staged)
        return mask

    def merged(self) -> pa.Table | None:
        """The snapshot to save: the old one with this file's changes applied."""
        if not self.changes:
            return None
        new = pa.concat_tables(self.changes).combine_chunks()
        self.changes = []
        if pc.count_distinct(new["key"]).as_py() < new.num_rows:
            # A key repeated in the file: its last row is what the sink received last.
            new = new.append_column("pos", pa.array(range(new.num_rows), pa.int64()))
            keep = new.group_by("key", use_threads=False).aggregate([("pos", "max")])
            new = new.filter(pc.is_in(new["pos"], keep["pos_max"])).select(["key", "hash"])
        if self.snapshot is None:
            return new.cast(SCHEMA)
        old = self.snapshot.filter(pc.invert(pc.is_in(self.snapshot["key"], new["key"])))
        return pa.concat_tables([old.cast(SCHEMA), new.cast(SCHEMA)])
