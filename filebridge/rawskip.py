"""Records delivered unchanged, skipped before they are decoded (``mode: changes``).

A nightly export mostly repeats the last one. Every record still has to be read,
decoded, mapped, checked and hashed before the snapshot says "unchanged", which
costs a second run about as much as the first. So the ledger also keeps, for a
profile whose every output is a ``mode: changes`` file on the map key, one entry
per record it delivered: a hash of the record's bytes as read, its key's hash, and
its mapped row's hash (:func:`filebridge.delta.row_hashes`) folded with a second,
independent hash of the record's bytes. A record of the next file whose bytes hash
the same (both hashes: 128 bits) is not decoded when:

- the profile's ``read`` and ``map`` sections, filebridge's code and the libraries
  that decode are the ones that mapped it (the *fingerprint*): then its mapped row
  would be the same row;
- every output's snapshot still holds that row hash for that key: then every
  output would find it unchanged;
- no earlier record of the file had its key: then the duplicate check would keep it.

Such a record counts as read and unchanged, as the full path would count it, and
its key takes part in the duplicate check by its place in the snapshot. A record
of the same block that comes earlier and has the same key (only decoding tells) is
kept instead, and the skipped one is decoded and rejected as its repeat, as the
full path does. Anything unusual (a fingerprint, a snapshot or a layout this
cannot vouch for) means no skip: the file is read in full, as before.

The entries are saved with the outputs' snapshots, in the transaction that marks the
file done (filebridge/pipeline.py), so they never describe a delivery that did not
happen. Only fixed-width files read as byte matrices (filebridge/layouts/uniform.py)
are skipped so far: a record is then a row of bytes, hashed without a Python loop.
"""

from __future__ import annotations

import functools
import hashlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from filebridge.delta import row_hashes
from filebridge.delta_index import MAX_PATCHES, PATCH_SHARE
from filebridge.errors import Bug
from filebridge.hashsearch import SortedHashes
from filebridge.keys import KEY_HASH
from filebridge.ledger.sqlite import UNCOMPRESSED, SnapshotPatch
from filebridge.lookups import LookupFile
from filebridge.records import Batch, FileReport, Keyed, Reject, Rows

if TYPE_CHECKING:
    from pydantic import BaseModel

    from filebridge.delta_index import KeyIndex
    from filebridge.keys import UniqueKeys
    from filebridge.ledger.sqlite import Ledger
    from filebridge.mapping import MapSpec

# The name the entries are saved under among the outputs' snapshots: not an output's
# id (an id is "<format>:<path>", or one the profile gives).
SAVED_AS = "filebridge:delivered-records"
META = b"filebridge.delivered"
# An entry: the record's first hash, its key's hash, and its row hash folded with the
# record's second hash (XOR): a record found by its first hash gives back the row
# hash only if its second hash is the same too, so a row hash that does not come back
# as the snapshot's is either a changed row or another record.
SCHEMA = pa.schema([("raw", pa.uint64()), ("khash", pa.uint64()), ("check", pa.uint64())],
                   metadata={UNCOMPRESSED: b"1"})  # hashes: zstd only costs time
# A change to record_hashes, delta.row_hashes or SCHEMA must change this: saved
# entries then no longer match, and the next file is read in full.
VERSION = "2"
ENABLED = True  # tests compare a day of files with and without the skip

_M1 = np.uint64(0xBF58476D1CE4E5B9)  # splitmix64's multipliers, and murmur3's
_M2 = np.uint64(0x94D049BB133111EB)
_M3 = np.uint64(0xFF51AFD7ED558CCD)
_M4 = np.uint64(0xC4CEB9FE1A85EC53)


def record_hashes(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two independent 64-bit hashes of each row of a byte matrix (its bytes and its
    width), a word at a time across all rows: no Python loop per record. Two records
    that differ in one 64-bit word never hash alike (each step is a bijection of the
    state for a given word); other pairs must collide in both hashes, mixed with
    different constants and operations."""
    n, width = rows.shape
    full, words = width // 8, -(-width // 8)
    # A word per row, word by word: each step below reads one contiguous array.
    w = np.zeros((words, n), "<u8")
    w[:full] = np.ascontiguousarray(rows[:, :full * 8]).view("<u8").T
    if width % 8:  # the last bytes, zero-padded to a word
        tail = np.zeros((n, 8), np.uint8)
        tail[:, :width % 8] = rows[:, full * 8:]
        w[full] = tail.view("<u8")[:, 0]
    with np.errstate(over="ignore"):
        h1 = np.full(n, np.uint64(width) * _M3, np.uint64)
        h2 = np.full(n, np.uint64(width) * _M4 ^ _M1, np.uint64)
        t = np.empty(n, np.uint64)
        for x in w:
            h1 ^= x
            h1 *= _M1
            h1 ^= np.right_shift(h1, np.uint64(29), out=t)
            h2 += x
            h2 *= _M3
            h2 ^= np.right_shift(h2, np.uint64(33), out=t)
        h1 *= _M2
        h1 ^= h1 >> np.uint64(32)
        h2 *= _M4
        h2 ^= h2 >> np.uint64(29)
    return h1, h2


@functools.cache
def _code_stamp() -> str:
    """filebridge's modules as installed (name, size, mtime) and the versions of what
    decodes and hashes: any change, and saved entries no longer vouch for a row."""
    import pyarrow

    root = Path(__file__).resolve().parent
    h = hashlib.sha256(f"{VERSION}/{KEY_HASH}/{sys.version}/{np.__version__}/"
                       f"{pyarrow.__version__}".encode())
    for p in sorted(root.rglob("*.py")):
        st = p.stat()
        h.update(f"{p.relative_to(root)}:{st.st_size}:{st.st_mtime_ns};".encode())
    return h.hexdigest()


def fingerprint(read: BaseModel, spec: MapSpec) -> str | None:
    """What a record's mapped row depends on besides its bytes (a profile's ``read``
    and ``map``); None when that cannot be vouched for: a lookup file (its content may
    change between runs) or ``today`` (a row mapped yesterday may differ today)."""
    if any(isinstance(f.lookup, LookupFile) for f in spec.fields.values()):
        return None
    text = read.model_dump_json() + "\n" + spec.model_dump_json()
    if "today" in text:  # cautious: a field or value merely named so also counts
        return None
    return hashlib.sha256(f"{_code_stamp()}\n{text}".encode()).hexdigest()


class Delivered:
    """The entries saved for a profile, sorted by record hash: the last full save with
    the patches saved since put in. An entry is a fact about the mapping (these bytes
    map to that key and row), true as long as the fingerprint is, so an old entry
    never misleads: the outputs' snapshots decide what is unchanged. Patches only add
    entries; a full save keeps those of this file's records (filebridge/delta_index.py
    saves snapshots the same way)."""

    def __init__(self, cols: list[np.ndarray], full_rows: int, patches: int,
                 patched_rows: int):
        # One entry per record hash: a record noted twice is one entry; a record hash
        # with entries that disagree (not expected) has none, so none misleads.
        raw = cols[0]
        same = np.flatnonzero(raw[1:] == raw[:-1])
        if len(same):
            starts = np.ones(len(raw), bool)
            starts[same + 1] = False
            group = np.cumsum(starts) - 1
            differ = np.zeros(len(same), bool)
            for c in cols[1:]:
                differ |= c[same] != c[same + 1]
            torn = np.zeros(int(group[-1]) + 1, bool)
            torn[group[same[differ]]] = True
            keep = starts & ~torn[group]
            cols = [c[keep] for c in cols]
        self.raw, self.khash, self.check = cols  # SCHEMA.names: state() reads so
        self.full_rows, self.patches, self.patched_rows = full_rows, patches, patched_rows

    @classmethod
    def load(cls, ledger: Ledger, profile: str, stamp: str) -> Delivered | None:
        """None: nothing saved, or saved under another fingerprint."""
        full = ledger.load_snapshot(profile, SAVED_AS)
        if full is None or not _stamped(full, stamp):
            return None
        patches = [p.table for p in ledger.load_patches(profile, SAVED_AS)]
        if not all(_stamped(t, stamp) for t in patches):
            return None
        cols = [np.asarray(full[n].to_numpy(), np.uint64) for n in SCHEMA.names]
        if patches:  # sorted, and put in among the full save's (sorted as saved)
            added = [np.concatenate([np.asarray(t[n].to_numpy(), np.uint64) for t in patches])
                     for n in SCHEMA.names]
            order = np.argsort(added[0], kind="stable")
            where = np.searchsorted(cols[0], added[0][order])
            cols = [np.insert(c, where, a[order]) for c, a in zip(cols, added, strict=True)]
        return cls(cols, full.num_rows, len(patches), sum(t.num_rows for t in patches))

    def takes(self, rows: int) -> bool:
        """Whether ``rows`` new entries may be saved as a patch (see delta_index)."""
        return self.patches < MAX_PATCHES and \
            self.patched_rows + rows <= self.full_rows * PATCH_SHARE

    @functools.cached_property
    def _search(self) -> SortedHashes:
        return SortedHashes(self.raw)

    def find(self, raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(entry, found) per record's first hash."""
        if not len(self.raw):
            return np.zeros(len(raw), np.int64), np.zeros(len(raw), bool)
        at = self._search.search(raw)
        return at, self.raw[at] == raw


def _stamped(table: pa.Table, stamp: str) -> bool:
    return (table.schema.metadata or {}).get(META) == stamp.encode()


def _in_index(index: KeyIndex, khash: np.ndarray, row_hash: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray]:
    """(place, holds) per key hash: the snapshot has that key with that row hash. Its
    key hashes are unique (KeyIndex.of), so one place answers for the key."""
    pos = index.places(khash)
    return pos, (index.sorted[pos] == khash) & (index.hashes[pos] == row_hash)


class Skip:
    """One file's skipping and the entries to save after it; built by the job when
    the profile qualifies (filebridge/job.py: ``Job._skip``)."""

    def __init__(self, stamp: str, delivered: Delivered | None, indexes: list[KeyIndex],
                 unique: UniqueKeys, rows: Rows, report: FileReport):
        self.stamp = stamp
        self.unique = unique
        self.rows = rows
        self.report = report
        # Skipping needs the entries (loaded only when every output has a snapshot to
        # check them against); the duplicate check marks keys in the first one's places.
        usable = delivered is not None and indexes and unique.known is indexes[0]
        self.delivered = delivered if usable else None
        self.indexes = indexes
        if self.delivered is not None:
            unique.late = self.repeated
        self.count = 0  # records skipped, counted unchanged
        # The entries of the skipped records (a flag per entry: saved in their order).
        self.kept = np.zeros(len(self.delivered.raw) if self.delivered else 0, bool)
        # Per batch fed: its first ordinal, the rows of it noted (None: all), their
        # hashes, and their entries (-1: none; None: no entries were loaded).
        self.fed: list[tuple[int, np.ndarray | None, list[np.ndarray],
                             np.ndarray | None]] = []
        # The block last hashed: its first line, its records' hashes, its rows, how to
        # decode one; the rows skipped (row, entry, place in the first snapshot).
        self._first = 0
        self._raw = np.zeros(0, np.uint64)
        self._raw2 = np.zeros(0, np.uint64)
        self._entry: np.ndarray | None = None  # per row: its entry, or -1
        self._rows: np.ndarray | None = None
        self._decode: Callable[[bytes], dict[str, Any]] | None = None
        self._pending: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self._skipped: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    # -- the reader's side ----------------------------------------------------------

    def block(self, rows: np.ndarray, first: int,
              decode: Callable[[bytes], dict[str, Any]]) -> np.ndarray | None:
        """Which rows of a block (a byte matrix of its records, the first on line
        ``first``) to skip; None: none. Nothing is noted until :meth:`commit`: the
        reader may still read the block another way."""
        self._first, self._rows, self._decode = first, rows, decode
        self._raw, self._raw2 = record_hashes(rows)
        self._pending = self._skipped = self._entry = None
        if self.delivered is None or not len(rows):
            return None
        entry, found = self.delivered.find(self._raw)
        self._entry = np.where(found, entry, -1)
        cand = np.flatnonzero(found)
        if not len(cand):
            return None
        entry = entry[cand]
        kh = self.delivered.khash[entry]
        rh = self.delivered.check[entry] ^ self._raw2[cand]  # the row hash, if the same record
        place = np.zeros(len(cand), np.int64)
        holds = np.ones(len(cand), bool)
        for i, index in enumerate(self.indexes):
            pos, ok = _in_index(index, kh, rh)
            holds &= ok
            if i == 0:
                place = pos
        # A key an earlier block kept is a repeat: decoded, and rejected as one.
        holds &= ~self.unique.seen(place)
        cand, entry, place = cand[holds], entry[holds], place[holds]
        # Two records of the block with one key: the first may be skipped.
        _, first_of = np.unique(place, return_index=True)
        first_of.sort()
        cand, entry, place = cand[first_of], entry[first_of], place[first_of]
        if not len(cand):
            return None
        self._pending = (cand, entry, place)
        skip = np.zeros(len(rows), bool)
        skip[cand] = True
        return skip

    def commit(self) -> None:
        """The reader read the block with the rows :meth:`block` named left out: their
        keys are now the file's (for the duplicate check), counted unchanged."""
        if self._pending is None:
            return
        cand, entry, place = self._skipped = self._pending
        self._pending = None
        self.unique.note(place, cand + self._first)
        self.count += len(cand)
        self.kept[entry] = True

    # -- the duplicate check's side -------------------------------------------------

    def repeated(self, place: int, kept_line: int, key: str) -> None:
        """The skipped record at ``place`` comes after a decoded record of its block
        with the same key (on ``kept_line``), which is kept: the skipped one is
        rejected as its repeat, decoded to show what it held."""
        if self._skipped is None or self._rows is None or self._decode is None:
            raise Bug("a record skipped in this block was expected")
        cand, entry, places = self._skipped
        i = int(np.flatnonzero(places == place)[0])
        line = int(cand[i]) + self._first
        values = self._decode(self._rows[cand[i]].tobytes())
        field = self.unique.field
        self.report.reject(Reject(line, field, f"{field} {key} appears twice: line "
                                  f"{kept_line} and line {line}; line {kept_line} is kept",
                                  values, key))
        self.count -= 1
        self.kept[entry[i]] = False

    # -- the feed's side --------------------------------------------------------------

    def fed_batch(self, batch: Batch, start: int) -> Batch:
        """Note the rows about to reach the outputs (numbered from ``start``): their
        record, key and row hashes, saved if they are delivered. The row hashes go
        with the batch: the outputs' deltas use them, not a second computation."""
        keyed = batch.keyed
        if keyed is None or not len(batch):
            return batch
        content = np.asarray(row_hashes(batch).to_numpy(zero_copy_only=False), np.uint64)
        at = np.asarray(batch.lines.to_numpy(zero_copy_only=False), np.int64) - self._first
        ok = (at >= 0) & (at < len(self._raw))  # rows of the block hashed last
        if self._rows is None:
            ok[:] = False
        rows = None if ok.all() else np.flatnonzero(ok)
        if rows is not None:
            at, kh, rh = at[rows], keyed.hashes[rows], content[rows]
        else:
            kh, rh = keyed.hashes, content
        self.fed.append((start, rows, [self._raw[at], kh, self._raw2[at] ^ rh],
                         self._entry[at] if self._entry is not None else None))
        return batch.with_keyed(Keyed(keyed.field, keyed.hashes, keyed.looked, content))

    def state(self) -> dict[str, pa.Table | SnapshotPatch]:
        """The entries to save: the delivered rows' (sent or found unchanged; not
        refused or queued) that are new, as a patch when the saved ones take one; else
        all of this file's (those of the records skipped, and of the rows delivered)."""
        fed, self.fed = self.fed, []
        d, self.delivered = self.delivered, None
        new = []  # per batch fed: which of its noted rows make new entries
        for start, rows, hashes, entries in fed:
            at = np.arange(start, start + len(hashes[0])) if rows is None else start + rows
            ok = self.rows.delivered(at)
            if entries is not None:  # an entry known already is one of this file's
                self.kept[entries[ok & (entries >= 0)]] = True
                ok &= entries < 0
            new.append(ok)
        count = sum(int(ok.sum()) for ok in new)
        patch = d is not None and d.takes(count)
        if patch and not count:
            return {}
        kept = np.flatnonzero(self.kept) if d is not None and not patch else None
        # Column by column, each part freed once copied: a million entries are 24 MB a
        # copy, and the outputs' snapshots are in memory too.
        order = where = None
        cols = []
        for i, name in enumerate(SCHEMA.names):
            col = np.concatenate([h[i][ok] for (_, _, h, _), ok in zip(fed, new, strict=True)]) \
                if fed else np.zeros(0, np.uint64)
            for _, _, h, _ in fed:
                h[i] = np.zeros(0, np.uint64)
            if order is None:
                order = np.argsort(col)
            col = col[order]
            if d is not None and kept is not None:
                # The kept entries are in record-hash order already: the new ones go
                # in among them (np.insert keeps both runs' order), no sort of all.
                old = getattr(d, name)[kept]
                setattr(d, name, None)
                if where is None:
                    where = np.searchsorted(old, col)
                col = np.insert(old, where, col)
            cols.append(pa.array(col, pa.uint64()))
        table = pa.table(cols, schema=SCHEMA.with_metadata(
            {**(SCHEMA.metadata or {}), META: self.stamp.encode()}))
        return {SAVED_AS: SnapshotPatch(table) if patch else table}
