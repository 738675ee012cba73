"""What every shop API sink shares: its options, the unit of work (a :class:`Change`
to one record key), what the shop answered (a :class:`Result`), and the
:class:`ShopClient` interface each shop module implements.

An API sink does not call the shop while a file is read. The file's changes are
written to the ledger's outbox first (see ``filebridge.ledger.changelog``); the
sender then hands them to the shop client in batches. A client only translates:
changes into requests, answers into results. Retries, rate limits and bookkeeping
live elsewhere, so a new shop is one module.

Records reach a client as plain JSON-ready dicts under canonical names (see
``filebridge.catalog.record``): ``sku`` always; ``title``, ``description``, ``vendor``,
``product_type``, ``category``, ``tags`` (list), ``status``, ``published``,
``handle``, ``barcode``, ``image``; ``price`` and ``compare_at_price`` as decimal
strings (never floats); ``stock`` and ``weight`` as int; and, when the profile
groups variants, ``product`` (the product key) and ``options``
(``[{"name": "Colour", "value": "Red"}, ...]``).
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field, field_validator

from filebridge.catalog.record import CANONICAL, CanonicalFields
from filebridge.ledger.changelog import Change, Result
from filebridge.options import Duration, Model, expand_env

if TYPE_CHECKING:
    from filebridge.photos.store import PhotoStore

log = logging.getLogger("filebridge")


class Limits(Model):
    """How hard to push one shop. Unset values take the shop module's defaults."""

    batch_size: int | None = Field(None, ge=1, description="changes per request (at most "
                                   "the shop's own limit: WooCommerce 100, Shopify 250)")
    parallel: int | None = Field(None, ge=1, le=32, description="requests in flight at once")
    rate: float | None = Field(None, gt=0, description="at most this many requests per "
                               "second (unset: as fast as the shop answers)")
    timeout: Duration = Field(30.0, description="per request; a timeout is retried")
    retries: int = Field(8, ge=0, description="attempts per request after the first, with "
                         "backoff, on 429, 5xx, timeouts and dropped connections")
    max_backoff: Duration = Field(60.0, description="longest single wait between attempts "
                                  "(a Retry-After from the shop is honoured up to this)")


class Breaker(Model):
    """Hold a run for a person to approve (``filebridge approve RUN``) when it looks
    like a broken export rather than a real change."""

    max_removed: float = Field(0.2, ge=0, le=1, description="hold when the missing-products "
                               "policy would zero, unpublish or delete more than this share "
                               "of the products the shop has from us")
    min_rows: float = Field(0.5, ge=0, le=1, description="hold when the file holds fewer "
                            "rows than this share of the last accepted file's")


class ApiSinkOptions(Model):
    """Options every shop API sink has."""

    # Whether the sink uploads ``photo:`` references' bytes itself (photos without a
    # public folder, filebridge/photos/store.py); a sink that cannot is refused then.
    UPLOADS_PHOTOS: ClassVar[bool] = False

    def photo_problem(self) -> str | None:
        """Why this sink, though it uploads photos, cannot as configured (if so)."""
        return None

    url: str = Field(description="the shop's base address, e.g. https://shop.example.com "
                     "(may use ${VAR})")
    id: str | None = Field(None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:@/#-]*$",
                           description="names this shop in the ledger: its queued changes, "
                           "what it acknowledged, its order cursor. Give one to keep them "
                           "across a change of url (default: format:url, so a new url starts "
                           "afresh and changes queued under the old one are reported, never "
                           "dropped). Set on a profile that ran without it, the state kept "
                           "under format:url moves to the id")
    sync: Literal["catalog", "stock"] = Field("catalog", description="catalog: create and "
                                              "update products; stock: only set the stock of "
                                              "products the shop already has")
    missing: Literal["ignore", "zero", "unpublish", "delete"] = Field(
        "ignore", description="what happens to products the shop has from us that a file "
        "no longer lists: ignore (partial feeds), zero their stock, unpublish, or delete. "
        "Anything but ignore treats every file as the full catalog")
    fields: CanonicalFields = Field(default_factory=dict, description="canonical name -> "
                                   "mapped field holding it, where they differ; canonical: "
                                   + ", ".join(CANONICAL))
    location: str | None = Field(None, description="where stock is kept in the shop "
                                 "(Shopify location, Magento source code, Vendure stock "
                                 "location); unset: the shop's default")
    limits: Limits = Field(default_factory=Limits)
    breaker: Breaker = Field(default_factory=Breaker)

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        v = expand_env(v).rstrip("/")
        if not v.startswith(("http://", "https://")):
            raise ValueError(f"{v!r} is not an http:// or https:// address")
        return v


class State:
    """What the ledger knows about records the shop has acknowledged, for clients
    that must send more than the change itself (Shopify's productSet replaces the
    whole variant list)."""

    def __init__(self, siblings: Callable[[str], list[dict[str, Any]]]):
        self._siblings = siblings

    def siblings(self, product: str) -> list[dict[str, Any]]:
        """The last acknowledged records of every variant of ``product``, each with
        its ``remote`` ids under the key ``"_remote"``."""
        return self._siblings(product)


class ShopClient(ABC):
    """One shop's API as the sender sees it. Subclasses set the class defaults."""

    batch_size: ClassVar[int] = 100  # default changes per send() call, and the shop's max
    max_batch: ClassVar[int] = 100
    parallel: ClassVar[int] = 4  # default requests in flight

    def __init__(self, options: ApiSinkOptions, state: State):
        self.o = options  # the shop's own Options subclass, with its credentials
        self.state = state
        # Where ``photo:`` references in image fields are read (set by bind: the
        # profile's photos have no public folder), else None.
        self.photos: PhotoStore | None = None

    @abstractmethod
    def send(self, changes: list[Change]) -> list[Result]:
        """Apply up to ``batch_size`` changes; one result per change, in any order.

        Raise ``RetryableSinkError`` when the whole batch should be tried again later
        (the shop is down after the HTTP layer's retries), ``PermanentSinkError``
        when nothing can work until someone acts (bad credentials, wrong URL).
        A change the shop refuses on its own is a ``Result(ok=False)``.
        Called from several threads at once: keep per-call state local.
        """

    def confirm(self, changes: list[Change]) -> list[Result]:
        """Changes that may have reached the shop already (``attempts > 0``: the
        process died or the answer was lost while they were in flight): an ok result
        for each one the shop already shows applied, so it is not applied twice. The
        others are sent as usual. The default confirms none."""
        return []

    def stock_of(self, skus: list[str]) -> dict[str, int | None]:
        """The shop's current quantity of each SKU (None: not in the shop), for
        ``filebridge reconcile``. Shops that cannot say raise NotImplementedError."""
        raise NotImplementedError(f"{type(self).__name__} cannot read stock back yet")

    def close(self) -> None:  # noqa: B027  (optional: most clients hold only Http)
        """Release connections."""
