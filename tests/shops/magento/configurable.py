"""Configurable products of the loopback Magento: options and children saved with
the parent through ``extension_attributes`` of a product save.

[code: magento/magento2 app/code/Magento/ConfigurableProduct/Model/Plugin/
ProductRepositorySave.php ``beforeSave``; Model/Product/SaveHandler.php;
Model/OptionRepository.php ``validateNewOptionData``; Model/Product/Type/
Configurable.php ``canUseAttribute``; Model/Plugin/PriceBackend.php]

- Only a product of type ``configurable`` takes them; on another type they are ignored.
- Before anything is saved, each child in ``configurable_product_links`` (product ids)
  must exist (404) and hold a value for every attribute of the options sent:
  ``Product with id "%1" does not contain required attribute "%2".``; two children
  with the same values: ``Products "%1" and "%2" have the same set of attribute
  values.``
- ``configurable_product_options`` replaces the options: an option whose label or
  position changed is made again; a new one needs ``attribute_id`` (``Option
  attribute ID is not specified.``), ``label`` (``Option label is not specified.``)
  and ``values`` each with a ``value_index`` (``Option values are not specified.``,
  ``Value index is not specified for an option.``); its attribute must be global,
  visible, user-defined and take options (canUseAttribute), else the option
  repository's ``Something went wrong while saving option.``
- ``configurable_product_links`` replaces the children wholesale (left out: kept).
- The save is one transaction: a refused option or child leaves nothing changed.
- A configurable needs no price (PriceBackend skips its validation).

Routes: ``GET /V1/configurable-products/{sku}/children`` and
``/options/all``. Read-back: ``configurable(sku)``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from shops.magento.base import MagentoError, ShopState
from shops.magento.stores import ADMIN, Scope

NO_PRODUCT = "The product that was requested doesn't exist. Verify the product and try again."


class Configurable(ShopState):
    ROUTES: ClassVar[list[tuple[str, str, str]]] = [
        ("GET", "V1/configurable-products/{sku}/children", "get_children"),
        ("GET", "V1/configurable-products/{sku}/options/all", "get_configurable_options"),
    ]

    products: dict[str, dict[str, Any]]
    attributes: dict[str, dict[str, Any]]

    def __init__(self, **kw: Any):
        super().__init__(**kw)
        self.next_super = 1

    # -- read-back ----------------------------------------------------------------

    def configurable(self, sku: str) -> dict[str, Any]:
        """{"options": [(attribute code, label, position)], "children": [sku, ...]}."""
        with self.lock:
            conf = self.products[sku].get("configurable") or {"options": [], "links": []}
            by_id = {p["id"]: s for s, p in self.products.items()}
            return {"options": [(self._code(o["attribute_id"]), o["label"], o["position"])
                                for o in sorted(conf["options"], key=lambda o: o["position"])],
                    "children": [by_id[i] for i in conf["links"] if i in by_id]}

    def _code(self, attribute_id: Any) -> str:
        return next((c for c, a in self.attributes.items()
                     if str(a["attribute_id"]) == str(attribute_id)), "")

    # -- what the product save uses ------------------------------------------------

    def plan_configurable(self, p: dict[str, Any] | None, type_id: str,
                          ext: dict[str, Any]) -> dict[str, Any] | None:
        """The configurable data after the save (None: unchanged), or MagentoError."""
        if type_id != "configurable":
            return None
        options, links = ext.get("configurable_product_options"), \
            ext.get("configurable_product_links")
        if options is None and links is None:
            return None
        current = (p or {}).get("configurable") or {"options": [], "links": []}
        codes = []
        for o in options or []:
            a = self._by_id(o.get("attribute_id") if isinstance(o, dict) else None)
            codes.append(a["attribute_code"] if a else None)
        if links is not None:
            self._check_links(links, [c for c in codes if c])
        new_options = current["options"]
        if options is not None:
            new_options = self._super_options(current["options"], options)
        return {"options": new_options,
                "links": [int(i) for i in links] if links is not None else current["links"]}

    def _by_id(self, attribute_id: Any) -> dict[str, Any] | None:
        return next((a for a in self.attributes.values()
                     if attribute_id is not None and str(a["attribute_id"]) == str(attribute_id)),
                    None)

    def _check_links(self, links: Any, codes: list[str]) -> None:
        if not isinstance(links, list):
            raise MagentoError(400, '"%fieldName" is required. Enter and try again.',
                               {"fieldName": "configurable_product_links"})
        by_id = {p["id"]: p for p in self.products.values()}
        seen: dict[str, Any] = {}
        for pid in links:
            child = by_id.get(int(pid)) if str(pid).isdigit() else None
            if child is None:
                raise MagentoError(404, NO_PRODUCT)
            values = child["values"].get(ADMIN, {})
            key = ""
            for code in codes:
                if values.get(code) in (None, "", 0, "0"):
                    raise MagentoError(400, 'Product with id "%1" does not contain required '
                                       'attribute "%2".', [pid, code])
                key += f"{code}:{values[code]};"
            if key in seen:
                raise MagentoError(400, 'Products "%1" and "%2" have the same set of '
                                   'attribute values.', [pid, seen[key]])
            seen[key] = pid

    def _super_options(self, current: list[dict[str, Any]], options: Any) -> list[dict[str, Any]]:
        if not isinstance(options, list):
            raise MagentoError(400, '"%fieldName" is required. Enter and try again.',
                               {"fieldName": "configurable_product_options"})
        old = {str(o["attribute_id"]): o for o in current}
        out = []
        for o in options:
            o = o if isinstance(o, dict) else {}
            prev = old.get(str(o.get("attribute_id")))
            if prev is not None and prev["label"] == o.get("label") and \
                    prev["position"] == (o.get("position") or 0):
                out.append(prev)  # unchanged: kept (SaveHandler::isOptionChanged)
                continue
            errors = []
            if not o.get("attribute_id"):
                errors.append("Option attribute ID is not specified.")
            if not o.get("label"):
                errors.append("Option label is not specified.")
            values = o.get("values")
            if not values or not isinstance(values, list):
                errors.append("Option values are not specified.")
            elif not all(isinstance(v, dict) and v.get("value_index") for v in values):
                errors.append("Value index is not specified for an option.")
            if errors:
                raise MagentoError(400, errors[0] if len(errors) == 1 else
                                   "One or more input exceptions have occurred.")
            a = self._by_id(o["attribute_id"])
            if a is None:
                raise MagentoError(404, 'The attribute with a "%1" attributeCode doesn\'t '
                                   'exist. Verify the attribute and try again.',
                                   [o["attribute_id"]])
            if not (a["scope"] == "global" and a["is_visible"] and a["is_user_defined"]
                    and a["frontend_input"] in ("select", "multiselect")):
                raise MagentoError(400, "Something went wrong while saving option.")
            out.append({"id": self.next_super, "attribute_id": str(a["attribute_id"]),
                        "label": o["label"], "position": o.get("position") or 0,
                        "use_default": bool(o.get("is_use_default")),
                        "values": [{"value_index": int(v["value_index"])}
                                   for v in values or []]})
            self.next_super += 1
        return out

    def forget_child(self, pid: int) -> None:
        """A deleted product leaves every configurable (the link's foreign key)."""
        for p in self.products.values():
            conf = p.get("configurable")
            if conf and pid in conf["links"]:
                conf["links"].remove(pid)

    @staticmethod
    def configurable_out(p: dict[str, Any]) -> dict[str, Any]:
        conf = p.get("configurable")
        if p["type_id"] != "configurable" or not conf:
            return {}
        return {"configurable_product_options": [
            {"id": o["id"], "attribute_id": o["attribute_id"], "label": o["label"],
             "position": o["position"], "values": o["values"], "product_id": p["id"]}
            for o in conf["options"]], "configurable_product_links": list(conf["links"])}

    # -- routes -----------------------------------------------------------------

    def _configurable(self, sku: str) -> dict[str, Any]:
        p = self.products.get(sku)
        if p is None:
            raise MagentoError(404, NO_PRODUCT)
        return p

    def get_children(self, scope: Scope, params: list[str], query: dict[str, str],
                     body: Any) -> tuple[int, Any]:
        with self.lock:
            p = self._configurable(params[0])
            links = (p.get("configurable") or {}).get("links", [])
            by_id = {c["id"]: c for c in self.products.values()}
            return 200, [self.render(by_id[i], scope.store_id) for i in links if i in by_id]

    def get_configurable_options(self, scope: Scope, params: list[str], query: dict[str, str],
                                 body: Any) -> tuple[int, Any]:
        with self.lock:
            p = self._configurable(params[0])
            if p["type_id"] != "configurable":
                raise MagentoError(400, "Only implemented for configurable product: %1",
                                   [params[0]])
            return 200, self.configurable_out(p).get("configurable_product_options", [])

    def render(self, p: dict[str, Any], store_id: int) -> dict[str, Any]:
        raise NotImplementedError  # the products module's
