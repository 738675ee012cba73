"""Code tables for a mapped field's ``lookup:``: an inline mapping in the profile,
or a CSV file with a header, read with its own encoding and delimiter, keyed by
one or more of its columns.

Tables are read and checked when the profile is loaded (a file that cannot be
read, decoded or parsed is a profile error naming the file and its line), and
looked up column-wise: the key columns of a batch are joined into one text and
found with one ``index_in`` against the table's keys. Codes are compared after
trimming blanks on both sides.
"""

from __future__ import annotations

import codecs
import csv
import io
from dataclasses import dataclass
from typing import Annotated, Any

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import (
    BeforeValidator,
    Discriminator,
    Field,
    PrivateAttr,
    Tag,
    field_validator,
    model_validator,
)

from filebridge.errors import Bug
from filebridge.expr import compile_expr
from filebridge.options import Encoding, Model, ProfilePath

SEP = "\x1f"  # between the parts of a composite key


@dataclass
class Table:
    """A loaded code table: joined keys -> values."""

    codes: pa.Array  # string
    values: pa.Array
    width: int  # key columns
    where: str  # for reasons: "lookup colori.csv" or "the inline lookup"


class LookupFile(Model):
    """A code table in a CSV file with a header line."""

    file: ProfilePath = Field(description="the CSV file, relative to the profile's folder")
    encoding: Encoding = Field("utf-8", description="the file's encoding, e.g. cp1252 for "
                               "tables saved on Windows or exported from the AS400")
    delimiter: str = Field(",", min_length=1, max_length=1, description="column separator, "
                           "e.g. ';'")
    key: str | list[str] | None = Field(None, description="the column(s) holding the code "
                                        "(default: the first); several for tables keyed by "
                                        "e.g. type and code: [TIPO, CODICE]")
    value: str | None = Field(None, description="the column holding the value (default: the "
                              "first column after the key)")
    match: list[str] | None = Field(None, description="expressions giving each key column's "
                                    "value, in order, e.g. ['\"COL\"', COLORE] (a quoted text "
                                    "is a constant); default: the field's own value")
    _table: Table | None = PrivateAttr(None)

    @field_validator("match")
    @classmethod
    def _expressions(cls, v: list[str] | None) -> list[str] | None:
        for i, text in enumerate(v or []):
            try:
                compile_expr(str(text))
            except ValueError as e:
                raise ValueError(f"match[{i}] {text!r}: {e}") from None
        return v

    @property
    def keys(self) -> list[str] | None:
        return [self.key] if isinstance(self.key, str) else self.key

    @model_validator(mode="after")
    def _load(self) -> LookupFile:
        width = len(self.keys or [None])
        if self.match is not None and len(self.match) != width:
            raise ValueError(f"match has {len(self.match)} expression(s) for {width} key "
                             "column(s)")
        if self.match is None and width > 1:
            raise ValueError(f"the key has {width} columns: give match: with one expression "
                             "per column, e.g. ['\"COL\"', COLORE]")
        self._table = read_table(self)
        return self

    def table(self) -> Table:
        if self._table is None:
            raise Bug("expected self._table is not None")
        return self._table


def _decode(spec: LookupFile) -> str:
    try:
        data = spec.file.read_bytes()
    except OSError as e:
        raise ValueError(f"lookup file {spec.file}: cannot be read ({e.strerror})") from None
    encoding = spec.encoding
    if codecs.lookup(encoding).name == "utf-8":
        encoding = "utf-8-sig"  # a byte-order mark is not part of the first column's name
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as e:
        line = data[:e.start].count(b"\n") + 1
        col = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        hint = ""
        for guess in ("cp1252", "utf-8"):
            if guess != spec.encoding:
                try:
                    data.decode(guess)
                    hint = f"; it reads as {guess}: set encoding: {guess}"
                    break
                except UnicodeDecodeError:
                    continue
        raise ValueError(f"lookup file {spec.file}, line {line}: byte 0x{data[e.start]:02x} "
                         f"(column {col}) is not {spec.encoding} text{hint}") from None


def read_table(spec: LookupFile) -> Table:
    text = _decode(spec)
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=spec.delimiter))
    name = spec.file
    if not rows:
        raise ValueError(f"lookup file {name} is empty: expected a header line and codes")
    header = [h.strip() for h in rows[0]]

    def column(wanted: str) -> int:
        if wanted not in header:
            raise ValueError(f"lookup file {name}: no column {wanted!r} (its columns: "
                             f"{', '.join(header)}; delimiter {spec.delimiter!r})")
        return header.index(wanted)

    keys = [column(k) for k in spec.keys] if spec.keys else [0]
    if spec.value is not None:
        value = column(spec.value)
    else:
        rest = [i for i in range(len(header)) if i not in keys]
        if not rest:
            raise ValueError(f"lookup file {name}: only {len(header)} column(s) "
                             f"({', '.join(header)}); expected code and value (is the "
                             f"delimiter {spec.delimiter!r} right?)")
        value = rest[0]
    need = max(*keys, value) + 1
    codes: list[str] = []
    values: list[str] = []
    seen: dict[str, int] = {}
    for n, row in enumerate(rows[1:], 2):
        if not any(c.strip() for c in row):
            continue
        if len(row) < need:
            raise ValueError(f"lookup file {name}, line {n}: {len(row)} column(s), expected "
                             f"at least {need} ({', '.join(header[:need])})")
        code = SEP.join(row[k].strip() for k in keys)
        if code in seen:
            shown = "/".join(row[k].strip() for k in keys)
            raise ValueError(f"lookup file {name}, lines {seen[code]} and {n}: the code "
                             f"{shown!r} appears twice")
        seen[code] = n
        codes.append(code)
        values.append(row[value].strip())
    return Table(pa.array(codes, pa.string()), pa.array(values, pa.string()), len(keys),
                 f"lookup {name.name}")


def _inline_keys(v: Any) -> Any:
    if isinstance(v, dict):
        for k in v:
            if not isinstance(k, str):
                # ValueError, not TypeError: pydantic reports only ValueErrors as problems
                raise ValueError(f"inline lookup code {k!r} was read by YAML as a number "  # noqa: TRY004
                                 "(leading zeros lost): quote every code, e.g. '01': Rosso")
    return v


def inline_table(mapping: dict[str, Any]) -> Table:
    values = list(mapping.values())
    if all(v is None or isinstance(v, str) for v in values):
        arr = pa.array(values, pa.string())
    else:
        try:
            arr = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            raise ValueError("inline lookup values mix text and numbers: quote them") from None
    return Table(pa.array([k.strip() for k in mapping], pa.string()), arr, 1,
                 "the inline lookup")


# The union's tags appear in error locations; spaces keep them apart from YAML keys.
TAGS = ("file table", "inline map")


def _kind(v: Any) -> str:
    return TAGS[0] if isinstance(v, LookupFile) or (isinstance(v, dict) and "file" in v) \
        else TAGS[1]


def _shorthand(v: Any) -> Any:
    """``lookup: tables/colori.csv`` is ``lookup: {file: tables/colori.csv}``."""
    return {"file": v} if isinstance(v, str) else v


InlineLookup = Annotated[dict[str, Any], BeforeValidator(_inline_keys)]
Lookup = Annotated[
    Annotated[LookupFile, Tag(TAGS[0])] | Annotated[InlineLookup, Tag(TAGS[1])],
    Discriminator(_kind), BeforeValidator(_shorthand)]


def find(table: Table, keys: list[pa.Array]) -> tuple[pa.Array, pa.Array, pa.Array]:
    """(values found, mask of rows whose key is not in the table, the key as text).
    A row with an empty key part is not looked up (its value is null, not missing)."""
    parts = [pc.utf8_trim_whitespace(k.cast(pa.string())) for k in keys]
    blank = None
    for p in parts:
        b = pc.fill_null(pc.equal(p, ""), True)
        blank = b if blank is None else pc.or_(blank, b)
    if blank is None:
        raise Bug("expected blank is not None")
    joined = parts[0] if len(parts) == 1 else pc.binary_join_element_wise(*parts, SEP)
    pos = pc.index_in(joined, value_set=table.codes)
    missing = pc.and_(pc.is_null(pos), pc.invert(blank))
    shown = joined if len(parts) == 1 else pc.replace_substring(joined, SEP, "/")
    return pc.take(table.values, pos), missing, shown
