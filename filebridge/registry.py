"""One registry: a profile's ``format:`` / ``kind:`` name -> the class that does the work.

Each plugin module declares its options model (a pydantic model whose first
field is a ``Literal`` tag) as ``Options`` on the class, and registers itself:

    @REGISTRY.reader("csv")
    class CsvReader: Options = CsvOptions ...

The profile model is built from what is registered, so a new reader, sink,
source or destination is one module plus its line in ``PLUGINS``. Order pullers
register here too, under the format of the shop sink whose options they use (they
have no options of their own). Shippers likewise.

``PLUGINS`` names the module of every plugin, so a module is imported only when a
profile names it (``get``/``find``): a CSV-to-file run never imports the shop API
sinks, requests or paramiko. ``names()`` reads the table and imports nothing;
``load_plugins()`` imports everything (the JSON Schema, the docs, the contracts).
tests/test_architecture.py checks the table against the ``@REGISTRY.`` lines.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

KINDS = ("reader", "sink", "source", "destination", "puller", "documents", "shipper")
NO_OPTIONS = ("puller", "documents", "shipper")  # kinds configured by another plugin's options

_API_SHOPS = ("magento", "shopify", "vendure", "woocommerce")
# kind -> name -> the module that registers it.
PLUGINS: dict[str, dict[str, str]] = {
    "reader": {name: f"filebridge.readers.{name}"
               for name in ("csv", "ebcdic", "fixed", "spool", "xlsx", "xml")},
    "sink": {
        **{name: f"filebridge.sinks.{name}"
           for name in ("csv", "magento_csv", "prestashop_csv", "shopify_csv", "template",
                        "woocommerce_csv")},
        **{f"{shop}_api": f"filebridge.sinks.api.{shop}" for shop in _API_SHOPS},
    },
    "source": {"local": "filebridge.sources.local", "sftp": "filebridge.sources.sftp"},
    "destination": {"local": "filebridge.destinations.local",
                    "sftp": "filebridge.destinations.sftp"},
    "puller": {f"{shop}_api": f"filebridge.orders.{shop}" for shop in _API_SHOPS},
    "documents": {f"{shop}_api": f"filebridge.orders.doc_{shop}" for shop in _API_SHOPS},
    "shipper": {f"{shop}_api": f"filebridge.shipments.{shop}" for shop in _API_SHOPS},
}


class Registry:
    """``table``: kind -> name -> module imported on first use (None: only what
    registers itself, for a test's isolated copy)."""

    def __init__(self, table: dict[str, dict[str, str]] | None = None) -> None:
        self._plugins: dict[str, dict[str, Any]] = {k: {} for k in KINDS}
        self._table = table or {k: {} for k in KINDS}

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
        found = self.find(kind, name)
        if found is None:
            raise KeyError(f"unknown {kind} {name!r}; known: {', '.join(self.names(kind))}")
        return found

    def find(self, kind: str, name: str) -> Any | None:
        """The plugin (its module imported now if need be), or None when nothing is
        registered under ``name``."""
        plugins = self._plugins[kind]
        if name not in plugins and isinstance(name, str) and name in self._table[kind]:
            importlib.import_module(self._table[kind][name])
        return plugins.get(name)

    def names(self, kind: str) -> list[str]:
        """Every name, importing nothing."""
        return sorted(self._table[kind].keys() | self._plugins[kind].keys())

    def options(self, kind: str, names: list[str] | None = None) -> list[type]:
        """The Options models of ``names`` (default: every plugin of ``kind``), sorted
        by name."""
        return [self.get(kind, n).Options for n in sorted(self.names(kind) if names is None
                                                          else names)]

    def load(self, *kinds: str) -> None:
        """Import every module of ``kinds``."""
        for kind in kinds:
            for name in self._table[kind]:
                self.get(kind, name)


REGISTRY = Registry(PLUGINS)


def load_plugins() -> Registry:
    """Every plugin imported (the JSON Schema, the docs and the contracts use them all;
    a run imports only those its profile names)."""
    REGISTRY.load("reader", "sink", "source", "destination")
    return REGISTRY
