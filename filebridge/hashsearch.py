"""Where 64-bit hashes sit in a sorted array of them, found through a directory of
their top bits instead of a binary search.

A ``mode: changes`` run looks each record up among a million saved ones, twice (the
records' entries, then the snapshot's keys). ``np.searchsorted`` costs some twenty
probes a needle, and the needles must be sorted first for them to stay in cache.
Hashes are spread evenly, so their top bits say where each one's neighbours start:
with about one hash per bucket, a needle is found in one or two probes, in any
order. On 1M hashes and 1M needles, 0.10 s of cpu instead of 0.36 s with the sort.
"""

from __future__ import annotations

import numpy as np

# Rounds of stepping through a bucket before the needles left are searched the plain
# way: evenly spread hashes leave a bucket holding more than a few of them rare.
_ROUNDS = 8
_MAX_BITS = 23  # a directory of at most 8M buckets (32 MiB)
_SLICE = 1 << 16


class SortedHashes:
    """A sorted uint64 array with a directory of where each top-bits bucket starts
    (4 bytes a bucket, about one bucket per hash: 4 MiB for a million)."""

    def __init__(self, hashes: np.ndarray):
        self.hashes = hashes
        self.bits = min(max(int(len(hashes)).bit_length(), 1), _MAX_BITS)
        # Counted a slice at a time, in place: the directory is the only array built
        # whole (a bincount of all the hashes at once held three times its size).
        starts = np.zeros((1 << self.bits) + 1, np.int32 if len(hashes) < 2**31 else np.int64)
        shift = np.uint64(64 - self.bits)
        for i in range(0, len(hashes), _SLICE):
            top = (hashes[i:i + _SLICE] >> shift).astype(np.intp)  # sorted, as the hashes
            first = np.flatnonzero(np.concatenate(([True], top[1:] != top[:-1])))
            at = top[first] + 1
            starts[at] = starts[at] + np.diff(np.append(first, len(top)))
        np.cumsum(starts, out=starts)
        self.starts = starts

    def search(self, needles: np.ndarray) -> np.ndarray:
        """Per needle, the first place whose hash is not below it (``np.searchsorted``,
        left), kept within the array: the needle is there when ``hashes[place]``
        equals it. The array must not be empty."""
        bucket = (needles >> np.uint64(64 - self.bits)).astype(np.intp)
        place = self.starts[bucket].astype(np.int64)
        end = self.starts[bucket + 1].astype(np.int64)
        todo = np.flatnonzero(place < end)
        for _ in range(_ROUNDS):
            if not len(todo):
                break
            todo = todo[np.less(self.hashes[place[todo]], needles[todo])]
            place[todo] += 1
            todo = todo[place[todo] < end[todo]]
        if len(todo):  # a crowded bucket
            place[todo] = np.searchsorted(self.hashes, needles[todo])
        np.minimum(place, len(self.hashes) - 1, out=place)
        return place
