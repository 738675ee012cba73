"""Files for the ERP, written one way: fixed-width records in the ERP's layout or a
delimited file with a header, encoded in the ERP's code page.

Acknowledgements, rejects reports and movement files all come through here, so
they agree on how a value the code page cannot hold is handled: data the ERP
matches on (a SKU, an order number) must never be changed on the way, so such a
value makes the file fail loudly (``UnicodeEncodeError`` naming it); free text
filebridge wrote itself (a reason, a warning) is first fitted to the code page
(``fit``: accents dropped where the page lacks them, anything else as ``?``), as
the ERP cannot read it otherwise and nothing matches on it.
"""

from __future__ import annotations

import string
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from filebridge.layouts.fixed import FixedField, encode_record
from filebridge.outputs import Outbox
from filebridge.sinks.base import csv_lines, guard_formulas, header_line

if TYPE_CHECKING:
    from filebridge.destinations.delivery import Delivery
    from filebridge.options import Deliver

UTF8 = ("utf-8", "utf8")


def publish_numbered(data: bytes, path: Path, deliver: Deliver, done_file: str | None,
                     delivery: Delivery, into: Outbox | None) -> bool:
    """Stage a sequence-numbered file for the ERP (movements, order documents). With
    ``into`` (an input file's outputs) it is only staged there, for the caller to
    publish with that file's other outputs: False. Else it is published and delivered
    now, all or nothing: True."""
    outbox = into or Outbox()
    routed = outbox.routed(deliver) if deliver and into is None else outbox
    with routed.stage(path, done_file).open("wb") as f:
        f.write(data)
    if into is not None:
        return False
    try:
        outbox.publish()
        delivery.send(outbox.files)
    except BaseException:
        outbox.abort()
        raise
    return True


def numbered_path(v: str, what: str) -> str:
    """A sequence-numbered file's ``path``: only {seq}, {date}, {time} and {inventory},
    and {seq} required (the ERP acknowledges each file by its number)."""
    try:
        names = {f.split(":")[0] for _, f, _, _ in string.Formatter().parse(v) if f}
    except ValueError as e:
        raise ValueError(f"bad placeholder in {v!r} ({e})") from None
    unknown = sorted(names - {"seq", "date", "time", "inventory"})
    if unknown:
        raise ValueError(f"unknown placeholder {{{unknown[0]}}} in {v!r}; known: {{seq}}, "
                         "{date}, {time}, {inventory}")
    if "seq" not in names:
        raise ValueError(f"{v!r} needs {{seq}}: every {what} file has its own number")
    return v


def fit(text: str, encoding: str) -> str:
    """``text`` as close as ``encoding`` can hold it: unchanged when it can; else
    each character it lacks without its accent, or ``?``."""
    if encoding.lower().replace("_", "-") in UTF8:
        return text
    try:
        text.encode(encoding)
        return text
    except UnicodeEncodeError:
        pass
    out = []
    for ch in text:
        try:
            ch.encode(encoding)
            out.append(ch)
        except UnicodeEncodeError:
            base = unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode()
            out.append(base or "?")
    return "".join(out)


def _encode(data: str, encoding: str) -> bytes:
    try:
        return data.encode(encoding)
    except UnicodeEncodeError as e:
        bad = e.object[e.start:e.end]
        raise UnicodeEncodeError(e.encoding, e.object, e.start, e.end,
                                 f"{bad!r} cannot be written in {encoding} (the ERP's code "
                                 "page): the value is left as it is rather than changed") from None


def fixed(rows: Sequence[dict[str, Any]], fields: dict[str, FixedField], encoding: str,
          newline: str = "\r\n") -> bytes:
    """Fixed-width records in the layout ``fields``."""
    return _encode("".join(encode_record(r, fields) + newline for r in rows), encoding)


def delimited(rows: Sequence[dict[str, Any]], columns: Sequence[str], delimiter: str,
              encoding: str, header: bool = True) -> bytes:
    """A header and one line per row; cells a spreadsheet would run are guarded."""
    cols = [guard_formulas(pa.array(["" if r.get(c) is None else str(r[c]) for r in rows],
                                    pa.string())) for c in columns]
    data = (header_line(list(columns), delimiter) if header else b"") + (
        csv_lines(cols, delimiter) if rows else b"")
    return data if encoding.lower().replace("_", "-") in UTF8 else \
        _encode(data.decode("utf-8"), encoding)
