"""Copybook source text -> data description entries (the parsing half of copybook.py).

Fixed-format source (sequence area in columns 1-6, ``*`` or ``/`` in column 7 for
comments, code up to column 72) and free-format source are both read; which one is
detected from the text. Entries end with a period and may span lines; each token
keeps its line so every error can name it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from filebridge.layouts.sources import LayoutError

_TOKEN = re.compile(r"""'(?:[^']|'')*'?|"(?:[^"]|"")*"?|[^\s'"]+""")
_DIRECTIVES = {"EJECT", "SKIP1", "SKIP2", "SKIP3"}


@dataclass
class Token:
    text: str
    line: int
    literal: bool = False

    @property
    def word(self) -> str:
        return "" if self.literal else self.text.upper()


def _is_fixed(lines: list[str]) -> bool:
    """Fixed format if there are sequence numbers (six digits), or if every line leaves
    columns 1-6 blank, has an indicator (blank * / -) in column 7 and no word across
    column 72. A card has 80 columns, so a longer line means free format."""
    content = [ln for ln in lines if ln.strip()]
    if any(len(ln) > 80 for ln in content):
        return False
    if any(re.match(r"\d{6}", ln) for ln in content):
        return True
    return bool(content) and all(len(ln) > 6 and not ln[:6].strip() and ln[6] in " *-/"
                                 and not _crosses_72(ln) for ln in content)


def _crosses_72(line: str) -> bool:
    return len(line) > 72 and line[71] != " " and line[72] != " "


def tokenize(text: str) -> list[Token]:
    lines = text.expandtabs(8).splitlines()
    fixed = _is_fixed(lines)
    tokens: list[Token] = []
    for n, line in enumerate(lines, 1):
        if fixed:
            indicator = line[6:7]
            if indicator in ("*", "/", "D", "d"):  # comment, page eject, debugging line
                continue
            if indicator not in ("", " ", "-") and line[7:].strip():
                raise LayoutError(f"column 7 holds {indicator!r}: in a fixed-format copybook "
                                  "it must be blank, * or / (columns 1-6 are the sequence "
                                  "area)", n)
            if _crosses_72(line):
                raise LayoutError("a word crosses column 72: fixed-format code ends there "
                                  "(columns 73-80 are ignored)", n)
            code = line[7:72]
        else:
            code = line
            if code.lstrip().startswith("*") and not code.lstrip().startswith("*>"):
                continue
        first = code.split(maxsplit=1)[:1]
        if first and (first[0].upper() in _DIRECTIVES or first[0].startswith(">>")):
            continue
        for m in _TOKEN.finditer(code):
            w = m.group()
            if w[0] in "'\"":
                tokens.append(Token(w, n, literal=True))
                continue
            comment = w.find("*>")
            if comment >= 0:
                w = w[:comment]
            # A period, comma or semicolon before a space is a separator, not part of
            # the word: "X(10)." ends the entry, while "9(5).99" is one picture.
            body = w.rstrip(".,;")
            if body:
                tokens.append(Token(body, n))
            if "." in w[len(body):]:
                tokens.append(Token(".", n))
            if comment >= 0:
                break
    return tokens


def statements(tokens: list[Token]) -> list[list[Token]]:
    out: list[list[Token]] = []
    current: list[Token] = []
    for t in tokens:
        if t.word == ".":
            if current:
                out.append(current)
            current = []
        else:
            current.append(t)
    if current:
        words = " ".join(t.text for t in current[:2])
        raise LayoutError(f"the entry {words!r} does not end with a period", current[0].line)
    return out


@dataclass
class Item:
    level: int
    name: str | None  # None: FILLER or unnamed
    line: int
    pic: str | None = None
    usage: str | None = None  # display, packed, binary
    sign: str | None = None  # leading, trailing, leading_separate, trailing_separate
    occurs: int | None = None
    redefines: str | None = None
    children: list[Item] = field(default_factory=list)
    offset: int = 0  # bytes from the parent's start
    size: int = 0  # bytes of one occurrence
    spec: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return self.name or "FILLER"


USAGES = {"DISPLAY": "display", "COMP-3": "packed", "COMPUTATIONAL-3": "packed",
          "PACKED-DECIMAL": "packed", "COMP": "binary", "COMPUTATIONAL": "binary",
          "COMP-4": "binary", "COMPUTATIONAL-4": "binary", "COMP-5": "binary",
          "COMPUTATIONAL-5": "binary", "BINARY": "binary"}
REFUSED_USAGES = {"COMP-1", "COMPUTATIONAL-1", "COMP-2", "COMPUTATIONAL-2", "INDEX",
                  "POINTER", "PROCEDURE-POINTER", "FUNCTION-POINTER", "NATIONAL",
                  "DISPLAY-1", "OBJECT"}
CLAUSES = {"PIC", "PICTURE", "USAGE", "SIGN", "LEADING", "TRAILING", "OCCURS", "REDEFINES",
           "VALUE", "VALUES", "JUST", "JUSTIFIED", "BLANK", "SYNC", "SYNCHRONIZED", "GLOBAL",
           "EXTERNAL", "RENAMES", "ASCENDING", "DESCENDING", "INDEXED", "DEPENDING",
           *USAGES, *REFUSED_USAGES}


def parse_entry(stmt: list[Token]) -> Item | None:
    """One data description entry; None for what carries no layout (88, FD, headers)."""
    head = stmt[0]
    if not head.word.isdigit():
        if head.word in ("FD", "SD") or (len(stmt) > 1 and stmt[1].word in ("SECTION", "DIVISION")):
            return None
        if head.word == "COPY":
            raise LayoutError("COPY is not expanded: paste the copied member in its place",
                              head.line)
        raise LayoutError(f"expected a level number (01-49, 77, 88), found {head.text!r}",
                          head.line)
    level = int(head.word)
    if level == 88:
        return None
    if level == 66:
        raise LayoutError("level 66 RENAMES is not supported: describe that range with a "
                          "REDEFINES, or add it as a field in the profile", head.line)
    if not (1 <= level <= 49 or level == 77):
        raise LayoutError(f"{head.text} is not a level number (01-49, 77, 88)", head.line)
    words = stmt[1:]
    item = Item(level, None, head.line)
    if words and not words[0].literal and words[0].word not in CLAUSES:
        item.name = None if words[0].word == "FILLER" else words[0].text
        words = words[1:]
    k = 0

    def peek() -> str:
        return words[k].word if k < len(words) else ""

    def take(what: str) -> Token:
        nonlocal k
        if k >= len(words) or words[k].word in CLAUSES:
            where = words[k - 1] if k else head
            raise LayoutError(f"{item.label}: {what} is missing", where.line)
        k += 1
        return words[k - 1]

    while k < len(words):
        t, w = words[k], words[k].word
        k += 1
        if w in ("PIC", "PICTURE"):
            k += peek() == "IS"
            item.pic = take("the picture string after PIC").text.upper()
        elif w == "USAGE" or w in USAGES or w in REFUSED_USAGES:
            if w == "USAGE":
                k += peek() == "IS"
                w = peek()
                k += 1
            if w in REFUSED_USAGES:
                kind = "floating point" if w[-2:] in ("-1", "-2") else w
                raise LayoutError(f"{item.label}: USAGE {w} ({kind}) is not supported; only "
                                  "DISPLAY, COMP-3 and binary items are", t.line)
            if w not in USAGES:
                raise LayoutError(f"{item.label}: unknown USAGE {w or '(missing)'}", t.line)
            item.usage = USAGES[w]
        elif w in ("SIGN", "LEADING", "TRAILING"):
            if w == "SIGN":
                k += peek() == "IS"
                w = peek()
                if w not in ("LEADING", "TRAILING"):
                    raise LayoutError(f"{item.label}: SIGN must be LEADING or TRAILING", t.line)
                k += 1
            separate = peek() == "SEPARATE"
            k += separate
            k += separate and peek() == "CHARACTER"
            item.sign = w.lower() + ("_separate" if separate else "")
        elif w == "OCCURS":
            count = take("the number of times after OCCURS")
            k += peek() == "TIMES"
            if peek() in ("TO", "DEPENDING") or not count.word.isdigit():
                raise LayoutError(f"{item.label}: only OCCURS n TIMES is supported; OCCURS "
                                  "DEPENDING ON makes records of varying length", t.line)
            item.occurs = int(count.word)
            if item.occurs < 1:
                raise LayoutError(f"{item.label}: OCCURS needs at least 1", t.line)
        elif w == "REDEFINES":
            item.redefines = take("the name after REDEFINES").text
        elif w in ("ASCENDING", "DESCENDING", "INDEXED", "VALUE", "VALUES"):
            # Key and index names, values: nothing to do with where bytes are.
            while k < len(words) and (words[k].literal or peek() not in CLAUSES):
                k += 1
        elif w in ("JUST", "JUSTIFIED", "BLANK", "GLOBAL", "EXTERNAL"):
            while peek() in ("RIGHT", "WHEN", "ZERO", "ZEROS", "ZEROES"):
                k += 1
        elif w in ("SYNC", "SYNCHRONIZED"):
            raise LayoutError(f"{item.label}: SYNCHRONIZED may insert slack bytes, which are "
                              "not computed; remove it if the file has none", t.line)
        elif w == "DEPENDING":
            raise LayoutError(f"{item.label}: OCCURS DEPENDING ON is not supported",
                              t.line)
        else:
            hint = " (is the period missing at the end of the entry before?)" \
                if w.isdigit() else ""
            raise LayoutError(f"{item.label}: unexpected {t.text!r}{hint}", t.line)
    return item
