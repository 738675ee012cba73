"""What every reader shares: typing raw text columns, row filters, sniffing junk.

A reader is a class registered with ``@REGISTRY.reader(name)`` that has an
``Options`` model and ``read(path, report) -> Iterator[Batch]``. It yields typed
batches, records rows it cannot decode as rejects in the report, counts rows a
filter leaves out as skipped, and raises :class:`RejectedFile` only when the file
as a whole cannot be read.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from pathlib import Path
from typing import Protocol

import pyarrow as pa
import pyarrow.compute as pc

from filebridge.errors import RejectedFile
from filebridge.layouts.types import parse, parse_edited
from filebridge.options import Condition, FieldSpec
from filebridge.records import Batch, FileReport, Notes, Reject


class Reader(Protocol):
    def __init__(self, options: object) -> None: ...

    def read(self, path: Path, report: FileReport) -> Iterator[Batch]: ...


def sniff(path: Path, *, allow_nul: bool = False) -> bytes:
    """First bytes of the file; refuses empty files and binary junk early."""
    with open(path, "rb") as f:
        head = f.read(8192)
    if not head.strip():
        raise RejectedFile("the file is empty")
    if not allow_nul and b"\x00" in head:
        raise RejectedFile("the file holds binary data (NUL bytes), not text; "
                           "check the transfer mode or the format")
    return head


def _overpunched(arr: pa.Array, spec: FieldSpec) -> tuple[pa.Array, pa.Array | None]:
    """Signed overpunch text (1234N = -12345): digits carry implied decimals."""
    from filebridge.layouts.numeric import overpunch

    ints, bad = overpunch(arr, getattr(spec, "overpunch_table", "us"))
    if spec.type == "decimal":
        return pc.cast(ints, pa.decimal128(38, 0)).view(pa.decimal128(38, spec.scale)), bad
    return ints, bad


def separators(spec: FieldSpec, decimal: str, thousands: str | None) -> tuple[str, str | None]:
    """The decimal mark and thousands separator of a field: its own when its options
    model has them (an xlsx field) and sets them, else the reader's. An explicit
    ``thousands: null`` on the field means none, whatever the reader says."""
    own = spec.model_fields_set
    return (getattr(spec, "decimal", None) or decimal,
            getattr(spec, "thousands", None) if "thousands" in own else thousands)


def _describe(spec: FieldSpec, decimal: str, thousands: str | None) -> str:
    if getattr(spec, "storage", "text") == "overpunch":
        return "a signed overpunch number (last character carries the sign)"
    if getattr(spec, "storage", "text") == "edited":
        return "an edited number (one sign: + - CR DB)"
    group = f", thousands {thousands!r}" if thousands else ""
    if spec.type == "decimal":
        if spec.implied:
            return f"a number with {spec.scale} implied decimals"
        return (f"a decimal number (decimal mark {decimal!r}{group}, at most {spec.scale} "
                "decimals)")
    if spec.type == "integer" and thousands:
        return f"a valid integer (thousands {thousands!r})"
    if spec.type == "date":
        return f"a date in format {spec.format}"
    return f"a valid {spec.type}"


def parse_field(arr: pa.Array, spec: FieldSpec, decimal: str = ".",
                thousands: str | None = None) -> tuple[pa.Array, pa.Array | None]:
    """A declared field's text -> its typed values, and the mask of the rows that
    failed (None: none did). ``decimal``/``thousands``: as in :func:`type_columns`."""
    storage = getattr(spec, "storage", "text")
    if storage == "overpunch":
        return _overpunched(arr, spec)
    if storage == "edited":
        return parse_edited(arr, spec.type, scale=spec.scale, implied=spec.implied)
    mark, group = separators(spec, decimal, thousands)
    return parse(arr, spec.type, scale=spec.scale, decimal=mark, thousands=group,
                 implied=spec.implied, format=spec.format, nulls=spec.nulls)


def type_columns(batch: Batch, specs: Mapping[str, FieldSpec], report: FileReport, *,
                 decimal: str = ".", thousands: str | None = None,
                 parsed: Mapping[str, pa.Array] | None = None) -> Batch:
    """Parse the declared fields of a text batch; rows that fail become rejects.
    ``decimal``/``thousands``: the reader's notation, which a field may override.
    ``parsed``: fields a reader already typed, with no row failing."""
    return typed_rows(batch, specs, [], report, decimal=decimal, thousands=thousands,
                      parsed=parsed)


def typed_rows(batch: Batch, specs: Mapping[str, FieldSpec], conditions: list[Condition],
               report: Notes, *, decimal: str = ".", thousands: str | None = None,
               parsed: Mapping[str, pa.Array] | None = None) -> Batch:
    """:func:`type_columns` then :func:`apply_filters`, the batch filtered once for
    both: every column of the input is copied by a filter, and most batches of an
    export have a row of each kind."""
    typed, bad = _typed(batch, specs, report, decimal, thousands, parsed)
    rejected = 0 if bad is None else (pc.sum(bad).as_py() or 0)
    if not conditions or rejected == len(typed):  # as apply_filters: no row, no test
        return typed if bad is None else typed.filter(pc.invert(bad))
    passes = filter_mask(typed, conditions)
    if bad is not None:  # a rejected row is not also skipped
        passes = pc.and_(passes, pc.invert(bad))
    kept = typed.filter(passes)
    report.tally.skipped += len(typed) - rejected - len(kept)
    return kept


def _typed(batch: Batch, specs: Mapping[str, FieldSpec], report: Notes,
           decimal: str, thousands: str | None, parsed: Mapping[str, pa.Array] | None
           ) -> tuple[Batch, pa.Array | None]:
    """The batch with its declared fields typed, every row kept, and where a row
    failed (None: none did), each such row rejected once, naming its first bad field
    and the raw text."""
    if not specs:
        return batch, None
    raw = batch.table
    columns = {name: raw.column(name) for name in raw.column_names}
    bad_any = None
    failures: list[tuple[str, pa.Array, FieldSpec]] = []
    for name, spec in specs.items():
        if spec.type == "text" or name not in columns:
            continue
        if parsed is not None and name in parsed:
            columns[name] = parsed[name]
            continue
        values, bad = parse_field(batch.column(name), spec, decimal, thousands)
        columns[name] = values
        if bad is not None:
            failures.append((name, bad, spec))
            bad_any = bad if bad_any is None else pc.or_(bad_any, bad)
    typed = Batch(pa.table(columns), batch.lines, raw)
    if bad_any is None:
        return typed, None
    bad_rows = pc.indices_nonzero(bad_any).to_pylist()
    raw_rows = raw.take(bad_rows).to_pylist()
    lines = pc.take(batch.lines, bad_rows).to_pylist()
    masks = [(name, bad.to_pylist(), spec) for name, bad, spec in failures]
    for i, row, line in zip(bad_rows, raw_rows, lines, strict=True):
        name, _, spec = next(m for m in masks if m[1][i])
        what = _describe(spec, *separators(spec, decimal, thousands))
        report.reject(Reject(line, name, f"{row[name]!r} is not {what}", row))
    return typed, bad_any


def _at_scale(value: object, t: pa.DataType, rounding: str | None = None) -> object:
    """``value`` as a scalar of decimal type ``t``; one with more decimals than ``t``
    keeps is rounded by ``rounding`` (a bound: every value of the column is a multiple
    of its last place, so >= 1.005 is >= 1.01 at two places), or is None (no value of
    the column can equal it)."""
    d = Decimal(str(value))
    q = Decimal(1).scaleb(-t.scale)
    fitted = d.quantize(q, rounding=rounding or ROUND_FLOOR)
    if fitted != d and rounding is None:
        return None
    return pa.scalar(fitted, t)


def _condition_mask(col: pa.Array, cond: Condition) -> pa.Array:
    decimal = pa.types.is_decimal(col.type)

    def one(v: object) -> object:
        return _at_scale(v, col.type) if decimal and not isinstance(v, (str, bool)) else \
            pa.scalar(v).cast(col.type)

    def many(vs: list) -> pa.Array:
        return pa.array([x for x in (one(v) for v in vs) if x is not None], col.type)

    masks = []
    if cond.equals is not None:
        v = one(cond.equals)
        masks.append(pc.equal(col, v) if v is not None else
                     pa.array([False] * len(col)))
    if cond.in_ is not None:
        masks.append(pc.is_in(col, many(cond.in_)))
    if cond.not_in is not None:
        masks.append(pc.invert(pc.is_in(col, many(cond.not_in))))
    if cond.min is not None:
        masks.append(pc.greater_equal(col, _at_scale(cond.min, col.type, ROUND_CEILING)
                                      if decimal else float(cond.min)))
    if cond.max is not None:
        masks.append(pc.less_equal(col, _at_scale(cond.max, col.type, ROUND_FLOOR)
                                   if decimal else float(cond.max)))
    if cond.matches is not None:
        masks.append(pc.match_substring_regex(pc.cast(col, pa.string()), cond.matches))
    mask = masks[0]
    for m in masks[1:]:
        mask = pc.and_(mask, m)
    return pc.fill_null(mask, False)


def field_types(read: object) -> dict[str, str]:
    """Field -> type as a reader's options declare it (a field not declared is text)."""
    out = {n: f.type for n, f in (getattr(read, "fields", None) or {}).items()}
    for kind in (getattr(read, "records", None) or {}).values():
        out.update({n: f.type for n, f in kind.fields.items()})
    return out


def check_filters(read: object, where: tuple[object, ...] = ("read",)
                  ) -> list[tuple[tuple[object, ...], str]]:
    """Filter tests that cannot apply to their field's declared type, located."""
    types = field_types(read)
    return [((*where, "filter", i, key), why)
            for i, cond in enumerate(getattr(read, "filter", None) or [])
            for key, why in cond.problems(types.get(cond.field, "text"))]


def filter_mask(batch: Batch, conditions: list[Condition]) -> pa.Array | None:
    """Where a row passes every condition (None: no condition)."""
    keep = None
    for cond in conditions:
        if cond.field not in batch.names:
            raise RejectedFile(f"filter field {cond.field!r} is not in the file "
                               f"(fields: {', '.join(batch.names)})")
        try:
            m = _condition_mask(batch.column(cond.field), cond)
        except (pa.ArrowException, ValueError, TypeError) as e:  # check missed it: say so
            raise RejectedFile(f"filter {cond.describe()}: cannot compare with the field's "
                               f"values ({batch.column(cond.field).type}): {e}") from None
        keep = m if keep is None else pc.and_(keep, m)
    return keep


def apply_filters(batch: Batch, conditions: list[Condition], report: FileReport) -> Batch:
    """Keep rows that pass every condition; the others are counted as skipped."""
    return typed_rows(batch, {}, conditions, report)
