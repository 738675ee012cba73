"""Where an order pull stands, shared by the WooCommerce, Shopify and Magento
pullers: the newest change seen and a fingerprint of each order changed shortly
before it, so a re-read overlap finds late or same-second changes and a re-poll
of unchanged orders yields nothing."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from filebridge.orders.base import OrderLine

# Seconds re-read before the newest change of the last pull: a change saved with a
# time a little before another one's but committed after it (a slow request, a
# payment gateway call between setting the time and saving) is still found.
OVERLAP = 60


def iso(t: float, z: str = "Z") -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S") + z


def epoch(value: str | None) -> float | None:
    """Seconds from an ISO 8601 time; one without a zone is UTC."""
    if not value:
        return None
    d = datetime.fromisoformat(value)
    return (d if d.tzinfo else d.replace(tzinfo=UTC)).timestamp()


def fingerprint(lines: list[OrderLine]) -> str:
    """What an order says now, short: the same print means nothing to record."""
    # ``held`` only when there is some: the prints of shops that hold none stay as they were.
    text = repr(sorted((ln.line, ln.sku, ln.qty, ln.status) + ((ln.held,) if ln.held else ())
                       for ln in lines))
    return hashlib.sha1(text.encode()).hexdigest()[:10]


class Window:
    """Where a pull stands: the newest change seen (``t``) and, for the orders changed
    in the ``OVERLAP`` seconds up to it, when and how they were seen.

    The next pull re-reads from ``t - OVERLAP`` and skips an order only when it is
    still exactly as recorded, so an order changed again in a second already read
    (or a new one given a second already read) is not lost, and a re-read of an
    unchanged one yields nothing. As a string: ``<t>|<id>:<seconds before t>:<print>,…``
    """

    def __init__(self, cursor: str | None, overlap: float = OVERLAP):
        self.overlap = overlap
        self.t: float | None = None
        self.seen: dict[str, tuple[float, str]] = {}  # order id -> (changed, print)
        if cursor:
            head, _, rest = cursor.partition("|")
            self.t = epoch(head)
            for item in filter(None, rest.split(",")):
                order, back, fp = item.rsplit(":", 2)
                self.seen[order] = (self.t - float(back), fp)  # type: ignore[operator]

    def since(self) -> float | None:
        """Re-read changes from this time on (None: everything)."""
        return None if self.t is None else self.t - self.overlap

    def fresh(self, order: str, changed: float, fp: str) -> bool:
        return self.seen.get(order) != (changed, fp)

    def add(self, order: str, changed: float, fp: str) -> None:
        self.seen[order] = (changed, fp)
        if self.t is None or changed > self.t:
            self.t = changed
            low = changed - self.overlap
            self.seen = {k: v for k, v in self.seen.items() if v[0] >= low}

    def cursor(self) -> str | None:
        if self.t is None:
            return None
        t = self.t
        return iso(t) + "|" + ",".join(f"{k}:{t - c:g}:{fp}" for k, (c, fp)
                                       in sorted(self.seen.items()))
