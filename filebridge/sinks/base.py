"""What sinks share: the per-file context, path templates, and text rendering of
typed columns.

A sink is a class registered with ``@REGISTRY.sink(name)`` with an ``Options``
model (which has at least ``path``, ``mode`` and ``done_file``) and three calls
per input file: ``start(ctx)``, ``write(batch)`` for each batch of rows to
deliver, ``finish()``; and ``close()``, always called last (also when the file
failed half-way), to release scratch files. Files are created through ``ctx.stage(path)`` so they are
published atomically with every other output of the same input, or not at all.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from filebridge.layouts.bytes import data_bytes
from filebridge.mapping import ProductSpec
from filebridge.options import Deliver, Model, OutputMode, OutputPath, expand_env
from filebridge.outputs import Outbox, Staged


class FileSinkOptions(Model):
    """Options every file-writing sink has."""

    path: OutputPath = Field(description="output file, relative to the profile's folder; may use "
                      "{stem} {name} {profile} {date} {time} of the input file")
    mode: OutputMode = Field("full", description="full: every record; changes: only records "
                             "new or changed since the last delivered run (needs map.key)")
    done_file: str | None = Field(None, description="write this empty file after the output "
                                  "is in place, e.g. '{name}.ok'")
    deliver: Deliver = []


@dataclass
class SinkContext:
    """What a sink knows about the input being processed."""

    base: Path  # the profile's folder
    vars: dict[str, str]  # for path templates
    outbox: Outbox
    key: str | None = None
    product: ProductSpec | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def path(self, template: str) -> Path:
        try:
            p = Path(expand_env(template).format(**self.vars))
        except KeyError as e:
            known = ", ".join("{%s}" % k for k in sorted(self.vars))
            raise ValueError(f"unknown placeholder {{{e.args[0]}}} in path {template!r}; "
                             f"known: {known}") from None
        return Path(os.path.normpath(p if p.is_absolute() else self.base / p))

    def stage(self, template: str, done_file: str | None = None) -> Staged:
        return self.outbox.stage(self.path(template), done_file)


def text_column(arr: pa.Array | pa.ChunkedArray, *, decimal: str = ".",
                true: str = "1", false: str = "0") -> pa.Array:
    """A typed column as output text: exact decimals, ISO dates, empty for null; a
    list's elements joined by ', ' (shop sinks write lists their own way)."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    t = arr.type
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        from filebridge import lists

        items = lists.map_values(arr, lambda v: text_column(v, decimal=decimal, true=true,
                                                            false=false))
        return pc.fill_null(pc.binary_join(items, ", "), "")
    if pa.types.is_boolean(t):
        out = pc.if_else(arr, true, false)
    elif pa.types.is_null(t):
        out = pa.array([""] * len(arr), pa.string())
    else:
        out = arr if pa.types.is_string(t) else pc.cast(arr, pa.string())
        if decimal != "." and (pa.types.is_decimal(t) or pa.types.is_floating(t)):
            out = pc.replace_substring(out, ".", decimal)
    return pc.fill_null(out, "")


FORMULA_START = r"^[=+\-@\t\r]"


def guard_formulas(arr: pa.Array) -> pa.Array:
    """Prefix ' to cells a spreadsheet would run as a formula (CSV injection)."""
    risky = pc.fill_null(pc.match_substring_regex(arr, FORMULA_START), False)
    # A plain negative number is data, not a formula.
    number = pc.fill_null(pc.match_substring_regex(arr, r"^-[0-9.,]+$"), False)
    risky = pc.and_(risky, pc.invert(number))
    if not pc.any(risky).as_py():
        return arr
    return pc.if_else(risky, pc.binary_join_element_wise("'", arr, ""), arr)


def csv_lines(columns: list[pa.Array], delimiter: str = ",", newline: str = "\n") -> bytes:
    """Rows of text columns as CSV bytes (UTF-8), quoting only where needed, without
    a Python loop: the joined rows' data buffer is the file content."""
    quoted = []
    specials = {delimiter, '"', "\n", "\r"}
    pattern = "[" + "".join("\\" + c if c in "\\]^-" else c for c in specials) + "]"
    for col in columns:
        # One memchr-speed scan of the column's bytes spares the per-row regex for
        # the usual column that holds no delimiter, quote or line break.
        data = data_bytes(col.cast(pa.large_string()))
        if any(c.encode() in data for c in specials):
            need = pc.fill_null(pc.match_substring_regex(col, pattern), False)
            q = pc.binary_join_element_wise('"', pc.replace_substring(col, '"', '""'), '"', "")
            col = pc.if_else(need, q, col)
        quoted.append(col)
    rows = pc.binary_join_element_wise(
        pc.cast(pc.binary_join_element_wise(*quoted, delimiter), pa.large_string()),
        pa.scalar(newline, pa.large_string()), pa.scalar("", pa.large_string()))
    rows = rows.combine_chunks() if isinstance(rows, pa.ChunkedArray) else rows
    return data_bytes(rows)


def header_line(names: list[str], delimiter: str = ",", newline: str = "\n") -> bytes:
    return csv_lines([pa.array([n]) for n in names], delimiter, newline)
