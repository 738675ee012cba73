"""Product attributes of the loopback Magento: their type and scope, their options
with a label per store, and the attribute set that decides which of them a product
keeps.

- ``GET /V1/products/attributes/{code}`` (ProductAttributeRepository::get): 404
  ``The attribute with a "%1" attributeCode doesn't exist. Verify the attribute and
  try again.``; the answer has ``attribute_id``, ``frontend_input``, ``scope``
  (``store``/``website``/``global``), ``is_user_defined``, ``is_filterable``,
  ``is_visible``, ``default_frontend_label`` and ``options`` (a select's start with
  the empty ``{"label": " ", "value": ""}``, as the source model's getAllOptions).
- ``GET /V1/products/attributes/{code}/options``: the options with their labels in
  the store of the path (its own label, else the admin one).
- ``POST /V1/products/attributes/{code}/options`` [code: magento/magento2
  app/code/Magento/Eav/Model/Entity/Attribute/OptionManagement.php ``add``]: only for
  an attribute that uses a source (select, multiselect), else ``The "%1" attribute
  doesn't work with options.``; an empty label is refused; a label equal to an
  existing option's admin label, compared case-insensitively (``mb_strtoupper``), is
  refused with ``Admin store attribute option label "%1" already exists.``; store
  labels go to their store ids (an unknown store fails the attribute save: ``The
  "%1" attribute can't be saved.``); answers the new option's id as a string.
- ``GET /V1/products/attribute-sets/{id}/attributes``: the set's attributes.

Which values a product keeps [code: Catalog/Model/ResourceModel/AbstractResource.php
``_isApplicableAttribute``: ``$attribute->isInSet($object->getAttributeSetId())``]: a
value of an attribute that is not in the product's attribute set, or of no attribute
at all, is dropped without a word. A select's value must be one of its option ids
and a multiselect's a comma list of them; the real shop stores whatever integer it
is given (and fails on text in MySQL strict mode with a generic error), so the
loopback refuses any other value with that generic error, never more leniently.

Seeded as in a standard install: the system attributes of the Default set (4) and the
user-defined ``color`` and ``manufacturer`` selects (global). ``add_attribute`` makes
more; read-back: ``option_labels(code)``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from shops.magento.base import MagentoError
from shops.magento.stores import ADMIN, Scope, Stores

DEFAULT_SET = 4
SAVE_FAILED = "The product was unable to be saved. Please try again."
# code -> (frontend_input, scope): the Default set's system attributes
SYSTEM = {
    "name": ("text", "store"), "sku": ("text", "global"), "description": ("textarea", "store"),
    "short_description": ("textarea", "store"), "url_key": ("text", "store"),
    "meta_title": ("text", "store"), "meta_keyword": ("textarea", "store"),
    "meta_description": ("textarea", "store"), "status": ("boolean", "website"),
    "visibility": ("select", "store"), "price": ("price", "global"),
    "special_price": ("price", "global"), "special_from_date": ("date", "website"),
    "special_to_date": ("date", "website"), "cost": ("price", "global"),
    "weight": ("weight", "global"), "tax_class_id": ("select", "website"),
    "image": ("media_image", "store"), "small_image": ("media_image", "store"),
    "thumbnail": ("media_image", "store"), "swatch_image": ("media_image", "store"),
    "news_from_date": ("date", "website"), "news_to_date": ("date", "website"),
    "country_of_manufacture": ("select", "website"),
}
USER = {"color": ("select", "global"), "manufacturer": ("select", "global")}
# System selects whose values come from a source model, not from stored options.
SOURCE_MODEL = ("visibility", "tax_class_id", "country_of_manufacture", "status")


def no_attribute(code: str) -> MagentoError:
    return MagentoError(404, 'The attribute with a "%1" attributeCode doesn\'t exist. '
                        'Verify the attribute and try again.', [code])


class Attributes(Stores):
    ROUTES: ClassVar[list[tuple[str, str, str]]] = [
        ("GET", "V1/products/attributes/{code}", "get_attribute"),
        ("GET", "V1/products/attributes/{code}/options", "get_options"),
        ("POST", "V1/products/attributes/{code}/options", "post_option"),
        ("GET", "V1/products/attribute-sets/{id}/attributes", "get_set_attributes"),
    ]

    def __init__(self, **kw: Any):
        super().__init__(**kw)
        self.attributes: dict[str, dict[str, Any]] = {}
        self.sets: dict[int, set[str]] = {DEFAULT_SET: set()}
        self.next_option = 1
        self.option_creates = 0
        for code, (kind, scope) in SYSTEM.items():
            self.add_attribute(code, kind, scope, user_defined=False, filterable=0)
        for code, (kind, scope) in USER.items():
            self.add_attribute(code, kind, scope, filterable=1)

    # -- setup and read-back -------------------------------------------------------

    def add_attribute(self, code: str, kind: str = "select", scope: str = "global", *,
                      user_defined: bool = True, filterable: int = 1, label: str = "",
                      sets: tuple[int, ...] = (DEFAULT_SET,),
                      options: tuple[str, ...] = ()) -> None:
        """Make an attribute (as Stores > Attributes > Product would) in ``sets``."""
        with self.lock:
            self.attributes[code] = {
                "attribute_id": len(self.attributes) + 70, "attribute_code": code,
                "frontend_input": kind, "scope": scope, "is_user_defined": user_defined,
                "is_filterable": filterable, "is_visible": True,
                "default_frontend_label": label or code.replace("_", " ").title(),
                "options": {}}
            for s in sets:
                self.sets.setdefault(s, set()).add(code)
            for value in options:
                self._add_option(self.attributes[code], value, 0, {})

    def option_labels(self, code: str, store: str | None = "all") -> dict[str, str]:
        """Option id -> label as ``store`` reads it (``all``: the admin label)."""
        with self.lock:
            sid = self.read_store(store)
            return {str(i): self._label(o, sid)
                    for i, o in self.attributes[code]["options"].items()}

    def ordered_labels(self, code: str) -> list[str]:
        """The admin labels in the order the shop lists them (sort order, then id)."""
        with self.lock:
            return [o["label"] for o in self._options(self.attributes[code], ADMIN)[1:]]

    def label_of(self, code: str, value: Any, store: str | None = "all") -> str:
        """The label of a stored select value (a multiselect's comma list of them)."""
        labels = self.option_labels(code, store)
        return ", ".join(labels[v] for v in str(value).split(","))

    # -- what the product save uses ------------------------------------------------

    def scope_of(self, attribute: str) -> str:
        a = self.attributes.get(attribute)
        if a is not None and a["is_user_defined"]:
            return str(a["scope"])
        return super().scope_of(attribute)

    def applicable(self, code: str, set_id: int) -> bool:
        """Catalog AbstractResource::_isApplicableAttribute: an attribute of the set."""
        return code in self.attributes and code in self.sets.get(set_id, set())

    def check_value(self, code: str, value: Any) -> None:
        """A select takes one of its option ids, a multiselect a comma list of them."""
        a = self.attributes[code]
        if a["frontend_input"] not in ("select", "multiselect") or code in SOURCE_MODEL \
                or value in (None, ""):
            return
        ids = str(value).split(",") if a["frontend_input"] == "multiselect" else [str(value)]
        if not all(i.isdigit() and int(i) in a["options"] for i in ids):
            raise MagentoError(400, SAVE_FAILED)

    # -- routes -------------------------------------------------------------------

    def _attribute(self, code: str) -> dict[str, Any]:
        a = self.attributes.get(code)
        if a is None:
            raise no_attribute(code)
        return a

    def _attribute_out(self, a: dict[str, Any], store_id: int) -> dict[str, Any]:
        out = {k: v for k, v in a.items() if k != "options"}
        out["scope"] = self.scope_of(a["attribute_code"])
        out["frontend_labels"] = []
        out["options"] = self._options(a, store_id)
        return out

    def _options(self, a: dict[str, Any], store_id: int) -> list[dict[str, str]]:
        if a["frontend_input"] not in ("select", "multiselect"):
            return []
        ordered = sorted(a["options"].items(), key=lambda kv: (kv[1]["sort_order"], kv[0]))
        return [{"label": " ", "value": ""}] + [
            {"label": self._label(o, store_id), "value": str(i)} for i, o in ordered]

    @staticmethod
    def _label(option: dict[str, Any], store_id: int) -> str:
        return str(option["labels"].get(store_id) or option["label"])

    def get_attribute(self, scope: Scope, params: list[str], query: dict[str, str],
                      body: Any) -> tuple[int, Any]:
        with self.lock:
            return 200, self._attribute_out(self._attribute(params[0]), scope.store_id)

    def get_options(self, scope: Scope, params: list[str], query: dict[str, str],
                    body: Any) -> tuple[int, Any]:
        with self.lock:
            return 200, self._options(self._attribute(params[0]), scope.store_id)

    def get_set_attributes(self, scope: Scope, params: list[str], query: dict[str, str],
                           body: Any) -> tuple[int, Any]:
        set_id = int(params[0]) if params[0].isdigit() else -1
        with self.lock:
            if set_id not in self.sets:
                raise MagentoError(404, "No such entity with %fieldName = %fieldValue",
                                   {"fieldName": "id", "fieldValue": params[0]})
            return 200, [self._attribute_out(self.attributes[c], scope.store_id)
                         for c in sorted(self.sets[set_id])]

    def post_option(self, scope: Scope, params: list[str], query: dict[str, str],
                    body: Any) -> tuple[int, Any]:
        option = body.get("option") if isinstance(body, dict) else None
        if not isinstance(option, dict):
            raise MagentoError(400, '"%fieldName" is required. Enter and try again.',
                               {"fieldName": "option"})
        with self.lock:
            a = self._attribute(params[0])
            if a["frontend_input"] not in ("select", "multiselect") or \
                    params[0] in SOURCE_MODEL:
                raise MagentoError(400, 'The "%1" attribute doesn\'t work with options.',
                                   [params[0]])
            label = str(option.get("label") or "").strip()
            if not label:
                raise MagentoError(400, "The attribute option label is empty. Enter the "
                                   "value and try again.")
            if any(o["label"].upper() == label.upper() for o in a["options"].values()):
                raise MagentoError(400, 'Admin store attribute option label "%1" already '
                                   'exists.', [option.get("label")])
            labels: dict[int, str] = {}
            for sl in option.get("store_labels") or []:
                sid = sl.get("store_id") if isinstance(sl, dict) else None
                if not isinstance(sid, int) or (sid != ADMIN and sid not in
                                                self.stores.values()):
                    raise MagentoError(400, 'The "%1" attribute can\'t be saved.', [params[0]])
                labels[sid] = str(sl.get("label") or "")
            order = option.get("sort_order") or 0
            if not isinstance(order, int) or isinstance(order, bool):
                order = int(str(order)) if str(order).isdigit() else 0
            oid = self._add_option(a, label, order, labels)
            self.option_creates += 1
        return 200, str(oid)

    def _add_option(self, a: dict[str, Any], label: str, order: int,
                    labels: dict[int, str]) -> int:
        oid = self.next_option
        self.next_option += 1
        a["options"][oid] = {"label": label, "sort_order": order,
                             "labels": {s: t for s, t in labels.items() if s != ADMIN}}
        return oid
