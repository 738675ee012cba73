"""A simulated Shopify store: what the shop holds after the CSV imports ran.

Products are keyed by handle; a variant is known by its option values within its
product (that is how the CSV importer matches rows to variants: changing an option
value recreates the variant, https://support.tradegecko.com/hc/en-us/articles/215982768
[3p]). Inventory is kept per variant x location as one number: the store has no
orders, so Available equals On hand. ``NOT_STOCKED`` marks a variant the location
never stocks (the inventory CSV's ``not stocked``).

:meth:`ShopifyStore.product` hands out copies, so a test cannot change the store by
accident.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from decimal import Decimal

NOT_STOCKED = "not stocked"
Level = int | str  # an integer quantity or NOT_STOCKED


@dataclass
class Variant:
    options: tuple[str, ...]
    sku: str = ""
    price: Decimal = Decimal("0.00")
    compare_at_price: Decimal | None = None
    cost: Decimal | None = None
    barcode: str = ""
    grams: int = 0
    weight_unit: str = ""
    tracker: str = ""  # "shopify": inventory tracked
    policy: str = "deny"
    taxable: bool = True
    requires_shipping: bool = True
    image: str | None = None
    # market -> (price, compare-at price)
    market_prices: dict[str, tuple[Decimal, Decimal | None]] = field(default_factory=dict)
    inventory_qty: int | None = None  # filled in by ShopifyStore.product: one location only


@dataclass
class Product:
    handle: str
    title: str = ""
    body_html: str = ""
    vendor: str = ""
    product_type: str = ""
    category: str = ""
    tags: list[str] = field(default_factory=list)
    published: bool = True
    status: str = "active"
    gift_card: bool = False
    seo_title: str = ""
    seo_description: str = ""
    options: list[tuple[str, list[str]]] = field(default_factory=list)
    variants: list[Variant] = field(default_factory=list)
    images: list[tuple[str, int, str]] = field(default_factory=list)  # (url, position, alt)
    metafields: dict[str, str] = field(default_factory=dict)  # "namespace.key" -> value
    markets_included: dict[str, bool] = field(default_factory=dict)

    @property
    def market_prices(self) -> dict[str, dict[str, tuple[Decimal, Decimal | None]]]:
        """{market: {sku: (price, compare-at price)}}; a variant without SKU is named
        by its options ("S / Red")."""
        out: dict[str, dict[str, tuple[Decimal, Decimal | None]]] = {}
        for v in self.variants:
            for market, prices in v.market_prices.items():
                out.setdefault(market, {})[v.sku or " / ".join(v.options)] = prices
        return out

    def variant(self, options: tuple[str, ...]) -> Variant | None:
        return next((v for v in self.variants if v.options == options), None)


class ShopifyStore:
    """``locations``: the store's locations (one location: the product CSV's Inventory
    quantity applies there). ``markets``: market names the ``Price / <Market>`` columns may
    name. ``metafields``: metafield definitions, ``{"namespace.key": type}``; Shopify's
    product CSV carries only metafields that have a definition."""

    def __init__(self, locations: Iterable[str] = ("Shop location",), *,
                 markets: Iterable[str] = (), metafields: Mapping[str, str] | None = None):
        self.locations = list(locations)
        if not self.locations or len(set(self.locations)) != len(self.locations):
            raise ValueError(f"a store needs distinct location names, got {self.locations}")
        self.markets = list(markets)
        self.metafield_definitions = dict(metafields or {})
        self.products: dict[str, Product] = {}
        # (handle, option values) -> {location: quantity or NOT_STOCKED}
        self.levels: dict[tuple[str, tuple[str, ...]], dict[str, Level]] = {}

    @property
    def single_location(self) -> bool:
        return len(self.locations) == 1

    def handles(self) -> list[str]:
        return list(self.products)

    def product(self, handle: str) -> Product:
        if handle not in self.products:
            raise KeyError(f"no product with handle {handle!r}; the store has "
                           f"{sorted(self.products) or 'none'}")
        p = copy.deepcopy(self.products[handle])
        for v in p.variants:
            if self.single_location:
                level = self.levels.get((handle, v.options), {}).get(self.locations[0])
                v.inventory_qty = level if isinstance(level, int) else None
        return p

    def find_sku(self, sku: str) -> tuple[Product, Variant]:
        found = [(p, v) for p in self.products.values() for v in p.variants if v.sku == sku]
        if not found:
            raise KeyError(f"no variant with SKU {sku!r}")
        if len(found) > 1:
            raise KeyError(f"SKU {sku!r} is on {len(found)} variants: "
                           + ", ".join(f"{p.handle} {' / '.join(v.options)}" for p, v in found))
        return found[0]

    def level(self, sku: str, location: str) -> Level | None:
        """The quantity of ``sku`` at ``location``: an int, NOT_STOCKED, or None when no
        import ever set one."""
        if location not in self.locations:
            raise KeyError(f"no location {location!r}; the store has {self.locations}")
        p, v = self.find_sku(sku)
        return self.levels.get((p.handle, v.options), {}).get(location)

    def differences(self, other: ShopifyStore) -> list[str]:
        """What a shopper or merchant would see differ between two stores, field by field
        ("d25fw0101.images: [...] != [...]"); [] when they hold the same catalog."""
        out = [f"{h}: only in {'this' if h in self.products else 'the other'} store"
               for h in sorted(set(self.products) ^ set(other.products))]
        for h in sorted(set(self.products) & set(other.products)):
            a, b = self.product(h), other.product(h)
            for name in [f.name for f in fields(Product)] + ["market_prices"]:
                if name == "variants":
                    continue
                if (x := getattr(a, name)) != (y := getattr(b, name)):
                    out.append(f"{h}.{name}: {x!r} != {y!r}")
            va = {v.options: v for v in a.variants}
            vb = {v.options: v for v in b.variants}
            if list(va) != list(vb):
                out.append(f"{h}.variants: {list(va)} != {list(vb)}")
            for key in va.keys() & vb.keys():
                for f in fields(Variant):
                    if (x := getattr(va[key], f.name)) != (y := getattr(vb[key], f.name)):
                        out.append(f"{h}[{' / '.join(key)}].{f.name}: {x!r} != {y!r}")
        for handle, options in sorted(set(self.levels) | set(other.levels)):
            x = self.levels.get((handle, options), {})
            y = other.levels.get((handle, options), {})
            if x != y:
                out.append(f"{handle}[{' / '.join(options)}] stock: {x} != {y}")
        return out

    def available(self, sku: str, location: str) -> int | None:
        """Available units of ``sku`` at ``location``; None if not stocked or never set."""
        level = self.level(sku, location)
        return level if isinstance(level, int) else None
