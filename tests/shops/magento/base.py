"""What every resource module of the loopback Magento shares: errors in Magento's
shape, the service input processor's type casts, and the shop's state.

A resource module is a class over :class:`ShopState` with a ``ROUTES`` table of
``(method, "V1/path/{param}", handler name)``; a handler gets the request's
:class:`~shops.magento.stores.Scope`, the path parameters, the query and the JSON body
and returns ``(status, body)``. The server collects every module's routes.
"""

from __future__ import annotations

import threading
from collections import Counter
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

TOKEN = "magento-test-token-never-logged"
NO_ROUTE = "Request does not match any route."


class MagentoError(Exception):
    """``{"message": "…%1…", "parameters": …}`` with an HTTP status [doc: Adobe Commerce
    REST "Error format"]."""

    def __init__(self, status: int, message: str, parameters: Any = None):
        super().__init__(message)
        self.status, self.message, self.parameters = status, message, parameters

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"message": self.message}
        if self.parameters is not None:
            out["parameters"] = self.parameters
        return out

    def rendered(self) -> str:
        msg, p = self.message, self.parameters
        for k, v in (p.items() if isinstance(p, dict) else enumerate(p or [], 1)):
            msg = msg.replace(f"%{k}", str(v))
        return msg


def required(name: str) -> MagentoError:
    return MagentoError(400, '"%fieldName" is required. Enter and try again.',
                        {"fieldName": name})


def no_route() -> MagentoError:
    """Webapi\\Controller\\Rest\\Router: nothing matches the method and path."""
    return MagentoError(404, NO_ROUTE)


def typed(value: Any, kind: type) -> Any:
    """Magento's service input processor: scalars cast, anything else refused."""
    if isinstance(value, kind) and not isinstance(value, bool):
        return value
    if kind is int and isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    if kind is str and isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise MagentoError(400, "The \"%value\" value's type is invalid. The \"%type\" type was "
                       "expected. Verify and try again.", {"value": value,
                                                          "type": kind.__name__})


def decimal(value: Any) -> Decimal | None:
    if value is None:
        return None
    try:
        d = Decimal(str(value))
    except InvalidOperation:
        d = None
    if d is None or not d.is_finite() or isinstance(value, bool):
        raise MagentoError(400, "The \"%value\" value's type is invalid. The \"%type\" type "
                           "was expected. Verify and try again.",
                           {"value": value, "type": "float"})
    return d


class ShopState:
    """The shop's data and counters. Modules with state of their own take their
    options by keyword and pass the rest on (``super().__init__(**kw)``)."""

    ROUTES: ClassVar[list[tuple[str, str, str]]] = []

    def __init__(self, **kw: Any):
        if kw:
            raise TypeError(f"unknown options: {', '.join(kw)}")
        self.lock = threading.RLock()
        self.requests = 0
        self.applied: Counter[str] = Counter()  # writes applied, per SKU
        self.creates: Counter[str] = Counter()  # products created, per SKU
