"""Arrow helpers for text that is still bytes: whole blocks as one-element arrays,
line splitting, and transcoding single-byte code pages column by column.

Fixed-width files in a single-byte code page (cp1252, ISO-8859-x) are sliced as
bytes, where a position is a byte, and only the sliced columns that hold
non-ASCII bytes are transcoded: most columns (codes, numbers) never are.
"""

from __future__ import annotations

import codecs

import pyarrow as pa
import pyarrow.compute as pc

_SINGLE_BYTE_PREFIXES = ("cp125", "iso8859", "latin", "ascii", "cp437", "cp85", "mac-",
                         "cp1006", "koi8", "tis-620")


def is_single_byte(encoding: str) -> bool:
    """ASCII-compatible, one byte per character."""
    name = codecs.lookup(encoding).name
    return name.startswith(_SINGLE_BYTE_PREFIXES) and name not in ("cp1255",) or name in (
        "latin-1", "iso8859-1")


def as_array(data: bytes, type: pa.DataType = pa.large_binary()) -> pa.Array:
    """``data`` as a one-value Arrow array, without copying."""
    offsets = pa.array([0, len(data)], pa.int64()).buffers()[1]
    return pa.Array.from_buffers(type, 1, [None, offsets, pa.py_buffer(data)])


def split_lines(block: bytes, type: pa.DataType = pa.large_binary()) -> pa.Array:
    """Lines of a block of whole lines (CRLF or LF), without the line ends."""
    sep = b"\r\n" if b"\r\n" in block else b"\n"
    if type == pa.large_string():
        sep = sep.decode()  # type: ignore[assignment]
    lines = pc.list_flatten(pc.split_pattern(as_array(block, type), sep))
    if block.endswith(b"\n"):
        lines = lines.slice(0, len(lines) - 1)
    return lines


def data_bytes(arr: pa.Array) -> bytes:
    """The concatenated values of a large binary/string array."""
    offsets = memoryview(arr.buffers()[1]).cast("q")
    return arr.buffers()[2][offsets[arr.offset]:offsets[arr.offset + len(arr)]].to_pybytes()


def transcode(col: pa.Array, encoding: str) -> pa.Array:
    """A large_binary column in a single-byte ``encoding`` -> a string column.

    Raises UnicodeDecodeError with ``.start`` at the byte offset of the bad value's
    row *index* (see :func:`bad_row`)."""
    view = col.view(pa.large_string())
    if pc.all(pc.string_is_ascii(view)).as_py() is not False:
        return pc.cast(view, pa.string())  # ASCII is the same bytes in UTF-8
    # Values cannot hold a newline (they come from one line): join on it, transcode
    # the whole buffer at once, split again.
    nl_bin = pa.scalar(b"\n", pa.large_binary())
    joined = pc.binary_join_element_wise(col, nl_bin, pa.scalar(b"", pa.large_binary()))
    text = data_bytes(joined).decode(encoding).encode("utf-8")
    out = pc.list_flatten(pc.split_pattern(as_array(text, pa.large_string()), "\n"))
    return pc.cast(out.slice(0, len(out) - 1), pa.string())


def bad_row(col: pa.Array, encoding: str) -> int:
    """Index of the first value that does not decode (after a UnicodeDecodeError)."""
    for i, v in enumerate(col.to_pylist()):
        try:
            v.decode(encoding)
        except UnicodeDecodeError:
            return i
    return 0
