"""Two profiles on one inbox: both would take (and archive) the same files, each file
going to whichever profile looks first. ``check`` and ``watch`` refuse such a pair.

Patterns are fnmatch globs (``*``, ``?``, ``[...]``) as the sources use them; two
overlap when some file name matches both, decided exactly on the globs' tokens."""

from __future__ import annotations

import posixpath
from collections.abc import Sequence
from functools import cache
from itertools import combinations
from pathlib import Path
from typing import Any

Token = str | frozenset[str] | None  # "*", a set of characters, or None for "?" / [!...]


def _tokens(pattern: str) -> tuple[Token, ...]:
    out: list[Token] = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "*":
            if not out or out[-1] != "*":
                out.append("*")
        elif c == "?":
            out.append(None)
        elif c == "[" and (end := pattern.find("]", i + 2)) != -1:
            body = pattern[i + 1:end]
            if body.startswith("!"):
                out.append(None)  # a negated class: taken as any one character
            else:
                chars: set[str] = set()
                j = 0
                while j < len(body):
                    if j + 2 < len(body) and body[j + 1] == "-":
                        chars.update(chr(k) for k in range(ord(body[j]), ord(body[j + 2]) + 1))
                        j += 3
                    else:
                        chars.add(body[j])
                        j += 1
                out.append(frozenset(chars))
            i = end
        else:
            out.append(frozenset(c))
        i += 1
    return tuple(out)


def _one(a: Token, b: Token) -> bool:
    """Whether two one-character tokens can match the same character."""
    if a is None or b is None:
        return True
    return bool(a & b)  # type: ignore[operator]


def globs_overlap(p: str, q: str) -> bool:
    """Whether some name matches both globs."""
    a, b = _tokens(p), _tokens(q)

    @cache
    def meet(i: int, j: int) -> bool:
        if i == len(a) and j == len(b):
            return True
        if i < len(a) and a[i] == "*":
            return meet(i + 1, j) or (j < len(b) and meet(i, j + 1))
        if j < len(b) and b[j] == "*":
            return meet(i, j + 1) or (i < len(a) and meet(i + 1, j))
        if i == len(a) or j == len(b):
            return False
        return _one(a[i], b[j]) and meet(i + 1, j + 1)

    return meet(0, 0)


def _inbox(source: Any) -> tuple[Any, ...] | None:
    """Where a source takes its files from, comparable between profiles."""
    if source.kind == "local":
        return ("local", str(Path(source.path).resolve()))
    if source.kind == "sftp":  # a relative path is relative to the user's login folder
        path = posixpath.normpath(source.path)
        return ("sftp", source.host.lower(), source.port,
                path if path.startswith("/") else f"~{source.user}/{path}")
    return None


def shared_inboxes(profiles: Sequence[Any]) -> list[str]:
    """One message per pair of profiles whose sources take the same files."""
    problems = []
    for x, y in combinations(profiles, 2):
        where = _inbox(x.source)
        if where is None or where != _inbox(y.source):
            continue
        both = [(p, q) for p in x.source.pattern for q in y.source.pattern if globs_overlap(p, q)]
        if both:
            p, q = both[0]
            shown = where[1] if where[0] == "local" else f"sftp://{where[1]}:{where[2]}{where[3]}"
            problems.append(
                f"{x.file}: source: profiles {x.name!r} and {y.name!r} ({y.file}) take files "
                f"from the same inbox {shown} with overlapping patterns {p!r} and {q!r}: each "
                "file would go to whichever looks first; give each its own folder or patterns "
                "that no name matches both")
    return problems
