"""Values as shops take them: exact decimals, whole numbers, booleans, text,
lists and category paths, with errors that name the field."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any


def blank(v: Any) -> bool:
    return v is None or (isinstance(v, str) and not v.strip()) or (
        isinstance(v, list) and not any(not blank(x) for x in v))


def text(v: Any) -> str:
    """A value as import-file text: exact decimals, ISO dates, lists comma-joined."""
    if type(v) is str:
        return v
    if v is None:
        return ""
    if isinstance(v, Decimal):
        return format(v, "f")
    if isinstance(v, list):
        return ", ".join(text(x) for x in v if not blank(x))
    if hasattr(v, "isoformat"):
        return v.isoformat()
    return str(v)


def money(v: Any, what: str, sku: str = "") -> Decimal | None:
    """Prices as Decimal: never through float arithmetic (a float is taken by its repr)."""
    if v is None or type(v) is Decimal and v.is_finite():
        return v
    if blank(v):
        return None
    try:
        d = v if isinstance(v, Decimal) else Decimal(str(v).strip())
    except InvalidOperation:
        d = None
    if d is None or not d.is_finite():
        raise ValueError(f"{'SKU ' + sku + ': ' if sku else ''}{what} {v!r} is not a number "
                         "with a '.' decimal point (add type: decimal to the mapping)")
    return d


def integer(v: Any, what: str, sku: str = "") -> int | None:
    if v is None or type(v) is int:
        return v
    d = money(v, what, sku)
    if d is None:
        return None
    if d != d.to_integral_value():
        raise ValueError(f"{'SKU ' + sku + ': ' if sku else ''}{what} {v!r} is not a whole "
                         "number")
    return int(d)


TRUE = ("1", "true", "yes", "y", "t", "s", "si", "sì", "on", "x")
FALSE = ("0", "false", "no", "n", "f", "off", "")


def boolean(v: Any, what: str = "", sku: str = "") -> bool | None:
    if blank(v):
        return None
    if isinstance(v, str):
        s = v.strip().lower()
        if s in TRUE:
            return True
        if s in FALSE:
            return False
        raise ValueError(f"{'SKU ' + sku + ': ' if sku else ''}{what or 'value'} {v!r} is "
                         "not yes/no (1/0, true/false, si/no)")
    return bool(v)


def listed(v: Any, sep: str = ",") -> list[str]:
    """A list value: a list as it is, text split on ``sep``; blanks dropped."""
    if blank(v):
        return []
    items = v if isinstance(v, list) else str(v).split(sep)
    return [t.strip() for t in map(text, items) if t.strip()]


def paths(v: Any) -> list[list[str]]:
    """Category paths: each item ``Donna > Capispalla > Giacche`` (a list holds one
    path per item; text holds comma-separated paths, as WooCommerce writes them)."""
    out = []
    for item in listed(v):
        parts = [p.strip() for p in item.split(">")]
        if any(not p for p in parts):
            raise ValueError(f"category path {item!r} has an empty level")
        out.append(parts)
    return out


def iso_date(v: Any, what: str, sku: str = "") -> str | None:
    """A date as YYYY-MM-DD (dates from typed fields, or ISO text)."""
    if blank(v):
        return None
    if hasattr(v, "isoformat"):
        return v.isoformat()[:10]
    s = str(v).strip()
    from datetime import date

    try:
        return date.fromisoformat(s[:10]).isoformat()
    except ValueError:
        raise ValueError(f"{'SKU ' + sku + ': ' if sku else ''}{what} {v!r} is not a date "
                         "(add type: date to the mapping)") from None
