"""What every reader shares: typing raw text columns, row filters, sniffing junk.

A reader is a class registered with ``@REGISTRY.reader(name)`` that has an
``Options`` model and ``read(path, report) -> Iterator[Batch]``. It yields typed
batches, records rows it cannot decode as rejects in the report, counts rows a
filter leaves out as skipped, and raises :class:`RejectedFile` only when the file
as a whole cannot be read.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Protocol

import pyarrow as pa
import pyarrow.compute as pc

from filebridge.errors import RejectedFile
from filebridge.layouts.types import parse, parse_edited
from filebridge.options import Condition, FieldSpec
from filebridge.records import Batch, FileReport, Reject


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


def type_columns(batch: Batch, specs: Mapping[str, FieldSpec], report: FileReport, *,
                 decimal: str = ".", thousands: str | None = None) -> Batch:
    """Parse the declared fields of a text batch; rows that fail become rejects.
    ``decimal``/``thousands``: the reader's notation, which a field may override."""
    if not specs:
        return batch
    raw = batch.table
    columns = {name: raw.column(name) for name in raw.column_names}
    bad_any = None
    failures: list[tuple[str, pa.Array, FieldSpec]] = []
    for name, spec in specs.items():
        if spec.type == "text" or name not in columns:
            continue
        arr = batch.column(name)
        storage = getattr(spec, "storage", "text")
        if storage == "overpunch":
            values, bad = _overpunched(arr, spec)
        elif storage == "edited":
            values, bad = parse_edited(arr, spec.type, scale=spec.scale, implied=spec.implied)
        else:
            mark, group = separators(spec, decimal, thousands)
            values, bad = parse(arr, spec.type, scale=spec.scale, decimal=mark,
                                thousands=group, implied=spec.implied, format=spec.format,
                                nulls=spec.nulls)
        columns[name] = values
        if bad is not None:
            failures.append((name, bad, spec))
            bad_any = bad if bad_any is None else pc.or_(bad_any, bad)
    typed = Batch(pa.table(columns), batch.lines, raw)
    if bad_any is None:
        return typed
    # Report each failing row once, naming its first bad field and the raw text.
    bad_rows = pc.indices_nonzero(bad_any).to_pylist()
    raw_rows = raw.take(bad_rows).to_pylist()
    lines = pc.take(batch.lines, bad_rows).to_pylist()
    masks = [(name, bad.to_pylist(), spec) for name, bad, spec in failures]
    for i, row, line in zip(bad_rows, raw_rows, lines):
        name, _, spec = next(m for m in masks if m[1][i])
        what = _describe(spec, *separators(spec, decimal, thousands))
        report.reject(Reject(line, name, f"{row[name]!r} is not {what}", row))
    return typed.filter(pc.invert(bad_any))


def _condition_mask(col: pa.Array, cond: Condition) -> pa.Array:
    masks = []
    if cond.equals is not None:
        masks.append(pc.equal(col, pa.scalar(cond.equals).cast(col.type)))
    if cond.in_ is not None:
        masks.append(pc.is_in(col, pa.array(cond.in_).cast(col.type)))
    if cond.not_in is not None:
        masks.append(pc.invert(pc.is_in(col, pa.array(cond.not_in).cast(col.type))))
    if cond.min is not None:
        masks.append(pc.greater_equal(col, pa.scalar(cond.min).cast(col.type)
                                      if pa.types.is_decimal(col.type) else float(cond.min)))
    if cond.max is not None:
        masks.append(pc.less_equal(col, pa.scalar(cond.max).cast(col.type)
                                   if pa.types.is_decimal(col.type) else float(cond.max)))
    if cond.matches is not None:
        masks.append(pc.match_substring_regex(pc.cast(col, pa.string()), cond.matches))
    mask = masks[0]
    for m in masks[1:]:
        mask = pc.and_(mask, m)
    return pc.fill_null(mask, False)


def apply_filters(batch: Batch, conditions: list[Condition], report: FileReport) -> Batch:
    """Keep rows that pass every condition; the others are counted as skipped."""
    if not conditions or not len(batch):
        return batch
    keep = None
    for cond in conditions:
        if cond.field not in batch.names:
            raise RejectedFile(f"filter field {cond.field!r} is not in the file "
                               f"(fields: {', '.join(batch.names)})")
        m = _condition_mask(batch.column(cond.field), cond)
        keep = m if keep is None else pc.and_(keep, m)
    kept = batch.filter(keep)
    report.tally.skipped += len(batch) - len(kept)
    return kept
