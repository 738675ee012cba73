"""Copybook source text -> data description entries (the parsing half of copybook.py).

Fixed-format source (sequence area in columns 1-6, ``*`` or ``/`` in column 7 for
comments, code up to column 72) and free-format source are both read; which one is
detected from the text. Entries end with a period and may span lines; each token
keeps its line and column so every error can name them. Problems are collected, not
raised one at a time: the caller reports them all at once (``Problems``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from filebridge.layouts.layout import LayoutError

_TOKEN = re.compile(r"""'(?:[^']|'')*'?|"(?:[^"]|"")*"?|[^\s'"]+""")
_DIRECTIVES = {"EJECT", "SKIP1", "SKIP2", "SKIP3"}


class Problems(list[LayoutError]):
    """Every problem found so far; ``raise_all`` raises one error listing them."""

    def add(self, reason: str, line: int | None = None, column: int | None = None) -> None:
        self.append(LayoutError(reason, line, column=column))

    def raise_all(self) -> None:
        if self:
            raise LayoutError.several(list(self))


@dataclass
class Token:
    text: str
    line: int
    literal: bool = False
    column: int | None = None

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


def tokenize(text: str, problems: Problems) -> list[Token]:
    lines = text.expandtabs(8).splitlines()
    fixed = _is_fixed(lines)
    tokens: list[Token] = []
    for n, line in enumerate(lines, 1):
        offset = 0  # columns before the code area
        if fixed:
            indicator = line[6:7]
            if indicator in ("*", "/", "D", "d"):  # comment, page eject, debugging line
                continue
            if indicator not in ("", " ", "-") and line[7:].strip():
                problems.add(f"column 7 holds {indicator!r}: in a fixed-format copybook "
                             "it must be blank, * or / (columns 1-6 are the sequence "
                             "area)", n, 7)
                continue
            if _crosses_72(line):
                problems.add("a word crosses column 72: fixed-format code ends there "
                             "(columns 73-80 are ignored)", n, 72)
            code, offset = line[7:72], 7
        else:
            code = line
            if code.lstrip().startswith("*") and not code.lstrip().startswith("*>"):
                continue
        first = code.split(maxsplit=1)[:1]
        if first and (first[0].upper() in _DIRECTIVES or first[0].startswith(">>")):
            continue
        for m in _TOKEN.finditer(code):
            w, col = m.group(), offset + m.start() + 1
            if w[0] in "'\"":
                tokens.append(Token(w, n, literal=True, column=col))
                continue
            comment = w.find("*>")
            if comment >= 0:
                w = w[:comment]
            # A period, comma or semicolon before a space is a separator, not part of
            # the word: "X(10)." ends the entry, while "9(5).99" is one picture.
            body = w.rstrip(".,;")
            if body:
                tokens.append(Token(body, n, column=col))
            if "." in w[len(body):]:
                tokens.append(Token(".", n, column=col + len(body)))
            if comment >= 0:
                break
    return tokens


def statements(tokens: list[Token], problems: Problems) -> list[list[Token]]:
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
        problems.add(f"the entry {words!r} does not end with a period", current[-1].line,
                     current[-1].column)
        out.append(current)
    return out


@dataclass
class Item:
    level: int
    name: str | None  # None: FILLER or unnamed
    line: int
    pic: str | None = None
    pic_column: int | None = None
    usage: str | None = None  # as written, normalised: DISPLAY, COMP-3, COMP-2 …
    sign: str | None = None  # leading, trailing, leading_separate, trailing_separate
    occurs: int | None = None
    redefines: str | None = None
    children: list[Item] = field(default_factory=list)
    offset: int = 0  # bytes from the parent's start
    size: int = 0  # bytes of one occurrence
    spec: dict[str, Any] = field(default_factory=dict)
    broken: bool = False  # a problem was reported: its size is unknown
    column: int | None = None

    @property
    def label(self) -> str:
        return self.name or "FILLER"


# COMP-0 is not an IBM usage (neither Enterprise COBOL nor ILE COBOL lists it); cobrix
# and other compilers read it as binary, so do we. COMP alone is binary on z/OS but
# packed decimal in ILE COBOL: see ``comp`` in copybook.compile_copybook.
USAGES = {"DISPLAY": "display", "COMP-3": "packed", "COMPUTATIONAL-3": "packed",
          "PACKED-DECIMAL": "packed", "COMP": "comp", "COMPUTATIONAL": "comp",
          "COMP-0": "binary", "COMPUTATIONAL-0": "binary",
          "COMP-4": "binary", "COMPUTATIONAL-4": "binary", "COMP-5": "binary",
          "COMPUTATIONAL-5": "binary", "BINARY": "binary",
          "COMP-1": "float", "COMPUTATIONAL-1": "float", "COMP-2": "float",
          "COMPUTATIONAL-2": "float"}
FLOAT_BYTES = {"COMP-1": 4, "COMPUTATIONAL-1": 4, "COMP-2": 8, "COMPUTATIONAL-2": 8}
REFUSED_USAGES = {"INDEX", "POINTER", "PROCEDURE-POINTER", "FUNCTION-POINTER", "NATIONAL",
                  "DISPLAY-1", "OBJECT"}
CLAUSES = {"PIC", "PICTURE", "USAGE", "SIGN", "LEADING", "TRAILING", "OCCURS", "REDEFINES",
           "VALUE", "VALUES", "JUST", "JUSTIFIED", "BLANK", "SYNC", "SYNCHRONIZED", "GLOBAL",
           "EXTERNAL", "RENAMES", "ASCENDING", "DESCENDING", "INDEXED", "DEPENDING",
           *USAGES, *REFUSED_USAGES}


class _Stop(Exception):
    """Ends the reading of one entry after a problem that leaves nothing to read."""


def parse_entry(stmt: list[Token], problems: Problems) -> Item | None:
    """One data description entry; None for what carries no layout (88, FD, headers)
    or cannot be read at all. Problems are added to ``problems``; an entry with one
    is returned ``broken`` so that what follows is still checked."""
    head = stmt[0]
    if not head.word.isdigit():
        if head.word in ("FD", "SD") or (len(stmt) > 1 and stmt[1].word in ("SECTION", "DIVISION")):
            return None
        if head.word == "COPY":
            problems.add("COPY is not expanded: paste the copied member in its place",
                         head.line, head.column)
        else:
            problems.add(f"expected a level number (01-49, 77, 88), found {head.text!r}",
                         head.line, head.column)
        return None
    level = int(head.word)
    if level == 88:
        return None
    if level == 66:
        problems.add("level 66 RENAMES is not supported: describe that range with a "
                     "REDEFINES, or add it as a field in the profile", head.line, head.column)
        return None
    if not (1 <= level <= 49 or level == 77):
        problems.add(f"{head.text} is not a level number (01-49, 77, 88)", head.line,
                     head.column)
        return None
    words = stmt[1:]
    item = Item(level, None, head.line, column=head.column)
    if words and not words[0].literal and words[0].word not in CLAUSES:
        item.name = None if words[0].word == "FILLER" else words[0].text
        words = words[1:]
    k = 0

    def problem(reason: str, at: Token) -> None:
        item.broken = True
        problems.add(f"{item.label}: {reason}", at.line, at.column)

    def peek() -> str:
        return words[k].word if k < len(words) else ""

    def take(what: str) -> Token:
        nonlocal k
        if k >= len(words) or words[k].word in CLAUSES:
            problem(f"{what} is missing", words[k - 1] if k else head)
            raise _Stop
        k += 1
        return words[k - 1]

    try:
        while k < len(words):
            t, w = words[k], words[k].word
            k += 1
            if w in ("PIC", "PICTURE"):
                k += peek() == "IS"
                pic = take("the picture string after PIC")
                item.pic, item.pic_column = pic.text.upper(), pic.column
            elif w == "USAGE" or w in USAGES or w in REFUSED_USAGES:
                if w == "USAGE":
                    k += peek() == "IS"
                    w = peek()
                    k += 1
                if w in REFUSED_USAGES:
                    problem(f"USAGE {w} is not supported; only DISPLAY, COMP-3, binary "
                            "(COMP-4, COMP-5, BINARY) and floating point (COMP-1, COMP-2) "
                            "items are", t)
                elif w not in USAGES:
                    problem(f"unknown USAGE {w or '(missing)'}", t)
                else:
                    item.usage = w
            elif w in ("SIGN", "LEADING", "TRAILING"):
                if w == "SIGN":
                    k += peek() == "IS"
                    w = peek()
                    if w not in ("LEADING", "TRAILING"):
                        problem("SIGN must be LEADING or TRAILING", t)
                        continue
                    k += 1
                separate = peek() == "SEPARATE"
                k += separate
                k += separate and peek() == "CHARACTER"
                item.sign = w.lower() + ("_separate" if separate else "")
            elif w == "OCCURS":
                count = take("the number of times after OCCURS")
                k += peek() == "TIMES"
                if peek() in ("TO", "DEPENDING") or not count.word.isdigit():
                    problem("only OCCURS n TIMES is supported; OCCURS DEPENDING ON makes "
                            "records of varying length", t)
                    while k < len(words) and (words[k].literal or peek() not in CLAUSES
                                              or peek() == "DEPENDING"):
                        k += 1  # skip "TO m TIMES DEPENDING ON name"
                    continue
                item.occurs = int(count.word)
                if item.occurs < 1:
                    problem("OCCURS needs at least 1", count)
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
                problem("SYNCHRONIZED may insert slack bytes, which are not computed; "
                        "remove it if the file has none", t)
                while peek() in ("LEFT", "RIGHT"):
                    k += 1
            elif w == "DEPENDING":
                problem("OCCURS DEPENDING ON is not supported", t)
            else:
                hint = " (is the period missing at the end of the entry before?)" \
                    if w.isdigit() else ""
                problem(f"unexpected {t.text!r}{hint}", t)
                raise _Stop
    except _Stop:
        pass
    return item
