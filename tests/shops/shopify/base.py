"""What every resource module of the loopback Shopify shares: the store's state, the
two error layers, API-version features, and :class:`Call` (one root field being
resolved).

Error layers [doc: shopify.dev/docs/api/admin-graphql "Status and error codes"]:
top-level ``errors[]`` in an HTTP 200 (:class:`GqlError`: the request as a whole is
refused) and a mutation's ``userErrors {code field message}`` (:func:`user_error`).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from shops.graphql import Field, Operation, Var, flatten, resolve

TOKEN = "shpat_test_token"

# API version -> what it introduced, as the changelog dates it. ``unstable`` has all.
FEATURES = {
    # productSet(identifier: {id | handle | customId}): an upsert [changelog "productSet
    # and customerSet mutations now support upserts and custom IDs", effective 2025-04]
    "productSet.identifier": "2025-04",
    # InventoryQuantityInput.changeFromQuantity [changelog, 2026-01; required from 2026-04]
    "changeFromQuantity": "2026-01",
    "changeFromQuantity.required": "2026-04",
    # @idempotent on inventory mutations [doc: inventorySetQuantities / inventoryActivate:
    # "As of version 2026-01 … optional idempotency key", "As of 2026-04 … required"]
    "@idempotent": "2026-01",
    "@idempotent.required": "2026-04",
}


def has(version: str, feature: str) -> bool:
    return version == "unstable" or version >= FEATURES[feature]


class GqlError(Exception):
    """Top-level ``errors[]``: the request as a whole is refused."""

    def __init__(self, message: str, code: str, **extra: Any):
        super().__init__(message)
        self.error: dict[str, Any] = {"message": message, "locations": [{"line": 1, "column": 1}],
                      "extensions": {"code": code, **extra}}


def too_many(field: str, path: list[str | int], n: int, limit: int = 250) -> GqlError:
    """Input arrays hold at most 250 items on every Shopify API [doc: shopify.dev/docs/
    api/usage/limits "Input limits"]."""
    e = GqlError(f"The input array size of {n} is greater than the maximum allowed of "
                 f"{limit}.", "MAX_INPUT_SIZE_EXCEEDED")
    e.error["path"] = [field, *path]
    return e


def user_error(field: list[str] | None, message: str, code: str | None) -> dict[str, Any]:
    return {"field": field, "message": message, "code": code}


@dataclass
class Call:
    """One root field of an operation, its arguments resolved against the variables."""

    version: str
    op: Operation
    field: Field
    variables: dict[str, Any]

    @property
    def args(self) -> dict[str, Any]:
        return {k: resolve(v, self.variables) for k, v in self.field.args.items()}

    def arg(self, name: str, default: Any = None) -> Any:
        v = self.args.get(name)
        return default if v is None else v

    def directive(self, name: str) -> dict[str, Any] | None:
        d = self.field.directives.get(name)
        return None if d is None else {k: resolve(v, self.variables) for k, v in d.items()}

    def nested(self, *path: str) -> Field | None:
        """The field at ``path`` under this one (through fragments), if selected."""
        f: Field | None = self.field
        for name in path:
            if f is None:
                return None
            f = next((s for s in flatten(f.selections, self.op.fragments) if s.name == name),
                     None)
        return f

    def nested_arg(self, path: tuple[str, ...], name: str, default: Any = None) -> Any:
        f = self.nested(*path)
        v = resolve(f.args.get(name), self.variables) if f else None
        return default if v is None else v

    def invalid(self, arg: str, path: list[Any], explanation: str) -> GqlError:
        """INVALID_VARIABLE for the variable bound to ``arg`` (Shopify's wording)."""
        raw = self.field.args.get(arg)
        var = raw.name if isinstance(raw, Var) else arg
        type_ = self.op.variables.get(var, ("?", None))[0]
        value = self.variables.get(var)
        where = ".".join(str(p) for p in path)
        return GqlError(f"Variable ${var} of type {type_} was provided invalid value"
                        + (f" for {where}" if where else "") + f" ({explanation})",
                        "INVALID_VARIABLE", value=value,
                        problems=[{"path": path, "explanation": explanation}])


class ShopState:
    """One store's data. Resource modules add ``query_<field>`` and
    ``mutation_<field>`` resolvers (and ``node_<Kind>`` for ``node``/``nodes``) to it;
    the server dispatches on those names. A module with state of its own takes its
    options by keyword and passes the rest on (``super().__init__(**kw)``)."""

    def __init__(self, *, locations: tuple[str, ...]):
        self.lock = threading.RLock()
        self.seq = 0
        self.applied: Counter[str] = Counter()  # SKU -> changes actually applied
        self.created: Counter[str] = Counter()  # SKU -> variants created with it
        self.locations = {self._gid("Location"): name for name in locations}
        self.products: dict[str, dict[str, Any]] = {}
        self.handles: dict[str, str] = {}  # handle -> Product GID
        self.variants: dict[str, dict[str, Any]] = {}
        self.items: dict[str, str] = {}  # InventoryItem -> ProductVariant
        self.levels: dict[tuple[str, str], int] = {}  # (item, location) -> available
        self.now: float | None = None  # the clock of order changes (None: real time)

    def _gid(self, kind: str) -> str:
        self.seq += 1
        return f"gid://shopify/{kind}/{self.seq}"

    def _time(self, at: float | None = None) -> int:
        return int(at if at is not None else self.now if self.now is not None else time.time())

    def location_id(self, name: str | None = None) -> str:
        """The GID of the location called ``name`` (None: the primary, the first)."""
        return next(i for i, n in self.locations.items() if name in (None, n))

    @property
    def url(self) -> str:  # the server's address; set by the HTTP layer
        raise NotImplementedError
