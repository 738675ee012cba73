"""The shop's languages and translations of the loopback Shopify.

- ``shopLocales(published:)`` [doc: shopify.dev admin-graphql ``shopLocales``,
  ``ShopLocale {locale name primary published}``]: the server's ``locales``, the
  primary first, all published.
- ``translatableResource(resourceId:)`` and ``translatableResourcesByIds(first:,
  resourceIds:)`` [doc: ``TranslatableResource {resourceId translatableContent
  {key value digest locale type} translations(locale:) {key value locale outdated}}``]:
  the content of the resource as it is now, each value with its digest (a SHA-256 of
  the value; Shopify documents only "hash digest representation of the content").
  Keys per resource type [doc: enum ``TranslatableResourceType``, 2026-01]: PRODUCT
  ``title, body_html, handle, product_type, meta_title, meta_description``;
  PRODUCT_OPTION ``name``; PRODUCT_OPTION_VALUE ``name`` (PRODUCT_VARIANT is no
  translatable type since 2024-04); COLLECTION ``title, body_html, handle,
  meta_title, meta_description``; MEDIA_IMAGE ``alt``; METAFIELD ``value``.
  ``translations`` answer ``outdated: true`` when the content changed after the
  translation was registered (its digest no longer matches).
- ``translationsRegister(resourceId:, translations: [{locale key value
  translatableContentDigest marketId}])`` [doc: ``translationsRegister``,
  ``TranslationInput``, ``TranslationErrorCode``]: RESOURCE_NOT_FOUND for an unknown
  resource; for each translation, INVALID_LOCALE_FOR_SHOP for a locale the shop has
  not added (or its primary locale), INVALID_KEY_FOR_MODEL for a key the resource
  type has not, INVALID_TRANSLATABLE_CONTENT when the digest is not the current
  content's (content changed since it was read), BLANK for an empty value. Messages
  are invented; the codes are Shopify's. All or nothing (not documented; the
  stricter reading). A ``marketId`` is refused (market-specific translations are not
  modelled).

Read-back: ``translations_of(gid, locale)`` -> {key: (value, outdated)};
``registered`` counts translationsRegister calls that changed something.
"""

from __future__ import annotations

import hashlib
from typing import Any

from shops.shopify.base import Call, ShopState, too_many, user_error

KEYS = {
    "Product": ("title", "body_html", "handle", "product_type", "meta_title",
                "meta_description"),
    "ProductOption": ("name",),
    "ProductOptionValue": ("name",),
    "Collection": ("title", "body_html", "handle", "meta_title", "meta_description"),
    "MediaImage": ("alt",),
    "Metafield": ("value",),
}


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


class Translations(ShopState):
    def __init__(self, *, locales: tuple[str, ...] = ("en",), **kw: Any):
        super().__init__(**kw)
        self.shop_locales = list(locales)  # the primary first
        # (resource GID, locale, key) -> (value, digest of the content it translates)
        self.translated: dict[tuple[str, str, str], tuple[str, str]] = {}
        self.registered = 0

    # -- read-back ---------------------------------------------------------------------

    def translations_of(self, gid: str, locale: str) -> dict[str, tuple[str, bool]]:
        with self.lock:
            content = self.content(gid) or {}
            return {k: (v, (c := content.get(k)) is None or digest(c) != d)
                    for (g, loc, k), (v, d) in self.translated.items()
                    if g == gid and loc == locale}

    # -- content -----------------------------------------------------------------------

    def content(self, gid: str) -> dict[str, str | None] | None:
        """The translatable content of a resource as it is now (None: no such one)."""
        kind = gid.split("/")[-2] if gid.count("/") == 4 else ""
        if kind == "Product" and gid in self.products:
            p = self.products[gid]
            return {"title": p["title"], "body_html": p["descriptionHtml"] or None,
                    "handle": p["handle"], "product_type": p["productType"] or None,
                    "meta_title": None, "meta_description": None}
        if kind in ("ProductOption", "ProductOptionValue"):
            for p in self.products.values():
                for o in p["options"]:
                    if o["id"] == gid:
                        return {"name": o["name"]}
                    for v, vid in o["ids"].items():
                        if vid == gid:
                            return {"name": v}
            return None
        if kind == "Collection":
            c = self.collection_by_id(gid)
            return None if c is None else {"title": c["title"], "body_html": None,
                                           "handle": c["handle"], "meta_title": None,
                                           "meta_description": None}
        if kind == "MediaImage":
            m = self.media.get(gid) if hasattr(self, "media") else None
            return None if m is None else {"alt": m["alt"] or None}
        if kind == "Metafield":
            mf = self.metafield_by_id(gid)
            return None if mf is None else {"value": mf["value"]}
        return None

    def collection_by_id(self, gid: str) -> dict[str, Any] | None:
        return None  # see :mod:`.collections`

    def metafield_by_id(self, gid: str) -> dict[str, Any] | None:
        return None  # see :mod:`.metafields`

    def _resource(self, call: Call, gid: str, locale: str | None) -> dict[str, Any] | None:
        content = self.content(gid)
        if content is None:
            return None
        primary = self.shop_locales[0]
        return {"__typename": "TranslatableResource", "resourceId": gid,
                "translatableContent": [
                    {"key": k, "value": v, "digest": None if v is None else digest(v),
                     "locale": primary, "type": "HTML" if k == "body_html" else
                     "SINGLE_LINE_TEXT_FIELD"} for k, v in content.items()],
                "translations": [
                    {"key": k, "value": v, "locale": loc,
                     "outdated": (c := content.get(k)) is None or digest(c) != d}
                    for (g, loc, k), (v, d) in self.translated.items()
                    if g == gid and loc == locale]}

    # -- queries -----------------------------------------------------------------------

    def query_shopLocales(self, call: Call) -> list[dict[str, Any]]:
        return [{"__typename": "ShopLocale", "locale": loc, "name": loc, "primary": i == 0,
                 "published": True} for i, loc in enumerate(self.shop_locales)]

    def query_translatableResource(self, call: Call) -> dict[str, Any] | None:
        locale = call.nested_arg(("translations",), "locale")
        return self._resource(call, str(call.arg("resourceId", "")), locale)

    def query_translatableResourcesByIds(self, call: Call) -> dict[str, Any]:
        ids = call.arg("resourceIds") or []
        if len(ids) > 250:
            raise too_many("translatableResourcesByIds", ["resourceIds"], len(ids))
        locale = call.nested_arg(("nodes", "translations"), "locale")
        nodes = [r for gid in ids if (r := self._resource(call, gid, locale)) is not None]
        n = call.arg("first")
        return {"nodes": nodes[:n], "pageInfo": {"hasNextPage": len(nodes) > n,
                                                 "endCursor": None}}

    # -- translationsRegister ------------------------------------------------------------

    def mutation_translationsRegister(self, call: Call) -> dict[str, Any]:
        gid = str(call.arg("resourceId", ""))
        items = call.arg("translations")
        if not isinstance(items, list):
            raise call.invalid("translations", [], "Expected value to not be null")
        if len(items) > 250:
            raise too_many("translationsRegister", ["translations"], len(items))
        content = self.content(gid)
        if content is None:
            return {"translations": None, "userErrors": [user_error(
                ["resourceId"], f"Resource {gid} does not exist", "RESOURCE_NOT_FOUND")]}
        errors = []
        for i, t in enumerate(items):
            at = ["translations", str(i)]
            locale, key = t.get("locale"), t.get("key")
            if locale not in self.shop_locales[1:]:
                errors.append(user_error(at + ["locale"], f"Locale {locale} is not enabled "
                                         "for this shop", "INVALID_LOCALE_FOR_SHOP"))
            elif key not in content:
                errors.append(user_error(at + ["key"], f"Key {key} is not a valid "
                                         "translatable field", "INVALID_KEY_FOR_MODEL"))
            elif (c := content[key]) is None or digest(c) != t.get(
                    "translatableContentDigest"):
                errors.append(user_error(at + ["translatableContentDigest"], "Translatable "
                                         "content hash is invalid",
                                         "INVALID_TRANSLATABLE_CONTENT"))
            elif not str(t.get("value") or "").strip():
                errors.append(user_error(at + ["value"], "Value can't be blank", "BLANK"))
            elif t.get("marketId"):
                errors.append(user_error(at + ["marketId"], "Market-specific translations "
                                         "are not modelled by this test server", "INVALID"))
        if errors:
            return {"translations": None, "userErrors": errors}
        out = []
        for t in items:
            entry = (str(t["value"]), str(t["translatableContentDigest"]))
            if self.translated.get((gid, t["locale"], t["key"])) != entry:
                self.registered += 1
            self.translated[(gid, t["locale"], t["key"])] = entry
            out.append({"__typename": "Translation", "key": t["key"], "value": t["value"],
                        "locale": t["locale"], "outdated": False})
        return {"translations": out, "userErrors": []}
