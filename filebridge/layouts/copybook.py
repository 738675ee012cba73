"""COBOL copybook -> fixed-width layout of a binary IBM i record.

The third-party copybook parsers mis-size COMP-3 or drop REDEFINES (as400.md §4), so
this is a small compiler of our own: ``copybook_parse`` turns the source into
entries, this module computes positions. Understood:

- levels 01-49 and 77 (01 and 77 start at position 1: several 01 records overlay
  each other, as in an FD); 88 condition names are ignored; 66 RENAMES is refused;
  a copybook may start at any level;
- PIC X/A (text), 9/S9 with V (implied decimals) or an explicit point (a real byte:
  the value is read as text), repeated symbols (``XXX``, ``999V99``, ``X(10)``);
- USAGE DISPLAY (zoned; unsigned ``9`` has sign ``none``), COMP-3/PACKED-DECIMAL
  (``digits // 2 + 1`` bytes), COMP/COMP-4/COMP-5/BINARY (2, 4 or 8 bytes by digits;
  sign ``none`` = unsigned); a group's USAGE and SIGN apply to its items; COMP-1 and
  COMP-2 floats are refused;
- SIGN LEADING/TRAILING [SEPARATE] (separate adds a byte);
- fixed OCCURS, flattened as ``NAME_1..NAME_n`` (nested: ``NAME_1_2``, outer index
  first); OCCURS DEPENDING ON is refused (records would vary in length);
- REDEFINES: same position as the redefined item, both views emitted (they overlap);
  only an 01 record may be longer than what it redefines;
- FILLER and unnamed items take their bytes but are not fields; VALUE is ignored.

Names are kept as written (``PREZZO-VENDITA``: what the ERP documentation shows, and
a profile template accepts ``{PREZZO-VENDITA}``); ``names="underscore"`` gives
``PREZZO_VENDITA``. COBOL lets two groups hold items of the same name; those are
qualified with their group (``DATA-INS-AA``, ``DATA-MOD-AA``). Group items are
structure, not fields: a profile override with start and length reads one whole.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from filebridge.layouts.copybook_parse import Item, parse_entry, statements, tokenize
from filebridge.layouts.sources import Layout, LayoutError, Names, make_field


@dataclass
class Picture:
    kind: str  # text, numeric (9, S, V), edited (explicit point, Z, sign characters)
    length: int = 0  # bytes when DISPLAY
    digits: int = 0
    scale: int = 0
    signed: bool = False
    implied: bool = False


_REPEAT = re.compile(r"(.)\((\d+)\)")


def parse_picture(pic: str, line: int) -> Picture:
    s = _REPEAT.sub(lambda m: m.group(1) * int(m.group(2)), pic.upper())
    chars = set(s)
    if not s or "(" in s or ")" in s:
        raise LayoutError(f"PIC {pic}: cannot read this picture string", line)
    if chars & {"N", "G"}:
        raise LayoutError(f"PIC {pic}: national/DBCS pictures (N, G) are not supported", line)
    if chars <= set("XA9B0/") and chars & {"X", "A"}:
        return Picture("text", length=len(s))
    if chars <= set("S9VP"):
        if "P" in chars:
            raise LayoutError(f"PIC {pic}: scaling positions (P) are not supported", line)
        if s.count("S") > 1 or s.find("S") > 0 or s.count("V") > 1 or "9" not in chars:
            raise LayoutError(f"PIC {pic}: S must come first and V at most once", line)
        digits = s.count("9")
        return Picture("numeric", length=digits, digits=digits,
                       scale=len(s.partition("V")[2]), signed=s.startswith("S"))
    unknown = chars - set("9Z*.,+-B0/CRDV$")
    if unknown:
        raise LayoutError(f"PIC {pic}: the symbol {sorted(unknown)[0]} is not supported", line)
    if "." in s and "V" in s:
        raise LayoutError(f"PIC {pic}: both V and a decimal point", line)
    point = "." if "." in s else "V"
    scale = sum(s.partition(point)[2].count(c) for c in "9Z*")
    return Picture("edited", length=len(s) - s.count("V"), scale=scale,
                   implied=point == "V" and scale > 0)


def elementary(it: Item, usage: str | None, group_sign: str | None) -> dict[str, Any]:
    """The FixedField settings of one elementary item (without its start)."""
    pic = parse_picture(it.pic or "", it.line)
    usage = usage or "display"
    if pic.kind != "numeric":
        if usage != "display":
            raise LayoutError(f"{it.label}: PIC {it.pic} cannot be {usage.upper()}: only "
                              "numeric pictures (9, S9, V) can", it.line)
        if it.sign:
            raise LayoutError(f"{it.label}: SIGN applies to numeric items with S", it.line)
        if pic.kind == "text":
            return {"length": pic.length, "type": "text"}
        return {"length": pic.length, "type": "decimal" if pic.scale else "integer",
                "scale": pic.scale, "implied": pic.implied, "storage": "text"}
    if it.sign and not pic.signed:
        raise LayoutError(f"{it.label}: SIGN needs a signed picture (S9...)", it.line)
    if it.sign and usage != "display":
        raise LayoutError(f"{it.label}: SIGN applies to DISPLAY items, not {usage.upper()}",
                          it.line)
    sign = "trailing" if pic.signed else "none"
    if usage == "display":
        if pic.signed:
            sign = it.sign or group_sign or "trailing"
        length, storage = pic.digits + sign.endswith("_separate"), "zoned"
    elif usage == "packed":
        length, storage = pic.digits // 2 + 1, "packed"
    else:
        if pic.digits > 18:
            raise LayoutError(f"{it.label}: binary items hold at most 18 digits", it.line)
        length, storage = (2 if pic.digits <= 4 else 4 if pic.digits <= 9 else 8), "binary"
    return {"length": length, "type": "decimal" if pic.scale else "integer",
            "scale": pic.scale, "implied": bool(pic.scale), "storage": storage, "sign": sign}


def build_tree(entries: list[Item]) -> list[Item]:
    """Nest entries by level number; returns the top-level items."""
    roots: list[Item] = []
    stack: list[Item] = []
    for it in entries:
        while stack and stack[-1].level >= it.level:
            stack.pop()
        if it.level in (1, 77):
            stack.clear()
        if stack:
            if stack[-1].pic:
                raise LayoutError(f"{it.label} follows {stack[-1].label} at a deeper level, "
                                  f"but {stack[-1].label} has a PICTURE (an elementary item "
                                  "has no subordinate items)", it.line)
            stack[-1].children.append(it)
        else:
            roots.append(it)
        stack.append(it)
    return roots


def measure(items: list[Item], usage: str | None, sign: str | None, top: bool) -> int:
    """Set each item's size and offset among its siblings; returns the bytes they take."""
    cursor = end = 0
    earlier: list[Item] = []
    for it in items:
        own_usage, own_sign = it.usage or usage, it.sign or sign
        if it.children:
            it.size = measure(it.children, own_usage, own_sign, top=False)
        elif it.pic is None:
            raise LayoutError(f"{it.label} has no PICTURE and no subordinate items", it.line)
        else:
            it.spec = elementary(it, own_usage, sign)
            it.size = it.spec["length"]
        total = it.size * (it.occurs or 1)
        if it.redefines:
            target = next((e for e in reversed(earlier) if e.name
                           and e.name.upper() == it.redefines.upper()), None)
            if target is None:
                raise LayoutError(f"{it.label} REDEFINES {it.redefines}, which is not an "
                                  "earlier item at the same level", it.line)
            room = target.size * (target.occurs or 1)
            if total > room and it.level != 1:
                raise LayoutError(f"{it.label} takes {total} bytes but REDEFINES "
                                  f"{target.label}, which takes {room}", it.line)
            it.offset = target.offset
        elif top and it.level in (1, 77):
            it.offset, cursor = 0, total
        else:
            it.offset, cursor = cursor, cursor + total
        end = max(end, it.offset + total)
        earlier.append(it)
    return end


@dataclass
class Leaf:
    item: Item
    start: int  # 1-based
    suffix: str  # occurrence indexes, "_1_2"
    groups: list[str]  # enclosing named groups, outermost first


def flatten(it: Item, base: int, suffix: str, groups: list[str], out: list[Leaf]) -> None:
    for i in range(it.occurs or 1):
        at = base + it.offset + i * it.size
        sfx = suffix + (f"_{i + 1}" if it.occurs else "")
        if it.children:
            inner = groups + ([it.name] if it.name else [])
            for child in it.children:
                flatten(child, at, sfx, inner, out)
        elif it.name:
            out.append(Leaf(it, at + 1, sfx, groups))


def unique_names(leaves: list[Leaf], names: Names) -> list[str]:
    """Leaf names, qualified by as many enclosing groups as it takes to tell apart
    items COBOL distinguishes with ``OF``."""
    depth = [0] * len(leaves)

    def name(i: int) -> str:
        leaf = leaves[i]
        parts = leaf.groups[len(leaf.groups) - depth[i]:] if depth[i] else []
        text = "-".join([*parts, leaf.item.name or ""]) + leaf.suffix
        return text.replace("-", "_") if names == "underscore" else text

    while True:
        seen: dict[str, list[int]] = defaultdict(list)
        for i in range(len(leaves)):
            seen[name(i).upper()].append(i)
        clashes = [ix for ix in seen.values() if len(ix) > 1]
        if not clashes:
            return [name(i) for i in range(len(leaves))]
        for ix in clashes:
            can = [i for i in ix if depth[i] < len(leaves[i].groups)]
            if not can:
                first, last = leaves[ix[0]].item, leaves[ix[-1]].item
                raise LayoutError(f"{name(ix[-1])} is defined twice (lines {first.line} and "
                                  f"{last.line}) and no group tells them apart", last.line)
            for i in can:
                depth[i] += 1


def compile_copybook(text: str, *, names: Names = "as_written") -> Layout:
    """The fields of the record a copybook describes, in order, and its length."""
    entries = [e for s in statements(tokenize(text)) if (e := parse_entry(s))]
    if not entries:
        raise LayoutError("no data description entries (level number, name, PIC) found")
    roots = build_tree(entries)
    record_length = measure(roots, None, None, top=True)
    leaves: list[Leaf] = []
    for root in roots:
        flatten(root, 0, "", [], leaves)
    if not leaves:
        raise LayoutError("the copybook has no named elementary items", entries[0].line)
    fields = {n: make_field(leaf.item.line, start=leaf.start, **leaf.item.spec)
              for n, leaf in zip(unique_names(leaves, names), leaves)}
    return Layout(fields, record_length, name=roots[0].name, kind="copybook")
