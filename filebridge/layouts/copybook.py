"""COBOL copybook -> fixed-width layout of a binary IBM i record.

The third-party copybook parsers mis-size COMP-3 or drop REDEFINES (as400.md §4), so
this is a small compiler of our own: ``copybook_parse`` turns the source into
entries, this module computes positions. Understood:

- levels 01-49 and 77 (01 and 77 start at position 1: several 01 records overlay
  each other, as in an FD); 88 condition names are ignored; 66 RENAMES is refused;
  a copybook may start at any level;
- PIC X/A (text), 9/S9 with V (implied decimals) or, in DISPLAY items, an explicit
  point (``S9(5).99``: a byte of its own, zoned digits around it), repeated symbols
  (``XXX``, ``999V99``, ``X(10)``), P scaling positions (``PPP9(3)``: 0.000ddd;
  ``9(3)PPP``: ddd000), edited pictures (Z, *, +, -, CR, DB, B, 0, /, $, point or V:
  read as printed text, ``storage: edited``);
- USAGE DISPLAY (zoned; unsigned ``9`` has sign ``none``), COMP-3/PACKED-DECIMAL
  (``digits // 2 + 1`` bytes), COMP-4/COMP-5/BINARY/COMP-0 (2, 4 or 8 bytes by digits
  as IBM sizes them; 19 to 38 digits take the bytes a signed number needs, 9 to 16,
  as cobrix and Micro Focus size them); COMP alone is binary (z/OS) or packed (ILE
  COBOL on IBM i, where "COMP and COMP-3 are synonymous with PACKED-DECIMAL"):
  ``comp=``; COMP-1/COMP-2 floating point (4 and 8 bytes, no PICTURE), decoded by the
  reader's ``float_format``; a group's USAGE and SIGN apply to its items;
- SIGN LEADING/TRAILING [SEPARATE] (separate adds a byte); as cobrix reads it, a SIGN
  clause makes an unsigned picture signed (IBM would require the S);
- fixed OCCURS, flattened as ``NAME_1..NAME_n`` (nested: ``NAME_1_2``, outer index
  first); OCCURS DEPENDING ON is refused (records would vary in length);
- REDEFINES: same position as the redefined item, both views emitted (they overlap);
  only an 01 record may be longer than what it redefines;
- FILLER and unnamed items take their bytes but are not fields; VALUE is ignored.

Every problem is collected with its line and column and reported in one LayoutError.

Names are kept as written (``PREZZO-VENDITA``: what the ERP documentation shows, and
a profile template accepts ``{PREZZO-VENDITA}``); ``names="underscore"`` gives
``PREZZO_VENDITA``. COBOL lets two groups hold items of the same name; those are
qualified with their group (``DATA-INS-AA``, ``DATA-MOD-AA``). Group items are
structure, not fields: a profile override with start and length reads one whole.

Sources: IBM Enterprise COBOL for z/OS 6.5, "Computational items" (binary sizes,
18-digit limit, COMP-1/COMP-2 have no PICTURE); IBM i 7.4 ILE COBOL, "Computational
Data Representation (USAGE Clause)"; cobrix (AbsaOSS/cobrix, 898330b8)
``BinaryUtils.getBytesCount`` and ``ParserVisitor`` (SIGN clauses).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Literal

from filebridge.layouts.copybook_parse import (
    FLOAT_BYTES,
    USAGES,
    Item,
    Problems,
    parse_entry,
    statements,
    tokenize,
)
from filebridge.layouts.layout import Layout, LayoutError, Names, make_field


@dataclass
class Picture:
    kind: str  # text, numeric (9, S, V, P, and . with S), edited (Z, +, -, CR, point …)
    length: int = 0  # bytes when DISPLAY
    digits: int = 0
    scale: int = 0  # decimal places of the value; negative for trailing P (ddd000)
    signed: bool = False
    implied: bool = False
    point: bool = False  # numeric with an explicit point: S9(5).99


_REPEAT = re.compile(r"(.)\((\d+)\)")
Comp = Literal["binary", "packed"]
MAX_DIGITS = 38  # decimal128


def parse_picture(pic: str, line: int, column: int | None = None) -> Picture:
    s = _REPEAT.sub(lambda m: m.group(1) * int(m.group(2)), pic.upper())
    chars = set(s)

    def bad(reason: str) -> LayoutError:
        return LayoutError(f"PIC {pic}: {reason}", line, column=column)

    if not s or "(" in s or ")" in s:
        raise bad("cannot read this picture string")
    if chars & {"N", "G"}:
        raise bad("national/DBCS pictures (N, G) are not supported")
    if chars <= set("XA9B0/") and chars & {"X", "A"}:
        return Picture("text", length=len(s))
    signed = s.startswith("S")
    body = s[1:] if signed else s
    if chars <= set("S9VP.") and (signed or "." not in chars):
        if "S" in body or body.count("V") + body.count(".") > 1:
            raise bad("S must come first, and V or a point at most once")
        if "9" not in body:
            raise bad("no digit positions (9)")
        digits = body.count("9")
        if "." in body:
            if "P" in body:
                raise bad("P scaling positions and a decimal point cannot go together")
            return Picture("numeric", length=digits + 1, digits=digits, signed=True,
                           scale=len(body.partition(".")[2]), point=True)
        if "P" in body:
            if m := re.fullmatch(r"V?(P+)(9+)", body):  # .PPPddd: the point is left of P
                scale = len(m.group(1)) + len(m.group(2))
            elif m := re.fullmatch(r"(9+)(P+)V?", body):  # dddPPP.: zeros stand for P
                scale = -len(m.group(2))
            else:
                raise bad("P (scaling positions) must stand at the left or right end of "
                          "the digits, as in PPP999 or 999PPP")
        else:
            scale = len(body.partition("V")[2])
        return Picture("numeric", length=digits, digits=digits, scale=scale, signed=signed)
    unknown = chars - set("9Z*.,+-B0/CRDV$")
    if unknown:
        raise bad(f"the symbol {min(unknown)} is not supported")
    if "." in s and "V" in s:
        raise bad("both V and a decimal point")
    point = "." if "." in s else "V"
    scale = sum(s.partition(point)[2].count(c) for c in "9Z*")
    return Picture("edited", length=len(s) - s.count("V"), scale=scale,
                   implied=point == "V" and scale > 0)


def binary_bytes(digits: int) -> int:
    """Bytes of a binary item: IBM's 2/4/8 up to 18 digits; beyond, the fewest bytes
    that hold a signed number of that many digits (2**(8b-1) >= 10**digits), which is
    cobrix's ceil((digits*log2(10)+1)/8) computed exactly."""
    if digits <= 4:
        return 2
    if digits <= 9:
        return 4
    if digits <= 18:
        return 8
    return next(b for b in range(9, 17) if 2 ** (8 * b - 1) >= 10 ** digits)


FLOAT_SCALE = 9  # decimals kept from a COMP-1/COMP-2 by default (a profile may change it)


def elementary(it: Item, usage: str | None, group_sign: str | None,
               comp: Comp) -> dict[str, Any]:
    """The FixedField settings of one elementary item (without its start)."""
    kind = USAGES.get(usage or "DISPLAY", "display")
    if kind == "comp":
        kind = comp
    if kind == "float":
        if it.pic:
            raise LayoutError(f"{it.label}: a {usage} item has no PICTURE (IBM: internal "
                              "floating-point items cannot have PICTURE strings)", it.line,
                              column=it.pic_column)
        if it.sign:
            raise LayoutError(f"{it.label}: SIGN applies to DISPLAY items, not {usage}",
                              it.line, column=it.column)
        return {"length": FLOAT_BYTES[usage or ""], "type": "decimal",
                "scale": FLOAT_SCALE, "storage": "float"}
    try:
        pic = parse_picture(it.pic or "", it.line, it.pic_column)
    except LayoutError as e:
        raise LayoutError(f"{it.label}: {e.reason}", e.line, column=e.column) from None
    if pic.kind != "numeric":
        if kind != "display":
            raise LayoutError(f"{it.label}: PIC {it.pic} cannot be {usage}: only numeric "
                              "pictures (9, S9, V, P) can", it.line, column=it.pic_column)
        if it.sign:
            raise LayoutError(f"{it.label}: SIGN applies to numeric items (9, S9)", it.line,
                              column=it.column)
        if pic.kind == "text":
            return {"length": pic.length, "type": "text"}
        return {"length": pic.length, "type": "decimal" if pic.scale else "integer",
                "scale": pic.scale, "implied": pic.implied, "storage": "edited"}
    if pic.digits > MAX_DIGITS:
        raise LayoutError(f"{it.label}: PIC {it.pic} has {pic.digits} digits; at most "
                          f"{MAX_DIGITS} are read exactly", it.line, column=it.pic_column)
    if it.sign and kind != "display":
        raise LayoutError(f"{it.label}: SIGN applies to DISPLAY items, not {usage}",
                          it.line, column=it.column)
    if pic.point and kind != "display":
        raise LayoutError(f"{it.label}: PIC {it.pic}: a decimal point is a printed byte, "
                          f"only in DISPLAY items, not {usage}", it.line, column=it.pic_column)
    # A SIGN clause of the item itself makes it signed (as cobrix reads PIC 99V99 SIGN
    # LEADING SEPARATE); a group's SIGN only applies to the signed items in it.
    signed = pic.signed or bool(it.sign)
    sign = "trailing" if signed else "none"
    if kind == "display":
        if signed:
            sign = it.sign or (group_sign if pic.signed else None) or "trailing"
        length, storage = pic.length + sign.endswith("_separate"), "zoned"
    elif kind == "packed":
        length, storage = pic.digits // 2 + 1, "packed"
    else:
        length, storage = binary_bytes(pic.digits), "binary"
    spec = {"length": length, "type": "decimal" if pic.scale > 0 else "integer",
            "scale": pic.scale, "implied": pic.scale > 0 and not pic.point,
            "storage": storage, "sign": sign}
    if pic.point:
        spec["point"] = True
    return spec


def build_tree(entries: list[Item], problems: Problems) -> list[Item]:
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
                problems.add(f"{it.label} follows {stack[-1].label} at a deeper level, but "
                             f"{stack[-1].label} has a PICTURE (an elementary item has no "
                             "subordinate items)", it.line, it.column)
                continue
            stack[-1].children.append(it)
        else:
            roots.append(it)
        stack.append(it)
    return roots


def measure(items: list[Item], usage: str | None, sign: str | None, top: bool,
            comp: Comp, problems: Problems) -> int:
    """Set each item's size and offset among its siblings; returns the bytes they take."""
    cursor = end = 0
    earlier: list[Item] = []
    for it in items:
        own_usage, own_sign = it.usage or usage, it.sign or sign
        if it.children:
            it.size = measure(it.children, own_usage, own_sign, False, comp, problems)
            it.broken = it.broken or any(c.broken for c in it.children)
        elif it.pic is None and own_usage not in FLOAT_BYTES:
            if not it.broken:
                problems.add(f"{it.label} has no PICTURE and no subordinate items",
                             it.line, it.column)
            it.broken = True
        elif not it.broken:
            try:
                it.spec = elementary(it, own_usage, sign, comp)
                it.size = it.spec["length"]
            except LayoutError as e:
                problems.append(e)
                it.broken = True
        total = it.size * (it.occurs or 1)
        if it.redefines:
            target = next((e for e in reversed(earlier) if e.name
                           and e.name.upper() == it.redefines.upper()), None)
            if target is None:
                problems.add(f"{it.label} REDEFINES {it.redefines}, which is not an earlier "
                             "item at the same level", it.line, it.column)
            else:
                room = target.size * (target.occurs or 1)
                if total > room and it.level != 1 and not (it.broken or target.broken):
                    problems.add(f"{it.label} takes {total} bytes but REDEFINES "
                                 f"{target.label}, which takes {room}", it.line, it.column)
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


def unique_names(leaves: list[Leaf], names: Names, problems: Problems) -> list[str]:
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
                problems.add(f"{name(ix[-1])} is defined twice (lines {first.line} and "
                             f"{last.line}) and no group tells them apart", last.line,
                             last.column)
                return [name(i) for i in range(len(leaves))]
            for i in can:
                depth[i] += 1


def compile_copybook(text: str, *, names: Names = "as_written",
                     comp: Comp = "binary") -> Layout:
    """The fields of the record a copybook describes, in order, and its length.

    ``comp``: what USAGE COMP (COMPUTATIONAL) means: ``binary`` as in Enterprise COBOL
    (z/OS) and most compilers, or ``packed`` as in ILE COBOL on IBM i. Every problem
    found is reported at once, in one LayoutError, each with its line and column."""
    problems = Problems()
    entries: list[Item] = []
    for stmt in statements(tokenize(text, problems), problems):
        before = len(problems)
        entry = parse_entry(stmt, problems)
        if entry is not None:
            entries.append(entry)
        elif len(problems) > before and entries and entries[-1].pic is None:
            # An unreadable entry (COPY, a bad level) may have been the previous
            # group's content: do not also report that group as empty.
            entries[-1].broken = True
    if not entries:
        problems.raise_all()
        raise LayoutError("no data description entries (level number, name, PIC) found")
    roots = build_tree(entries, problems)
    record_length = measure(roots, None, None, True, comp, problems)
    leaves: list[Leaf] = []
    for root in roots:
        flatten(root, 0, "", [], leaves)
    if not leaves and not problems:
        problems.add("the copybook has no named elementary items", entries[0].line)
    field_names = unique_names(leaves, names, problems)
    problems.raise_all()
    fields = {}
    for n, leaf in zip(field_names, leaves, strict=True):
        try:
            fields[n] = make_field(leaf.item.line, start=leaf.start, **leaf.item.spec)
        except LayoutError as e:
            problems.append(e)
    problems.raise_all()
    return Layout(fields, record_length, name=roots[0].name, kind="copybook")
