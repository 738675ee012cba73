"""Blocks of lines that all have one length, read as a matrix of bytes.

An export of a physical file pads every record to the record length, so a block of
its lines is a rows x width matrix (line ends included) over the block's bytes, and
a field is a column slice of it: copied once into an Arrow string array whose
offsets are arithmetic, with no per-line splitting or slicing. Only for single-byte,
ASCII-compatible code pages (a position is a byte). A block this cannot read the
same way as the general path (lines of other lengths, blank lines, no final line
end, bytes the code page does not have) gets None, and the general path reads it.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from filebridge.layouts.bytemap import byte_map
from filebridge.layouts.fixed import FixedField

_LF, _CR, _BLANK = 10, 13, 32
_BLANKS = np.zeros(256, bool)  # what a blank line (not a record) may hold
_BLANKS[[ord(" "), ord("\t"), ord("\r")]] = True


def lines(block: bytes) -> np.ndarray | None:
    """The block's lines without their ends (LF or CRLF), one per row of a view of the
    block; None unless all have one length, end alike and none is blank."""
    width = block.find(b"\n") + 1
    if width == 0 or len(block) % width:
        return None  # no final line end, or lines of other lengths
    flat = np.frombuffer(block, np.uint8)
    rows = flat.reshape(-1, width)
    # Every line ends with a LF and holds no other (NumPy counts 7x faster than bytes).
    if not (rows[:, -1] == _LF).all() or np.count_nonzero(flat == _LF) != len(rows):
        return None
    # The general path splits on CRLF as soon as the block holds one: every line
    # must end with CR, or none.
    cut = width - 1
    if cut and rows[0, cut - 1] == _CR:
        if not (rows[:, cut - 1] == _CR).all():
            return None
        cut -= 1
    elif cut and (rows[:, cut - 1] == _CR).any():
        return None
    out = rows[:, :cut]
    if not cut or _blank_rows(out):
        return None
    return out


def _blank_rows(rows: np.ndarray) -> bool:
    # A record starts with a code, so only rows starting with a blank are looked at.
    maybe = np.flatnonzero(_BLANKS[rows[:, 0]])
    return bool(len(maybe)) and bool(_BLANKS[rows[maybe]].all(axis=1).any())


def column(rows: np.ndarray, f: FixedField, encoding: str) -> pa.Array | None:
    """Field ``f`` of every row as text, as the general path gives it (past the end of
    the line: empty); None when it holds a byte ``encoding`` does not have."""
    lo = min(f.start - 1, rows.shape[1])
    sub = rows[:, lo:min(f.end, rows.shape[1])]
    n, width = sub.shape
    data = np.ascontiguousarray(sub).reshape(-1)
    offsets = np.arange(n + 1, dtype=np.int64) * width
    if len(data) and data.max() >= 0x80:
        table = byte_map(encoding, "replace")  # UTF-8 lengths per byte
        if table is None:
            return None
        try:
            utf8 = str(data.data, encoding).encode("utf-8")
        except UnicodeDecodeError:
            return None  # the general path rejects the rows holding it
        # A non-ASCII byte (rare) may become more than one byte of UTF-8.
        at = np.flatnonzero(data >= 0x80)
        extra = np.bincount(at // width, table.lengths[data[at]] - 1.0, n)
        offsets[1:] += np.cumsum(extra).astype(np.int64)
        data = np.frombuffer(utf8, np.uint8)
    kind, width_t = (pa.string(), np.int32) if len(data) < 1 << 31 else \
        (pa.large_string(), np.int64)
    arr = pa.Array.from_buffers(kind, n, [None, pa.py_buffer(offsets.astype(width_t)),
                                          pa.py_buffer(data)])
    if kind != pa.string():
        arr = arr.cast(pa.string())
    # Trimmed as the general path does; most code columns have no blank to trim.
    if f.type == "text" and f.trim and width and (sub[:, -1] == _BLANK).any():
        arr = pc.utf8_rtrim(arr, characters=" ")
    return arr


def mappable(rows: np.ndarray, encoding: str) -> bool:
    """Whether every byte of ``rows`` is one ``encoding`` has."""
    if not rows.size or rows.max() < 0x80:
        return True
    table = byte_map(encoding, "replace")
    return table is not None and not table.unmapped[rows[rows >= 0x80]].any()


def digits(rows: np.ndarray, f: FixedField) -> pa.Array | None:
    """Field ``f`` (an integer, or a decimal with implied decimals) typed straight from
    its bytes when every row is digits, a sign allowed first (``-000012``): what the
    text parsers would give, without the text. None for anything else (blanks,
    a point, a bad row): the parsers do it and say which rows fail."""
    if f.storage != "text" or not (f.type == "integer" or f.type == "decimal" and f.implied) \
            or f.end > rows.shape[1] or not 2 <= f.length <= 18:
        return None
    sub = rows[:, f.start - 1:f.end]
    values = sub[:, 1:] - np.uint8(ord("0"))  # wraps below "0": no digit is > 9
    if len(values) and values.max() > 9:
        return None
    first = sub[:, 0]
    minus = first == ord("-")
    signed = minus | (first == ord("+"))
    head = first - np.uint8(ord("0"))
    if not (signed | (head <= 9)).all():
        return None
    ints = np.where(signed, 0, head).astype(np.int64)
    for j in range(values.shape[1]):
        ints = ints * 10 + values[:, j]
    ints = pa.array(np.where(minus, -ints, ints))
    if f.type == "integer":
        return ints
    # As parse_decimal: the digits are the unscaled value of the decimal.
    return pc.cast(ints, pa.decimal128(38, 0)).view(pa.decimal128(38, f.scale))
