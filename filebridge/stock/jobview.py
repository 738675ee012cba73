"""What the stock package needs of the job that runs it (:class:`StockJob`).

:class:`filebridge.job.Job` calls into this package (the stock feed, order pulls,
the timetable); described here as a Protocol, the job is never imported, not even
for its type, so the package stays below it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from filebridge.destinations.delivery import Delivery
    from filebridge.ledger.sqlite import Ledger
    from filebridge.profile import ProfileBase
    from filebridge.records import Batch, FileReport
    from filebridge.sinks.base import Sink
    from filebridge.stock.inventory import Inventory


class StockJob(Protocol):
    """A profile made ready to run, as the stock package sees it."""

    @property
    def name(self) -> str: ...

    @property
    def profile(self) -> ProfileBase: ...

    @property
    def ledger(self) -> Ledger: ...

    @property
    def inventory(self) -> Inventory | None: ...

    @property
    def delivery(self) -> Delivery: ...

    @property
    def sinks(self) -> list[Sink]:
        """The profile's own outputs (with a movements or orders profile's, the shared)."""

    @property
    def shared(self) -> list[Sink]:
        """The stock outputs of the other profiles of the inventory."""

    @property
    def shops(self) -> dict[str, Any]: ...

    @property
    def own_shops(self) -> dict[str, Any]: ...

    def batches(self, path: Path, report: FileReport, today: date | None = None
                ) -> Iterator[Batch]: ...
