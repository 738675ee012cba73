"""What the shop import files share (WooCommerce, Shopify, and any format that
lists products with their variants): rows become canonical records, records are
grouped into products when the file is complete, and every product is written
whole, as the shop must end up with it.

    write(batch) ──► canonical records (a row a shop cannot take is refused)
                     spooled by product in a scratch SQLite file
    finish()     ──► per product, in first-seen order: the file's records plus the
                     ledger's memory of the variants this file does not list
                     ──► catalog.product.build (order, parent fields, problems)
                     ──► mode changes: skipped when none of its records changed
                     ──► the format's rows, into one or more files

The memory (the ledger's ``catalog`` table, per sink and SKU) is what this sink
wrote before. It is why a file that changes one variant still lists every option
value on the parent (a WooCommerce parent replaces its attribute values
wholesale) and keeps image positions (Shopify), and why a shop's "create" and
"update" files can be told apart. It is updated in the same ledger transaction
that marks the file done.
"""

from __future__ import annotations

import json
import os
import pickle
import sqlite3
import string
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import IO, Any, ClassVar, Literal
from urllib.parse import quote

import pyarrow as pa
import xxhash
from pydantic import Field, field_validator

from filebridge.catalog.product import Product, build
from filebridge.catalog.record import Canon, CanonicalFields, FieldError, Market
from filebridge.catalog.values import blank, integer, text
from filebridge.crashpoints import crash_point
from filebridge.errors import Bug, OutputError
from filebridge.outputs import Staged
from filebridge.records import Batch
from filebridge.sinks.base import FileSink, FileSinkOptions, SinkContext, csv_lines, header_line

FORMULA = ("=", "+", "-", "@", "\t", "\r")


class ProductRefused(ValueError):
    """A product a format cannot write as it is (a name its file format cannot hold, a
    key another product has): its rows in this file are refused with the reason and
    the other products go on."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


class ProductFileOptions(FileSinkOptions):
    """Options every shop product file has."""

    fields: CanonicalFields = Field(default_factory=dict, description="canonical name -> "
                                    "mapped field holding it, where they differ, e.g. {title: "
                                    "descr, stock: qty}")
    images: str | None = Field(None, description="image URL pattern over record fields, e.g. "
                               "'https://cdn.example.com/img/{article}_{colour}.jpg' (values "
                               "URL-encoded); an image or images field, when filled, wins")
    formula_guard: Literal["warn", "prefix", "off"] = Field(
        "warn", description="cells starting with = + - @ (a spreadsheet would run them as "
        "formulas): warn lists them as warnings in the rejects report and writes them as "
        "they are (a prefix would change the product's text in the shop); prefix writes "
        "them with a leading '; off says nothing")

    @field_validator("images")
    @classmethod
    def _pattern(cls, v: str | None) -> str | None:
        if v is not None and not pattern_fields(v):
            raise ValueError("the images pattern names no field, e.g. {article}")
        return v


def pattern_fields(pattern: str) -> list[str]:
    try:
        return [name for _, name, _, _ in string.Formatter().parse(pattern) if name]
    except ValueError as e:
        raise ValueError(f"bad pattern {pattern!r}: {e}") from None


@lru_cache(maxsize=4096)  # an article's code recurs in all its variants' URLs
def _quoted(value: str) -> str:
    return quote(value, safe="")


def record_hash(rec: dict[str, Any], derived: dict[str, Any] | None = None) -> int:
    """What a record says (and what a format derives from it on this run, e.g. the
    price of the day), as a signed 64-bit number (SQLite's integer)."""
    body = {k: v for k, v in rec.items() if k not in ("line", "ordinal")}
    if derived:
        body["~derived"] = derived
    h = xxhash.xxh3_64_intdigest(json.dumps(body, sort_keys=True, ensure_ascii=False).encode())
    return h - (1 << 64) if h >= 1 << 63 else h


class Spool:
    """Records spooled by product key in first-seen order, with bounded memory:
    a product's rows may be anywhere in the file."""

    def __init__(self, folder: str):
        self.db = sqlite3.connect(os.path.join(folder, "records.db"))
        # A scratch file: losing it in a crash loses nothing, so no journal or fsync.
        self.db.executescript("""
            PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;
            CREATE TABLE products (ord INTEGER PRIMARY KEY, k TEXT NOT NULL UNIQUE);
            CREATE TABLE recs (k TEXT NOT NULL, seq INTEGER NOT NULL, data BLOB NOT NULL);
            CREATE TABLE claims (k TEXT PRIMARY KEY, owner TEXT NOT NULL) WITHOUT ROWID;
            """)
        self.seq = 0

    def add(self, groups: dict[str, list[dict[str, Any]]]) -> None:
        self.db.executemany("INSERT OR IGNORE INTO products (k) VALUES (?)",
                            [(k,) for k in groups])
        self.db.executemany("INSERT INTO recs VALUES (?, ?, ?)",
                            [(k, self.seq + i, pickle.dumps(g, 5))
                             for i, (k, g) in enumerate(groups.items())])
        self.seq += len(groups)

    def products(self) -> Iterator[tuple[str, list[dict[str, Any]]]]:
        self.db.execute("CREATE INDEX IF NOT EXISTS recs_k ON recs (k, seq)")
        cur = self.db.execute("SELECT p.k, r.data FROM products p JOIN recs r ON r.k = p.k "
                              "ORDER BY p.ord, r.seq")
        key: str | None = None
        recs: list[dict[str, Any]] = []
        for k, data in cur:
            if k != key and recs:
                yield key, recs  # type: ignore[misc]
                recs = []
            key = k
            recs += pickle.loads(data)  # our own scratch file: trusted
        if recs:
            yield key, recs  # type: ignore[misc]

    def owners(self, keys: list[str]) -> dict[str, str]:
        """Which product claimed each of ``keys`` earlier in the file (see :meth:`claim`)."""
        return dict(self.db.execute(
            f"SELECT k, owner FROM claims WHERE k IN ({','.join('?' * len(keys))})", keys
        ).fetchall()) if keys else {}

    def claim(self, keys: list[str], owner: str) -> None:
        """Keys that must be unique within the file (e.g. a URL key), taken by a
        product: kept here, on disk, since a file has any number of products."""
        self.db.executemany("INSERT OR REPLACE INTO claims VALUES (?, ?)",
                            [(k, owner) for k in keys])

    def claimed(self) -> Iterator[tuple[str, str]]:
        """Every (key, product) claimed in the file."""
        yield from self.db.execute("SELECT k, owner FROM claims ORDER BY k")

    def close(self) -> None:
        self.db.close()


@dataclass
class OutFile:
    """One of the files a product sink writes, opened with its first row."""

    template: str
    header: list[str]
    staged: Staged | None = None
    file: IO[bytes] | None = None
    rows: int = 0
    block: list[list[str]] | None = None
    delimiter: str = ","

    BLOCK = 2048

    def add(self, row: list[str]) -> None:
        if self.block is None:
            self.block = []
        self.block.append(row)
        self.rows += 1
        if len(self.block) >= self.BLOCK:
            self.flush()

    def flush(self) -> None:
        if self.block and self.file is not None:
            cols = [pa.array(c, pa.string()) for c in zip(*self.block, strict=True)]
            self.file.write(csv_lines(cols, self.delimiter))
        self.block = []


class ProductFileSink(FileSink):
    """Base of the shop product files. A format sets ``MAX_OPTIONS`` and implements
    :meth:`files` (name -> path template) and :meth:`rows` (a product's rows by
    file name), reading the header from :meth:`header`."""

    MAX_OPTIONS: ClassVar[int | None] = None
    CHUNK = 500  # products whose memory is read at once
    DELIMITER = ","  # a format whose importer splits on another character overrides it

    def paths(self) -> list[str]:
        return list(self.files().values())

    def files(self) -> dict[str, str]:
        return {"main": self.o.path}

    def header(self, name: str) -> list[str]:
        raise NotImplementedError

    def rows(self, p: Product, known: set[str]) -> Iterator[tuple[str, dict[str, str]]]:
        """(file name, cells by header) of one product; ``known`` are the SKUs this
        sink wrote in earlier files."""
        raise NotImplementedError

    def delimiter(self) -> str:
        return self.DELIMITER

    def needs_unchanged(self) -> bool:
        return True  # products, not rows, decide what changed: see finish()

    def derived(self, rec: dict[str, Any]) -> dict[str, Any]:
        """What this format derives from a record on this run beyond the record
        itself (part of what tells a changed record)."""
        return {}

    def quantities(self) -> dict[str, str]:
        """Stock per shop location: location -> mapped field (record["locations"])."""
        return {}

    # the contract -------------------------------------------------------
    def start(self, ctx: SinkContext) -> None:
        super().start(ctx)
        self.delta = None  # products, not rows, decide what changed: see finish()
        m = self.job.map if self.job is not None else None
        markets = getattr(self.o, "markets", None) or {}
        self.canon = Canon(fields=dict(self.o.fields), product=ctx.product,
                           languages=m.languages if m else (),
                           attributes=m.attributes if m else {},
                           markets={k: Market(v.price, v.compare_at_price)
                                    for k, v in markets.items()})
        self.pattern = self.o.images
        self.pattern_fields = pattern_fields(self.o.images or "")
        self.present: set[str] = set()  # canonical names some record fills in
        self.scratch = ctx.scratch("products")
        self.spool = Spool(self.scratch.name)
        self.out: dict[str, OutFile] = {}
        self.refused_lines: set[int] = set()
        if self.job is not None and ctx.file_id is not None:
            self.job.ledger.catalog_unstage(ctx.file_id, self.id)

    def write(self, batch: Batch) -> None:
        if not len(batch):
            return
        if self.ctx is None:
            raise Bug("expected self.ctx is not None")
        table = self.canon.table(batch)
        missing = [n for n in self.pattern_fields if n not in batch.names]
        if missing:
            raise OutputError(f"field(s) {', '.join(missing)} of the images pattern are not in "
                              f"the records ({', '.join(batch.names)})")
        extra = batch.table.select(self.pattern_fields).to_pylist() if self.pattern else None
        where = self.quantities()
        absent = [f for f in where.values() if f not in batch.names]
        if absent:
            raise OutputError(f"stock field(s) {', '.join(absent)} of the locations are not in "
                              f"the records ({', '.join(batch.names)})")
        stocks = batch.table.select(list(where.values())).to_pylist() if where else None
        ordinals = batch.index_array()
        lines = batch.lines.to_pylist()
        groups: dict[str, list[dict[str, Any]]] = {}
        for i, row in enumerate(table.to_pylist()):
            try:
                if blank(row.get("sku")):
                    raise FieldError("sku", "the SKU is empty")
                rec = self.canon.record(row)
            except FieldError as e:
                self._refuse_row(batch, i, self.canon.mapped(e.field), str(e))
                continue
            if stocks is not None:
                try:
                    rec["locations"] = {loc: q for loc, f in where.items() if (
                        q := integer(stocks[i][f], f"stock in {loc}", rec["sku"])) is not None}
                except ValueError as e:
                    self._refuse_row(batch, i, None, str(e))
                    continue
            if extra is not None and not rec.get("image") and not rec.get("images"):
                url = self._image(extra[i])
                if url:
                    rec["image"] = url
            self.present.update(rec)
            for a in rec.get("attributes", []):
                self.present.add("attr:" + a["code"])
            rec["line"], rec["ordinal"] = lines[i], int(ordinals[i])
            key = rec.get("product") if self.ctx.product is not None else rec["sku"]
            if blank(key):
                self._refuse_row(batch, i, self.ctx.product.key if self.ctx.product else None,
                                 "the product key is empty")
                continue
            groups.setdefault(text(key), []).append(rec)
        self.spool.add(groups)
        crash_point("products.spooled")

    def _refuse_row(self, batch: Batch, i: int, field: str | None, reason: str) -> None:
        if self.ctx is None:
            raise Bug("expected self.ctx is not None")
        if self.ctx.rows is not None:
            self.ctx.rows.refuse(batch, i, field, f"{self.o.format}: {reason}")
        elif self.ctx.report is not None:
            from filebridge.records import Reject

            self.ctx.report.reject(Reject(int(batch.lines[i].as_py()), field, reason))

    def _image(self, values: dict[str, Any]) -> str | None:
        if any(blank(values.get(n)) for n in self.pattern_fields):
            return None
        if self.pattern is None:
            raise Bug("expected self.pattern is not None")
        return self.pattern.format(**{n: _quoted(text(values[n])) for n in self.pattern_fields})

    def finish(self) -> None:
        try:
            self._write_products()
        finally:
            self.close()

    def _write_products(self) -> None:
        chunk: list[tuple[str, list[dict[str, Any]]]] = []
        for item in self.spool.products():
            chunk.append(item)
            if len(chunk) >= self.CHUNK:
                self._chunk(chunk)
                chunk = []
        if chunk:
            self._chunk(chunk)
        if self.o.empty and not (not self.out and self.keeps_earlier()):
            for name in self.files():
                self._file(name)
        for f in self.out.values():
            if f.file is None:
                raise Bug("expected f.file is not None")
            f.flush()
            f.file.close()

    def _chunk(self, chunk: list[tuple[str, list[dict[str, Any]]]]) -> None:
        if self.ctx is None:
            raise Bug("expected self.ctx is not None")
        job, ctx = self.job, self.ctx
        memory = job.ledger.catalog_products(job.profile, self.id, [k for k, _ in chunk]) \
            if job is not None else {}
        staged: list[tuple[str, str | None, int, str, int]] = []
        base = (ctx.file_id or 0) << 32  # a new key's place: after everything written before
        for key, recs in chunk:
            mine = memory.get(key, [])
            before = {k: h for k, h, _, _ in mine}
            pos = {k: p for k, _, _, p in mine}
            in_file = {r["sku"] for r in recs}
            hashes = {r["sku"]: record_hash(r, self.derived(r)) for r in recs}
            changed = any(before.get(s) != h for s, h in hashes.items())
            if self.o.mode == "changes" and not changed:
                continue  # every row of it stays "unchanged"
            remembered = {k: json.loads(rec) for k, _, rec, _ in mine if k not in in_file}
            # Siblings in the order they were first written, so "first seen" orders
            # values the same whichever variants a file carries.
            for r in recs:
                pos.setdefault(r["sku"], base + r["ordinal"])
            ordered = sorted([*remembered.items(), *((r["sku"], r) for r in recs)],
                             key=lambda kv: pos[kv[0]])
            p = build(key, [r for _, r in ordered], ctx.product, self.MAX_OPTIONS)
            for prob in p.problems:
                if prob.record["sku"] in in_file:
                    self._refuse(prob.record, prob.field, prob.reason)
            written = [r for r in p.variants if r["sku"] in in_file]
            if not written:
                continue
            for line, fld, why in p.warnings:
                if ctx.report is not None:
                    ctx.report.warn(line, fld, f"{self.o.format}: {why}")
            known = set(before)
            # What this sink wrote before for the file's SKUs: a format whose empty cell
            # keeps the shop's value can clear what a record no longer has.
            self.previous = {k: rec for k, _, rec, _ in mine if k in in_file}
            try:
                out = list(self.rows(p, known))  # all or nothing of a product
            except ProductRefused as e:
                for r in written:
                    self._refuse(r, e.field, str(e))
                continue
            for name, cells in out:
                self._emit(name, cells, p)
            if ctx.rows is not None:
                ctx.rows.sent_at([r["ordinal"] for r in written])
            staged += [(r["sku"], key, hashes[r["sku"]],
                        json.dumps({k: v for k, v in r.items() if k not in ("line", "ordinal")},
                                   ensure_ascii=False), pos[r["sku"]]) for r in written]
        if staged and job is not None and ctx.file_id is not None:
            job.ledger.catalog_stage(ctx.file_id, job.profile, self.id, staged)

    def _refuse(self, rec: dict[str, Any], field: str | None, reason: str) -> None:
        if self.ctx is None:
            raise Bug("expected self.ctx is not None")
        if self.ctx.rows is not None:
            self.ctx.rows.refuse_at(rec["ordinal"], rec["line"], field,
                                    f"{self.o.format}: {reason}",
                                    {k: v for k, v in rec.items() if k not in ("ordinal",)})

    def _file(self, name: str) -> OutFile:
        f = self.out.get(name)
        if f is None:
            if self.ctx is None:
                raise Bug("expected self.ctx is not None")
            f = OutFile(self.files()[name], self.header(name), delimiter=self.delimiter())
            f.staged = self.ctx.stage(f.template, self.o.done_file)
            f.file = f.staged.open("wb")
            f.file.write(header_line(f.header, f.delimiter))
            self.out[name] = f
        return f

    def _emit(self, name: str, cells: dict[str, str], p: Product) -> None:
        f = self._file(name)
        row = [cells.get(h, "") for h in f.header]
        if self.o.formula_guard != "off":
            for i, v in enumerate(row):
                if v.startswith(FORMULA) and not _number(v):
                    if self.o.formula_guard == "prefix":
                        row[i] = "'" + v
                    elif self.ctx is not None and self.ctx.report is not None:
                        line = p.variants[0].get("line") if p.variants else None
                        self.ctx.report.warn(line, f.header[i],
                                             f"{self.o.format}: product {p.key}: "
                                             f"{f.header[i]} starts with {v[0]!r}: a "
                                             "spreadsheet opening the file would run it as "
                                             "a formula", value=v)
        f.add(row)

    def close(self) -> None:
        spool = getattr(self, "spool", None)
        if spool is not None:
            spool.close()
            self.spool = None  # type: ignore[assignment]
        scratch = getattr(self, "scratch", None)
        if scratch is not None:
            scratch.cleanup()
            self.scratch = None  # type: ignore[assignment]
        for f in getattr(self, "out", {}).values():
            if f.file is not None and not f.file.closed:
                f.file.close()

    def has(self, name: str) -> bool:
        """Whether any record of this file carries data for a canonical field."""
        if name == "image":
            return bool({"image", "images"} & self.present)
        return name in self.present


def _number(v: str) -> bool:
    try:
        float(v.replace(",", "."))
        return True
    except ValueError:
        return False
