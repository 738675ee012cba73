"""What the shippers share: the shop's view of an order (its lines, what is left to
ship on each, the tracking numbers it already has) and one shipment to create."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

from filebridge.errors import FilebridgeError


class ShopRefused(FilebridgeError):
    """The shop refused this shipment (its own words): its rows are rejected, the
    rest of the file goes on."""


@dataclass
class ShopLine:
    id: str  # the shop's order line id
    sku: str
    ordered: int
    left: int  # units the shop will still let us ship on this line


@dataclass
class ShopOrder:
    id: str  # the shop's order id, as its API takes it
    lines: list[ShopLine]
    closed: str | None = None  # why nothing can be shipped (cancelled…), None: open
    # tracking number -> {line id: units} of the shipments the shop already has
    tracked: dict[str, dict[str, int]] = field(default_factory=dict)

    def line(self, ref: str) -> ShopLine | None:
        """The line a file names by id (a Shopify GID or its number both match)."""
        for li in self.lines:
            if ref == li.id or li.id.rsplit("/", 1)[-1] == ref:
                return li
        return None


@dataclass
class Shipment:
    key: str  # the ERP's name for it: its delivery note, else the tracking number
    tracking: str
    carrier: str
    date: str
    lines: list[tuple[ShopLine, int]]  # shop line, units shipped now
    delivered: bool = False
    notify: bool = False


class Shipper(ABC):
    """Creates shipments in one shop. Built from the shop's API sink options (same url
    and credentials); every request through ``filebridge.sinks.api.http.Http``."""

    name: ClassVar[str]

    def __init__(self, options: Any):
        self.o = options

    @abstractmethod
    def order(self, ref: str) -> ShopOrder | None:
        """The order as the shop has it now (None: the shop does not know it).
        :class:`ShopRefused` for an order it cannot ship from a file (its rows are
        rejected)."""

    @abstractmethod
    def ship(self, order: ShopOrder, shipment: Shipment) -> str:
        """Create the shipment; the shop's id for it. Raises :class:`ShopRefused` when
        the shop refuses it, SinkError when it cannot be reached."""

    def resume(self, order: ShopOrder, shipment: Shipment) -> None:  # noqa: B027 (optional)
        """The shop has this shipment already (found by its tracking number): finish
        what a run cut short may have left undone (Vendure: the fulfilment's state)."""

    def deliver(self, order: ShopOrder, shipment: Shipment) -> bool:
        """A shipment sent before is now delivered: tell the shop, if it has such a
        step (Vendure); whether the shop changed."""
        return False

    def close(self) -> None:  # noqa: B027  (optional)
        """Release connections."""


def shipper(sink_format: str) -> Any:
    """Register a shipper for the shop whose API sink is ``sink_format``."""
    from filebridge.registry import REGISTRY

    return REGISTRY.shipper(sink_format)
