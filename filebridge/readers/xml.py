"""XML exports, streamed record by record with lxml: flat memory on any size.

``record`` is the path of the repeating element below the root (``articolo``,
``Items/Item``, ``ns:Item``). A field's ``path`` is relative to one record: a child
(``codice``), a nested child (``prezzo/valore``), an attribute (``@sku``,
``stock/@qty``) or ``.`` for the record's own text. Values are the element text
as written (the text before any nested element); a missing or empty element or a
missing attribute reads as null; a child repeated in a record gives its first
value. Batch lines are the lines of the records' start tags.

Safety: files that declare entities or refer to an external DTD (billion laughs,
XXE) are refused before anything is read; the parser never expands entities nor
fetches anything. Nesting deeper than ``max_depth``, a record larger than
``max_record_bytes`` (the same cap bounds any stretch of the file without a
complete record), malformed or truncated XML reject the file.

Flat records (every field a plain child) are read column-wise by
``readers.xml_flat``; whatever it cannot prove it reads exactly as lxml does goes
through lxml, so both give the same batches, rejects and refusals.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field, model_validator

from filebridge.errors import RejectedFile
from filebridge.layouts.bytes import Utf8Text, marked_rows, not_valid, unmarked
from filebridge.lazy import lazy
from filebridge.options import Condition, FieldSpec, Model
from filebridge.readers.base import sniff, typed_rows
from filebridge.readers.xml_flat import FlatRecords, Unsure, eligible
from filebridge.records import Batch, FileReport, Reject
from filebridge.registry import REGISTRY

etree = lazy("lxml.etree")

_NAME = r"(?:[^\W\d][\w.\-]*:)?[^\W\d][\w.\-]*"
_RECORD = re.compile(rf"{_NAME}(?:/{_NAME})*")
_PATH = re.compile(rf"\.|@{_NAME}|{_NAME}(?:/{_NAME})*(?:/@{_NAME})?")
ENTITIES = "XML declares entities (DTD): refused for safety"
EXTERNAL_DTD = "XML refers to an external DTD: refused for safety (nothing is fetched)"
# Explicit even where lxml 6.1 defaults agree (see docs/as400.md, "Large XML").
# remove_blank_text drops indentation nodes: ~10 % faster and cleaner `.` text.
_SAFE = dict(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
             remove_comments=True, remove_blank_text=True)
_READ = 64 << 10
_UNSET = object()
# Before a DOCTYPE: the XML declaration, comments, PIs. UTF-16 files have NUL bytes.
_MISC = re.compile(r"\s+|<\?.*?\?>|<!--.*?-->", re.S)
_DOCTYPE = re.compile(r"<!DOCTYPE\s+[^\s\[>]+\s*(SYSTEM|PUBLIC)?")
_WIDE = {b"\xff\xfe": "utf-16", b"\xfe\xff": "utf-16", b"<\x00": "utf-16-le",
         b"\x00<": "utf-16-be"}


class XmlField(FieldSpec):
    """Where a field is in the record, and its type."""

    path: str | None = Field(None, description="relative to the record: child `codice`, "
                             "nested `prezzo/valore`, attribute `@sku` or `stock/@qty`, `.` "
                             "for the record's own text; default: the field's name")


class XmlOptions(Model):
    """XML: one repeating element per record."""

    format: Literal["xml"] = Field(description="XML with a repeating record element")
    record: str = Field(description="path of the record element below the root, e.g. "
                        "`articolo`, `Items/Item`, `ns:Item`")
    namespaces: dict[str, str] = Field(default_factory=dict, description="prefix -> URI "
                                       "for the prefixes used in paths; the prefix \"\" sets "
                                       "the namespace of unprefixed element names")
    fields: dict[str, XmlField] = Field(min_length=1, description="the fields to read: "
                                        "name -> path and type")
    decimal: Literal[".", ","] = Field(".", description="decimal mark of numbers")
    thousands: Literal[".", ",", " ", "'"] | None = Field(
        None, description="thousands separator inside numbers, if any")
    filter: list[Condition] = Field(default_factory=list, description="keep only records "
                                    "passing every condition; the others count as skipped")
    batch_rows: int = Field(20_000, ge=1, description="records per batch")
    max_depth: int = Field(64, ge=2, le=256, description="deepest element nesting accepted")
    max_record_bytes: int = Field(1 << 20, ge=4096, description="largest record accepted, "
                                  "in bytes of the file")

    @model_validator(mode="after")
    def _paths(self) -> XmlOptions:
        if not _RECORD.fullmatch(self.record):
            raise ValueError(f"record: {self.record!r} is not a path of element names "
                             "(e.g. articolo or Items/Item)")
        if self.record.count("/") + 2 > self.max_depth:
            raise ValueError("record: deeper than max_depth")
        paths = [("record", self.record)]
        for name, f in self.fields.items():
            path = f.path or name
            if not _PATH.fullmatch(path):
                raise ValueError(f"fields.{name}: {path!r} is not a path such as codice, "
                                 "prezzo/valore, @sku, stock/@qty or .")
            paths.append((f"fields.{name}", path))
        for where, path in paths:
            for prefix in re.findall(r"([^\s/@:]+):", path):
                if prefix not in self.namespaces:
                    raise ValueError(f"{where}: prefix {prefix!r} is not in namespaces")
        return self


def _clark(name: str, ns: dict[str, str], *, attribute: bool = False) -> str:
    prefix, _, local = name.rpartition(":")
    # Unprefixed attributes are in no namespace, whatever the default is.
    uri = ns[prefix] if prefix else (None if attribute else ns.get(""))
    return f"{{{uri}}}{local}" if uri else local


def _getter(path: str, ns: dict[str, str]) -> Callable[[Any], str | None]:
    """A value other than a plain child's: own text, attribute, nested element."""
    if path == ".":
        return lambda el: el.text
    steps = path.split("/")
    attr = _clark(steps.pop()[1:], ns, attribute=True) if steps[-1].startswith("@") else None
    if not steps:
        return lambda el: el.get(attr)
    sub = "/".join(_clark(s, ns) for s in steps)
    if attr is None:
        return lambda el: None if (c := el.find(sub)) is None else c.text
    return lambda el: None if (c := el.find(sub)) is None else c.get(attr)


def _prolog_refusal(head: bytes) -> None:
    """Refuse a DOCTYPE declaring entities or naming an external DTD, before parsing."""
    text = head.decode(_WIDE.get(head[:2], "latin-1"), "replace").lstrip("\ufeff\xef\xbb\xbf")
    pos = 0
    while m := _MISC.match(text, pos):
        pos = m.end()
    if not text.startswith("<", pos):
        raise RejectedFile("not XML: the file does not start with '<'")
    m = _DOCTYPE.match(text, pos)
    if m and "<!ENTITY" in text[m.end():]:
        raise RejectedFile(ENTITIES)
    if m and m.group(1):
        raise RejectedFile(EXTERNAL_DTD)


_DECLARATION = re.compile(rb"""^<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z][A-Za-z0-9._-]*)["']""")


def _declared(path: Path) -> str:
    """The file's encoding as XML 1.0 (appendix F) finds it: a byte order mark, else
    the declaration's encoding, else UTF-8."""
    with open(path, "rb") as f:
        head = f.read(1024)
    if head.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    if head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return "utf-16"
    if head[:2] in _WIDE:
        return _WIDE[head[:2]]
    m = _DECLARATION.match(head)
    if m is None:
        return "utf-8"
    name = m.group(1).decode("ascii")
    try:
        return codecs.lookup(name).name
    except LookupError:
        raise RejectedFile(f"the XML declaration names the encoding {name!r}, which is not "
                           "known here") from None


def _docinfo_refusal(tree: Any) -> None:
    """The parser's view of the DTD: catches what the prolog scan could not see."""
    info = tree.docinfo
    dtd = info.internalDTD
    if dtd is not None and next(dtd.iterentities(), None) is not None:
        raise RejectedFile(ENTITIES)
    if info.system_url or info.public_id:
        raise RejectedFile(EXTERNAL_DTD)


@contextmanager
def _syntax_errors() -> Iterator[None]:
    try:
        yield
    except etree.XMLSyntaxError as e:
        err = e.error_log.last_error  # the log is per thread: its last error is this one
        msg, line = (err.message, err.line) if err is not None else (e.msg, e.lineno)
        raise RejectedFile(f"malformed XML: {msg}", line=line or None) from None


def _prune(node: Any) -> None:
    """Free everything before ``node`` in document order (already read); ``node``
    itself stays, cleared (the parser may still point at it)."""
    node.clear(keep_tail=True)
    while (parent := node.getparent()) is not None:
        if i := parent.index(node):
            del parent[:i]
        node = parent


@REGISTRY.reader("xml")
class XmlReader:
    Options = XmlOptions

    def __init__(self, options: XmlOptions):
        o = self.o = options
        ns = o.namespaces
        self.steps = [_clark(s, ns) for s in o.record.split("/")]
        # Plain children come from one pass over the record's children (the fast path),
        # the other paths from a getter each; ``sources``: field -> tag or getter index.
        self.sources: dict[str, str | int] = {}
        self.getters: list[Callable[[Any], str | None]] = []
        for name, f in o.fields.items():
            path = f.path or name
            if "/" in path or path.startswith(("@", ".")):
                self.sources[name] = len(self.getters)
                self.getters.append(_getter(path, ns))
            else:
                self.sources[name] = _clark(path, ns)
        self.tags = list(dict.fromkeys(t for t in self.sources.values() if isinstance(t, str)))
        self.struct = pa.struct([(t, pa.string()) for t in self.tags])
        self.typed = {n: f for n, f in o.fields.items() if f.type != "text"}
        self.too_deep = etree.XPath("boolean(" + "/".join(["*"] * o.max_depth) + ")")
        self.read_size = min(_READ, o.max_record_bytes // 2)
        self.flat = (FlatRecords(self.steps[0], self.tags, o.batch_rows, o.max_record_bytes)
                     if not self.getters and eligible(self.steps, self.tags, o.max_depth)
                     else None)

    def _in_place(self, el: Any) -> bool:
        """The element sits at the record path (a same-named element elsewhere is not
        a record)."""
        for tag in reversed(self.steps[:-1]):
            el = el.getparent()
            if el is None or el.tag != tag:
                return False
        parent = el.getparent()
        return parent is not None and parent.getparent() is None

    def read(self, path: Path, report: FileReport) -> Iterator[Batch]:
        with open(path, "rb") as f:
            wide = f.read(2) in _WIDE
        _prolog_refusal(sniff(path, allow_nul=wide))
        self._encoding = _declared(path)
        done = 0  # records given by the fast path, before it found a reason to stop
        if self.flat is not None and self._encoding == "utf-8":
            try:
                for columns, lines in self.flat.batches(path):
                    self._marked = False
                    yield self._typed(pa.table({name: columns[tag] for name, tag
                                                in self.sources.items()
                                                if isinstance(tag, str)}),
                                      pa.array(lines, pa.int64()), report)
                    done += len(lines)
                return
            except Unsure:
                pass
        yield from self._parsed(path, report, done)

    def _parsed(self, path: Path, report: FileReport, skip: int) -> Iterator[Batch]:
        """Every record through lxml, the first ``skip`` counted but not read again."""
        o, children, getters, rows = self.o, bool(self.tags), self.getters, self.o.batch_rows
        # The text goes to the parser as UTF-8, decoded from the encoding the file
        # declares: a byte that is not valid there is carried through marked (see
        # layouts.bytes.Utf8Text) and rejects the record whose value holds it; in markup
        # (a tag or attribute name) it still makes the XML malformed.
        text = Utf8Text(self._encoding)
        self._marked = False
        parser = etree.XMLPullParser(events=("end",), tag=self.steps[-1], encoding="utf-8",
                                     **_SAFE)
        dicts: list[dict] = []  # plain children of the latest records, tag -> text
        parts: list[pa.Array] = []  # earlier records of the batch, already in Arrow
        values: list[list] = [[] for _ in getters]
        lines: list[int] = []
        parent: Any = _UNSET  # the records' parent, once checked (the root may be one)
        root = misplaced = None
        since = total = 0  # bytes read without a complete record; records batched
        with open(path, "rb") as f, _syntax_errors():
            while True:
                data = f.read(self.read_size)
                if data:
                    parser.feed(text(data))
                else:
                    if tail := text(b"", final=True):
                        parser.feed(tail)
                    parser.close()  # then the last events, if any
                last = None
                for _, el in parser.read_events():
                    if el.getparent() is not parent:
                        if not self._in_place(el):
                            misplaced = misplaced or el.getroottree().getpath(el)
                            continue
                        if root is None:  # the DTD is known now, before any value
                            _docinfo_refusal(el.getroottree())
                            root = el.getroottree().getroot()
                        parent = el.getparent()
                    if skip:
                        skip, total, last = skip - 1, total + 1, el
                        continue
                    if children:
                        d = {c.tag: c.text for c in el}
                        if len(d) != len(el):  # a repeated child: keep the first
                            d = {}
                            for c in el:
                                d.setdefault(c.tag, c.text)
                        dicts.append(d)
                    if getters:
                        for get, vals in zip(getters, values, strict=True):
                            vals.append(get(el))
                    lines.append(el.sourceline)
                    last = el
                    if len(lines) >= rows:
                        self._marked = text.marked
                        total += len(lines)
                        yield self._batch(parts, dicts, values, lines, report)
                        parts, dicts, values, lines = [], [], [[] for _ in getters], []
                since = 0 if last is not None else since + len(data)
                if len(dicts) >= 2048:  # Arrow holds them in a tenth of the memory
                    parts.append(pa.array(dicts, self.struct))
                    dicts = []
                if root is not None:
                    self._check_depth(root)
                if last is not None:
                    _prune(last)
                if not data:
                    break
                if since > o.max_record_bytes:
                    raise RejectedFile(self._gap_reason(total + len(lines), misplaced))
        self._marked = text.marked
        if lines:
            yield self._batch(parts, dicts, values, lines, report)
        elif total == 0:
            where = f" (found one at {misplaced})" if misplaced else ""
            raise RejectedFile(f"no <{o.record}> elements found below the root element{where}")

    _marked = False

    def _unmarked(self, batch: Batch, report: FileReport) -> Batch:
        """Records with a value holding bytes the declared encoding lacks: rejected."""
        bad: dict[int, tuple[str, bytes]] = {}
        for name in batch.names:
            for i, data in marked_rows(batch.column(name)).items():
                bad.setdefault(i, (name, data))
        if not bad:
            return batch
        at = sorted(bad)
        rows = batch.table.take(at).to_pylist()
        for i, row, line in zip(at, rows, pc.take(batch.lines, at).to_pylist(), strict=True):
            name, data = bad[i]
            values = {k: unmarked(v) if isinstance(v, str) else v for k, v in row.items()}
            report.reject(Reject(line, name, not_valid(data, self._encoding), values,
                                 values[name]))
        keep = np.ones(len(batch), bool)
        keep[at] = False
        return batch.filter(pa.array(keep))

    def _check_depth(self, root: Any) -> None:
        if self.too_deep(root):
            deep = root.xpath("/".join(["*"] * self.o.max_depth))[0]
            raise RejectedFile(f"XML nests elements deeper than max_depth "
                               f"{self.o.max_depth}", line=deep.sourceline)

    def _gap_reason(self, records: int, misplaced: str | None) -> str:
        cap = self.o.max_record_bytes
        if records:
            return (f"a record is larger than max_record_bytes ({cap} bytes): more than "
                    f"that passed without a complete <{self.o.record}> after record "
                    f"{records}")
        where = f"; found one at {misplaced}" if misplaced else ""
        return (f"no <{self.o.record}> record in the first {cap} bytes (max_record_bytes): "
                f"check record, the path below the root element{where}")

    def _batch(self, parts: list[pa.Array], dicts: list[dict], values: list[list],
               lines: list[int], report: FileReport) -> Batch:
        flat: dict[str, pa.Array] = {}
        if self.tags:  # Arrow looks the tags up in each dict in C: 2x a list per field
            arr = pa.concat_arrays(parts + [pa.array(dicts, self.struct)])
            flat = dict(zip(self.tags, arr.flatten(), strict=True))
        table = pa.table({name: flat[src] if isinstance(src, str) else
                          pa.array(values[src], pa.string())
                          for name, src in self.sources.items()})
        return self._typed(table, pa.array(lines, pa.int64()), report)

    def _typed(self, table: pa.Table, lines: pa.Array, report: FileReport) -> Batch:
        report.tally.read += len(lines)
        batch = Batch(table, lines)
        if self._marked:
            batch = self._unmarked(batch, report)
        return typed_rows(batch, self.typed, self.o.filter, report, decimal=self.o.decimal,
                          thousands=self.o.thousands)


__all__ = ["XmlField", "XmlOptions", "XmlReader"]
