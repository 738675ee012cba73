"""The ``mode: changes`` snapshot as a sorted index: (key, hash) rows ordered by a
64-bit hash of each key (:func:`filebridge.keys.key_hashes`), kept in a ``khash``
column.

Snapshot version 2 is saved in that order with that column, so a run loads it ready
to search: a batch finds its keys with one binary search (confirmed on the key
itself), and the run's changes are applied in place (a changed hash) or merged in
(a new key) without sorting the snapshot again. A version-1 snapshot (key, hash in
any order, no ``khash``) is indexed once when loaded and saved as version 2 by that
run. The row hashes (``hash``) are the same in both versions, so an upgraded install
compares with what it last sent and re-sends nothing.

A run that changed few keys saves only those rows, as a patch beside the last full
snapshot (:class:`~filebridge.ledger.sqlite.SnapshotPatch`); :func:`load` applies
the patches in order. A full snapshot is saved again (and the patches dropped) once
they would hold more than PATCH_SHARE of its rows or number more than MAX_PATCHES:
loading stays about as cheap as loading the snapshot alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from filebridge.hashsearch import SortedHashes
from filebridge.keys import KEY_HASH, key_hashes
from filebridge.ledger.sqlite import Ledger, SnapshotPatch
from filebridge.records import flat

META = b"filebridge.snapshot"
# The key hashes are stored too: a snapshot indexed by another key hash is old.
VERSION = b"2/" + KEY_HASH.encode()
SCHEMA = pa.schema([("key", pa.string()), ("hash", pa.uint64()), ("khash", pa.uint64())],
                   metadata={META: VERSION})
PATCH_SHARE = 1 / 8  # of the full snapshot's rows, at most, in its patches together
MAX_PATCHES = 16


@dataclass
class Stored:
    """A sink's snapshot as loaded: ``table`` with the patches applied; what a run needs
    to tell whether its changes may be saved as one more patch."""

    table: pa.Table | None
    full_rows: int = 0  # rows of the last full snapshot
    patches: int = 0  # patches saved over it
    patched_rows: int = 0  # rows in them
    current: bool = False  # the full snapshot is version 2 (with this key hash)

    def takes(self, rows: int) -> bool:
        """Whether ``rows`` more rows may be saved as a patch."""
        return self.current and self.patches < MAX_PATCHES and \
            self.patched_rows + rows <= self.full_rows * PATCH_SHARE


def load(ledger: Ledger, profile: str, sink: str) -> Stored:
    """The sink's snapshot: the last full one with the patches saved since applied."""
    full = ledger.load_snapshot(profile, sink)
    if full is None:
        return Stored(None)
    patches = ledger.load_patches(profile, sink)
    table = _patched(full, patches) if patches else full
    return Stored(table, full.num_rows, len(patches), sum(p.table.num_rows for p in patches),
                  is_current(full))


def _patched(full: pa.Table, patches: list[SnapshotPatch]) -> pa.Table:
    """``full`` with the patches' rows (later ones win) put in: a changed hash, or a
    key it lacks. A version-2 snapshot (the result is one whatever ``full`` was)."""
    rows = pa.concat_tables([p.table.select(["key", "hash"]) for p in patches])
    # Indexed by today's key hash (the patches' khash may be another's), last row wins.
    patch = sorted_table(flat(rows["key"]), _numpy(rows["hash"]))
    index = KeyIndex.of(full)
    if index is None:  # two keys share a hash: by key, as delta.differs does
        old = full.filter(pc.invert(pc.is_in(full["key"], patch["key"])))
        both = pa.concat_tables([old.select(["key", "hash"]),
                                 patch.select(["key", "hash"]).cast(old.select(
                                     ["key", "hash"]).schema)])
        return sorted_table(flat(both["key"]), _numpy(both["hash"]))
    keys = flat(patch["key"])
    pos, found = index.find(keys)
    merged = index.merged(pos[found], _numpy(patch["hash"])[found],
                          patch.filter(pa.array(~found)))
    return merged if merged is not None else full  # None: full is current and unchanged


def patch_of(keys: pa.Array, hashes: np.ndarray) -> SnapshotPatch:
    """A patch of (key, hash) rows (of a key that repeats, the last)."""
    return SnapshotPatch(sorted_table(keys, hashes))


def is_current(known: pa.Table) -> bool:
    return (known.schema.metadata or {}).get(META) == VERSION and "khash" in known.column_names


def hash_keys(keys: pa.Array) -> np.ndarray:
    # In slices: key_hashes holds a few words per byte of the keys it is given.
    step = 1 << 16
    if len(keys) <= step:
        return key_hashes(keys)
    return np.concatenate([key_hashes(keys.slice(i, step)) for i in range(0, len(keys), step)])


def sorted_table(keys: pa.Array, hashes: np.ndarray) -> pa.Table:
    """A version-2 snapshot of (key, hash) rows (no null key); of the rows of a key
    that repeats, the last one (what the sink received last)."""
    kh = hash_keys(keys)
    order = np.argsort(kh)
    if (kh[order][1:] == kh[order][:-1]).any():  # a key repeats (or two share a hash)
        rows = pa.table({"key": keys, "pos": np.arange(len(keys), dtype=np.int64)})
        last = rows.group_by("key", use_threads=False).aggregate([("pos", "max")])
        keep = np.sort(_numpy(last["pos_max"]).astype(np.int64))
        keys, hashes, kh = keys.take(pa.array(keep)), hashes[keep], kh[keep]
        order = np.argsort(kh)
    return pa.table([keys.take(pa.array(order)), pa.array(hashes[order], pa.uint64()),
                     pa.array(kh[order], pa.uint64())], schema=SCHEMA)


def _numpy(a: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return np.asarray(flat(a).to_numpy(zero_copy_only=False), np.uint64)


class KeyIndex:
    """A snapshot sorted by key hash. None from :meth:`of` when two of its keys share
    a hash: then :func:`filebridge.delta.differs` joins instead."""

    def __init__(self, keys: pa.Array, hashes: np.ndarray, khash: np.ndarray, current: bool):
        self.keys, self.hashes, self.sorted = keys, hashes, khash
        self.current = current  # saved as version 2 already

    @classmethod
    def of(cls, known: pa.Table | None) -> KeyIndex | None:
        if known is None or known.num_rows == 0:
            return None
        if is_current(known):
            index = cls(flat(known["key"]), _numpy(known["hash"]), _numpy(known["khash"]), True)
        else:
            old = sorted_table(flat(known["key"]), _numpy(known["hash"]))
            index = cls(flat(old["key"]), _numpy(old["hash"]), _numpy(old["khash"]), False)
        return None if (index.sorted[1:] == index.sorted[:-1]).any() else index

    @cached_property
    def _search(self) -> SortedHashes:
        return SortedHashes(self.sorted)

    def places(self, khash: np.ndarray) -> np.ndarray:
        """Where each key hash is, or would be, in the snapshot (within its rows)."""
        return self._search.search(khash)

    def find(self, keys: pa.Array, bh: np.ndarray | None = None
             ) -> tuple[np.ndarray, np.ndarray]:
        """(row in the snapshot, found) per key; the row is meaningless where not found.
        ``bh``: the keys' key_hashes, when known already."""
        if bh is None:
            bh = key_hashes(keys)
        pos = self.places(bh)
        at = np.flatnonzero(self.sorted[pos] == bh)
        found = np.zeros(len(keys), bool)
        if len(at):  # a hash match is confirmed on the key itself
            same = pc.equal(self.keys.take(pa.array(pos[at])), keys.take(pa.array(at)))
            found[at] = np.asarray(pc.fill_null(same, False).to_numpy(zero_copy_only=False),
                                   bool)
        return pos, found

    def differs(self, keys: pa.Array, hashes: pa.Array) -> tuple[pa.Array, pa.Array]:
        """Masks (changed, new) as :func:`filebridge.delta.differs` against this snapshot."""
        pos, found = self.find(keys)
        changed = ~found | (self.hashes[pos] != _numpy(hashes))
        return pa.array(changed), pa.array(~found)

    def merged(self, rows: np.ndarray, row_hashes: np.ndarray, new: pa.Table | None
               ) -> pa.Table | None:
        """The version-2 snapshot with ``row_hashes`` at snapshot ``rows`` (the last one
        wins where a row repeats) and the ``new`` (key, hash) rows merged in (keys not
        in the snapshot; of a key that repeats, the last row). None when nothing
        changed and the snapshot is saved as version 2 already."""
        if not len(rows) and (new is None or not new.num_rows) and self.current:
            return None
        hashes = self.hashes
        if len(rows):
            hashes = hashes.copy()
            last, at = np.unique(rows[::-1], return_index=True)
            hashes[last] = row_hashes[::-1][at]
        if new is None or not new.num_rows:
            return pa.table([self.keys, pa.array(hashes, pa.uint64()),
                             pa.array(self.sorted, pa.uint64())], schema=SCHEMA)
        add = sorted_table(flat(new["key"]), _numpy(new["hash"]))
        n = len(self.sorted)
        # np.insert puts the new rows (sorted) before the first old row with a hash not
        # smaller, keeping their order: a merge of two sorted runs, no sort.
        where = np.searchsorted(self.sorted, _numpy(add["khash"]))
        take = np.insert(np.arange(n, dtype=np.int64), where,
                         np.arange(n, n + add.num_rows, dtype=np.int64))
        # A take over both as chunks: one copy of the keys, not a concatenation first.
        keys = pa.chunked_array([self.keys, flat(add["key"])]).take(pa.array(take))
        return pa.table([keys, pa.array(np.concatenate([hashes, _numpy(add["hash"])])[take]),
                         pa.array(np.concatenate([self.sorted, _numpy(add["khash"])])[take])],
                        schema=SCHEMA)
