"""EBCDIC text fields, decoded column-wise.

A binary record file is never decoded as a whole: bytes 0x15/0x25 decode to
line breaks in the ``ebcdic`` package's code pages, and packed fields would be
mangled. Each text field is decoded on its own: its bytes are mapped through a
256-entry table into cp1252 (every Latin-1 EBCDIC page fits, € included), then
transcoded with the column helpers the fixed-width reader uses. Control
characters (NUL fill, 0x15…) read as blanks.
"""

from __future__ import annotations

import codecs
import unicodedata
from functools import lru_cache

import numpy as np
import pyarrow as pa

from filebridge.layouts.bytes import split_lines, transcode

# The `ebcdic` package's *ms variants have broken tables (as400.md): never use them.
BROKEN = {"cp500ms", "cp1148ms"}


def check_codepage(name: str) -> str:
    try:
        import ebcdic  # noqa: F401  (registers cp280, cp1144, cp1141, cp1148 …)
    except ImportError:
        pass
    if name.lower() in BROKEN:
        raise ValueError(f"code page {name} is broken in the ebcdic package; use "
                         f"{name[:-2]} instead")
    try:
        codecs.lookup(name)
    except LookupError:
        raise ValueError(f"unknown EBCDIC code page {name!r} (e.g. cp037, cp500, cp280, "
                         "cp1140, cp1141, cp1144, cp1148, cp273)") from None
    return name


@lru_cache(maxsize=16)
def table(codepage: str) -> np.ndarray | None:
    """EBCDIC byte -> cp1252 byte, or None when the page has characters cp1252 lacks."""
    check_codepage(codepage)
    out = np.empty(256, dtype=np.uint8)
    for b in range(256):
        ch = bytes([b]).decode(codepage, errors="replace")
        if unicodedata.category(ch) == "Cc" or ch == "\ufffd":
            out[b] = 0x20
            continue
        try:
            out[b] = ch.encode("cp1252")[0]
        except UnicodeEncodeError:
            return None
    return out


def decode_text(mat: np.ndarray, codepage: str) -> pa.Array:
    """An (n, width) matrix of EBCDIC bytes -> n strings (trailing blanks kept)."""
    n, width = mat.shape
    t = table(codepage)
    if t is None:  # a non-Latin page: exact but per-row
        return pa.array([bytes(row).decode(codepage) for row in mat], pa.string())
    lines = np.empty((n, width + 1), dtype=np.uint8)
    lines[:, :width] = t[mat]
    lines[:, width] = 0x0A  # cannot occur in the mapped text: controls became blanks
    return transcode(split_lines(lines.tobytes()), "cp1252")


def hex_of(row: np.ndarray) -> str:
    return " ".join(f"{b:02X}" for b in row)


__all__ = ["check_codepage", "decode_text", "hex_of"]
