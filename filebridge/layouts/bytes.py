"""Arrow helpers for text that is still bytes: whole blocks as one-element arrays,
line splitting, and transcoding single-byte code pages column by column.

Fixed-width files in a single-byte code page (cp1252, ISO-8859-x) are sliced as
bytes, where a position is a byte, and only the sliced columns that hold
non-ASCII bytes are transcoded: most columns (codes, numbers) never are.
"""

from __future__ import annotations

import codecs
import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from filebridge.layouts.bytemap import byte_map

_SINGLE_BYTE_PREFIXES = ("cp125", "iso8859", "latin", "ascii", "cp437", "cp85", "mac-",
                         "cp1006", "koi8", "tis-620")


def is_single_byte(encoding: str) -> bool:
    """ASCII-compatible, one byte per character."""
    name = codecs.lookup(encoding).name
    return name.startswith(_SINGLE_BYTE_PREFIXES) and name not in ("cp1255",) or name in (
        "latin-1", "iso8859-1")


LARGE_BINARY = pa.large_binary()


def as_array(data: bytes, type: pa.DataType = LARGE_BINARY) -> pa.Array:
    """``data`` as a one-value Arrow array, without copying."""
    offsets = pa.array([0, len(data)], pa.int64()).buffers()[1]
    return pa.Array.from_buffers(type, 1, [None, offsets, pa.py_buffer(data)])


def split_lines(block: bytes, type: pa.DataType = LARGE_BINARY) -> pa.Array:
    """Lines of a block of whole lines (CRLF or LF), without the line ends."""
    sep = b"\r\n" if b"\r\n" in block else b"\n"
    if type == pa.large_string():
        sep = sep.decode()  # type: ignore[assignment]
    lines = pc.list_flatten(pc.split_pattern(as_array(block, type), sep))
    if block.endswith(b"\n"):
        lines = lines.slice(0, len(lines) - 1)
    return lines


_BLANK_START = np.zeros(256, bool)
_BLANK_START[[ord(" "), ord("\t"), ord("\r")]] = True


def blank_lines(lines: pa.Array) -> pa.Array | None:
    """Mask of the lines that are empty or only blanks (space, tab, CR); None when
    there is none. Only lines that are empty or start with a blank are looked at
    closely: a record usually starts with its code."""
    width = np.int64 if lines.type in (pa.large_binary(), pa.large_string()) else np.int32
    _, obuf, dbuf = lines.buffers()
    offsets = np.frombuffer(obuf, width, len(lines) + 1, lines.offset * width().itemsize)
    starts, lengths = offsets[:-1], np.diff(offsets)
    maybe = lengths == 0
    full = ~maybe
    if full.any() and dbuf is not None:
        data = np.frombuffer(dbuf, np.uint8, int(offsets[-1]))
        maybe[full] = _BLANK_START[data[starts[full]]]
    if lines.null_count:
        maybe &= np.asarray(lines.is_valid().to_numpy(zero_copy_only=False), bool)
    at = np.flatnonzero(maybe)
    if not len(at):
        return None
    blank = np.zeros(len(lines), bool)
    blank[at] = np.asarray(pc.fill_null(pc.match_substring_regex(
        lines.take(pa.array(at)), "^[ \t\r]*$"), False).to_numpy(zero_copy_only=False), bool)
    return pa.array(blank) if blank.any() else None


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


def decode_values(col: pa.Array, encoding: str) -> tuple[pa.Array, dict[int, bytes]]:
    """Binary values in ``encoding`` -> a string column, and the values that are not
    valid ``encoding``: {index: the offending bytes} (those values are null).

    One invalid byte costs its own value only. Column-wise where the data is clean:
    UTF-8 is validated by Arrow, ASCII is UTF-8 already, other text is decoded in one
    call for the whole column; only a column that fails is decoded value by value."""
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    if not pa.types.is_large_binary(col.type):
        col = col.cast(pa.large_binary())
    view = col.view(pa.large_string())
    name = codecs.lookup(encoding).name
    if name in ("utf-8", "utf-8-sig"):
        try:
            view.validate(full=True)
            return pc.cast(view, pa.string()), {}
        except pa.ArrowInvalid:
            pass
    elif pc.all(pc.string_is_ascii(view)).as_py() is not False:
        return pc.cast(view, pa.string()), {}
    else:
        bm = byte_map(encoding, "filebridge-mark")
        if bm is not None:  # a single-byte page, by table (layouts/bytemap.py)
            out = bm.values(col)
            if out is not None:
                return out, {}
        data = data_bytes(col)
        if b"\x00" not in data:  # NUL is NUL in every ASCII-compatible code page
            sep = pa.scalar(b"\x00", pa.large_binary())
            joined = pc.binary_join_element_wise(col, sep, pa.scalar(b"", pa.large_binary()))
            try:
                text = data_bytes(joined).decode(encoding).encode("utf-8")
            except UnicodeDecodeError:
                pass
            else:
                out = pc.list_flatten(pc.split_pattern(as_array(text, pa.large_string()),
                                                       "\x00"))
                out = pc.cast(out.slice(0, len(out) - 1), pa.string())
                return (pc.if_else(pc.is_null(col), pa.scalar(None, pa.string()), out)
                        if col.null_count else out), {}
    values: list[str | None] = []
    bad: dict[int, bytes] = {}
    for i, v in enumerate(col.to_pylist()):
        if v is None:
            values.append(None)
            continue
        try:
            values.append(v.decode(encoding))
        except UnicodeDecodeError as e:
            values.append(None)
            bad[i] = v[e.start:e.end]
    return pa.array(values, pa.string()), bad


def not_valid(data: bytes, encoding: str) -> str:
    """The reason given for a row holding bytes that are not valid ``encoding``."""
    return (f"bytes {data!r} are not valid {encoding} (the file is read as encoding: "
            f"{encoding}; is it in another?)")


# Text read in a declared encoding becomes UTF-8 on the way in. A byte that is not
# valid there would make the whole text undecodable; instead it is carried through as
# MARK followed by its two hex digits (MARK is U+FDD0, a Unicode noncharacter kept for
# a program's internal use, so no valid export holds it), and the row holding it is
# rejected naming the byte as it was in the file.
MARK = "\ufdd0"
_MARK_UTF8 = MARK.encode("utf-8")
_MARKED = re.compile(MARK + "([0-9A-F]{2})")


def _mark_escaped(e: UnicodeError) -> tuple[bytes, int]:
    if not isinstance(e, UnicodeEncodeError):
        raise e
    out = []
    for ch in e.object[e.start:e.end]:
        if not 0xDC80 <= ord(ch) <= 0xDCFF:
            raise e  # a real lone surrogate in the text, not one of ours
        out.append(f"{MARK}{ord(ch) - 0xDC00:02X}")
    return "".join(out).encode("utf-8"), e.end  # bytes: UTF-8 takes no non-ASCII str here


codecs.register_error("filebridge-mark", _mark_escaped)


class Utf8Text:
    """Bytes in ``encoding`` -> UTF-8 bytes, incrementally; invalid bytes marked (see
    MARK). ``marked`` says whether any was."""

    def __init__(self, encoding: str):
        self.decoder = codecs.getincrementaldecoder(encoding)("surrogateescape")
        # A single-byte page has a table (layouts/bytemap.py): no decoding in Python.
        self.bytemap = byte_map(encoding, "filebridge-mark")
        self.marked = False

    def __call__(self, data: bytes, final: bool = False) -> bytes:
        if self.bytemap is not None:
            out, marked = self.bytemap(data)
            self.marked = self.marked or marked
            return out
        text = self.decoder.decode(data, final=final)
        try:
            return text.encode("utf-8")
        except UnicodeEncodeError:
            self.marked = True
            return text.encode("utf-8", "filebridge-mark")


def marked_rows(col: pa.Array | pa.ChunkedArray) -> dict[int, bytes]:
    """{row: the invalid bytes it held} for the values of a text column with marks."""
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    if _MARK_UTF8 not in data_bytes(col.cast(pa.large_string())):
        return {}
    hit = pc.fill_null(pc.match_substring(col, MARK), False)
    out = {}
    for i in pc.indices_nonzero(hit).to_pylist():
        out[i] = bytes(int(h, 16) for h in _MARKED.findall(col[i].as_py()))
    return out


def unmarked(text: str) -> str:
    """Marked text for people: each invalid byte shown as U+FFFD."""
    return _MARKED.sub("\ufffd", text) if MARK in text else text
