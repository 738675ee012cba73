"""Size scales: option values in the order a shop should list them (XS before S,
38 before 40, 42½ between 42 and 43), not in the order rows happened to come.

``order: sizes`` recognises letter sizes (XXS … 5XL, with the Italian TU/UNICA
for one size), numeric sizes (clothing 36–60, shoes with halves written 42.5,
42,5 or 42½, children's ages like 4A/6Y), and waist/length pairs (32/34, W32L34);
values it does not recognise keep their first-seen place after the known ones.
A profile can also give its own list.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

LETTERS = ["XXXS", "XXS", "XS", "S", "M", "L", "XL", "XXL", "XXXL", "4XL", "5XL", "6XL"]
_ALIASES = {"2XS": "XXS", "3XS": "XXXS", "2XL": "XXL", "3XL": "XXXL", "XXXXL": "4XL",
            "XXXXXL": "5XL", "SM": "S", "MD": "M", "LG": "L"}
ONE_SIZE = {"TU", "UNICA", "U", "OS", "ONESIZE", "ONE SIZE", "UNI", "TAGLIA UNICA"}

_NUMBER = re.compile(r"^(\d+(?:[.,]\d+)?|\d+½)\s*(?:[AYM]|ANNI|MESI)?$")
_PAIR = re.compile(r"^W?(\d+)\s*[/xX-]?\s*L?(\d+)$")


def _number(text: str) -> float | None:
    m = _NUMBER.match(text)
    if not m:
        return None
    v = m.group(1).replace(",", ".")
    if v.endswith("½"):
        return float(v[:-1]) + 0.5
    return float(v)


def size_rank(value: str) -> tuple[int, float, float] | None:
    """Where a size sits on the known scales (None: not a size we know)."""
    v = " ".join(value.strip().upper().split())
    v = _ALIASES.get(v, v)
    if v in ONE_SIZE:
        return (0, 0, 0)
    if v in LETTERS:
        return (1, LETTERS.index(v), 0)
    n = _number(v)
    if n is not None:
        return (2, n, 0)
    m = _PAIR.match(v)
    if m:
        return (3, float(m.group(1)), float(m.group(2)))
    return None


def ordered(values: Iterable[str], order: str | Sequence[str]) -> list[str]:
    """Distinct values in the order ``order`` says: ``file`` (first seen), ``alpha``,
    ``sizes``, ``numeric``, or an explicit list (unknown values after it, first seen)."""
    seen = list(dict.fromkeys(values))
    if order == "file":
        return seen
    if order == "alpha":
        return sorted(seen, key=lambda s: (s.casefold(), s))
    first = {v: i for i, v in enumerate(seen)}
    if order == "numeric":
        def key(v: str) -> tuple[int, float, int]:
            n = _number(v.strip())
            return (0, n, first[v]) if n is not None else (1, 0.0, first[v])
        return sorted(seen, key=key)
    if order == "sizes":
        def key2(v: str) -> tuple[int, tuple[int, float, float], int]:
            r = size_rank(v)
            return (0, r, first[v]) if r is not None else (1, (0, 0, 0), first[v])
        return sorted(seen, key=key2)
    explicit = {v.strip().casefold(): i for i, v in enumerate(order)}

    def key3(v: str) -> tuple[int, int]:
        i = explicit.get(v.strip().casefold())
        return (0, i) if i is not None else (1, first[v])
    return sorted(seen, key=key3)
