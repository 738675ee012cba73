"""SortedHashes finds what np.searchsorted finds (the first place not below each
needle, kept within the array), whatever the hashes: spread evenly as key hashes are,
repeated, crowded into one bucket past the rounds it steps, or only one."""

from __future__ import annotations

import numpy as np
import pytest

from filebridge.hashsearch import SortedHashes

TOP = np.uint64(2**64 - 1)


def _expected(hashes: np.ndarray, needles: np.ndarray) -> np.ndarray:
    return np.minimum(np.searchsorted(hashes, needles), len(hashes) - 1)


def _needles(rng: np.random.Generator, hashes: np.ndarray, n: int) -> np.ndarray:
    """Hashes of the array, their neighbours, random ones and both ends."""
    some = hashes[rng.integers(0, len(hashes), n)]
    return np.concatenate([some, some + np.uint64(1), some - np.uint64(1),
                           rng.integers(0, TOP, n, dtype=np.uint64, endpoint=True),
                           np.array([0, TOP], np.uint64)])


def _spread(rng: np.random.Generator, n: int) -> np.ndarray:
    return np.sort(rng.integers(0, TOP, n, dtype=np.uint64, endpoint=True))


def _repeated(rng: np.random.Generator, n: int) -> np.ndarray:
    return np.sort(np.repeat(_spread(rng, n // 4), 4))


def _crowded(rng: np.random.Generator, n: int) -> np.ndarray:
    # Half the hashes share their top 40 bits: one bucket holds far more than _ROUNDS.
    low = rng.integers(0, 2**24, n // 2, dtype=np.uint64) | np.uint64(0xABCDEF << 40)
    return np.sort(np.concatenate([low, _spread(rng, n - n // 2)]))


@pytest.mark.parametrize("make", [_spread, _repeated, _crowded])
@pytest.mark.parametrize("n", [1, 2, 3, 1000, 100_000])
def test_it_finds_what_searchsorted_finds(make, n: int) -> None:
    rng = np.random.default_rng(n)
    hashes = make(rng, n) if n >= 4 else _spread(rng, n)
    needles = _needles(rng, hashes, 5000)
    got = SortedHashes(hashes).search(needles)
    assert got.dtype == np.int64
    assert np.array_equal(got, _expected(hashes, needles))
    # And so tells which needles are there.
    assert np.array_equal(hashes[got] == needles, np.isin(needles, hashes))


def test_no_needles() -> None:
    assert len(SortedHashes(np.array([5], np.uint64)).search(np.zeros(0, np.uint64))) == 0
