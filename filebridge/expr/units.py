"""Units for ``unit(x, "kg", "g")``: mass, length and volume, by exact factors.

Every factor is exact in decimals (the pound is 0.45359237 kg and the inch
25.4 mm by definition; the US fluid ounce is 29.5735295625 ml). A conversion
whose ratio is a finite decimal (kg -> g, lb -> g, in -> cm) multiplies exactly;
the others (g -> lb) divide, to the division's decimals (see
``filebridge.expr.decimals``).
"""

from __future__ import annotations

from decimal import Decimal

# unit -> (dimension, size in the dimension's base unit: g, mm, ml)
UNITS: dict[str, tuple[str, Decimal]] = {
    "mg": ("mass", Decimal("0.001")), "g": ("mass", Decimal(1)), "kg": ("mass", Decimal(1000)),
    "t": ("mass", Decimal(1000000)), "oz": ("mass", Decimal("28.349523125")),
    "lb": ("mass", Decimal("453.59237")),
    "mm": ("length", Decimal(1)), "cm": ("length", Decimal(10)), "dm": ("length", Decimal(100)),
    "m": ("length", Decimal(1000)), "km": ("length", Decimal(1000000)),
    "in": ("length", Decimal("25.4")), "ft": ("length", Decimal("304.8")),
    "yd": ("length", Decimal("914.4")),
    "ml": ("volume", Decimal(1)), "cl": ("volume", Decimal(10)), "dl": ("volume", Decimal(100)),
    "l": ("volume", Decimal(1000)), "m3": ("volume", Decimal(1000000)),
    "fl_oz": ("volume", Decimal("29.5735295625")), "gal": ("volume", Decimal("3785.411784")),
}


def names() -> str:
    by: dict[str, list[str]] = {}
    for u, (dim, _) in UNITS.items():
        by.setdefault(dim, []).append(u)
    return "; ".join(f"{dim}: {', '.join(us)}" for dim, us in by.items())


def check(src: str, dst: str) -> None:
    for u in (src, dst):
        if u not in UNITS:
            raise ValueError(f"unknown unit {u!r}; known: {names()}")
    if UNITS[src][0] != UNITS[dst][0]:
        raise ValueError(f"cannot convert {UNITS[src][0]} ({src}) to {UNITS[dst][0]} ({dst})")


def factor(src: str, dst: str) -> tuple[Decimal, bool]:
    """(ratio, exact): multiply by ``ratio`` when exact, else divide by ``1/ratio``
    given as (UNITS[dst] / UNITS[src]) by the caller."""
    a, b = UNITS[src][1], UNITS[dst][1]
    ratio = a / b
    exact = ratio * b == a and len(ratio.normalize().as_tuple().digits) < 28
    return ratio.normalize(), exact
