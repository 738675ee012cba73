"""The XML reader's fast path: flat records of plain children, read column-wise.

A file qualifies when the record is one plain element name directly below the root
and every field is a plain child. libxml2 still checks the whole file (a parser with
no per-element callbacks), but the values come from the UTF-8 bytes with NumPy and
Arrow, a block of complete records at a time, never a Python object per element.

It reads only what it can prove the lxml path reads the same way: a UTF-8 file with
no DOCTYPE (comments and PIs only outside the root), a root start tag without
attributes, records whose markup is exactly ``<record>``, pairs ``<child>…</child>``
of plain (ASCII, unprefixed) names and ``</record>`` (children may differ from record
to record); text without CR, with no reference but the five predefined entities, no
value only blank. Anything
else raises ``Unsure`` (and so does any syntax error), and the lxml path reads the
file instead, from the start, skipping the batches already given: results are
identical in every case, the lxml path deciding every refusal.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from filebridge.lazy import lazy

etree = lazy("lxml.etree")

_READ = 1 << 20
_SHORT = 65535  # libxml2 keeps lines up to this in an element (an unsigned short)
_WS = rb"[ \t\n]*"
_PLAIN = rb"[A-Za-z_][A-Za-z0-9_.\-]*"
# Blanks, comments and PIs (not <?xml…?>) around the root element: lxml drops them.
_MISC = rb"(?:[ \t\n]+|<!--.*?-->|<\?(?![xX][mM][lL]).*?\?>)*"
_HEAD = re.compile(rb"(?:<\?xml[ \t\n]+version=[\"']1\.0[\"'][^<>]*\?>)?" + _MISC
                   + rb"<(" + _PLAIN + rb")>", re.S)
_TAIL = re.compile(_WS + rb"</(" + _PLAIN + rb")>" + _MISC, re.S)
_CHILD = re.compile(rb"<(" + _PLAIN + rb")></\1>")
# Predefined entities, decoded in this order (&amp; last: "&amp;lt;" is "&lt;").
_ENTITIES = [("&lt;", "<"), ("&gt;", ">"), ("&quot;", '"'), ("&apos;", "'"), ("&amp;", "&")]


class Unsure(Exception):
    """The fast path cannot prove its reading equal to the lxml path's."""


class _Checker:
    """libxml2's well-formedness check, without a Python call per element."""

    def close(self) -> None:
        return None


def eligible(steps: list[str], tags: list[str], max_depth: int) -> bool:
    """Record a plain name below the root, fields plain children, depth 3 allowed."""
    plain = re.compile(_PLAIN.decode())
    return (len(steps) == 1 and max_depth >= 3 and bool(tags)
            and all(plain.fullmatch(t) for t in [*steps, *tags]))


class FlatRecords:
    """Batches of ``rows`` records from one file: {tag: string column} and lines."""

    def __init__(self, record: str, tags: list[str], rows: int, max_record_bytes: int):
        self.open, self.close = f"<{record}>".encode(), f"</{record}>".encode()
        self.tags, self.rows = tags, rows
        # The lxml path refuses a record once more than max_record_bytes pass
        # without one; records ending within a quarter of that can never be refused.
        self.span = max_record_bytes // 4

    def batches(self, path: Path) -> Iterator[tuple[dict[str, pa.Array], np.ndarray]]:
        checker = etree.XMLParser(target=_Checker(), resolve_entities=False,
                                  no_network=True, load_dtd=False, huge_tree=False)
        cols: dict[str, list[pa.Array]] = {t: [] for t in self.tags}
        lines: list[np.ndarray] = []
        held = 0
        root = None
        buf = b""
        at = 0  # file offset of buf[0]
        line = 1  # line of buf[0]
        end = 0  # file offset just past the latest record
        with open(path, "rb") as f:
            while True:
                data = f.read(_READ)
                try:
                    checker.feed(data) if data else checker.close()
                except etree.LxmlError:
                    raise Unsure from None
                buf += data
                if root is None:
                    if not (m := _HEAD.match(buf)):
                        if len(buf) > self.span or not data:
                            raise Unsure
                        continue
                    root = m.group(1)
                    if root == self.open[1:-1]:
                        raise Unsure  # the root's own end tag would pass for a record's
                    line += buf.count(b"\n", 0, m.end())
                    at, buf = at + m.end(), buf[m.end():]
                cut = buf.rfind(self.close) + len(self.close)
                if cut >= len(self.close):
                    block, buf = buf[:cut], buf[cut:]
                    values, numbers, ends, newlines = self._block(block, line)
                    if np.diff(ends + at, prepend=end).max() > self.span:
                        raise Unsure
                    end = int(ends[-1]) + at
                    lines.append(numbers)
                    line += newlines
                    at += cut
                    for t, v in values.items():
                        cols[t].append(v)
                    held += len(numbers)
                    while held >= self.rows:
                        yield self._take(cols, lines, self.rows)
                        held -= self.rows
                elif len(buf) > self.span:
                    raise Unsure
                if not data:
                    break
        m = _TAIL.fullmatch(buf)
        if m is None or m.group(1) != root or at + len(buf) - end > self.span:
            raise Unsure
        if not held and not end:
            raise Unsure  # no record: the lxml path says why
        if held:
            yield self._take(cols, lines, held)

    @staticmethod
    def _take(cols: dict[str, list[pa.Array]], lines: list[np.ndarray], n: int
              ) -> tuple[dict[str, pa.Array], np.ndarray]:
        """The first ``n`` records held; the rest stay."""
        out = {}
        for t, parts in cols.items():
            whole = pa.concat_arrays(parts)
            out[t] = whole.slice(0, n)
            parts[:] = [whole.slice(n)]
        all_lines = np.concatenate(lines)
        lines[:] = [all_lines[n:]]
        return out, all_lines[:n]

    def _block(self, block: bytes, line: int
               ) -> tuple[dict[str, pa.Array], np.ndarray, np.ndarray, int]:
        """Complete records (and blanks between them) from ``line`` on: their values
        by tag, their lines, the offsets of their ends and the block's line count."""
        if b"\r" in block:
            raise Unsure  # XML turns line ends into LF: the lxml path does it
        try:
            pa.array([block], pa.binary()).cast(pa.string())
        except pa.ArrowInvalid:
            raise Unsure from None  # not UTF-8: the lxml path marks the bytes
        a = np.frombuffer(block, np.uint8)
        lt = np.flatnonzero(a == 60)
        gt = np.flatnonzero(a == 62)
        if len(gt) != len(lt):  # a '>' in text: each tag ends at the first '>' after it
            gt = gt[np.minimum(np.searchsorted(gt, lt), len(gt) - 1)]
        if len(lt) == 0 or (gt < lt).any() or (lt[1:] < gt[:-1]).any():
            raise Unsure
        # Markup and text alternate: element 2i is tag i, 2i+1 the text after it.
        offsets = np.empty(2 * len(lt), np.int32)
        offsets[0::2], offsets[1::2] = lt, gt + 1
        alt = pa.StringArray.from_buffers(len(offsets) - 1, pa.py_buffer(offsets),
                                          pa.py_buffer(block))
        # A record starts at each tag that is exactly <record>; its shape is the
        # concatenation of its tags, read once per distinct shape (a zero-copy view).
        starts = np.flatnonzero(gt - lt + 1 == len(self.open))
        for k, byte in enumerate(self.open[1:-1], 1):
            starts = starts[a[lt[starts] + k] == byte]
        if len(starts) == 0 or starts[0] != 0:
            raise Unsure
        bounds = np.append(starts, len(lt))
        sizes = np.diff(bounds)  # tags per record
        markup = pc.take(alt, pa.array(np.arange(0, len(offsets) - 1, 2)))
        cuts = np.frombuffer(markup.buffers()[1], np.int32, len(markup) + 1)[bounds]
        tags = markup.buffers()[2].to_pybytes()[:cuts[-1]]
        if (sizes == sizes[0]).all() and tags == tags[:cuts[1]] * len(starts):
            shape, found = np.zeros(len(starts), np.int64), [self._positions(tags[:cuts[1]])]
        else:
            shapes = pa.StringArray.from_buffers(len(starts), pa.py_buffer(cuts),
                                                 markup.buffers()[2]).dictionary_encode()
            shape = shapes.indices.to_numpy()
            found = [self._positions(s.as_buffer().to_pybytes()) for s in shapes.dictionary]
        nl = np.flatnonzero(a == 10)
        lines = line + np.searchsorted(nl, lt[starts])
        if lines[-1] >= _SHORT:
            # Whether the text after each tag holds anything but space, tab or LF.
            blank = (a == 32) | (a == 10) | (a == 9)
            solid = np.logical_or.reduceat(~blank, offsets[:-1])[1::2]
            solid &= lt[1:] > gt[:-1] + 1  # (reduceat gives a byte for an empty one)
            for c in range(len(found)):
                rows = np.flatnonzero((shape == c) & (lines >= _SHORT))
                if len(rows):
                    self._big_lines(lines, rows, starts[rows], int(sizes[rows[0]]), solid,
                                    lt, gt, nl, line)
        amp = b"&" in block
        values = {}
        for tag in self.tags:
            where = np.array([f.get(tag, -1) for f in found])[shape]  # -1: none
            absent = where < 0
            if absent.all():
                values[tag] = pa.nulls(len(starts), pa.string())
                continue
            tags = starts + np.maximum(where, 0)
            null = absent | (lt[tags + 1] - gt[tags] == 1)  # <x></x> reads as null
            v = pc.take(alt, pa.array(2 * tags + 1, mask=null))
            if pc.any(pc.utf8_is_space(v)).as_py():
                raise Unsure  # blank text: libxml2's keep-or-drop heuristic decides
            values[tag] = _decoded(v) if amp else v
        return values, lines, gt[bounds[1:] - 1] + 1, len(nl)

    @staticmethod
    def _big_lines(lines: np.ndarray, rows: np.ndarray, tag: np.ndarray, per: int,
                   solid: np.ndarray, lt: np.ndarray, gt: np.ndarray, nl: np.ndarray,
                   first: int) -> None:
        """From line 65535 on, libxml2 keeps no element's line: lxml then gives the
        line where the first text inside the record ends (xmlGetLineNo). Set the same,
        in place, for ``rows``, records of ``per`` tags starting at tags ``tag``, whose
        blanks libxml2 drops (``remove_blank_text``); ``solid``: whether the text after
        each tag is not blank; ``first``: the line of byte 0."""
        m = (per - 2) // 2  # children per record
        if m == 0:
            raise Unsure  # a record's blank own text is kept: its line is not known here
        reach = min(m, 4)  # xmlGetLineNo looks at most this far
        # Its own text and the tails of the children reached must be blank.
        for b in [tag] + [tag + 2 + 2 * k for k in range(reach)]:
            if solid[b].any():
                raise Unsure
        empty = [lt[tag + 2 + 2 * k] - gt[tag + 1 + 2 * k] == 1 for k in range(reach)]
        code = sum(e.astype(np.int64) << k for k, e in enumerate(empty))
        for c in np.unique(code):
            these = code == c
            k = _text_child([bool(c >> i & 1) for i in range(reach)], m)
            if k is None:
                lines[rows[these]] = _SHORT
                continue
            opens, closes = tag[these] + 1 + 2 * k, tag[these] + 2 + 2 * k
            end = np.searchsorted(nl, lt[closes])
            if (np.searchsorted(nl, gt[opens]) != end).any():
                raise Unsure  # a text over lines: which of them libxml2 keeps varies
            lines[rows[these]] = first + end

    def _positions(self, skeleton: bytes) -> dict[str, int]:
        """{child tag: index of its start tag in the record} (first one wins), from
        one record's markup; Unsure unless flat and plain."""
        if not (skeleton.startswith(self.open) and skeleton.endswith(self.close)):
            raise Unsure
        inner = skeleton[len(self.open):-len(self.close)]
        position: dict[str, int] = {}
        pos = 0
        for k, m in enumerate(_CHILD.finditer(inner)):
            if m.start() != pos:
                raise Unsure
            pos = m.end()
            position.setdefault(m.group(1).decode(), 1 + 2 * k)
        if pos != len(inner):
            raise Unsure
        return position


def _text_child(empty: list[bool], m: int) -> int | None:
    """Which child's text xmlGetLineNo (libxml2 tree.c) takes the line of, for a
    record of ``m`` flat children where ``empty[k]`` says child k has no text; None
    for 65535 (it gives up five nodes deep)."""

    def walk(k: int, depth: int) -> int | None:
        if depth >= 5:
            return None
        if k < len(empty) and not empty[k]:
            return k if depth + 1 < 5 else None
        if k + 1 < m:
            return walk(k + 1, depth + 1)
        if k > 0:
            return walk(k - 1, depth + 1)
        return None

    return walk(0, 1)


def _decoded(v: pa.Array) -> pa.Array:
    """Text with the predefined entities replaced; Unsure at any other reference."""
    refs = pc.sum(pc.count_substring(v, "&")).as_py() or 0
    if not refs:
        return v
    if sum(pc.sum(pc.count_substring(v, e)).as_py() or 0 for e, _ in _ENTITIES) != refs:
        raise Unsure  # a character reference (&#...;): the lxml path decodes it
    for e, c in _ENTITIES:
        v = pc.replace_substring(v, e, c)
    return v


__all__ = ["FlatRecords", "Unsure", "eligible"]
