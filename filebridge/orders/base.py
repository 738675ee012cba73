"""What the order pullers share.

A puller reads orders created or changed since a cursor and reports, for every
line, how many units are *still sold* on it now: ordered minus refunded or
returned, 0 once the order is cancelled. The stock ledger turns the difference
with what it recorded before into a movement, so a re-poll or a duplicated
delivery changes nothing and a cancellation returns the stock.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar


@dataclass(frozen=True)
class OrderLine:
    order: str  # the shop's order id (stable; the number shown to people may differ)
    line: str  # the line's id within the order
    sku: str
    qty: int  # units still sold on this line now: ordered − refunded/returned; 0 if cancelled
    status: str  # the shop's own order status, for reports
    at: float  # when the order was placed (epoch seconds, UTC): the sale's time
    changed: float  # when the order last changed (epoch seconds, UTC)
    location: str | None = None  # where the shop takes the stock from, if it says
    # Units of this line the shop still holds reserved against what it sells, on top of
    # its stock figure (Magento MSI: placed, not yet shipped, cancelled or refunded);
    # 0 where the shop takes the units from its figure itself (Shopify, WooCommerce).
    held: int = 0


class OrderPuller(ABC):
    """Reads a shop's orders. Built from the shop's API sink options (same url and
    credentials); uses ``filebridge.sinks.api.http.Http`` for every request."""

    # Order statuses whose lines hold stock (others count as 0: cancelled, failed…).
    name: ClassVar[str]
    # The shop holds the units of open orders reserved besides its stock figure (Magento
    # MSI) and its lines say how many (``OrderLine.held``): its sinks are set to what may
    # be sold plus those units (filebridge.stock.Inventory.sink_options).
    reserves: ClassVar[bool] = False

    def __init__(self, options: Any):
        self.o = options

    @abstractmethod
    def pull(self, cursor: str | None) -> Iterator[tuple[list[OrderLine], str]]:
        """Orders created or changed after ``cursor`` (None: from the beginning),
        oldest change first, one page at a time: each page's lines with the cursor
        to store once that page is recorded. A cursor is opaque to the caller
        (typically the last modification time seen, plus the order id as a tie
        break). Pages must not skip an order changed while paging."""

    def close(self) -> None:  # noqa: B027  (optional)
        """Release connections."""


def puller(sink_format: str) -> Any:
    """Register an order puller for the shop whose API sink is ``sink_format`` (in the
    one registry: ``REGISTRY.find("puller", sink_format)``)."""
    from filebridge.registry import REGISTRY

    return REGISTRY.puller(sink_format)
