"""Product categories, tags, global attributes and their terms, as WordPress and
WooCommerce keep them, behind ``/products/categories``, ``/products/tags``,
``/products/attributes`` and ``/products/attributes/<id>/terms`` (each with
``/<id>`` and ``/batch``).

Read in WordPress ``wp-includes/taxonomy.php`` (``wp_insert_term``,
``wp_unique_term_slug``, ``wp_delete_term``) and woocommerce/woocommerce
``plugins/woocommerce/includes/rest-api/Controllers/Version3/``
``class-wc-rest-terms-controller.php`` @092f6362, ``class-wc-rest-product-attributes-
controller.php`` @123d4995 (and its V1 parent), ``includes/wc-attribute-functions.php``
(``wc_create_attribute``):

- ``wp_insert_term``: an empty name is ``empty_term_name`` "A name is required for
  this term."; a parent that is no term is ``missing_parent`` "Parent term does not
  exist."; the name is stored sanitised (:func:`~.base.stored_name`). A term whose
  name matches an existing one at the same level (``get_terms(name, parent)``: the
  database collation, case and accents ignored, then PHP ``strtolower`` equality)
  is refused with ``term_exists`` and the existing term's id as ``resource_id``
  (the REST controller passes it on): in a hierarchical taxonomy (categories) only
  when a sibling has exactly that name ("A term with the name provided already
  exists with this parent."; a sibling "maglieria" does not stop "Maglieria"), in
  a flat one (tags, attribute terms) always ("... already exists in this
  taxonomy."). Otherwise the slug is made unique (``wp_unique_term_slug``: the
  parents' slugs appended in a hierarchy, then -2, -3 ...).
- ``parent`` on a flat taxonomy: 400 ``woocommerce_rest_taxonomy_not_hierarchical``.
- Deleting needs ``force=true`` (501 ``woocommerce_rest_trash_not_supported``); a
  deleted category's children move up to its parent; the default category
  ("Uncategorized") is not deleted (``woocommerce_rest_cannot_delete``).
- Global attributes (``wc_create_attribute``): the name is required; the slug is
  ``wc_sanitize_taxonomy_name`` of the slug given, else of the name, without
  ``pa_``; more than 28 characters, a reserved WordPress query word (``type``,
  ``name``, ``order`` ...) or a slug in use are refused, which the REST controller
  answers as 400 ``woocommerce_rest_cannot_create`` with WooCommerce's sentence.
  ``GET /products/attributes`` lists them all in one page. An unknown attribute
  id under ``/terms`` is 404 ``woocommerce_rest_taxonomy_invalid``.
- Term lists: ``per_page``, ``page``, ``offset``, ``search`` (name or slug
  contains, case ignored), ``slug``, ``include``, ``exclude``, ``parent`` (for
  categories), ``hide_empty`` (default false); sortable taxonomies (categories and
  ``pa_*``) in ``menu_order`` then creation order, tags by name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from checkers.woocommerce_importer import RESERVED

from .base import (
    BATCH_LIMIT,
    State,
    WooError,
    ascii_lower,
    batch,
    collate,
    fields,
    invalid,
    label,
    missing,
    no_route,
    page,
    sanitize_title,
    stored_name,
    to_int,
    wc_sanitize_taxonomy_name,
)

ATTRIBUTE_TYPES = ("select",)
ORDER_BY = ("menu_order", "name", "name_num", "id")


@dataclass
class Term:
    id: int
    name: str  # stored form ('&' as '&amp;')
    slug: str
    parent: int = 0
    description: str = ""
    menu_order: int = 0

    @property
    def label(self) -> str:
        return label(self.name)


@dataclass
class Taxonomy:
    """One taxonomy's terms."""

    state: State
    name: str  # product_cat, product_tag, pa_<slug>
    hierarchical: bool
    terms: dict[int, Term] = field(default_factory=dict)
    usage: Callable[[str, int], int] = lambda taxonomy, term: 0  # products using a term
    default: int = 0  # the default category ("Uncategorized")

    def get(self, tid: int) -> Term | None:
        return self.terms.get(tid)

    def by_slug(self, slug: str) -> Term | None:
        return next((t for t in self.terms.values() if t.slug == slug), None)

    def by_name(self, name: str, parent: int | None = None) -> Term | None:
        """``get_term_by('name', ...)``: the database collation decides (case,
        accents and trailing spaces ignored); the oldest term wins."""
        key = collate(label(stored_name(name)))
        return next((t for t in sorted(self.terms.values(), key=lambda t: t.id)
                     if collate(t.label) == key and (parent is None or t.parent == parent)),
                    None)

    def exists(self, value: str) -> Term | None:
        """``term_exists`` of a name or slug (slug first, as WordPress tries it)."""
        return self.by_slug(sanitize_title(value)) or self.by_name(value)

    def insert(self, name: Any, parent: int = 0, slug: str = "", description: str = "",
               menu_order: int = 0) -> Term:
        """``wp_insert_term``; raises WooError as the REST controller words it."""
        if not isinstance(name, str) or not name.strip():
            raise WooError(400, "empty_term_name", "A name is required for this term.")
        if parent and not self.state_has(parent):
            raise WooError(400, "missing_parent", "Parent term does not exist.")
        stored = stored_name(name)
        slug_provided = bool(slug)
        slug = sanitize_title(slug) if slug_provided else sanitize_title(label(stored))
        key = collate(label(stored))
        matches = [t for t in sorted(self.terms.values(), key=lambda t: t.id)
                   if t.parent == parent and collate(t.label) == key]
        name_match = next((t for t in matches if ascii_lower(t.name) == ascii_lower(stored)),
                          None)
        if name_match is not None:
            slug_match = self.by_slug(slug)
            if not slug_provided or name_match.slug == slug or slug_match:
                if not self.hierarchical:
                    raise WooError(400, "term_exists", "A term with the name provided already "
                                   "exists in this taxonomy.", resource_id=name_match.id)
                siblings = [t for t in self.terms.values() if t.parent == parent]
                existing = None
                if (not slug_provided or name_match.slug == slug) and \
                        stored in [t.name for t in siblings]:
                    existing = name_match
                elif slug_match and slug in [t.slug for t in siblings]:
                    existing = slug_match
                if existing is not None:
                    raise WooError(400, "term_exists", "A term with the name provided already "
                                   "exists with this parent.", resource_id=existing.id)
        term = Term(self.state.new_id(), stored, self._unique(slug or "term", parent), parent,
                    description, menu_order)
        self.terms[term.id] = term
        return term

    def state_has(self, tid: int) -> bool:
        # term_exists((int) $parent) looks in every taxonomy; the parent of a
        # category must be a category for the tree to make sense, as here.
        return tid in self.terms

    def _unique(self, slug: str, parent: int) -> str:
        """``wp_unique_term_slug``."""
        taken = {t.slug for t in self.terms.values()}
        if slug not in taken:
            return slug
        base = slug
        if self.hierarchical and parent:
            suffix, p = "", self.terms.get(parent)
            while p is not None:
                suffix += "-" + p.slug
                if base + suffix not in taken:
                    return base + suffix
                p = self.terms.get(p.parent) if p.parent else None
            base += suffix
        n = 2
        while f"{base}-{n}" in taken:
            n += 1
        return f"{base}-{n}"

    def update(self, tid: int, body: dict[str, Any]) -> Term:
        t = self.terms.get(tid)
        if t is None:
            raise WooError(404, "woocommerce_rest_term_invalid", "Resource does not exist.")
        if "parent" in body and not self.hierarchical:
            raise WooError(400, "woocommerce_rest_taxonomy_not_hierarchical",
                           "Can not set resource parent, taxonomy is not hierarchical.")
        if "name" in body:
            if not isinstance(body["name"], str) or not body["name"].strip():
                raise WooError(400, "empty_term_name", "A name is required for this term.")
            t.name = stored_name(body["name"])
        if body.get("slug"):
            t.slug = self._unique(sanitize_title(str(body["slug"])), t.parent) \
                if sanitize_title(str(body["slug"])) != t.slug else t.slug
        if "parent" in body:
            p = to_int(body["parent"])
            if p and (p not in self.terms or p == tid):
                raise WooError(400, "missing_parent", "Parent term does not exist.")
            t.parent = p
        if "description" in body:
            t.description = str(body["description"])
        if "menu_order" in body:
            t.menu_order = to_int(body["menu_order"])
        return t

    def delete(self, tid: int) -> Term:
        t = self.terms.pop(tid, None)
        if t is None:
            raise WooError(404, "woocommerce_rest_term_invalid", "Resource does not exist.")
        for child in self.terms.values():
            if child.parent == tid:
                child.parent = t.parent
        return t

    def ordered(self) -> list[Term]:
        if self.name == "product_tag":
            return sorted(self.terms.values(), key=lambda t: (collate(t.label), t.id))
        return sorted(self.terms.values(), key=lambda t: (t.menu_order, t.id))

    def view(self, t: Term) -> dict[str, Any]:
        out: dict[str, Any] = {"id": t.id, "name": t.name, "slug": t.slug}
        if self.hierarchical:
            out["parent"] = t.parent
        out["description"] = t.description
        if self.name == "product_cat":
            out.update({"display": "default", "image": None})
        if self.name != "product_tag":
            out["menu_order"] = t.menu_order
        out["count"] = self.usage(self.name, t.id)
        return out

    def path(self, tid: int) -> list[str]:
        out: list[str] = []
        t = self.terms.get(tid)
        while t is not None:
            out.append(t.label)
            t = self.terms.get(t.parent) if t.parent else None
        return out[::-1]

    # -- REST ------------------------------------------------------------------------

    def listing(self, query: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        items = self.ordered()
        if query.get("search"):
            s = query["search"].lower()
            items = [t for t in items if s in t.label.lower() or s in t.slug]
        if query.get("slug"):
            wanted = set(query["slug"].split(","))
            items = [t for t in items if t.slug in wanted]
        for param, keep in (("include", True), ("exclude", False)):
            if query.get(param):
                ids = {to_int(i) for i in query[param].split(",")}
                items = [t for t in items if (t.id in ids) == keep]
        if self.hierarchical and "parent" in query:
            items = [t for t in items if t.parent == to_int(query["parent"])]
        if query.get("hide_empty", "false").lower() in ("1", "true"):
            items = [t for t in items if self.usage(self.name, t.id)]
        status, headers, chunk = page(items, query)
        return status, headers, [fields(self.view(t), query) for t in chunk]

    def create(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise WooError(400, "rest_invalid_json", "Invalid JSON body passed.")
        if "name" not in body:
            raise missing("name")
        if not isinstance(body["name"], str):
            raise invalid("name", "name is not of type string.")
        if "parent" in body and not self.hierarchical:
            raise WooError(400, "woocommerce_rest_taxonomy_not_hierarchical",
                           "Can not set resource parent, taxonomy is not hierarchical.")
        t = self.insert(body["name"], to_int(body.get("parent")), str(body.get("slug") or ""),
                        str(body.get("description") or ""), to_int(body.get("menu_order")))
        return self.view(t)

    def handle(self, method: str, rest: list[str], query: dict[str, str], data: Any
               ) -> tuple[int, dict[str, str], Any]:
        if not rest:
            if method == "GET":
                return self.listing(query)
            if method == "POST":
                return 201, {}, self.create(data)
        elif rest == ["batch"] and method in ("POST", "PUT", "PATCH"):
            return 200, {}, batch(data, BATCH_LIMIT, self.create,
                                  lambda tid, b: self.view(self.update(tid, b)),
                                  lambda tid: self._delete(tid, {"force": "true"}))
        elif len(rest) == 1 and rest[0].isdigit():
            tid = int(rest[0])
            if method == "GET":
                t = self.get(tid)
                if t is None:
                    raise WooError(404, "woocommerce_rest_term_invalid",
                                   "Resource does not exist.")
                return 200, {}, fields(self.view(t), query)
            if method in ("POST", "PUT", "PATCH"):
                return 200, {}, self.view(self.update(tid, data or {}))
            if method == "DELETE":
                return 200, {}, self._delete(tid, query)
        raise no_route()

    def _delete(self, tid: int, query: dict[str, str]) -> dict[str, Any]:
        if str(query.get("force", "")).lower() not in ("1", "true"):
            raise WooError(501, "woocommerce_rest_trash_not_supported",
                           "Resource does not support trashing.")
        t = self.get(tid)
        if t is None:
            raise WooError(404, "woocommerce_rest_term_invalid", "Resource does not exist.")
        if self.name == "product_cat" and self.default == tid:
            raise WooError(500, "woocommerce_rest_cannot_delete",
                           "The resource cannot be deleted.")
        answer = self.view(t)
        self.delete(tid)
        return answer


@dataclass
class Attribute:
    """A global attribute (a row of woocommerce_attribute_taxonomies) and its terms."""

    id: int
    label: str
    slug: str  # without pa_
    type: str
    order_by: str
    has_archives: bool
    terms: Taxonomy

    @property
    def taxonomy(self) -> str:
        return "pa_" + self.slug

    def view(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.label, "slug": self.taxonomy, "type": self.type,
                "order_by": self.order_by, "has_archives": self.has_archives}


class Terms:
    """Every taxonomy of the shop."""

    def __init__(self, state: State, usage: Callable[[str, int], int]):
        self.state = state
        self.usage = usage
        self.categories = Taxonomy(state, "product_cat", True, usage=usage)
        self.tags = Taxonomy(state, "product_tag", False, usage=usage)
        self.attributes: dict[int, Attribute] = {}
        self.next_attribute = 0  # attribute ids are their own sequence in WooCommerce
        uncategorized = self.categories.insert("Uncategorized")
        self.categories.default = uncategorized.id

    def taxonomy(self, name: str) -> Taxonomy | None:
        if name == "product_cat":
            return self.categories
        if name == "product_tag":
            return self.tags
        return next((a.terms for a in self.attributes.values() if a.taxonomy == name), None)

    def attribute_by_taxonomy(self, name: str) -> Attribute | None:
        return next((a for a in self.attributes.values() if a.taxonomy == name), None)

    # -- global attributes -----------------------------------------------------------

    def create_attribute(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise WooError(400, "rest_invalid_json", "Invalid JSON body passed.")
        if "name" not in body:
            raise missing("name")
        name = body["name"]
        if not isinstance(name, str):
            raise invalid("name", "name is not of type string.")
        name = stored_name(name)  # the schema's sanitize_callback: sanitize_text_field
        if not name:
            raise self._refused("Please, provide an attribute name.")
        slug = wc_sanitize_taxonomy_name(str(body.get("slug") or "")).removeprefix("pa_") \
            if body.get("slug") else wc_sanitize_taxonomy_name(label(name))
        self._check_slug(slug, None)
        kind = body.get("type") or "select"
        if kind not in ATTRIBUTE_TYPES:
            raise invalid("type", "type is not one of " + ", ".join(ATTRIBUTE_TYPES) + ".")
        order_by = body.get("order_by") or "menu_order"
        if order_by not in ORDER_BY:
            raise invalid("order_by", "order_by is not one of " + ", ".join(ORDER_BY) + ".")
        self.next_attribute += 1
        a = Attribute(self.next_attribute, label(name), slug, kind, order_by,
                      body.get("has_archives") is True,
                      Taxonomy(self.state, "pa_" + slug, False, usage=self.usage))
        self.attributes[a.id] = a
        return a.view()

    def _check_slug(self, slug: str, own: int | None) -> None:
        if len(slug.encode()) > 28:
            raise self._refused(f'Slug "{slug}" is too long (28 characters max). Shorten it, '
                                "please.")
        if slug in RESERVED:
            raise self._refused(f'Slug "{slug}" is not allowed because it is a reserved term. '
                                "Change it, please.")
        if any(a.slug == slug and a.id != own for a in self.attributes.values()):
            raise self._refused(f'Slug "{slug}" is already in use. Change it, please.')

    @staticmethod
    def _refused(message: str) -> WooError:
        return WooError(400, "woocommerce_rest_cannot_create", message)

    def attribute(self, aid: int) -> Attribute:
        a = self.attributes.get(aid)
        if a is None:
            raise WooError(404, "woocommerce_rest_attribute_invalid", "Resource does not exist.")
        return a

    def update_attribute(self, aid: int, body: dict[str, Any]) -> dict[str, Any]:
        a = self.attribute(aid)
        if body.get("name"):
            a.label = label(stored_name(str(body["name"])))
        if body.get("slug"):
            slug = wc_sanitize_taxonomy_name(str(body["slug"])).removeprefix("pa_")
            if slug != a.slug:
                self._check_slug(slug, aid)
                a.slug = slug
                a.terms.name = "pa_" + slug
        if body.get("order_by") in ORDER_BY:
            a.order_by = body["order_by"]
        if "has_archives" in body:
            a.has_archives = body["has_archives"] is True
        return a.view()

    def delete_attribute(self, aid: int, query: dict[str, str]) -> dict[str, Any]:
        if str(query.get("force", "")).lower() not in ("1", "true"):
            raise WooError(501, "woocommerce_rest_trash_not_supported",
                           "Resource does not support trashing.")
        a = self.attribute(aid)
        del self.attributes[aid]
        return a.view()

    # -- REST ------------------------------------------------------------------------

    def handle(self, method: str, parts: list[str], query: dict[str, str], data: Any
               ) -> tuple[int, dict[str, str], Any]:
        """``parts`` after ``products``: [categories|tags|attributes, ...]."""
        kind, rest = parts[0], parts[1:]
        with self.state.lock:
            if kind == "categories":
                return self.categories.handle(method, rest, query, data)
            if kind == "tags":
                return self.tags.handle(method, rest, query, data)
            if not rest:
                if method == "GET":
                    items = [fields(a.view(), query) for a in self.attributes.values()]
                    return 200, {"X-WP-Total": str(len(items)), "X-WP-TotalPages": "1"}, items
                if method == "POST":
                    return 201, {}, self.create_attribute(data)
            elif rest == ["batch"] and method in ("POST", "PUT", "PATCH"):
                return 200, {}, batch(data, BATCH_LIMIT, self.create_attribute,
                                      self.update_attribute,
                                      lambda aid: self.delete_attribute(aid, {"force": "1"}))
            elif rest[0].isdigit():
                aid = int(rest[0])
                if len(rest) == 1:
                    if method == "GET":
                        return 200, {}, fields(self.attribute(aid).view(), query)
                    if method in ("POST", "PUT", "PATCH"):
                        return 200, {}, self.update_attribute(aid, data or {})
                    if method == "DELETE":
                        return 200, {}, self.delete_attribute(aid, query)
                elif rest[1] == "terms":
                    a = self.attributes.get(aid)
                    if a is None:
                        raise WooError(404, "woocommerce_rest_taxonomy_invalid",
                                       "Taxonomy does not exist.")
                    return a.terms.handle(method, rest[2:], query, data)
        raise no_route()
