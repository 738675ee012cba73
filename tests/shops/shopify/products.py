"""Products and variants of the loopback Shopify.

- ``productSet(identifier, input, synchronous)`` [doc: shopify.dev admin-graphql
  ``productSet``]: list fields are replaced, so variants not in ``input.variants`` are
  deleted; other fields omitted stay as they are. ``identifier`` is an upsert by
  ``id`` (must exist: PRODUCT_DOES_NOT_EXIST) or ``handle`` (created when absent)
  from API 2025-04 on (see ``base.FEATURES``; older versions have no such argument
  and the server refuses the document). ``optionValues`` is required on each
  variant and must name the product's ``productOptions``; a new product needs a
  title. At most 2048 variants per product [doc, 2025-10+].
- ``inventoryQuantities`` of a variant [doc: ``ProductVariantSetInput``: "The
  inventory quantities at each location where the variant is stocked. If you're
  updating an existing variant, then you can only update the quantities at
  locations where the variant is already stocked"]: a NEW variant is stocked at the
  locations given (with those quantities); for an EXISTING variant a quantity at a
  location where it is not stocked is not applied and the variant is not stocked
  there. The docs do not say whether Shopify answers that with a userError or
  ignores it; this server ignores it (the stricter choice for a client: only a
  read-back shows it). ``name`` must be ``available`` or ``on_hand``
  [doc: ``ProductSetInventoryInput``]. A new variant given no quantities is stocked
  at the primary location with 0 (as before; not verified against Shopify).
- ``productUpdate(product:)``, ``productDelete(input:)``,
  ``productVariantsBulkDelete(productId, variantsIds)`` (codes from their
  ``…UserErrorCode`` enums; CANNOT_DELETE_LAST_VARIANT as documented).
- ``productVariants(first, query: "sku:… OR sku:…")``: exact SKU terms only (Shopify
  matches loosely; clients must compare SKUs themselves).
- Media through productSet's ``files`` [doc: ``ProductSetInput.files``, ``FileSetInput``:
  ``{id | originalSource, alt, contentType}``; list fields "create new entries, update
  existing entries, and delete existing entries that aren't included"]: omitted, the
  product's media stay as they are; given, the list is the product's media in that
  order: an entry with ``id`` keeps that media (alt updated), one with
  ``originalSource`` is a new download (counted in ``downloads``), media not listed are
  removed. An entry with neither is refused (invented wording). A variant's ``file``
  "must also be specified in the files input for the product" [doc:
  ``ProductVariantSetInput.file``]: it must match one of this call's ``files`` entries
  (by id or originalSource), else the call is refused (invented code and wording).
  Shopify downloads external URLs asynchronously (status PROCESSING, then READY or
  FAILED); here a media is READY at once.
- Product options and option values have ids (``gid://shopify/ProductOption/…``,
  ``…/ProductOptionValue/…``) that survive a productSet naming the same option and
  value: they are translatable resources (see :mod:`.translations`).

Codes or wordings Shopify does not document are marked "invented".
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from shops.shopify.base import Call, GqlError, ShopState, has, user_error

MONEY = re.compile(r"^-?\d+(\.\d+)?$")
SKU_TERM = re.compile(r'sku:(?:"((?:[^"\\]|\\.)*)"|(\S+))')
MAX_VARIANTS = 2048
QUANTITY_NAMES = ("available", "on_hand")


def _listed(file: dict[str, Any], files: list[dict[str, Any]] | None) -> bool:
    """Whether a variant's file is one of the product's ``files`` entries."""
    return any((file.get("id") and file.get("id") == f.get("id")) or (
        not file.get("id") and file.get("originalSource")
        and file.get("originalSource") == f.get("originalSource")) for f in files or [])


class Products(ShopState):
    def __init__(self, **kw: Any):
        super().__init__(**kw)
        self.downloads: Counter[str] = Counter()  # originalSource -> times fetched
        self.media: dict[str, dict[str, Any]] = {}  # MediaImage GID -> media

    # -- read-back for tests ---------------------------------------------------------

    def catalog(self) -> dict[str, dict[str, Any]]:
        """handle -> product fields, options and ``variants`` {sku: fields, with
        ``options`` {name: value} and ``inventory`` {location name: available}}."""
        with self.lock:
            out = {}
            for p in self.products.values():
                variants = {}
                for vid in p["variants"]:
                    v = self.variants[vid]
                    inventory = {self.locations[loc]: q for (item, loc), q in self.levels.items()
                                 if item == v["item"]}
                    variants[v["sku"]] = {k: v[k] for k in ("id", "price", "compareAtPrice",
                                                            "barcode", "weight", "options")}
                    variants[v["sku"]]["inventory"] = inventory
                    variants[v["sku"]]["image"] = next((m["source"] for m in p["media"]
                                                        if m["id"] == v.get("media")), None)
                out[p["handle"]] = {**{k: p[k] for k in ("id", "title", "descriptionHtml",
                                                         "vendor", "productType", "tags",
                                                         "status")},
                                    "options": {o["name"]: o["values"] for o in p["options"]},
                                    "media": [(m["source"], m["alt"]) for m in p["media"]],
                                    "variants": variants}
            return out

    def variant(self, sku: str) -> dict[str, Any]:
        with self.lock:
            return next(v for v in self.variants.values() if v["sku"] == sku)

    # -- objects as the schema shows them -----------------------------------------------

    def _variant_node(self, v: dict[str, Any]) -> dict[str, Any]:
        p = self.products[v["product"]]
        return {"__typename": "ProductVariant", "id": v["id"], "sku": v["sku"],
                "price": v["price"], "compareAtPrice": v["compareAtPrice"],
                "barcode": v["barcode"], "title": " / ".join(v["options"].values()),
                "product": {"id": p["id"], "handle": p["handle"], "title": p["title"],
                            "variantsCount": {"count": len(p["variants"]),
                                              "precision": "EXACT"}},
                "inventoryItem": {"__typename": "InventoryItem", "id": v["item"]}}

    def _product_node(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"__typename": "Product", **{k: p[k] for k in (
                "id", "handle", "title", "descriptionHtml", "vendor", "productType", "tags",
                "status")},
                "options": [{"__typename": "ProductOption", "id": o["id"], "name": o["name"],
                             "values": o["values"], "optionValues": [
                                 {"__typename": "ProductOptionValue", "id": o["ids"][v],
                                  "name": v} for v in o["values"]]} for o in p["options"]],
                "media": {"nodes": [{"__typename": "MediaImage", "id": m["id"],
                                     "alt": m["alt"], "status": m["status"],
                                     "mediaContentType": "IMAGE"} for m in p["media"]]},
                "collections": {"nodes": [self._collection_ref(c) for c in
                                          self.collections_of(p["id"])]},
                "variantsCount": {"count": len(p["variants"]), "precision": "EXACT"},
                "variants": {"nodes": [self._variant_node(self.variants[v])
                                       for v in p["variants"]]}}

    def node_Product(self, call: Call, gid: str) -> dict[str, Any] | None:
        p = self.products.get(gid)
        return None if p is None else self._product_node(p)

    # -- productSet --------------------------------------------------------------------

    def mutation_productSet(self, call: Call) -> dict[str, Any]:
        inp, ident = call.arg("input"), call.args.get("identifier")
        if not isinstance(inp, dict):
            raise call.invalid("input", [], "Expected value to not be null")
        if call.arg("synchronous", True) is not True:  # invented wording
            raise GqlError("Asynchronous productSet is not modelled by this test server",
                           "BAD_REQUEST")
        self._check_product_input(call, inp)
        return self.product_set(call.version, ident, inp)

    def _check_product_input(self, call: Call, inp: dict[str, Any]) -> None:
        """What the variable coercion refuses: a whole-request INVALID_VARIABLE."""
        variants = inp.get("variants") or []
        if len(variants) > MAX_VARIANTS:
            from shops.shopify.base import too_many
            raise too_many("productSet", ["input", "variants"], len(variants), MAX_VARIANTS)
        for i, v in enumerate(variants):
            if not isinstance(v.get("optionValues"), list):
                raise call.invalid("input", ["variants", i, "optionValues"],
                                   "Expected value to not be null")
            for field in ("price", "compareAtPrice"):
                if v.get(field) is not None and not MONEY.match(str(v[field])):
                    raise call.invalid("input", ["variants", i, field],
                                       f"Could not coerce value {v[field]!r} to Money")
            for j, q in enumerate(v.get("inventoryQuantities") or []):
                for name, kind in (("locationId", str), ("name", str), ("quantity", int)):
                    if not isinstance(q.get(name), kind) or isinstance(q.get(name), bool):
                        raise call.invalid("input", ["variants", i, "inventoryQuantities", j,
                                                     name], "Expected value to not be null"
                                           if q.get(name) is None else
                                           f"Could not coerce value {q.get(name)!r}")

    def product_set(self, version: str, ident: Any, inp: dict[str, Any]) -> dict[str, Any]:
        def fail(field: list[str] | None, message: str, code: str) -> dict[str, Any]:
            return {"product": None, "productSetOperation": None,
                    "userErrors": [user_error(field, message, code)]}

        variants = inp.get("variants") or []
        product = None
        if isinstance(ident, dict) and ident.get("id"):
            product = self.products.get(ident["id"])
            if product is None:
                return fail(["identifier", "id"], "Product does not exist",
                            "PRODUCT_DOES_NOT_EXIST")
        elif isinstance(ident, dict) and ident.get("handle") and has(version,
                                                                     "productSet.identifier"):
            product = self.products.get(self.handles.get(ident["handle"], ""))
        elif isinstance(ident, dict) and ident:
            return fail(["identifier"], "Only id and handle identifiers are modelled by this "
                        "test server", "INVALID_INPUT")
        if product is None and not str(inp.get("title") or "").strip():
            return fail(["input", "title"], "Title can't be blank", "INVALID_PRODUCT")  # invented
        options = inp.get("productOptions")
        if options is None:
            options = [{"name": "Title", "values": [{"name": "Default Title"}]}]
        if len(options) > 3:
            return fail(["input", "productOptions"], "Can only specify a maximum of 3 "
                        "options", "OPTIONS_OVER_LIMIT")
        names = {o["name"]: [x["name"] for x in o.get("values") or []] for o in options}
        combos = set()
        existing = set(product["variants"]) if product else set()
        for i, v in enumerate(variants):
            at = ["input", "variants", str(i)]
            given = {o.get("optionName"): o.get("name") for o in v["optionValues"]}
            if set(given) != set(names) or any(given[n] not in names[n] for n in names):
                return fail(at + ["optionValues"], "Option values must match the product's "
                            "options: " + ", ".join(names), "INVALID_VARIANT")  # invented text
            combo = tuple(sorted(given.items()))
            if combo in combos:
                return fail(at, "The variant '" + " / ".join(given.values()) + "' already "
                            "exists.", "DUPLICATED_VALUE")  # invented wording
            combos.add(combo)
            if v.get("id") and v["id"] not in existing:
                return fail(at + ["id"], "Product variant does not exist",
                            "PRODUCT_VARIANT_DOES_NOT_EXIST")
            for j, q in enumerate(v.get("inventoryQuantities") or []):
                where = at + ["inventoryQuantities", str(j)]
                if q["locationId"] not in self.locations:  # invented wording
                    return fail(where + ["locationId"], "Location not found", "NOT_FOUND")
                if q["name"] not in QUANTITY_NAMES:  # invented wording
                    return fail(where + ["name"], "The quantity name must be either "
                                "'available' or 'on_hand'.", "INVALID_INPUT")
            if v.get("file") is not None and not _listed(v["file"], inp.get("files")):
                return fail(at + ["file"], "The variant's file must also be in the "
                            "product's files input", "INVALID_INPUT")  # invented
        staged = getattr(self, "staged_problem", None)  # staged.py: nothing uploaded there
        if staged is not None and (problem := staged(inp.get("files") or [])):
            return fail(problem[0], problem[1], "INVALID")  # invented wording and code
        own = {m["id"] for m in product["media"]} if product else set()
        for j, f in enumerate(inp.get("files") or []):
            if not f.get("id") and not f.get("originalSource"):  # invented wording
                return fail(["input", "files", str(j)], "A file needs an id or an "
                            "originalSource", "INVALID_INPUT")
            if f.get("id") and f["id"] not in own:  # invented wording
                return fail(["input", "files", str(j), "id"], "File does not exist",
                            "FILE_DOES_NOT_EXIST")
        if product is None:
            pid = self._gid("Product")
            handle = inp.get("handle") or (ident or {}).get("handle") or re.sub(
                r"[^a-z0-9]+", "-", str(inp["title"]).lower()).strip("-")
            product = self.products[pid] = {"id": pid, "handle": handle, "title": "",
                                            "descriptionHtml": "", "vendor": "",
                                            "productType": "", "tags": [], "status": "ACTIVE",
                                            "options": [], "variants": [], "media": []}
        for key in ("title", "descriptionHtml", "vendor", "productType", "tags", "status"):
            if key in inp:
                product[key] = inp[key]
        if inp.get("handle", product["handle"]) != product["handle"]:
            self.handles.pop(product["handle"], None)
            product["handle"] = inp["handle"]
        self.handles[product["handle"]] = product["id"]
        product["options"] = self._options(product, names)
        if "files" in inp:
            self._set_media(product, inp["files"] or [])
        if "variants" in inp:
            self._set_variants(product, variants)
        return {"product": self._product_node(product), "productSetOperation": None,
                "userErrors": []}

    def _set_variants(self, product: dict[str, Any], variants: list[dict[str, Any]]) -> None:
        keep = []
        for v in variants:
            fields = {"sku": v.get("sku"), "price": v.get("price"),
                      "compareAtPrice": v.get("compareAtPrice"), "barcode": v.get("barcode"),
                      "weight": (((v.get("inventoryItem") or {}).get("measurement") or {})
                                 .get("weight") or {}).get("value"),
                      "options": {o["optionName"]: o["name"] for o in v["optionValues"]}}
            if v.get("file") is not None:
                fields["media"] = self._media_of(product, v["file"])
            quantities = v.get("inventoryQuantities") or []
            if v.get("id"):  # an existing variant: omitted scalars stay as they are; an
                current = self.variants[v["id"]]  # explicit null clears (compareAtPrice)
                given = {"price", "compareAtPrice", "barcode", "sku"} & set(v)
                fields = {k: f for k, f in fields.items()
                          if f is not None or k in ("options", *given)}
                if any(current[k] != fields[k] for k in fields):
                    self.applied[str(fields["sku"])] += 1
                current.update(fields)
                # only where it is stocked already [doc: ProductVariantSetInput]
                quantities = [q for q in quantities
                              if (current["item"], q["locationId"]) in self.levels]
            else:
                vid, item = self._gid("ProductVariant"), self._gid("InventoryItem")
                current = self.variants[vid] = {"id": vid, "item": item, "media": None,
                                                "product": product["id"], **fields}
                self.items[item] = vid
                self.created[str(fields["sku"])] += 1
                self.applied[str(fields["sku"])] += 1
                if not quantities:
                    self.levels[(item, self.location_id())] = 0
            for q in quantities:
                self.levels[(current["item"], q["locationId"])] = int(q["quantity"])
            keep.append(current["id"])
        for vid in set(product["variants"]) - set(keep):
            self._drop_variant(vid)
        product["variants"] = keep

    def _options(self, product: dict[str, Any], names: dict[str, list[str]]
                 ) -> list[dict[str, Any]]:
        """The product's options, keeping the ids of options and values named before."""
        old = {o["name"]: o for o in product["options"]}
        out = []
        for n, vs in names.items():
            prev = old.get(n) or {"id": self._gid("ProductOption"), "ids": {}}
            ids = {v: prev["ids"].get(v) or self._gid("ProductOptionValue") for v in vs}
            out.append({"id": prev["id"], "name": n, "values": vs, "ids": ids})
        return out

    def _set_media(self, product: dict[str, Any], files: list[dict[str, Any]]) -> None:
        by_id = {m["id"]: m for m in product["media"]}
        media = []
        for f in files:
            if f.get("id"):
                m = by_id[f["id"]]
                if "alt" in f:
                    m["alt"] = f.get("alt") or ""
            else:
                m = {"id": self._gid("MediaImage"), "alt": f.get("alt") or "",
                     "source": f["originalSource"], "status": "READY"}
                self.downloads[f["originalSource"]] += 1
            media.append(m)
        kept = {m["id"] for m in media}
        for vid in product["variants"]:
            v = self.variants[vid]
            if v.get("media") not in kept:
                v["media"] = None
        product["media"] = media
        self.media.update({m["id"]: m for m in media})

    @staticmethod
    def _media_of(product: dict[str, Any], file: dict[str, Any]) -> str | None:
        for m in product["media"]:
            if file.get("id") == m["id"] or (not file.get("id") and file.get(
                    "originalSource") == m["source"]):
                return m["id"]
        return None

    def collections_of(self, product_id: str) -> list[dict[str, Any]]:
        """The collections holding a product (see :mod:`.collections`)."""
        return []

    @staticmethod
    def _collection_ref(c: dict[str, Any]) -> dict[str, Any]:
        return {"__typename": "Collection", "id": c["id"], "handle": c["handle"],
                "title": c["title"]}

    def _drop_variant(self, vid: str) -> None:
        v = self.variants.pop(vid)
        self.items.pop(v["item"], None)
        for key in [k for k in self.levels if k[0] == v["item"]]:
            del self.levels[key]
        self.applied[str(v["sku"])] += 1

    # -- other product mutations ---------------------------------------------------------

    def mutation_productUpdate(self, call: Call) -> dict[str, Any]:
        inp = call.arg("product")
        if not isinstance(inp, dict) or not inp.get("id"):
            raise call.invalid("product", ["id"], "Expected value to not be null")
        p = self.products.get(inp["id"])
        if p is None:
            return {"product": None, "userErrors": [user_error(
                ["id"], "Product does not exist", "PRODUCT_DOES_NOT_EXIST")]}
        for key in ("title", "status", "vendor", "productType", "tags", "descriptionHtml"):
            if key in inp:
                p[key] = inp[key]
        for vid in p["variants"]:
            self.applied[self.variants[vid]["sku"]] += 1
        return {"product": self._product_node(p), "userErrors": []}

    def mutation_productDelete(self, call: Call) -> dict[str, Any]:
        inp = call.arg("input")
        if not isinstance(inp, dict) or not inp.get("id"):
            raise call.invalid("input", ["id"], "Expected value to not be null")
        return self.delete_product(inp["id"])

    def delete_product(self, product_id: str) -> dict[str, Any]:
        """productDelete; also what a merchant does in the admin."""
        p = self.products.pop(product_id, None)
        if p is None:
            return {"deletedProductId": None, "userErrors": [user_error(
                ["id"], "Product does not exist", "PRODUCT_DOES_NOT_EXIST")]}
        self.handles.pop(p["handle"], None)
        for vid in p["variants"]:
            self._drop_variant(vid)
        return {"deletedProductId": p["id"], "userErrors": []}

    def mutation_productVariantsBulkDelete(self, call: Call) -> dict[str, Any]:
        p = self.products.get(str(call.arg("productId")))
        ids = call.arg("variantsIds", [])
        if p is None:
            errors = [user_error(["productId"], "Product does not exist",
                                 "PRODUCT_DOES_NOT_EXIST")]
        elif any(i not in p["variants"] for i in ids):
            errors = [user_error(["variantsIds"], "At least one variant does not belong to "
                                 "the product", "AT_LEAST_ONE_VARIANT_DOES_NOT_BELONG_TO_THE_"
                                 "PRODUCT")]
        elif not set(p["variants"]) - set(ids):
            errors = [user_error(["variantsIds"], "Cannot delete default variant.",
                                 "CANNOT_DELETE_LAST_VARIANT")]
        else:
            for vid in ids:
                self._drop_variant(vid)
            p["variants"] = [v for v in p["variants"] if v not in ids]
            errors = []
        return {"product": None if errors or p is None else self._product_node(p),
                "userErrors": errors}

    # -- productVariants(first, query) ---------------------------------------------------

    def query_productVariants(self, call: Call) -> dict[str, Any]:
        n, q = call.arg("first"), call.arg("query", "")
        skus = {(a.replace('\\"', '"').replace("\\\\", "\\") if a or b == "" else b)
                for a, b in SKU_TERM.findall(str(q))}
        found = [v for v in self.variants.values() if v["sku"] in skus]
        nodes = [self._variant_node(v) for v in found[:n]]
        loc = call.nested_arg(("nodes", "inventoryItem", "inventoryLevel"), "locationId")
        if loc is not None:  # stock_of: each item's level at that location
            for node in nodes:
                node["inventoryItem"]["inventoryLevel"] = self._level(node["inventoryItem"]["id"],
                                                                      loc)
        return {"nodes": nodes, "pageInfo": {"hasNextPage": len(found) > n,
                                             "endCursor": None}}

    def _level(self, item: str, location: str) -> dict[str, Any] | None:
        """``inventoryLevel(locationId:)``: null where the item is not stocked."""
        q = self.levels.get((item, location))
        return None if q is None else {"quantities": [{"name": "available", "quantity": q}]}
