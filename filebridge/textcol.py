"""A typed column as output text: what file sinks write and what the delta hashes
(filebridge/delta.py), so a value is "changed" exactly when its text would be."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc


def text_column(arr: pa.Array | pa.ChunkedArray, *, decimal: str = ".",
                true: str = "1", false: str = "0", separator: str = "|") -> pa.Array:
    """A typed column as output text: exact decimals, ISO dates, empty for null, a
    list's items (photos from a join) joined by ``separator``."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    t = arr.type
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        # A list (images, categories) as one text: its items with a separator no
        # item holds; an empty list and no list are both empty.
        inner = pa.large_list(pa.string()) if pa.types.is_large_list(t) else \
            pa.list_(pa.string())
        return pc.fill_null(pc.binary_join(pc.cast(arr, inner), separator), "")
    if pa.types.is_boolean(t):
        out = pc.if_else(arr, true, false)
    elif pa.types.is_null(t):
        out = pa.array([""] * len(arr), pa.string())
    else:
        out = arr if pa.types.is_string(t) else pc.cast(arr, pa.string())
        if decimal != "." and (pa.types.is_decimal(t) or pa.types.is_floating(t)):
            out = pc.replace_substring(out, ".", decimal)
    return pc.fill_null(out, "")
