"""Which records changed since the last delivered run, per sink and key.

A record's hash covers every mapped field. The ledger keeps, per sink, a snapshot
table (key, hash) of what was last delivered, sorted by key hash
(filebridge.delta_index); a run loads it once, finds each batch's keys in it with a
binary search (no per-row lookups), collects the changes, and the updated snapshot
is saved in the same transaction that marks the file done: the whole snapshot, or,
when few keys changed, a patch of those (see filebridge.delta_index).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import xxhash

from filebridge.delta_index import KeyIndex, load, patch_of, sorted_table
from filebridge.ledger.sqlite import Ledger, SnapshotPatch
from filebridge.records import Batch, flat
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
    old = known.select(["key", "hash"]).rename_columns(["key", "old"])
    joined = old.join(probe, "key", join_type="right outer", use_threads=False).sort_by("row")
    changed = pc.fill_null(pc.not_equal(joined["old"], joined["hash"]), True)
    new = pc.is_null(joined["old"])
    return flat(changed), flat(new)


class Delta:
    """One sink's ``mode: changes`` for one file: which rows to send, and the snapshot
    to save once the file is done."""

    def __init__(self, ledger: Ledger, profile: str, sink: str, key: str):
        self.sink, self.key = sink, key
        self.stored = load(ledger, profile, sink)
        self.snapshot, self.stored.table = self.stored.table, None
        self.index = KeyIndex.of(self.snapshot)
        if self.index is not None:
            self.snapshot = None  # the index holds it (sorted); not kept twice
            self.index.current = self.stored.current
        # Changes: snapshot rows with a new hash (index), and rows with keys it lacks.
        self.rows: list[np.ndarray] = []
        self.row_hashes: list[np.ndarray] = []
        self.changes: list[pa.Table] = []

    def changed(self, batch: Batch) -> pa.Array:
        """Mask of rows that are new or differ from the last delivery."""
        keys = flat(pc.cast(batch.column(self.key), pa.string()))
        content = batch.keyed.content if batch.keyed is not None else None
        hashes = row_hashes(batch) if content is None else pa.array(content, pa.uint64())
        if self.index is None:
            mask, _ = differs(self.snapshot, keys, hashes)
            probe = pa.table({"key": keys, "hash": hashes})
            staged = probe.filter(pc.and_(mask, pc.is_valid(probe["key"])))
            if staged.num_rows:
                self.changes.append(staged)
            return mask
        keyed = batch.keyed if batch.keyed is not None and batch.keyed.field == self.key \
            else None  # hashed (and maybe looked up here) by the duplicate check already
        looked = keyed.found_in(self.index) if keyed is not None else None
        pos, found = looked if looked is not None else \
            self.index.find(keys, keyed.hashes if keyed is not None else None)
        mine = np.asarray(hashes.to_numpy(zero_copy_only=False), np.uint64)
        changed = ~found | (self.index.hashes[pos] != mine)
        update = np.flatnonzero(found & changed)
        if len(update):
            self.rows.append(pos[update])
            self.row_hashes.append(mine[update])
        new = np.flatnonzero(~found & np.asarray(keys.is_valid().to_numpy(
            zero_copy_only=False), bool))
        if len(new):
            at = pa.array(new)
            self.changes.append(pa.table({"key": keys.take(at), "hash": hashes.take(at)}))
        return pa.array(changed)

    def merged(self) -> pa.Table | SnapshotPatch | None:
        """What to save (version 2, see filebridge.delta_index): the old snapshot with
        this file's changes applied, or a patch of those when the stored snapshot
        takes one; None when it stays as it is."""
        new = None  # rows of keys the snapshot lacks (or all changed rows: no index)
        if self.changes:
            new = pa.concat_tables(self.changes).combine_chunks()
            self.changes = []
        if self.index is not None:
            rows = np.concatenate(self.rows) if self.rows else np.zeros(0, np.int64)
            hashes = np.concatenate(self.row_hashes) if self.row_hashes else \
                np.zeros(0, np.uint64)
            index, self.index = self.index, None  # freed before the snapshot is saved
            added = new.num_rows if new is not None else 0
            if (len(rows) or added) and self.stored.takes(len(rows) + added):
                keys = index.keys.take(pa.array(rows))
                if new is not None:
                    keys = pa.concat_arrays([keys, flat(pc.cast(new["key"], pa.string()))])
                    hashes = np.concatenate([hashes, np.asarray(flat(new["hash"]).to_numpy(
                        zero_copy_only=False), np.uint64)])
                return patch_of(keys, hashes)
            return index.merged(rows, hashes, new)
        if new is None:
            return None
        if self.snapshot is not None:  # no index: two snapshot keys share a key hash
            known, self.snapshot = self.snapshot, None
            old = known.filter(pc.invert(pc.is_in(known["key"], new["key"])))
            new = pa.concat_tables([old.select(["key", "hash"]).cast(SCHEMA), new.cast(SCHEMA)])
        return sorted_table(flat(new["key"]), np.asarray(
            flat(new["hash"]).to_numpy(zero_copy_only=False), np.uint64))
