"""The terms a WooCommerce catalog is filed under, found or made once per run:
product categories (a tree), tags, global attributes (``pa_*`` taxonomies) and
their terms. The REST API takes their ids, not their names.

- Read once per run, on first need, with every page (``per_page=100``), then
  cached; :meth:`Taxonomy.forget` starts the next run from the shop's state again
  (a category deleted by hand is not assumed to exist).
- Made under one lock, so parallel lanes never make the same term twice, parent by
  parent for categories (each level's new ones in ``/batch`` requests of at most
  100). Found by name, case ignored, under the same parent.
- A create whose answer was lost is retried by the HTTP layer and then meets the
  term it made: WordPress refuses it with ``term_exists`` and the existing term's
  id as ``resource_id`` (``wp_insert_term``; passed on by the REST terms
  controller), which is taken as the answer. A global attribute made twice is
  refused "Slug ... is already in use": the attributes are read again and the one
  with that slug taken.
- What the shop refuses for another reason (an attribute whose slug would be too
  long or is a reserved word, see ``wc_create_attribute``) raises
  :class:`TermError` with the shop's words; the records that need it are refused
  with them, and the refusal is remembered for the run (not asked again per
  record).
"""

from __future__ import annotations

import html
import threading
from typing import Any

from filebridge.catalog.values import text
from filebridge.sinks.api.http import Http
from filebridge.sinks.api.woocommerce_model import attribute_key, fold, shop_words

LIMIT = 100


class TermError(Exception):
    """The shop refused to make a term a record needs (the shop's words)."""


def _name(shop_name: Any) -> str:
    """A term name as the REST API answers it ('&' as '&amp;') -> as ours."""
    return html.unescape(text(shop_name))


class Taxonomy:
    def __init__(self, http: Http):
        self.http = http
        self.lock = threading.Lock()
        self.forget()

    def forget(self) -> None:
        """Drop what was learnt: the next need reads the shop again."""
        self.categories: dict[tuple[int, str], int] | None = None  # (parent, fold) -> id
        self.default_categories: frozenset[int] = frozenset()
        self.tags: dict[str, int] | None = None
        self.attributes: dict[str, dict[str, Any]] | None = None  # fold(label) / slug -> it
        self.terms: dict[int, dict[str, int]] = {}  # attribute id -> fold(name) -> term id
        self.refused: dict[Any, str] = {}

    # -- reading ---------------------------------------------------------------------

    def _all(self, path: str, fields: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        page, pages = 1, 1
        while page <= pages:
            resp = self.http.request("GET", path, params={"per_page": LIMIT, "page": page,
                                                          "_fields": fields})
            pages = int(resp.headers.get("X-WP-TotalPages") or 1)
            out += resp.json()
            page += 1
        return out

    def _load_categories(self) -> dict[tuple[int, str], int]:
        if self.categories is None:
            found = self._all("/products/categories", "id,name,parent,slug")
            self.categories = {}
            for c in sorted(found, key=lambda c: c["id"]):  # the oldest of namesakes
                self.categories.setdefault((int(c.get("parent") or 0), fold(_name(c["name"]))),
                                           c["id"])
            self.default_categories = frozenset(c["id"] for c in found
                                                if c.get("slug") == "uncategorized")
        return self.categories

    def _load_tags(self) -> dict[str, int]:
        if self.tags is None:
            self.tags = {}
            for t in sorted(self._all("/products/tags", "id,name"), key=lambda t: t["id"]):
                self.tags.setdefault(fold(_name(t["name"])), t["id"])
        return self.tags

    def _load_attributes(self) -> dict[str, dict[str, Any]]:
        if self.attributes is None:
            self.attributes = {}
            for a in self.http.json("GET", "/products/attributes") or []:
                self.attributes.setdefault(fold(_name(a["name"])), a)
                self.attributes.setdefault("slug:" + text(a["slug"]).removeprefix("pa_"), a)
        return self.attributes

    def _load_terms(self, aid: int) -> dict[str, int]:
        if aid not in self.terms:
            self.terms[aid] = {}
            for t in sorted(self._all(f"/products/attributes/{aid}/terms", "id,name"),
                            key=lambda t: t["id"]):
                self.terms[aid].setdefault(fold(_name(t["name"])), t["id"])
        return self.terms[aid]

    # -- making ----------------------------------------------------------------------

    def _create(self, path: str, bodies: list[dict[str, Any]]) -> list[int | str]:
        """Create terms in batches: each one's id, or the shop's words for a refusal.
        ``term_exists`` (made before, by us or anyone) is the existing term's id."""
        out: list[int | str] = []
        for i in range(0, len(bodies), LIMIT):
            chunk = bodies[i:i + LIMIT]
            answer = self.http.json("POST", f"{path}/batch", {"create": chunk}) or {}
            got = list(answer.get("create") or [])
            for n in range(len(chunk)):
                item: dict[str, Any] = got[n] if n < len(got) else {
                    "error": {"message": "the shop did not answer for it"}}
                error = item.get("error")
                if not error:
                    out.append(int(item["id"]))
                elif error.get("code") == "term_exists" and \
                        (error.get("data") or {}).get("resource_id"):
                    out.append(int(error["data"]["resource_id"]))
                else:
                    out.append(shop_words(error))
        return out

    # -- what records need -------------------------------------------------------------

    def category_ids(self, paths: list[list[str]], create: bool = True) -> list[int]:
        """The leaf category of each path, made parent by parent when missing (or
        left out when ``create`` is false)."""
        with self.lock:
            cats = self._load_categories()
            while create:
                wanted: dict[tuple[int, str], str] = {}
                for path in paths:
                    parent = 0
                    for level in path:
                        key = (parent, fold(level))
                        if key in self.refused:
                            raise TermError(f"category {' > '.join(path)}: "
                                            f"{self.refused[key]}")
                        if key not in cats:
                            wanted.setdefault(key, level)
                            break
                        parent = cats[key]
                if not wanted:
                    break
                keys = list(wanted)
                made = self._create("/products/categories",
                                    [{"name": wanted[k], "parent": k[0]} if k[0] else
                                     {"name": wanted[k]} for k in keys])
                for key, got in zip(keys, made, strict=True):
                    if isinstance(got, int):
                        cats[key] = got
                    else:
                        self.refused[key] = got
            out = []
            for path in paths:
                parent = 0
                for level in path:
                    parent = cats.get((parent, fold(level)), -1)
                    if parent < 0:
                        break
                if parent > 0:
                    out.append(parent)
            return list(dict.fromkeys(out))

    def tag_ids(self, names: list[str], create: bool = True) -> list[int]:
        with self.lock:
            tags = self._load_tags()
            missing = list(dict.fromkeys(n for n in names if fold(n) not in tags))
            for n in missing:
                if ("tag", fold(n)) in self.refused:
                    raise TermError(f"tag {n}: {self.refused[('tag', fold(n))]}")
            if create and missing:
                made = self._create("/products/tags", [{"name": n} for n in missing])
                for n, got in zip(missing, made, strict=True):
                    if isinstance(got, int):
                        tags[fold(n)] = got
                    else:
                        self.refused[("tag", fold(n))] = got
                        raise TermError(f"tag {n}: {got}")
            return list(dict.fromkeys(tags[fold(n)] for n in names if fold(n) in tags))

    def attribute_id(self, name: str, create: bool = True) -> int | None:
        """The global attribute labelled ``name`` (or with its slug), made when missing."""
        with self.lock:
            attrs = self._load_attributes()
            slug = "slug:" + attribute_key(name)
            found = attrs.get(fold(name)) or attrs.get(slug)
            if found is not None:
                return int(found["id"])
            if ("attribute", fold(name)) in self.refused:
                raise TermError(self.refused[("attribute", fold(name))])
            if not create:
                return None
            resp = self.http.request("POST", "/products/attributes", json={"name": name},
                                     ok=lambda r: r.status_code == 400)
            body = resp.json() if resp.content else {}
            if resp.status_code < 300:
                attrs[fold(name)] = attrs[slug] = body
                return int(body["id"])
            self.attributes = None  # made meanwhile (a lost answer)? read them again
            attrs = self._load_attributes()
            found = attrs.get(fold(name)) or attrs.get(slug)
            if found is not None:
                return int(found["id"])
            why = (f"the shop refused the global attribute {name}: "
                   f"{shop_words(body if isinstance(body, dict) else {})}")
            self.refused[("attribute", fold(name))] = why
            raise TermError(why)

    def term_names(self, aid: int, names: list[str]) -> None:
        """Make the terms ``names`` of global attribute ``aid`` that it lacks: the
        product then names them and WooCommerce finds them (made here, under the
        lock, rather than by each product's save, where two saves at once lose one)."""
        with self.lock:
            terms = self._load_terms(aid)
            missing = list(dict.fromkeys(n for n in names if fold(n) not in terms))
            for n in missing:
                if (aid, fold(n)) in self.refused:
                    raise TermError(f"value {n}: {self.refused[(aid, fold(n))]}")
            if not missing:
                return
            made = self._create(f"/products/attributes/{aid}/terms",
                                [{"name": n} for n in missing])
            for n, got in zip(missing, made, strict=True):
                if isinstance(got, int):
                    terms[fold(n)] = got
                else:
                    self.refused[(aid, fold(n))] = got
                    raise TermError(f"value {n}: {got}")
