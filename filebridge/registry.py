"""One registry: a profile's ``format:`` / ``kind:`` name -> the class that does the work.

Each plugin module declares its options model (a pydantic model whose first
field is a ``Literal`` tag) as ``Options`` on the class, and registers itself:

    @REGISTRY.reader("csv")
    class CsvReader: Options = CsvOptions ...

The profile model is built from what is registered, so a new reader, sink,
source or destination is one module plus its import line in the package
``__init__``. Order pullers register here too, under the format of the shop sink
whose options they use (they have no options of their own, and are imported only
by a stock profile: filebridge.orders.load_pullers). Shippers likewise (a shipments
profile: filebridge.shipments.load_shippers).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

KINDS = ("reader", "sink", "source", "destination", "puller", "documents", "shipper")
NO_OPTIONS = ("puller", "documents", "shipper")  # kinds configured by another plugin's options


class Registry:
    def __init__(self) -> None:
        self._plugins: dict[str, dict[str, Any]] = {k: {} for k in KINDS}

    def _register(self, kind: str, name: str) -> Callable[[type], type]:
        def add(cls: type) -> type:
            if name in self._plugins[kind]:
                raise ValueError(f"{kind} {name!r} registered twice")
            if kind not in NO_OPTIONS and not hasattr(cls, "Options"):
                raise TypeError(f"{cls.__name__} needs an Options model")
            self._plugins[kind][name] = cls
            return cls
        return add

    def reader(self, name: str) -> Callable[[type], type]:
        return self._register("reader", name)

    def sink(self, name: str) -> Callable[[type], type]:
        return self._register("sink", name)

    def source(self, name: str) -> Callable[[type], type]:
        return self._register("source", name)

    def destination(self, name: str) -> Callable[[type], type]:
        return self._register("destination", name)

    def puller(self, sink_format: str) -> Callable[[type], type]:
        """An order puller for the shop whose API sink is ``sink_format``."""
        return self._register("puller", sink_format)

    def documents(self, sink_format: str) -> Callable[[type], type]:
        """An order puller that also reads whole orders as documents for the ERP
        (filebridge/orders/doc_*.py), for the shop whose API sink is ``sink_format``."""
        return self._register("documents", sink_format)

    def shipper(self, sink_format: str) -> Callable[[type], type]:
        """A shipments sender for the shop whose API sink is ``sink_format``."""
        return self._register("shipper", sink_format)

    def get(self, kind: str, name: str) -> Any:
        try:
            return self._plugins[kind][name]
        except KeyError:
            known = ", ".join(sorted(self._plugins[kind]))
            raise KeyError(f"unknown {kind} {name!r}; known: {known}") from None

    def find(self, kind: str, name: str) -> Any | None:
        """The plugin, or None when nothing is registered under ``name``."""
        return self._plugins[kind].get(name)

    def names(self, kind: str) -> list[str]:
        return sorted(self._plugins[kind])

    def options(self, kind: str) -> list[type]:
        return [cls.Options for _, cls in sorted(self._plugins[kind].items())]


REGISTRY = Registry()


def load_plugins() -> Registry:
    """Import the plugin packages so that every module has registered itself."""
    from filebridge import destinations, readers, sinks, sources  # noqa: F401

    return REGISTRY
