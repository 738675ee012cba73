"""The one contract every output follows, file or shop API, and what sinks share:
the per-file context, path templates, and CSV rendering (typed columns as text:
filebridge/textcol.py).

A sink is a class registered with ``@REGISTRY.sink(name)`` with an ``Options``
model. A job builds each sink once and :meth:`Sink.bind` s it to the job; then,
per input file::

    start(ctx) -> write(batch)* -> finish() -> verdict() -> settle(held) -> state()
    close()   always last, also when the file failed half-way

Sinks say what became of every row through ``ctx.rows`` (sent, queued, refused
with a reason), at once in ``write`` or later (``finish`` for a shop file that
checks whole products, ``settle`` for a shop API that answered). Files are
created through ``ctx.stage(path)`` so they are published atomically with every
other output of the same input, or not at all; ``paths()`` names them in advance
(for ``check`` and the restart sweep). What a sink must remember for the next
file (``state()``) is saved in the same ledger transaction that marks the file
done.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from pydantic import Field

from filebridge.delta import Delta
from filebridge.errors import Bug, OutputError
from filebridge.ledger.sqlite import SnapshotPatch
from filebridge.mapping import MapSpec, ProductSpec
from filebridge.options import Deliver, Model, OutputMode, OutputPath, expand_env
from filebridge.outputs import Outbox, Staged
from filebridge.records import Batch, FileReport, Rows

if TYPE_CHECKING:
    from filebridge.delta_index import KeyIndex
    from filebridge.ledger.sqlite import Ledger
    from filebridge.rawskip import Skip

SCRATCH = ".filebridge-scratch"


class FileSinkOptions(Model):
    """Options every file-writing sink has."""

    path: OutputPath = Field(description="output file, relative to the profile's folder; may use "
                      "{stem} {name} {profile} {date} {time} of the input file")
    mode: OutputMode = Field("full", description="full: every record; changes: only records "
                             "new or changed since the last delivered run (needs map.key)")
    done_file: str | None = Field(None, description="write this empty file after the output "
                                  "is in place, e.g. '{name}.ok'")
    empty: bool = Field(False, description="write the file even when no record goes in it "
                        "(a header-only file), for an ERP or shop that expects one every run; "
                        "by default an empty output is not written (the ack still says why)")
    deliver: Deliver = []


def default_id(options: Any) -> str:
    """An output's ledger name when the profile gives it no ``id:``: its format and file,
    or its shop's address (and location)."""
    where = getattr(options, "path", None) or getattr(options, "url", "")
    location = getattr(options, "location", None)
    return f"{options.format}:{where}" + (f"#{location}" if location else "")


def sink_id(options: Any) -> str:
    """Names an output in the ledger (its queued changes, what the shop acknowledged):
    its ``id:`` if the profile gives one, else :func:`default_id`."""
    return getattr(options, "id", None) or default_id(options)


@dataclass
class JobInfo:
    """What a sink is bound to, once per job."""

    profile: str  # the profile's name
    state: str  # whose shop and catalog state the sink shares (the profile, or an inventory)
    ledger: Ledger
    map: MapSpec
    base: Path  # the profile's folder
    mapper: Any = None  # the profile's Mapper (to work out keys of rejected rows)
    photos: Path | None = None  # the photo store ``photo:`` references name (photos/store.py)


@dataclass
class SinkContext:
    """What a sink knows about the input being processed."""

    base: Path  # the profile's folder
    vars: dict[str, str]  # for path templates
    outbox: Outbox
    key: str | None = None
    product: ProductSpec | None = None
    rows: Rows | None = None  # None: a dry run (plan, preview) that only counts
    report: FileReport | None = None
    file_id: int | None = None  # the ledger's file row; None in a dry run
    run_id: int | None = None
    today: date = field(default_factory=date.today)  # the file's claim date
    scratch_root: Path | None = None  # where scratch folders live (swept after a crash)
    published: list[Callable[[], None]] = field(default_factory=list)  # after publishing
    oversold: Any = None  # stock: what the file found sold beyond the stock (its ack)
    movements: int | None = None  # stock orders: lines written into movement files (ack)
    documents: int | None = None  # stock orders: new order documents (ack)
    forced: bool = False  # run --force: known content processed again
    notes: dict[Path, str] = field(default_factory=dict)  # what an output holds, in words
    skip: Skip | None = None  # records left undecoded as unchanged (filebridge/rawskip.py)

    def path(self, template: str) -> Path:
        try:
            p = Path(expand_env(template).format(**self.vars))
        except KeyError as e:
            known = ", ".join(f"{{{k}}}" for k in sorted(self.vars))
            raise OutputError(f"unknown placeholder {{{e.args[0]}}} in path {template!r}; "
                              f"known: {known}") from None
        return Path(os.path.normpath(p if p.is_absolute() else self.base / p))

    def stage(self, template: str, done_file: str | None = None) -> Staged:
        return self.outbox.stage(self.path(template), done_file)

    def scratch(self, what: str) -> tempfile.TemporaryDirectory[str]:
        """A scratch folder for this file's work, removed when done; after a crash the
        restart sweep finds it beside the ledger, not lost in $TMPDIR."""
        root = self.scratch_root
        if root is not None:
            root.mkdir(parents=True, exist_ok=True)
        return tempfile.TemporaryDirectory(prefix=f"{what}-{os.getpid()}-",
                                           dir=root)



def output_vars(path: Path, profile: str, claimed: float) -> dict[str, str]:
    """The placeholders of output path templates for input ``path`` claimed then."""
    t = datetime.fromtimestamp(claimed)
    return {"stem": path.stem, "name": path.name, "profile": profile,
            "date": t.strftime("%Y%m%d"), "time": t.strftime("%H%M%S")}


class Sink:
    """One output of a job: a shop file, a template, a shop's API."""

    Options: ClassVar[type[Model]]
    # Canonical field -> the values this output accepts (checked by `check`).
    ENUMS: ClassVar[dict[str, tuple[str, ...]]] = {}
    # Catalog feature -> where it lands in the shop (filebridge/catalog/coverage.py);
    # a feature not listed is one this output cannot carry, and `check` says so.
    CARRIES: ClassVar[dict[str, str]] = {}
    # Catalog feature -> what of it this output cannot carry, for a feature it carries
    # only in part (`check` notes it).
    PARTLY: ClassVar[dict[str, str]] = {}
    # Canonical field -> the shop's column or field it lands in, and how (the
    # profile reference's per-shop table is generated from it).
    LANDS: ClassVar[dict[str, str]] = {}

    def __init__(self, options: Any):
        self.o = options
        self.id = sink_id(options)
        self.job: JobInfo | None = None
        self.ctx: SinkContext | None = None

    def bind(self, job: JobInfo) -> None:
        """Called once when the job is built: the ledger and names it works with."""
        self.job = job

    def paths(self) -> list[str]:
        """The path templates of the files this sink may publish."""
        path = getattr(self.o, "path", None)
        return [path] if path else []

    def start(self, ctx: SinkContext) -> None:
        self.ctx = ctx

    def write(self, batch: Batch) -> None:
        raise NotImplementedError

    def finish(self) -> None:
        """The file is read: write what waited for the whole file."""

    def verdict(self, read: int, last_read: int | None) -> str | None:
        """Why this output would hold the run for a person to approve, if it would."""
        return None

    def settle(self, held: bool) -> None:
        """The file is accepted (or held): deliver what must go now."""

    def state(self) -> dict[str, pa.Table | SnapshotPatch]:
        """Snapshots to save with the file's outcome, by name."""
        return {}

    def known_keys(self, key: str) -> KeyIndex | None:
        """The ``mode: changes`` snapshot of ``key`` this output looks rows up in, once
        started (the duplicate check looks there first: filebridge.keys)."""
        return None

    def needs_unchanged(self) -> bool:
        """Whether this output needs the rows its ``mode: changes`` snapshot finds
        unchanged (false: it drops them, so a record known to map to one may be left
        undecoded: filebridge/rawskip.py)."""
        return True

    def close(self) -> None:
        """Release scratch space; always called last. Idempotent."""

    # helpers -------------------------------------------------------------
    def sent(self, batch: Batch, mask: pa.Array | None = None) -> None:
        if self.ctx is not None and self.ctx.rows is not None:
            self.ctx.rows.sent(batch, mask)


class FileSink(Sink):
    """A sink that writes one file per input: ``mode: changes`` through a per-key
    snapshot, and no file at all when nothing goes in it (unless ``empty: true``)."""

    def start(self, ctx: SinkContext) -> None:
        super().start(ctx)
        self.delta = None
        if getattr(self.o, "mode", "full") == "changes" and self.job is not None:
            self.delta = Delta(self.job.ledger, self.job.profile, self.id, ctx.key or "")

    def changed(self, batch: Batch) -> pa.Array | None:
        """Rows to write (None: all): new or changed since the last delivery."""
        return self.delta.changed(batch) if self.delta is not None else None

    def keeps_earlier(self) -> bool:
        """A forced run (``run --force``) that has no record for the file: an earlier
        delivery under the same name stays as it is, never replaced by a header-only
        file (``empty: true`` or not)."""
        if self.ctx is None:
            raise Bug("expected self.ctx is not None")
        return self.ctx.forced and any(self.ctx.path(p).exists() for p in self.paths())

    def state(self) -> dict[str, pa.Table | SnapshotPatch]:
        merged = self.delta.merged() if self.delta is not None else None
        return {self.id: merged} if merged is not None else {}

    def known_keys(self, key: str) -> KeyIndex | None:
        return self.delta.index if self.delta is not None and self.delta.key == key else None

    def needs_unchanged(self) -> bool:
        # An empty output still gets a header from the first batch's fields.
        return getattr(self.o, "mode", "full") != "changes" or bool(getattr(self.o, "empty",
                                                                             False))


FORMULA_START = r"^[=+\-@\t\r]"
_FORMULA_FIRST = np.zeros(256, bool)
_FORMULA_FIRST[list(b"=+-@\t\r")] = True


def _formula_first(arr: pa.Array) -> bool:
    """Whether a value starts with one of the bytes of FORMULA_START, read off the
    offsets and data buffers: no per-value copy."""
    offsets, data = _buffers(arr)
    if not len(data):
        return False
    starts = offsets[:-1]
    hit = _FORMULA_FIRST[data[np.minimum(starts, len(data) - 1)]]
    hit &= offsets[1:] > starts  # an empty value starts with nothing
    if arr.null_count:
        hit &= np.asarray(arr.is_valid().to_numpy(zero_copy_only=False), bool)
    return bool(hit.any())


def _buffers(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Offsets (relative to the data view) and data of a string/binary array, as views."""
    width = np.int64 if pa.types.is_large_string(arr.type) or \
        pa.types.is_large_binary(arr.type) else np.int32
    _, obuf, dbuf = arr.buffers()
    offsets = np.frombuffer(obuf, width, len(arr) + 1, arr.offset * width().itemsize)
    if dbuf is None or offsets[-1] == offsets[0]:
        return offsets - offsets[0], np.zeros(0, np.uint8)
    data = np.frombuffer(dbuf, np.uint8, int(offsets[-1] - offsets[0]), int(offsets[0]))
    return offsets - offsets[0], data


def unencodable(arr: pa.Array, encoding: str) -> list[int]:
    """Rows of a text column holding a character ``encoding`` has not (a code page
    without Ł, say). The column's bytes are encoded at once; rows one by one only
    when that fails, and only those that are not ASCII."""
    offsets, data = _buffers(arr)
    high = data >= 0x80
    if not high.any():
        return []
    try:
        data.tobytes().decode("utf-8").encode(encoding)
        return []
    except UnicodeEncodeError:
        pass
    rows = np.unique(np.searchsorted(offsets, np.flatnonzero(high), "right") - 1)
    out = []
    for i, value in zip(rows.tolist(), arr.take(rows).to_pylist(), strict=True):
        try:
            if value is not None:
                value.encode(encoding)
        except UnicodeEncodeError:
            out.append(i)
    return out


def guard_formulas(arr: pa.Array) -> pa.Array:
    """Prefix ' to cells a spreadsheet would run as a formula (CSV injection)."""
    # The usual column has no cell starting with one of those characters: its
    # first bytes say so without a per-row regex.
    if not _formula_first(arr):
        return arr
    risky = pc.fill_null(pc.match_substring_regex(arr, FORMULA_START), False)
    # A plain negative number is data, not a formula.
    number = pc.fill_null(pc.match_substring_regex(arr, r"^-[0-9.,]+$"), False)
    risky = pc.and_(risky, pc.invert(number))
    if not pc.any(risky).as_py():
        return arr
    return pc.if_else(risky, pc.binary_join_element_wise("'", arr, ""), arr)


def csv_cells(columns: list[pa.Array], delimiter: str = ",", newline: str = "\n"
              ) -> pa.Array:
    """Rows of text columns as CSV lines (UTF-8), quoting only where needed, without
    a Python loop: the result's data buffer is the file content (see write_rows)."""
    specials = tuple(dict.fromkeys((delimiter, '"', "\n", "\r")))
    pattern = None
    if not all(len(c.encode()) == 1 for c in specials):
        pattern = "[" + "".join("\\" + c if c in "\\]^-" else c for c in specials) + "]"
    quoted = []
    for col in columns:
        col = _as_string(col)
        need = _quoting(col, specials, pattern)
        if need is not None:
            col = pc.replace_with_mask(col, need, _quoted(col.filter(need)))
        quoted.append(col)
    # The line end goes on the last cell: one join of all columns, not a second one
    # over whole rows.
    quoted[-1] = pc.binary_join_element_wise(quoted[-1], newline, "")
    big = sum(c.nbytes for c in quoted) >= 1 << 30
    if big:  # a 32-bit offset holds 2 GiB of row text at most
        quoted = [c.cast(pa.large_string()) for c in quoted]
    rows = pc.binary_join_element_wise(*quoted, delimiter) if len(quoted) > 1 else quoted[0]
    return rows.combine_chunks() if isinstance(rows, pa.ChunkedArray) else rows


def _as_string(col: pa.Array) -> pa.Array:
    if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
        return col
    return col.cast(pa.string())


def _quoted(cells: pa.Array) -> pa.Array:
    """Cells in quotes, their quotes doubled."""
    return pc.binary_join_element_wise('"', pc.replace_substring(cells, '"', '""'), '"', "")


def _quoting(col: pa.Array, specials: tuple[str, ...], pattern: str | None = None
             ) -> pa.Array | None:
    """Which cells need quotes (hold one of ``specials``), None when none does.
    ``pattern``: a regex class of ``specials`` when one is not a single UTF-8 byte."""
    # A scan of the column's bytes spares the per-row search for the usual column
    # that holds no delimiter, quote or line break.
    offsets, data = _buffers(col)
    raw = data.tobytes()
    found = [c for c in specials if c.encode() in raw]
    if not found:
        return None
    if pattern is None:
        return _holding(col, offsets, data, found)
    return pc.fill_null(pc.match_substring(col, found[0]) if len(found) == 1 else
                        pc.match_substring_regex(col, pattern), False)


# Bytes that stand in for the characters Arrow's writer refuses unquoted (delimiter,
# quote, LF, CR), one each, in that order: control characters a text cell seldom holds.
_STAND_INS = bytes(range(1, 5))


def csv_text(columns: list[pa.Array], delimiter: str = ",", newline: str = "\n"
             ) -> bytes | memoryview:
    """The bytes of :func:`csv_lines`, written by Arrow's CSV writer (about a third
    less cpu than joining the cells). Arrow quotes every text cell or none, so the cells
    that need quotes are quoted here, with a stand-in for each character Arrow would
    refuse, put back in its output."""
    specials = tuple(dict.fromkeys((delimiter, '"', "\n", "\r")))
    if len(delimiter.encode()) != 1 or not columns:
        return csv_lines(columns, delimiter, newline)
    cols = [_as_string(c) for c in columns]
    if any(c.null_count for c in cols):  # a row with a null cell has no line (csv_cells)
        valid = cols[0].is_valid()
        for c in cols[1:]:
            valid = pc.and_(valid, c.is_valid())
        cols = [c.filter(valid) for c in cols]
    stood = np.zeros(len(specials), np.int64)  # stand-ins put in, by special
    for i, col in enumerate(cols):
        need = _quoting(col, specials)
        if need is not None:
            cells = _quoted(col.filter(need))
            for k, c in enumerate(specials):
                n = np.count_nonzero(_buffers(cells)[1] == ord(c))
                if n:
                    cells = pc.replace_substring(cells, c, chr(_STAND_INS[k]))
                    stood[k] += n
            cols[i] = pc.replace_with_mask(col, need, cells)
    rows = len(cols[0])
    size = sum(int(_buffers(c)[0][-1]) for c in cols) + \
        rows * (len(cols) - 1 + len(newline.encode()))
    # Written into a buffer of the known size, where the stand-ins are put back.
    buf = pa.allocate_buffer(size)
    with pa.FixedSizeBufferWriter(buf) as out:
        pacsv.write_csv(pa.table(cols, names=[str(i) for i in range(len(cols))]), out,
                        pacsv.WriteOptions(include_header=False, delimiter=delimiter,
                                           eol=newline, quoting_style="none",
                                           batch_size=1 << 16))
        if out.tell() != size:
            raise Bug(f"expected {size} bytes of CSV, Arrow wrote {out.tell()}")
    if stood.any():  # one pass finds every stand-in (bytes 1 to 4)
        text = np.frombuffer(buf, np.uint8)
        at = np.flatnonzero(text <= len(specials))
        found = text[at]
        if not np.array_equal(np.bincount(found, minlength=len(specials) + 1)[1:], stood):
            return csv_lines(columns, delimiter, newline)  # the data holds one itself
        text[at] = np.frombuffer(b"\0" + "".join(specials).encode(), np.uint8)[found]
    return memoryview(buf)


def _holding(col: pa.Array, offsets: np.ndarray, data: np.ndarray, chars: list[str]
             ) -> pa.Array:
    """Which values hold one of ``chars`` (ASCII: a UTF-8 byte below 0x80 is always
    that character), found from where those bytes sit in the data: no per-row search."""
    hit = data == ord(chars[0])
    for c in chars[1:]:
        hit |= data == ord(c)
    rows = np.searchsorted(offsets, np.flatnonzero(hit), "right") - 1
    need = np.zeros(len(col), bool)
    need[rows] = True
    if col.null_count:
        need &= np.asarray(col.is_valid().to_numpy(zero_copy_only=False), bool)
    return pa.array(need)


def row_bytes(rows: pa.Array) -> memoryview:
    """The lines made by :func:`csv_cells` as one view of their data buffer, no copy."""
    return _buffers(rows)[1].data


def csv_lines(columns: list[pa.Array], delimiter: str = ",", newline: str = "\n") -> bytes:
    """Rows of text columns as CSV bytes (UTF-8), quoting only where needed."""
    return bytes(row_bytes(csv_cells(columns, delimiter, newline)))


def header_line(names: list[str], delimiter: str = ",", newline: str = "\n") -> bytes:
    return csv_lines([pa.array([n]) for n in names], delimiter, newline)
