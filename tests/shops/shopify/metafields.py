"""Metafield definitions and product metafields of the loopback Shopify.

- ``metafieldDefinitions(first:, ownerType:, namespace:, key:)`` [doc: shopify.dev
  admin-graphql ``metafieldDefinitions``].
- ``metafieldDefinitionCreate(definition: {name namespace key type ownerType
  description access capabilities pin})`` [doc: ``metafieldDefinitionCreate``,
  ``MetafieldDefinitionCreateUserErrorCode``]: TAKEN when the owner type already has
  a definition with that namespace and key; INCLUSION for a type not in the list of
  types [doc: "List of data types" for metafields; the types modelled are below];
  BLANK for an empty name; TOO_SHORT / TOO_LONG for a key outside 2..64 characters
  and INVALID_CHARACTER for a key or namespace with characters other than letters,
  digits, ``-`` and ``_`` [doc: metafield key and namespace rules]. Messages invented.
- ``metafieldsSet(metafields: [{ownerId namespace key type value}])`` [doc:
  ``metafieldsSet``: "a maximum of 25 metafields", "atomic, meaning no changes are
  persisted if an error is encountered"; ``MetafieldsSetUserErrorCode``]: more than
  25 is LESS_THAN_OR_EQUAL_TO; an owner that does not exist is INVALID_VALUE
  (invented choice); a type that differs from the definition's is INVALID_TYPE; no
  type and no definition is BLANK; a value not valid for its type is INVALID_VALUE
  [doc: metafield types: ``single_line_text_field`` has no line breaks, lists are JSON
  arrays of their element type, ``number_integer``/``number_decimal`` numbers,
  ``boolean`` true/false]. Each error carries ``elementIndex``.
- Products show ``metafield(namespace:, key:)`` is not modelled; read back with
  ``metafields_of(handle)`` -> {"ns.key": (type, value)} and ``definitions()``.

Which definitions a storefront can filter by is the merchant's choice in the Search &
Discovery app; the Storefront API's ``MetafieldFilter`` takes ``single_line_text_field``,
``number_integer``, ``number_decimal`` and ``boolean`` [doc: storefront
``MetafieldFilter``], the admin's product index also the list types [help.shopify.com
"Filtering products with metafields"].
"""

from __future__ import annotations

import json
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from shops.shopify.base import Call, ShopState, user_error

TYPES = {"single_line_text_field", "multi_line_text_field", "number_integer",
         "number_decimal", "boolean", "list.single_line_text_field", "list.number_integer",
         "list.number_decimal", "date", "json", "url", "color"}
NAME = re.compile(r"^[A-Za-z0-9_-]+$")
MAX_SET = 25


def _scalar(type_: str, v: Any) -> bool:
    if type_ == "single_line_text_field":
        return isinstance(v, str) and "\n" not in v and "\r" not in v
    if type_ == "multi_line_text_field":
        return isinstance(v, str)
    if type_ == "number_integer":
        return isinstance(v, str) and re.fullmatch(r"-?\d+", v) is not None
    if type_ == "number_decimal":
        try:
            return isinstance(v, str) and Decimal(v).is_finite()
        except InvalidOperation:
            return False
    if type_ == "boolean":
        return v in ("true", "false")
    return isinstance(v, str)


def valid(type_: str, value: Any) -> bool:
    if not isinstance(value, str):
        return False
    if type_.startswith("list."):
        try:
            items = json.loads(value)
        except ValueError:
            return False
        return isinstance(items, list) and all(
            _scalar(type_[5:], x if isinstance(x, str) else json.dumps(x)) for x in items)
    return _scalar(type_, value)


class Metafields(ShopState):
    def __init__(self, **kw: Any):
        super().__init__(**kw)
        self.definitions_: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.metafields: dict[str, dict[str, Any]] = {}  # GID -> metafield
        self.metafields_set = 0  # metafields written by metafieldsSet

    # -- read-back ---------------------------------------------------------------------

    def definitions(self) -> dict[str, dict[str, Any]]:
        with self.lock:
            return {f"{ns}.{key}": {"name": d["name"], "type": d["type"],
                                    "storefront": d["storefront"]}
                    for (_, ns, key), d in self.definitions_.items()}

    def metafields_of(self, handle: str) -> dict[str, tuple[str, str]]:
        with self.lock:
            pid = self.handles[handle]
            return {f"{m['namespace']}.{m['key']}": (m["type"], m["value"])
                    for m in self.metafields.values() if m["owner"] == pid}

    def metafield_by_id(self, gid: str) -> dict[str, Any] | None:
        return self.metafields.get(gid)

    # -- definitions ---------------------------------------------------------------------

    def _definition_node(self, d: dict[str, Any]) -> dict[str, Any]:
        return {"__typename": "MetafieldDefinition", "id": d["id"], "name": d["name"],
                "namespace": d["namespace"], "key": d["key"], "ownerType": d["ownerType"],
                "type": {"name": d["type"]}, "access": {"storefront": d["storefront"]}}

    def query_metafieldDefinitions(self, call: Call) -> dict[str, Any]:
        owner, ns, key = (call.arg(k) for k in ("ownerType", "namespace", "key"))
        found = [self._definition_node(d) for (o, n, k), d in self.definitions_.items()
                 if o == owner and ns in (None, n) and key in (None, k)]
        n = call.arg("first")
        return {"nodes": found[:n], "pageInfo": {"hasNextPage": len(found) > n,
                                                 "endCursor": None}}

    def mutation_metafieldDefinitionCreate(self, call: Call) -> dict[str, Any]:
        d = call.arg("definition")
        if not isinstance(d, dict):
            raise call.invalid("definition", [], "Expected value to not be null")

        def fail(field: str, message: str, code: str) -> dict[str, Any]:
            return {"createdDefinition": None, "userErrors": [
                {**user_error(["definition", field], message, code), "elementIndex": None}]}

        ns, key, type_ = str(d.get("namespace") or ""), str(d.get("key") or ""), d.get("type")
        if not str(d.get("name") or "").strip():
            return fail("name", "Name can't be blank", "BLANK")
        if len(key) < 2:
            return fail("key", "Key is too short (minimum is 2 characters)", "TOO_SHORT")
        if len(key) > 64:
            return fail("key", "Key is too long (maximum is 64 characters)", "TOO_LONG")
        for field, v in (("namespace", ns), ("key", key)):
            if not NAME.match(v):
                return fail(field, f"{field.capitalize()} contains one or more invalid "
                            "characters", "INVALID_CHARACTER")
        if type_ not in TYPES:
            return fail("type", f"Type name {type_} is not a valid type", "INCLUSION")
        ident = (str(d.get("ownerType")), ns, key)
        if ident in self.definitions_:
            return fail("key", f"Key is in use for {ident[0].title()} metafields on the "
                        f"'{ns}' namespace.", "TAKEN")
        access = d.get("access") or {}
        self.definitions_[ident] = created = {
            "id": self._gid("MetafieldDefinition"), "name": d["name"], "namespace": ns,
            "key": key, "type": type_, "ownerType": ident[0],
            "storefront": access.get("storefront") or "NONE"}
        return {"createdDefinition": self._definition_node(created), "userErrors": []}

    # -- values --------------------------------------------------------------------------

    def mutation_metafieldsSet(self, call: Call) -> dict[str, Any]:
        items = call.arg("metafields")
        if not isinstance(items, list):
            raise call.invalid("metafields", [], "Expected value to not be null")

        def err(i: int | None, field: list[str], message: str, code: str) -> dict[str, Any]:
            return {**user_error(field, message, code), "elementIndex": i}

        errors = []
        if len(items) > MAX_SET:
            errors.append(err(None, ["metafields"], f"Exceeded the maximum metafields input "
                              f"limit of {MAX_SET}.", "LESS_THAN_OR_EQUAL_TO"))
        for i, m in enumerate(items if not errors else []):
            at = ["metafields", str(i)]
            owner = m.get("ownerId")
            d = self.definitions_.get(("PRODUCT", str(m.get("namespace")), str(m.get("key"))))
            type_ = m.get("type") or (d or {}).get("type")
            if owner not in self.products:
                errors.append(err(i, at + ["ownerId"], "Owner does not exist",
                                  "INVALID_VALUE"))
            elif type_ is None:
                errors.append(err(i, at + ["type"], "Type can't be blank", "BLANK"))
            elif d is not None and type_ != d["type"]:
                errors.append(err(i, at + ["type"], f"Type '{type_}' must be consistent "
                                  f"with the definition's type: '{d['type']}'.",
                                  "INVALID_TYPE"))
            elif type_ not in TYPES:
                errors.append(err(i, at + ["type"], f"Type '{type_}' is not a valid type",
                                  "INVALID_TYPE"))
            elif not valid(type_, m.get("value")):
                errors.append(err(i, at + ["value"], f"Value {m.get('value')!r} is not valid "
                                  f"for type {type_}", "INVALID_VALUE"))
        if errors:
            return {"metafields": None, "userErrors": errors}
        out = []
        for m in items:
            found = next((x for x in self.metafields.values() if x["owner"] == m["ownerId"]
                          and x["namespace"] == m["namespace"] and x["key"] == m["key"]),
                         None)
            if found is None:
                gid = self._gid("Metafield")
                found = self.metafields[gid] = {"id": gid, "owner": m["ownerId"],
                                                "namespace": m["namespace"],
                                                "key": m["key"]}
            d = self.definitions_.get(("PRODUCT", m["namespace"], m["key"]))
            found.update(value=m["value"], type=m.get("type") or d["type"])  # type: ignore[index]
            self.metafields_set += 1
            out.append({"__typename": "Metafield", **{k: found[k] for k in (
                "id", "namespace", "key", "value", "type")}})
        return {"metafields": out, "userErrors": []}
