"""What the magento_api client reads of the shop's setup once per job, and the few
things it creates there: store views and websites, product attributes and their
options, categories.

Relied on [code: magento/magento2 2.4]:

- ``GET /V1/store/storeViews`` and ``/V1/store/websites`` list every store view and
  website with ids and codes (the admin ones, id 0, too).
- ``GET /V1/products/attributes/{code}`` gives an attribute's ``frontend_input``,
  ``scope``, ``is_user_defined``, ``is_filterable`` and its options (admin labels);
  ``GET /V1/products/attribute-sets/{id}/attributes`` the attributes of a set. A
  product keeps values only of attributes in its attribute set, silently dropping
  the others (Catalog AbstractResource::_isApplicableAttribute), so every attribute
  this sink writes is checked to be in ``attribute_set_id`` before anything is sent.
- A configurable option's attribute must be global, visible, user-defined and take
  options (ConfigurableProduct Type\\Configurable::canUseAttribute); only Dropdowns
  are accepted here.
- ``POST /V1/products/attributes/{code}/options`` adds an option with ``store_labels``
  (``[{store_id, label}]``) and answers its id; an admin label already there (compared
  case-insensitively) is refused (Eav OptionManagement::add), so labels are matched
  the same way and a create whose answer was lost is found again, not repeated.
- ``GET /V1/categories?rootCategoryId=`` gives the tree with names as the path's
  store reads them; ``POST /V1/categories`` creates ``{parent_id, name}``; the name is
  a store-view attribute, set per view by ``PUT /rest/<view>/V1/categories/{id}``. Two
  categories of one name under one parent clash on their URL key (``URL key for
  specified store already exists.``), so a category is looked for by name under its
  parent first, and a clash after a lost answer reads the tree again.
- Price scope: ``GET /V1/products/attributes/price`` says ``global`` or ``website``
  (Stores > Configuration > Catalog > Catalog > Price > Catalog Price Scope).

Creates are sent without automatic retries: after a failure the shop is read again
before anything is sent twice.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

from filebridge.catalog.sizes import size_rank
from filebridge.errors import Bug, PermanentSinkError, RetryableSinkError
from filebridge.sinks.api.http import error_text

if TYPE_CHECKING:
    from filebridge.sinks.api.magento import MagentoClient

log = logging.getLogger("filebridge")

T = TypeVar("T")
OPTIONS = ("select", "multiselect")
TEXT = ("text", "textarea")
LETTERS = 10_000  # sort_order bands of the size scales (a smallint: at most 65535)


class ItemError(Exception):
    """Refuses the records it concerns (a value the shop will not take), not the batch."""


@dataclass
class Attribute:
    code: str
    id: str
    input: str
    scope: str
    filterable: bool
    user_defined: bool
    options: dict[str, str] = field(default_factory=dict)  # upper(admin label) -> id
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def takes_options(self) -> bool:
        return self.input in OPTIONS


def sort_order(value: str, order: Any) -> int:
    """A new option's place among the attribute's (Magento orders a dropdown by it, for
    every product): sizes by their scale, a profile's list by its position."""
    if order == "sizes":
        rank = size_rank(value)
        if rank is None:
            return 0
        kind, a, b = rank
        return min(65_535, kind * LETTERS + int(a * 10) + int(b))
    if isinstance(order, list):
        low = [v.strip().casefold() for v in order]
        v = value.strip().casefold()
        return low.index(v) + 1 if v in low else 0
    return 0


class Shop:
    """Caches of one client, shared by its threads."""

    def __init__(self, client: MagentoClient):
        self.c = client
        self.lock = threading.Lock()
        self._stores: list[dict[str, Any]] | None = None
        self._websites: dict[str, int] | None = None
        self._attributes: dict[str, Attribute] = {}
        self._set: set[str] | None = None
        self._price_scope: str | None = None
        self.tree_lock = threading.Lock()
        self._tree: dict[tuple[int, str], int] | None = None  # (parent, upper name) -> id
        self._names: dict[str, dict[int, str]] = {}  # store code -> id -> name there

    # -- stores and websites -------------------------------------------------------

    def stores(self) -> list[dict[str, Any]]:
        with self.lock:
            if self._stores is None:
                self._stores = list(self.c.http.json("GET", "/V1/store/storeViews") or [])
            return self._stores

    def store_id(self, code: str) -> int:
        for s in self.stores():
            if s.get("code") == code and s.get("id"):
                return int(s["id"])
        raise PermanentSinkError(f"magento: store_views names {code!r}, which is not a store "
                                 "view of this shop (known: " + ", ".join(
                                     str(s.get("code")) for s in self.stores() if s.get("id"))
                                 + ")")

    def website_stores(self, code: str) -> list[int]:
        with self.lock:
            if self._websites is None:
                self._websites = {str(w.get("code")): int(w.get("id") or 0) for w in
                                  self.c.http.json("GET", "/V1/store/websites") or []}
            websites = self._websites
        wid = websites.get(code)
        stores = sorted(int(s["id"]) for s in self.stores()
                        if s.get("id") and wid and int(s.get("website_id") or 0) == wid)
        if not stores:
            raise PermanentSinkError(f"magento: prices: names the website {code!r}, which is "
                                     "not a website of this shop with a store view (known: "
                                     + ", ".join(c for c, i in websites.items() if i) + ")")
        return stores

    def website_id(self, code: str) -> int:
        sid = self.website_stores(code)[0]
        return next(int(s["website_id"]) for s in self.stores() if s.get("id") == sid)

    def price_scope(self) -> str:
        with self.lock:
            if self._price_scope is None:
                a = self.c.http.json("GET", "/V1/products/attributes/price") or {}
                self._price_scope = str(a.get("scope") or "global")
            return self._price_scope

    # -- attributes ------------------------------------------------------------------

    def attribute(self, code: str, role: str) -> Attribute:
        """The attribute ``code`` as this sink uses it for ``role`` (option, filter,
        spec, barcode); refused at once when the shop's attribute cannot serve."""
        with self.lock:
            got = self._attributes.get(code)
        if got is None:
            got = self._load(code)
        problem = None
        if role == "option" and not (got.input == "select" and got.scope == "global"
                                     and got.user_defined):
            problem = ("a configurable option needs a global, user-defined Dropdown "
                       f"attribute; it is {got.scope}-scoped {got.input}")
        elif role in ("spec", "barcode") and got.input not in TEXT + OPTIONS:
            problem = f"it is {got.input}, not text, textarea or a dropdown"
        elif role == "filter" and got.input not in TEXT + OPTIONS:
            problem = f"it is {got.input}, not a dropdown or multiple select"
        if problem:
            raise PermanentSinkError(f"magento: attribute {code!r} cannot carry the {role} "
                                     f"values: {problem} (Stores > Attributes > Product)")
        return got

    def _load(self, code: str) -> Attribute:
        resp = self.c.http.request("GET", f"/V1/products/attributes/{quote(code, safe='')}",
                                   ok=lambda r: r.status_code == 404)
        self.c.no_route(resp)
        if resp.status_code == 404:
            raise PermanentSinkError(f"magento: the shop has no product attribute {code!r} "
                                     f"({error_text(resp)}); create it (Stores > Attributes > "
                                     "Product) or map the field to another code in "
                                     "attributes:")
        a = resp.json()
        got = Attribute(code, str(a.get("attribute_id")), str(a.get("frontend_input")),
                        str(a.get("scope") or "store"), bool(a.get("is_filterable")),
                        bool(a.get("is_user_defined")))
        got.options = _labels(a.get("options"))
        if code not in self.attribute_set():
            raise PermanentSinkError(
                f"magento: attribute {code!r} is not in attribute set "
                f"{self.c.o.attribute_set_id}: Magento would drop its values without a word "
                "(add it to the set: Stores > Attributes > Attribute Set)")
        with self.lock:
            return self._attributes.setdefault(code, got)

    def attribute_set(self) -> set[str]:
        with self.lock:
            if self._set is None:
                items = self.c.http.json(
                    "GET", f"/V1/products/attribute-sets/{self.c.o.attribute_set_id}/attributes")
                self._set = {str(a.get("attribute_code")) for a in items or []}
            return self._set

    def option_ids(self, a: Attribute, values: dict[str, dict[str, str]], order: Any = "file"
                   ) -> dict[str, str]:
        """Option id of each value (created when missing, with its label in every store
        view of a language: ``values`` is value -> {store code: label})."""
        out: dict[str, str] = {}
        with a.lock:
            for value, labels in values.items():
                oid = a.options.get(value.strip().upper())
                if oid is None:
                    oid = self._create_option(a, value, labels, order)
                out[value] = oid
        return out

    def _create_option(self, a: Attribute, value: str, labels: dict[str, str],
                       order: Any) -> str:
        body = {"option": {"label": value, "sort_order": sort_order(value, order),
                           "is_default": False,
                           "store_labels": [{"store_id": self.store_id(code), "label": label}
                                            for code, label in labels.items()]}}

        def find() -> str | None:
            a.options = _labels(self.c.http.json(
                "GET", f"/V1/products/attributes/{quote(a.code)}/options"))
            return a.options.get(value.strip().upper())

        def post() -> str:
            resp = self.c.once.request("POST", f"/V1/products/attributes/{quote(a.code)}"
                                       "/options", json=body,
                                       ok=lambda r: r.status_code == 400)
            answer = resp.json() if resp.status_code < 400 else None
            if isinstance(answer, str) and answer.isdigit():
                return answer
            got = find()  # 2.3 answers true; a clash names the label already there
            if got is None:
                raise ItemError(f"option {value!r} of {a.code}: {error_text(resp)}")
            return got

        oid = self.c.create_once(f"option {value!r} of {a.code}", post, find)
        a.options[value.strip().upper()] = oid
        return oid

    # -- categories ----------------------------------------------------------------

    def category_ids(self, paths: list[list[str]], names: dict[str, dict[tuple[str, ...], str]]
                     ) -> list[int]:
        """The leaf id of each path, levels created under the root category when
        missing; ``names``: store code -> (default path prefix) -> the level's name there."""
        out = []
        for path in paths:
            parent = self.c.o.root_category
            for depth in range(1, len(path) + 1):
                parent = self._child(parent, path[depth - 1], tuple(path[:depth]), names)
            out.append(parent)
        return list(dict.fromkeys(out))

    def known_category(self, path: list[str]) -> int | None:
        """The leaf id of an existing path (None: not in the shop)."""
        parent = self.c.o.root_category
        with self.tree_lock:
            tree = self._load_tree()
            for name in path:
                got = tree.get((parent, name.strip().upper()))
                if got is None:
                    return None
                parent = got
        return parent

    def _load_tree(self) -> dict[tuple[int, str], int]:
        if self._tree is None:
            root = self.c.http.json("GET", "/V1/categories",
                                    params={"rootCategoryId": str(self.c.o.root_category)})
            tree: dict[tuple[int, str], int] = {}
            stack = list((root or {}).get("children_data") or [])
            while stack:
                node = stack.pop()
                tree.setdefault((int(node["parent_id"]), str(node["name"]).strip().upper()),
                                int(node["id"]))
                stack.extend(node.get("children_data") or [])
            self._tree = tree
        return self._tree

    def _child(self, parent: int, name: str, path: tuple[str, ...],
               names: dict[str, dict[tuple[str, ...], str]]) -> int:
        key = (parent, name.strip().upper())
        with self.tree_lock:
            got = self._load_tree().get(key)
            if got is None:
                got = self._create_category(parent, name, key)
        for code, by_path in names.items():
            if path in by_path:
                self._store_name(code, got, by_path[path])
        return got

    def _create_category(self, parent: int, name: str, key: tuple[int, str]) -> int:
        body = {"category": {"parent_id": parent, "name": name, "is_active": True,
                             "include_in_menu": True}}

        def find() -> int | None:
            self._tree = None
            return self._load_tree().get(key)

        def post() -> int:
            resp = self.c.once.request("POST", "/V1/categories", json=body,
                                       ok=lambda r: r.status_code in (400, 404))
            if resp.status_code < 400:
                return int(resp.json()["id"])
            got = find() if "already exists" in error_text(resp) else None
            if got is None:  # a clash with another name, or a refusal
                raise ItemError(f"category {name!r}: {error_text(resp)}")
            return got

        got = self.c.create_once(f"category {name!r}", post, find)
        if self._tree is None:
            raise Bug("expected self._tree is not None")
        self._tree[key] = got
        return got

    def _store_name(self, code: str, cid: int, name: str) -> None:
        """The category's name in store view ``code``, set when it differs."""
        with self.tree_lock:
            names = self._names.get(code)
            if names is None:
                root = self.c.http.json("GET", f"{self.c.base}/rest/{quote(code)}/V1/categories",
                                        params={"rootCategoryId": str(self.c.o.root_category)})
                names = {}
                stack = [root or {}]
                while stack:
                    node = stack.pop()
                    if node.get("id") is not None:
                        names[int(node["id"])] = str(node.get("name") or "")
                    stack.extend(node.get("children_data") or [])
                self._names[code] = names
            if names.get(cid) == name:
                return
            self.c.http.json("PUT", f"{self.c.base}/rest/{quote(code)}/V1/categories/{cid}",
                             {"category": {"id": cid, "name": name}})
            names[cid] = name


def _labels(options: Any) -> dict[str, str]:
    return {str(o.get("label")).strip().upper(): str(o.get("value"))
            for o in options or [] if str(o.get("value") or "").strip()}


def create_once(what: str, post: Callable[[], T], find: Callable[[], T | None],
                attempts: int, backoff: float) -> T:
    """Create something at most once: ``post`` is sent without automatic retries, and
    after it failed (a timeout, a dropped answer, a 5xx) ``find`` reads the shop again
    before anything is sent twice."""
    pause = 0.05
    for attempt in range(attempts):
        if attempt:
            got = find()
            if got is not None:
                return got
        try:
            return post()
        except RetryableSinkError:
            time.sleep(pause)
            pause = min(pause * 2, backoff)
    raise RetryableSinkError(f"magento: {what}: not created after {attempts} attempts")
