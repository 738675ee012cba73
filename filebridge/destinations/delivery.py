"""Delivery: after an input's outputs are published locally, each file also goes
to the destinations its output names (``deliver: [shop, erp]``).

This runs before the ledger commits, so a crash or a failed upload leaves the
input to be processed again; the outputs come out with the same names and the
uploads replace them atomically, so doing it twice is harmless. Remote errors
become sink errors here, typed by remedy and naming the destination.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from filebridge.errors import (
    PermanentSinkError,
    PermanentTransferError,
    RetryableSinkError,
    TransferError,
)
from filebridge.outputs import Staged
from filebridge.registry import REGISTRY

log = logging.getLogger("filebridge")


class Delivery:
    """A profile's named destinations, built once, connected only when used."""

    def __init__(self, destinations: dict[str, Any], profile: str = ""):
        reg = REGISTRY
        self.profile = profile
        self.destinations = {name: reg.get("destination", o.kind)(o)
                             for name, o in destinations.items()}

    @contextmanager
    def poll(self) -> Iterator[None]:
        """One connection per destination per poll, closed at its end."""
        try:
            yield
        finally:
            for dest in self.destinations.values():
                dest.close()

    def send(self, files: list[Staged]) -> list[str]:
        """Deliver published files; raises RetryableSinkError/PermanentSinkError."""
        routes: dict[str, list[Staged]] = {}
        for f in files:
            for name in f.deliver:
                routes.setdefault(name, []).append(f)
        sent: list[str] = []
        for name, batch in routes.items():
            try:
                done = self.destinations[name].send(batch)
            except PermanentTransferError as e:
                raise PermanentSinkError(f"destination {name}: {e}") from None
            except TransferError as e:
                raise RetryableSinkError(f"destination {name}: {e}") from None
            log.info("%s: delivered to %s: %s", self.profile, name, ", ".join(done))
            sent += done
        return sent

    def remove(self, destinations: Sequence[str], names: list[str]) -> None:
        """Delete files delivered before (published photos no longer wanted); raises
        RetryableSinkError/PermanentSinkError."""
        for name in destinations:
            try:
                self.destinations[name].remove(names)
            except PermanentTransferError as e:
                raise PermanentSinkError(f"destination {name}: {e}") from None
            except TransferError as e:
                raise RetryableSinkError(f"destination {name}: {e}") from None
            log.info("%s: removed from %s: %s", self.profile, name, ", ".join(names))
