"""One row per key in a file: a key's later rows are rejected, naming both lines.

A catalog export that lists a SKU twice (a spreadsheet row pasted twice, a
merge gone wrong) must not reject the whole file, and which of two rows a shop
ends up with must not depend on the sink: the first row is kept everywhere, and
every later row of the same key becomes a reject that names the line it repeats.

Memory stays small for millions of keys: each key is reduced to a 64-bit hash
(computed column-wise with NumPy over the keys padded to whole 64-bit words), and
the hashes seen so far are kept sorted beside the line that first had them, behind
a bitmap of hash prefixes that rules out most new keys without a search. A hash seen
before is then confirmed on the key itself, so a hash collision never rejects a
row.
"""

from __future__ import annotations

import bisect
import weakref
from collections.abc import Callable
from typing import Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import xxhash

from filebridge.errors import Bug
from filebridge.records import Batch, FileReport, Keyed, Reject, flat

_MIX = np.uint64(0x9E3779B97F4A7C15)
_M2 = np.uint64(0xBF58476D1CE4E5B9)  # splitmix64's multipliers
_M3 = np.uint64(0x94D049BB133111EB)
_FILTER_BITS = 25  # the hash prefix UniqueKeys keeps a bit for


# Snapshots (filebridge.delta_index) store these hashes: a change to key_hashes must
# come with a new name here, so stored snapshots are indexed again, not misread.
KEY_HASH = "words64-1"
# Keys longer than this are hashed one by one: padding every key of a batch to its
# longest one would let a single huge cell multiply the batch's memory.
_WIDE = 64


def key_hashes(keys: pa.Array) -> np.ndarray:
    """A 64-bit hash per string (nulls hash to 0), without a Python loop. A key's hash
    depends on its bytes only (not on the batch around it): batches compare hashes."""
    keys = flat(keys)
    if not pa.types.is_string(keys.type):
        keys = pc.cast(keys, pa.string())
    n = len(keys)
    if n == 0:
        return np.zeros(0, np.uint64)
    nulls = np.asarray(keys.is_null().to_numpy(zero_copy_only=False)) \
        if keys.null_count else None
    if nulls is not None:
        keys = keys.fill_null("")
    lengths = np.diff(_offsets(keys))
    wide = lengths > _WIDE
    if wide.any():
        narrow = np.flatnonzero(~wide)
        h = np.empty(n, np.uint64)
        if len(narrow):
            h[narrow] = _word_hashes(keys.take(pa.array(narrow)))
        for i in np.flatnonzero(wide):
            key = keys[int(i)].as_py().encode()
            h[i] = xxhash.xxh3_64_intdigest(key)
    else:
        h = _word_hashes(keys)
    if nulls is not None:
        h[nulls] = 0
    return h


def _offsets(keys: pa.Array) -> np.ndarray:
    return np.frombuffer(keys.buffers()[1], np.int32, len(keys) + 1, keys.offset * 4)


def _word_hashes(keys: pa.Array) -> np.ndarray:
    """key_hashes of keys no longer than _WIDE bytes, mixed a 64-bit word at a time."""
    offsets = _offsets(keys)
    lengths = np.diff(offsets)
    width = max(8, (int(lengths.max()) + 7) // 8 * 8)
    words = _padded(keys, width)
    if words is None:
        words = _scattered(keys, offsets, lengths, width)
    # Word j is mixed in only for keys that reach into it: NUL padding leaves no trace.
    with np.errstate(over="ignore"):
        h = lengths.astype(np.uint64) * _MIX  # the length too: "a" and "a\0" differ
        for j in range(width // 8):
            mixed = (h ^ words[:, j]) * _M2
            mixed ^= mixed >> np.uint64(29)
            h = np.where(lengths > 8 * j, mixed, h)
        h *= _M3
        h ^= h >> np.uint64(32)
    return h


def _padded(keys: pa.Array, width: int) -> np.ndarray | None:
    """The keys NUL-padded to ``width`` bytes by Arrow (``utf8_rpad``), as rows of
    64-bit words; None when that did not give ``width`` bytes each (non-ASCII text:
    it pads characters)."""
    n = len(keys)
    padded = pc.utf8_rpad(keys, width=width, padding="\0")
    offsets = np.frombuffer(padded.buffers()[1], np.int32, n + 1, padded.offset * 4)
    start, stop = int(offsets[0]), int(offsets[-1])
    if stop - start != n * width:
        return None
    return np.frombuffer(padded.buffers()[2], np.uint64, n * width // 8, start) \
        .reshape(n, width // 8)


def _scattered(keys: pa.Array, offsets: np.ndarray, lengths: np.ndarray,
               width: int) -> np.ndarray:
    """As :func:`_padded` for any text: each byte put in its place of a zeroed block."""
    n = len(keys)
    start, stop = int(offsets[0]), int(offsets[-1])
    data = np.frombuffer(keys.buffers()[2], np.uint8, stop - start, start) \
        if stop > start else np.zeros(0, np.uint8)
    rows = np.repeat(np.arange(n, dtype=np.int64) * width - (offsets[:-1] - start), lengths)
    out = np.zeros(n * width, np.uint8)
    out[np.arange(len(data), dtype=np.int64) + rows] = data
    return out.view(np.uint64).reshape(n, width // 8)


class Snapshot(Protocol):
    """What the check needs of a ``mode: changes`` snapshot of its key
    (:class:`filebridge.delta_index.KeyIndex`, which imports this module)."""

    sorted: np.ndarray  # its key hashes, one per key

    def find(self, keys: pa.Array, bh: np.ndarray | None = None
             ) -> tuple[np.ndarray, np.ndarray]: ...


class UniqueKeys:
    """Drops (as rejects) the rows whose key an earlier row of the file had.

    ``known``: the ``mode: changes`` snapshot of the same key, when an output keeps
    one. A key found there is remembered by its place in it (a flag and a line), not
    in the runs: on a file that mostly repeats the last one, the check then holds a
    few bytes per snapshot key instead of each key's text and hashes, and the delta
    reuses the lookup (:class:`~filebridge.records.Keyed`)."""

    def __init__(self, field: str, known: Snapshot | None = None):
        self.field = field
        self.known = known
        if known is not None:
            self._seen_at = np.zeros(len(known.sorted), bool)
            self._line_at = np.zeros(len(known.sorted), np.int64)
        # Runs of (hash, where the key is kept), each sorted by hash, merged pairwise
        # as they grow (sizes at least double down the list): a few runs to search,
        # and no full copy per batch. The first lines stay beside the keys, in
        # batch order: a merge copies two arrays, not three.
        self.runs: list[tuple[np.ndarray, np.ndarray]] = []
        self._store: list[pa.Array] = []  # the keys kept, to confirm a hash hit
        self._lines: list[np.ndarray] = []  # the line that first had each kept key
        self._starts: list[int] = []
        self._stored = 0
        self._filter = np.zeros(1 << (_FILTER_BITS - 3), np.uint8)
        # Records skipped undecoded (filebridge/rawskip.py) are noted by their place in
        # ``known`` before their block's decoded rows are checked; a decoded row of
        # the block that comes first with the same key is kept, and ``late(place,
        # its line, key)`` rejects the skipped one instead.
        self.late: Callable[[int, int, str], None] | None = None

    def seen(self, places: np.ndarray) -> np.ndarray:
        """Whether a kept row of the file had the snapshot's key at each place."""
        if self.known is None:
            raise Bug("places are in the snapshot the check was given")
        return self._seen_at[places]

    def note(self, places: np.ndarray, lines: np.ndarray) -> None:
        """The snapshot's keys at ``places`` are the file's, first on ``lines``."""
        if self.known is None:
            raise Bug("places are in the snapshot the check was given")
        self._seen_at[places] = True
        self._line_at[places] = lines

    def check(self, batch: Batch, report: FileReport) -> Batch:
        if not len(batch) or self.field not in batch.names:
            return batch
        col = pc.cast(batch.column(self.field), pa.string())
        h = key_hashes(col)
        lines = np.asarray(batch.lines.to_numpy(zero_copy_only=False), np.int64)
        valid = ~np.asarray(col.is_null().to_numpy(zero_copy_only=False), bool)
        # Not a stable sort (3x faster): rows of one hash are either one key (all but
        # the first dropped, by line) or a collision (told apart by the key itself).
        order = np.argsort(h)
        hs = h[order]
        twice = np.zeros(len(h), bool)  # a hash that occurs more than once in the batch
        same = hs[1:] == hs[:-1]
        twice[order[1:][same]] = True
        twice[order[:-1][same]] = True
        before = np.zeros(len(h), bool)
        before[order] = self._seen(hs)
        keyed = Keyed(self.field, h)  # for mode: changes (filebridge.delta)
        found = np.zeros(len(h), bool)
        if self.known is not None:
            pos, found = self.known.find(col, h)
            at = np.flatnonzero(found)
            if self.late is not None:
                self._skipped_later(col, pos, lines, at)
            before[at] |= self._seen_at[pos[at]]
            keyed = Keyed(self.field, h, (weakref.ref(self.known), pos, found))
        candidates = np.flatnonzero(valid & (before | twice))
        drop = self._repeats(batch, col, h, lines, before, candidates, report, keyed) \
            if len(candidates) else np.zeros(len(h), bool)
        keep = valid & ~drop
        if self.known is not None:
            mark = np.flatnonzero(keep & found)
            self._seen_at[pos[mark]] = True
            self._line_at[pos[mark]] = lines[mark]
        # After _repeats returned: nothing of this call holds a run, so a merge frees
        # the runs it replaces as it goes.
        self._remember(col, hs, lines, order, keep & ~found)
        batch = batch.with_keyed(keyed)
        return batch.filter(pa.array(~drop)) if drop.any() else batch

    def _skipped_later(self, col: pa.Array, pos: np.ndarray, lines: np.ndarray,
                       at: np.ndarray) -> None:
        """Rows ``at`` (found in ``known``) whose key a record skipped undecoded on a
        later line of their block has: the first such row is kept, the skipped record
        is rejected (``late``)."""
        late = at[self._seen_at[pos[at]] & (self._line_at[pos[at]] > lines[at])]
        if not len(late) or self.late is None:
            return
        places, first = np.unique(pos[late], return_index=True)  # rows are in line order
        for place, i in zip(places.tolist(), late[first].tolist(), strict=True):
            self.late(place, int(lines[i]), col[i].as_py())
        self._seen_at[places] = False  # the decoded rows mark their keys below

    def _seen(self, hs: np.ndarray) -> np.ndarray:
        """Which of the sorted hashes ``hs`` an earlier batch's kept key had."""
        seen = np.zeros(len(hs), bool)
        maybe = self._maybe_seen(hs)  # most new keys are ruled out here, without a search
        if maybe.any():
            needles, found = hs[maybe], np.zeros(int(maybe.sum()), bool)
            for hashes, _ in self.runs:  # sorted needles: searchsorted walks in order
                at = np.minimum(np.searchsorted(hashes, needles), len(hashes) - 1)
                found |= hashes[at] == needles
            seen[maybe] = found
        return seen

    def _repeats(self, batch: Batch, col: pa.Array, h: np.ndarray, lines: np.ndarray,
                 before: np.ndarray, candidates: np.ndarray, report: FileReport,
                 keyed: Keyed) -> np.ndarray:
        """The rows to drop among ``candidates`` (rows whose hash was seen before or
        repeats in the batch), each rejected naming the line it repeats."""
        drop = np.zeros(len(h), bool)
        keys = col.take(pa.array(candidates)).to_pylist()
        first: dict[str, int] = {}
        repeats: list[tuple[int, int, str]] = []  # (row, line, key)
        # Where each candidate's hash sits in each run (one call per run).
        ch = h[candidates]
        spans = [(run, np.searchsorted(run[0], ch, "left").tolist(),
                  np.searchsorted(run[0], ch, "right").tolist()) for run in self.runs]
        for c, (i, key, line) in enumerate(zip(candidates.tolist(), keys,
                                               lines[candidates].tolist(), strict=True)):
            if key in first:
                drop[i] = True
            elif before[i] and (earlier := self._earlier(spans, c, key, keyed, i)) is not None:
                first[key] = earlier
                drop[i] = True
            else:
                first[key] = line
                continue
            repeats.append((i, line, key))
        # The rejected rows' input in one take: a take per row costs a file with
        # many repeats seconds.
        raws = batch.raw_rows([i for i, _, _ in repeats]) if repeats else []
        for (_, line, key), raw in zip(repeats, raws, strict=True):
            report.reject(Reject(line, self.field,
                                 f"{self.field} {key} appears twice: line {first[key]} and "
                                 f"line {line}; line {first[key]} is kept", raw, key))
        return drop

    def _earlier(self, spans: list[tuple[tuple[np.ndarray, np.ndarray], list[int], list[int]]],
                 c: int, key: str, keyed: Keyed, i: int) -> int | None:
        """The line of an earlier batch that had ``key`` (None: only its hash was seen);
        ``spans``: per run, where each candidate's hash sits (``c``: this one's);
        ``keyed``: where the batch's keys (``i``: this one's) sit in ``known``."""
        if keyed.looked is not None and keyed.looked[2][i]:
            at = int(keyed.looked[1][i])  # a key of the snapshot: never in the runs
            return int(self._line_at[at]) if self._seen_at[at] else None
        for (_, refs), los, his in spans:
            for j in range(los[c], his[c]):
                ref = int(refs[j])
                part = bisect.bisect_right(self._starts, ref) - 1
                if self._store[part][ref - self._starts[part]].as_py() == key:
                    return int(self._lines[part][ref - self._starts[part]])
        return None

    def _remember(self, col: pa.Array, hs: np.ndarray, lines: np.ndarray,
                  order: np.ndarray, keep: np.ndarray) -> None:
        """Add the kept rows; ``hs`` are the batch's hashes in ``order`` (sorted)."""
        kept = keep[order]
        rows = order[kept]
        if not len(rows):
            return
        self._starts.append(self._stored)
        self._store.append(col.take(pa.array(rows)))
        self._lines.append(lines[rows])
        refs = np.arange(self._stored, self._stored + len(rows), dtype=np.int64)
        self._stored += len(rows)
        self.runs.append((hs[kept], refs))
        at = hs[kept] >> np.uint64(64 - _FILTER_BITS)
        np.bitwise_or.at(self._filter, at >> np.uint64(3),
                         np.left_shift(1, at & np.uint64(7)).astype(np.uint8))
        while len(self.runs) > 1 and len(self.runs[-2][0]) < 2 * len(self.runs[-1][0]):
            # Timsort finds the two sorted runs and merges them (stable: a newer
            # run's hash lands after equal older ones), 5x faster than scattering
            # each array through a mask.
            (h1, r1), (h2, r2) = self.runs.pop(-2), self.runs.pop()
            hashes = np.concatenate((h1, h2))
            del h1, h2
            merge = np.argsort(hashes, kind="stable")
            hashes = hashes[merge]
            refs = np.concatenate((r1, r2))
            del r1, r2
            self.runs.append((hashes, refs[merge]))
            del hashes, refs, merge

    def _maybe_seen(self, hashes: np.ndarray) -> np.ndarray:
        """False for a hash no earlier batch kept (a bit per hash prefix, 4 MiB: a
        million keys leave about 97% of the new ones to be ruled out here)."""
        at = hashes >> np.uint64(64 - _FILTER_BITS)
        return ((self._filter[at >> np.uint64(3)] >> (at & np.uint64(7)).astype(np.uint8))
                & 1).astype(bool)

