"""The ``shop`` fixture, once for every test module (tests/conftest.py imports it).

A module says which loopback shop its tests get with ``SHOP``: a callable
returning a context manager that yields the shop (the server class itself,
``functools.partial(WooServer, key=..., secret=...)``, or a ``contextmanager``
that wraps it). ``SHOPS = {id: factory, ...}`` instead runs every test that asks
for ``shop`` once per shop. ``SHOP_SCOPE = "module"`` shares one shop across the
module (a real Vendure takes about 20 s to start).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


def _factory(request: pytest.FixtureRequest) -> Any:
    factory = getattr(request, "param", None) or getattr(request.module, "SHOP", None)
    if factory is None:
        raise pytest.UsageError(f"{request.module.__name__} asks for the shop fixture but "
                                "sets neither SHOP nor SHOPS (tests/shops/fixtures.py)")
    return factory


@pytest.fixture(scope="module")
def module_shop(request: pytest.FixtureRequest) -> Iterator[Any]:
    with _factory(request)() as s:
        yield s


@pytest.fixture
def shop(request: pytest.FixtureRequest) -> Iterator[Any]:
    if getattr(request.module, "SHOP_SCOPE", "function") == "module":
        yield request.getfixturevalue("module_shop")
        return
    with _factory(request)() as s:
        yield s


def parametrize_shops(metafunc: pytest.Metafunc) -> None:
    """``SHOPS`` in a module: each test asking for ``shop`` runs once per shop."""
    shops = getattr(metafunc.module, "SHOPS", None)
    if shops and "shop" in metafunc.fixturenames:
        metafunc.parametrize("shop", list(shops.values()), ids=list(shops), indirect=True)
