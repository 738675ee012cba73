"""List values (images, categories, tags) as Arrow ``list<…>`` columns, worked on
column-wise: every helper takes the flat values of all rows at once.

One spelling for "nothing": a mapped list never holds blank elements (null, or
text of only spaces), and a list left with no elements is null. So ``required``,
``coalesce``, ``is None`` and the change hashes treat ``[]`` and a missing list
alike.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def is_list(t: pa.DataType) -> bool:
    return pa.types.is_list(t) or pa.types.is_large_list(t)


def plain(arr: pa.Array | pa.ChunkedArray) -> pa.ListArray:
    """One chunk, 32-bit offsets."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if pa.types.is_large_list(arr.type):
        arr = arr.cast(pa.list_(arr.type.value_type))
    return arr


def parts(arr: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """(the elements of every row, in order; each row's element count)."""
    arr = plain(arr)
    offsets = arr.offsets.to_numpy()
    start = int(offsets[0]) if len(offsets) else 0
    values = arr.values.slice(start, int(offsets[-1]) - start if len(offsets) else 0)
    return values, np.diff(offsets)


def build(values: pa.Array, counts: np.ndarray, nulls: pa.Array | None = None) -> pa.ListArray:
    offsets = np.zeros(len(counts) + 1, np.int32)
    np.cumsum(counts, out=offsets[1:])
    mask = None if nulls is None or not pc.any(nulls).as_py() else nulls
    return pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), values, mask=mask)


def map_values(arr: pa.Array, fn: Callable[[pa.Array], pa.Array]) -> pa.ListArray:
    """Apply ``fn`` to the elements; the rows keep their shape."""
    arr = plain(arr)
    values, counts = parts(arr)
    return build(fn(values), counts, arr.is_null())


def parents(counts: np.ndarray) -> np.ndarray:
    """The row of each element."""
    return np.repeat(np.arange(len(counts)), counts)


def any_per_row(counts: np.ndarray, element_mask: pa.Array) -> pa.Array:
    """Rows where at least one element's mask is true."""
    hit = np.zeros(len(counts), bool)
    marks = pc.fill_null(element_mask, False).to_numpy(zero_copy_only=False)
    hit[parents(counts)[marks]] = True
    return pa.array(hit)


def blank_elements(values: pa.Array) -> pa.Array:
    mask = pc.is_null(values)
    if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
        mask = pc.or_(mask, pc.equal(pc.utf8_trim_whitespace(values), ""))
    return pc.fill_null(mask, True)


def normalise(arr: pa.Array) -> pa.ListArray:
    """Drop blank elements; a row left without elements becomes null."""
    arr = plain(arr)
    values, counts = parts(arr)
    keep = pc.invert(blank_elements(values))
    kept = np.bincount(parents(counts)[keep.to_numpy(zero_copy_only=False)],
                       minlength=len(counts))
    return build(values.filter(keep), kept, pa.array(kept == 0))


def from_columns(cols: list[pa.Array]) -> pa.ListArray:
    """Row i becomes [cols[0][i], cols[1][i], …] (blank ones left out)."""
    n, k = len(cols[0]), len(cols)
    order = (np.arange(k)[None, :] * n + np.arange(n)[:, None]).ravel()
    values = pa.concat_arrays(cols).take(pa.array(order))
    return normalise(build(values, np.full(n, k)))


def split(text: pa.Array, sep: str) -> pa.ListArray:
    """Text cut at ``sep``; elements trimmed, blank ones dropped."""
    cut = plain(pc.split_pattern(text, sep))
    return normalise(map_values(cut, pc.utf8_trim_whitespace))


def contains(lst: pa.Array, needle: pa.Array | pa.Scalar) -> pa.Array:
    """Whether each row's list holds the row's ``needle`` (false for a null list)."""
    values, counts = parts(lst)
    if isinstance(needle, pa.Array):
        needle = needle.take(pa.array(parents(counts)))
    return any_per_row(counts, pc.equal(values, needle))
