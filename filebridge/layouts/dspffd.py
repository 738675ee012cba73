"""DSPFFD outfile exported as CSV -> fixed-width layout of the *binary* record.

``DSPFFD FILE(LIB/FILE) OUTPUT(*OUTFILE) OUTFILE(QTEMP/X)`` writes one row per field
(format QWHDRFFD); exported with a header row (CPYTOIMPF ADDCOLNAM(*SYS), or ACS),
``;`` or ``,`` separated. Columns used: WHFLDE (else WHFLDI) name, WHFOBO 1-based
buffer position, WHFLDB bytes, WHFLDD digits, WHFLDP decimal positions, WHFLDT type,
WHRLEN record length, WHNAME record format. Positions are those of the record
buffer, i.e. of a byte-exact copy of the file; a CPYTOIMPF *FIXED text export lays
numbers out differently and is described by an FDF instead.

Also accepted: a listing typed from the ERP documentation, whitespace separated
under a header line such as ``name offset length digits decimals type [text]``.
A column headed ``offset`` is 0-based when the first field is at 0.

Types: A, T (time), Z (timestamp) -> text; P packed, S zoned, B binary -> integer, or
decimal with implied decimals when WHFLDP > 0; L -> date, format ISO (the *ISO
default; override it when the file was created with another DATFMT).
"""

from __future__ import annotations

import csv
from typing import Any

from filebridge.layouts.fixed import FixedField
from filebridge.layouts.layout import Layout, LayoutError, make_field

COLUMNS = {
    "name": ("WHFLDE", "WHFLDI", "NAME", "FIELD", "CAMPO"),
    "start": ("WHFOBO", "START", "POSITION", "POS", "OFFSET"),
    "length": ("WHFLDB", "LENGTH", "LEN", "BYTES"),
    "digits": ("WHFLDD", "DIGITS"),
    "decimals": ("WHFLDP", "DECIMALS", "DEC", "SCALE"),
    "type": ("WHFLDT", "TYPE"),
    "record_length": ("WHRLEN",),
    "format": ("WHNAME",),
    "file": ("WHFILE",),
}
TYPE_WORDS = {"CHAR": "A", "CHARACTER": "A", "PACKED": "P", "ZONED": "S", "BINARY": "B",
              "DATE": "L", "TIME": "T", "TIMESTAMP": "Z"}
STORAGE = {"P": "packed", "S": "zoned", "B": "binary"}
REFUSED = {"F": "floating point", "G": "graphic (DBCS)", "O": "DBCS-open", "J": "DBCS-only",
           "E": "DBCS-either", "H": "hexadecimal"}


def _table(text: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Header cells (upper case) and the numbered rows under them."""
    lines = text.lstrip("\ufeff").splitlines()
    numbered = [(n, ln) for n, ln in enumerate(lines, 1) if ln.strip()]
    if not numbered:
        raise LayoutError("the DSPFFD file is empty")
    (_, header), rows = numbered[0], numbered[1:]
    delimiter = ";" if ";" in header else "," if "," in header else None
    if delimiter:
        cells = next(csv.reader([header], delimiter=delimiter))
        body = [(n, next(csv.reader([ln], delimiter=delimiter))) for n, ln in rows]
    else:  # whitespace listing: the last column (a text) may hold spaces
        cells = header.split()
        body = [(n, ln.split(maxsplit=len(cells) - 1)) for n, ln in rows]
    return [c.strip().upper() for c in cells], body


def _columns(header: list[str]) -> dict[str, int]:
    found = {}
    for key, names in COLUMNS.items():
        index = next((header.index(n) for n in names if n in header), None)
        if index is not None:
            found[key] = index
    missing = [COLUMNS[k][0] for k in ("name", "start", "length", "type") if k not in found]
    if missing:
        raise LayoutError(f"no column for {', '.join(missing)}; the header has "
                          f"{', '.join(header)}", 1)
    return found


def _number(value: str, what: str, line: int) -> int:
    try:
        return int(value.strip() or 0)
    except ValueError:
        raise LayoutError(f"{what} should be a whole number, found {value!r}", line) from None


def _spec(name: str, kind: str, length: int, digits: int, decimals: int,
          line: int) -> dict[str, Any]:
    if kind in ("A", "T", "Z"):
        return {"type": "text"}
    if kind == "L":
        return {"type": "date", "format": "ISO"}
    if kind in STORAGE:
        if kind == "P" and digits and length != digits // 2 + 1:
            raise LayoutError(f"{name}: a packed field of {digits} digits takes {digits // 2 + 1} "
                              f"bytes, not {length}", line)
        if kind == "B" and length not in (2, 4, 8):
            raise LayoutError(f"{name}: a binary (B) field takes 2, 4 or 8 bytes, not "
                              f"{length}", line)
        return {"type": "decimal" if decimals else "integer", "scale": decimals,
                "implied": bool(decimals), "storage": STORAGE[kind],
                "sign": "trailing"}
    what = REFUSED.get(kind)
    raise LayoutError(f"{name}: type {kind} ({what}) is not supported" if what else
                      f"{name}: unknown type {kind!r}; known: A, P, S, B, L, T, Z", line)


def compile_dspffd(text: str) -> Layout:
    header, rows = _table(text)
    col = _columns(header)
    zero_based = header[col["start"]] == "OFFSET" and any(
        r[col["start"]].strip() == "0" for _, r in rows if len(r) > col["start"])
    fields: dict[str, FixedField] = {}
    formats: set[str] = set()
    record_length = 0
    for n, row in rows:
        row = row + [""] * (len(header) - len(row))

        def get(key: str, row: list[str] = row) -> str:
            return row[col[key]].strip() if key in col else ""

        name = get("name")
        if not name:
            raise LayoutError("a row without a field name", n)
        if name.upper() in (k.upper() for k in fields):
            raise LayoutError(f"{name} is listed twice", n)
        formats.add(get("format"))
        record_length = record_length or _number(get("record_length"), "WHRLEN", n)
        kind = TYPE_WORDS.get(get("type").upper(), get("type").upper())
        start = _number(get("start"), f"{name}: the position", n) + zero_based
        length = _number(get("length"), f"{name}: the length", n)
        spec = _spec(name, kind, length, _number(get("digits"), f"{name}: the digits", n),
                     _number(get("decimals"), f"{name}: the decimals", n), n)
        fields[name] = make_field(n, start=start, length=length, **spec)
    if len(formats) > 1:
        raise LayoutError("the listing holds several record formats "
                          f"({', '.join(sorted(formats))}): export the DSPFFD of one")
    if not fields:
        raise LayoutError("the DSPFFD file lists no fields", 1)
    end = max(f.end for f in fields.values())
    if record_length and end > record_length:
        name = max(fields, key=lambda k: fields[k].end)
        raise LayoutError(f"{name} ends at {end}, past the record length {record_length} "
                          "(WHRLEN)")
    files = [r[col["file"]].strip() for _, r in rows if "file" in col and len(r) > col["file"]]
    return Layout(fields, record_length or end, name=files[0] if files else None,
                  kind="dspffd")
