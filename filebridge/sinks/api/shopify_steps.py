"""The calls that follow a batch's productSets: metafields (with their definitions),
collections, translations, price lists and sales channels. Each step takes the batch's
:class:`~filebridge.sinks.api.shopify_catalog.Plan` s, sends only what a plan marks
as changed, batches across products, and marks a plan failed with Shopify's words
when Shopify refuses its part (the product's changes are then refused and sent again
with the next file: every step is safe to repeat).

Sources [doc: shopify.dev/docs/api/admin-graphql, 2026-01]:

- ``metafieldDefinitions`` / ``metafieldDefinitionCreate`` (TAKEN when it exists),
  ``metafieldsSet`` (at most 25 a call, atomic, each error with ``elementIndex``).
- ``collectionByHandle``, ``collectionCreate`` (a taken handle is refused, so a
  create re-sent after a lost answer is looked up instead of made twice),
  ``collectionAddProducts`` (manual collections only; membership is read from the
  productSet answer first, so a product is never added twice),
  ``collectionRemoveProducts`` (an asynchronous job in Shopify).
- ``shopLocales``, ``translatableResourcesByIds`` (content digests),
  ``translationsRegister`` (one per resource, several per request as aliases; a
  digest that is not the current content's is INVALID_TRANSLATABLE_CONTENT, a locale
  the shop has not added INVALID_LOCALE_FOR_SHOP).
- ``priceList`` (its currency), ``priceListFixedPricesAdd`` ("Any existing fixed price
  list prices for these variants will be overwritten": an upsert).
- ``publications`` (``name``, deprecated but answered; community.shopify.dev
  "Publications query documentation issue"), ``publishablePublish``.
"""

from __future__ import annotations

import json
from typing import Any

from filebridge.errors import PermanentSinkError
from filebridge.sinks.api.shopify_catalog import PRODUCT_KEYS, Plan

USER_ERRORS = "userErrors { code field message }"
PLAIN_ERRORS = "userErrors { field message }"
SHOP_LOCALES = "query Locales { shopLocales { locale primary published } }"
DEFINITIONS = ("query Definitions($ns: String!) { metafieldDefinitions(first: 250, "
               "ownerType: PRODUCT, namespace: $ns) { nodes { id namespace key type { name "
               "} } } }")
DEFINITION_CREATE = ("mutation Define($definition: MetafieldDefinitionInput!) { "
                     "metafieldDefinitionCreate(definition: $definition) { createdDefinition "
                     "{ id } " + USER_ERRORS + " } }")
METAFIELDS_SET = ("mutation Metafields($metafields: [MetafieldsSetInput!]!) { metafieldsSet("
                  "metafields: $metafields) { metafields { id namespace key } userErrors { "
                  "code field message elementIndex } } }")
COLLECTION_CREATE = ("mutation Collection($input: CollectionInput!) { collectionCreate(input: "
                     "$input) { collection { id handle } " + PLAIN_ERRORS + " } }")
COLLECTION_ADD = ("mutation Add($id: ID!, $ids: [ID!]!) { collectionAddProducts(id: $id, "
                  "productIds: $ids) { collection { id } " + PLAIN_ERRORS + " } }")
COLLECTION_REMOVE = ("mutation Remove($id: ID!, $ids: [ID!]!) { collectionRemoveProducts(id: "
                     "$id, productIds: $ids) { job { id } " + PLAIN_ERRORS + " } }")
DIGESTS = ("query Digests($ids: [ID!]!, $n: Int!) { translatableResourcesByIds(first: $n, "
           "resourceIds: $ids) { nodes { resourceId translatableContent { key value digest "
           "} } } }")
# 15 products × (1 + 2 + 40) points: well under the 1000-point ceiling
MEMBERSHIP = ("query Membership($ids: [ID!]!) { nodes(ids: $ids) { ... on Product { id "
              "collections(first: 40) { nodes { handle } } } } }")
MEMBERSHIP_CHUNK = 15
PRICE_LISTS = "query PriceList($id: ID!) { priceList(id: $id) { id currency } }"
FIXED_PRICES = ("mutation Prices($id: ID!, $prices: [PriceListPriceInput!]!) { "
                "priceListFixedPricesAdd(priceListId: $id, prices: $prices) { prices { "
                "variant { id } } " + USER_ERRORS + " } }")
PUBLICATIONS = "query Publications { publications(first: 250) { nodes { id name } } }"

MAX_METAFIELDS = 25  # per metafieldsSet [doc]
ALIASES = 40  # mutations per request: 40 × (10 + selection) stays under 1000 points
LOOKUPS = 50  # collectionByHandle aliases per query


def _text(errors: list[dict[str, Any]]) -> str:
    return "; ".join(str(e.get("message")) for e in errors)


def _chunks(items: list[Any], n: int) -> list[list[Any]]:
    return [items[i:i + n] for i in range(0, len(items), n)]


def _gql_string(value: str) -> str:
    return json.dumps(value)


class CatalogSteps:
    """Mixed into ShopifyClient: ``call``/``must`` and the options come from there."""

    o: Any
    languages: list[str]
    _lock: Any

    def call(self, op: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def must(self, op: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def _init_steps(self) -> None:
        self._definitions: dict[tuple[str, str], str] = {}  # (ns, key) -> type
        self._collections: dict[str, tuple[str, bool]] = {}  # handle -> (id, smart)
        self._locales: list[str] | None = None
        self._currencies: dict[str, str] | None = None
        self._publications: dict[str, str] | None = None

    def steps(self, plans: list[Plan]) -> None:
        live = [p for p in plans if not p.failed and p.answer.get("id")]
        self._metafields(live)
        self._collections_step([p for p in live if not p.failed])
        self._price_lists([p for p in live if not p.failed])
        self._publish([p for p in live if not p.failed])
        self._translate([p for p in live if not p.failed])

    # -- shop settings, read once per client ------------------------------------------

    def translated_languages(self) -> list[str]:
        """The profile's languages other than the default, each one the shop has added
        (refused clearly otherwise: Shopify refuses translations into a locale the shop
        has not added, INVALID_LOCALE_FOR_SHOP)."""
        wanted = list(self.languages[1:])
        if not wanted:
            return []
        with self._lock:
            if self._locales is None:
                data = self.must("shopLocales", SHOP_LOCALES, {})
                self._locales = [str(x["locale"]) for x in data.get("shopLocales") or []
                                 if not x.get("primary")]
        missing = [lang for lang in wanted if not any(
            loc == lang or loc.split("-")[0] == lang for loc in self._locales)]
        if missing:
            have = ", ".join(self._locales) or "none besides the primary"
            raise PermanentSinkError(
                f"shopify: the shop has not added the language(s) {', '.join(missing)} that "
                f"map.languages translates into (its other languages: {have}); Shopify "
                "refuses translations into a locale the shop has not added "
                "(INVALID_LOCALE_FOR_SHOP). Add them in Settings > Languages, or remove them "
                "from map.languages")
        return wanted

    def currencies(self) -> dict[str, str]:
        with self._lock:
            if self._currencies is None:
                out = {}
                for gid in self.o.prices:
                    found = self.must("priceList", PRICE_LISTS, {"id": gid}).get("priceList")
                    if not found:
                        raise PermanentSinkError(
                            f"shopify: price list {gid} (prices:) does not exist in this "
                            "shop; see Settings > Markets > Catalogs for the ids")
                    out[gid] = str(found["currency"])
                self._currencies = out
            return self._currencies

    def publication_ids(self) -> dict[str, str]:
        with self._lock:
            if self._publications is None:
                data = self.must("publications", PUBLICATIONS, {})
                have = {str(n["name"]): str(n["id"]) for n in
                        (data.get("publications") or {}).get("nodes") or []}
                missing = [n for n in self.o.publications if n not in have]
                if missing:
                    raise PermanentSinkError(
                        f"shopify: sales channel(s) {', '.join(missing)} (publications:) not "
                        f"found; the shop's channels: {', '.join(have) or 'none'}")
                self._publications = {n: have[n] for n in self.o.publications}
            return self._publications

    # -- metafields ----------------------------------------------------------------------

    def _definition_types(self, plans: list[Plan]) -> None:
        """Every metafield the batch writes has a definition (created when missing); a
        definition the merchant made as single text is used as such."""
        wanted = {(m.namespace, m.key): m for p in plans for m in p.metafields}
        todo = [k for k in wanted if k not in self._definitions]
        for ns in sorted({ns for ns, _ in todo}):
            data = self.must("metafieldDefinitions", DEFINITIONS, {"ns": ns})
            for n in (data.get("metafieldDefinitions") or {}).get("nodes") or []:
                self._definitions[(n["namespace"], n["key"])] = n["type"]["name"]
        for ns, key in todo:
            if (ns, key) in self._definitions:
                continue
            m = wanted[(ns, key)]
            data = self.must("metafieldDefinitionCreate", DEFINITION_CREATE, {"definition": {
                "name": m.name, "namespace": ns, "key": key, "type": m.type,
                "ownerType": "PRODUCT", "access": {"storefront": "PUBLIC_READ"},
                "description": "filebridge: " + ", ".join(
                    f"{lang}: {n}" for lang, n in m.names.items())}}
            ).get("metafieldDefinitionCreate") or {}
            errors = data.get("userErrors") or []
            if errors and not any(e.get("code") == "TAKEN" for e in errors):
                raise PermanentSinkError(f"shopify: metafield definition {ns}.{key}: "
                                         + _text(errors))
            if errors:  # made meanwhile (another run): read its type
                data = self.must("metafieldDefinitions", DEFINITIONS, {"ns": ns})
                for n in (data.get("metafieldDefinitions") or {}).get("nodes") or []:
                    self._definitions[(n["namespace"], n["key"])] = n["type"]["name"]
            else:
                self._definitions[(ns, key)] = m.type

    def _metafields(self, plans: list[Plan]) -> None:
        todo = [p for p in plans if "metafields" in p.send and p.metafields]
        if not todo:
            return
        self._definition_types(todo)
        items: list[tuple[Plan, Any, dict[str, Any]]] = []
        for p in todo:
            for m in p.metafields:
                have = self._definitions[(m.namespace, m.key)]
                value = m.value
                if have != m.type:
                    if have == "single_line_text_field" and m.type.startswith("list."):
                        value = ", ".join(json.loads(m.value))  # the merchant's choice
                    else:
                        p.fail(f"the shop's metafield definition {m.namespace}.{m.key} is "
                               f"{have}; filebridge writes {m.type}: change the definition "
                               "(Settings > Custom data > Products) or the attribute's type")
                        continue
                items.append((p, m, {"ownerId": p.answer["id"], "namespace": m.namespace,
                                     "key": m.key, "type": have, "value": value}))
        for chunk in _chunks([i for i in items if not i[0].failed], MAX_METAFIELDS):
            while chunk:  # atomic: drop what was refused, send the rest again
                data = self.must("metafieldsSet", METAFIELDS_SET, {
                    "metafields": [i[2] for i in chunk]}).get("metafieldsSet") or {}
                errors = data.get("userErrors") or []
                if not errors:
                    ids = {(m["namespace"], m["key"], n): m["id"] for n, m in
                           enumerate(data.get("metafields") or [])}
                    for n, (p, m, _) in enumerate(chunk):
                        gid = ids.get((m.namespace, m.key, n))
                        if gid:
                            p.answer.setdefault("metafields", {})[(m.namespace, m.key)] = gid
                    break
                bad = set()
                for e in errors:
                    i = e.get("elementIndex")
                    targets = [i] if isinstance(i, int) and i < len(chunk) else range(len(chunk))
                    for j in targets:
                        chunk[j][0].fail(f"metafield {chunk[j][1].namespace}.{chunk[j][1].key}:"
                                         f" {e.get('message')}")
                        bad.add(id(chunk[j][0]))
                chunk = [i for i in chunk if id(i[0]) not in bad]

    # -- collections ---------------------------------------------------------------------

    def _collection_ids(self, handles: list[str]) -> None:
        todo = [h for h in dict.fromkeys(handles) if h not in self._collections]
        for chunk in _chunks(todo, LOOKUPS):
            query = "query Collections { " + " ".join(
                f"c{i}: collectionByHandle(handle: {_gql_string(h)}) {{ id handle ruleSet {{ "
                "appliedDisjunctively } }" for i, h in enumerate(chunk)) + " }"
            data = self.must("collectionByHandle", query, {})
            for i, h in enumerate(chunk):
                c = data.get(f"c{i}")
                if c:
                    self._collections[h] = (c["id"], c.get("ruleSet") is not None)

    def _collections_step(self, plans: list[Plan]) -> None:
        todo = [p for p in plans if "collections" in p.send and (
            p.collections or p.old.get("collections"))]
        if not todo:
            return
        wanted = {c.handle: c for p in todo for c in p.collections}
        self._collection_ids(list(wanted))
        created = []
        for handle, c in wanted.items():
            if handle in self._collections:
                continue
            data = self.must("collectionCreate", COLLECTION_CREATE, {"input": {
                "title": c.title, "handle": handle}}).get("collectionCreate") or {}
            if data.get("collection"):
                self._collections[handle] = (data["collection"]["id"], False)
                created.append(handle)
                continue
            self._collection_ids([handle])  # taken: made by an earlier, lost attempt
            if handle not in self._collections:
                for p in todo:
                    if any(x.handle == handle for x in p.collections):
                        p.fail(f"collection {handle}: {_text(data.get('userErrors') or [])}")
        adds: dict[str, list[Plan]] = {}
        removes: dict[str, list[Plan]] = {}
        for p in todo:
            if p.failed:
                continue
            member = {n["handle"] for n in (p.answer.get("collections") or {}).get("nodes")
                      or []}
            mine = [c.handle for c in p.collections]
            for h in mine:
                smart = self._collections[h][1]
                if smart:
                    p.fail(f"collection {h} is an automated collection in the shop: "
                           "products cannot be added to it by hand")
                elif h not in member:
                    adds.setdefault(h, []).append(p)
            for h in p.old.get("collections") or []:
                if h not in mine and h in member:
                    removes.setdefault(h, []).append(p)
        self._collection_ids([h for h in removes if h not in self._collections])
        for handles, query, op in ((adds, COLLECTION_ADD, "collectionAddProducts"),
                                   (removes, COLLECTION_REMOVE, "collectionRemoveProducts")):
            for h, group in handles.items():
                live = [p for p in group if not p.failed]
                for chunk in _chunks(live, 250):
                    for again in (False, True):
                        data = self.must(op, query, {"id": self._collections[h][0], "ids": [
                            p.answer["id"] for p in chunk]}).get(op) or {}
                        if not data.get("userErrors") or again:
                            break
                        # A re-sent request whose first answer was lost may find its work
                        # done: read the membership again, send what is still missing.
                        inside = self._members_of([p.answer["id"] for p in chunk], h)
                        chunk = [p for p in chunk if (p.answer["id"] in inside) !=
                                 (op == "collectionAddProducts")]
                        if not chunk:
                            data = {}
                            break
                    for p in chunk if data.get("userErrors") else []:
                        p.fail(f"collection {h}: {_text(data['userErrors'])}")
        for p in todo:
            p.answer["collection_ids"] = {c.handle: self._collections[c.handle][0]
                                          for c in p.collections if c.handle in
                                          self._collections}

    def _members_of(self, products: list[str], handle: str) -> set[str]:
        """Which of these products are in the collection now."""
        inside = set()
        for chunk in _chunks(products, MEMBERSHIP_CHUNK):
            data = self.must("nodes", MEMBERSHIP, {"ids": chunk})
            for node in data.get("nodes") or []:
                if node and any(c.get("handle") == handle for c in (
                        node.get("collections") or {}).get("nodes") or []):
                    inside.add(node["id"])
        return inside

    # -- price lists ---------------------------------------------------------------------

    def _price_lists(self, plans: list[Plan]) -> None:
        if not self.o.prices:
            return
        currencies = None
        per_list: dict[str, list[tuple[Plan, dict[str, Any]]]] = {}
        for p in plans:
            variants = {v["sku"]: v["id"] for v in (p.answer.get("variants") or {}).get(
                "nodes") or []}
            for c in p.group:
                if c.id in p.refused or c.key not in variants:
                    continue
                now = (c.record.get("prices") or {})
                before = (c.previous or {}).get("prices") or {}
                same_variant = c.remote.get("variant") == variants[c.key]
                for gid in self.o.prices:
                    entry = now.get(gid)
                    if not entry or (same_variant and before.get(gid) == entry):
                        continue
                    currencies = currencies or self.currencies()
                    money = {"price": {"amount": entry["price"],
                                       "currencyCode": currencies[gid]},
                             "variantId": variants[c.key]}
                    if entry.get("compare_at_price"):
                        money["compareAtPrice"] = {"amount": entry["compare_at_price"],
                                                   "currencyCode": currencies[gid]}
                    per_list.setdefault(gid, []).append((p, money))
        for gid, items in per_list.items():
            for chunk in _chunks(items, 250):
                while chunk:
                    data = self.must("priceListFixedPricesAdd", FIXED_PRICES, {
                        "id": gid, "prices": [m for _, m in chunk]}).get(
                        "priceListFixedPricesAdd") or {}
                    errors = data.get("userErrors") or []
                    if not errors:
                        break
                    bad = set()
                    for e in errors:
                        path = e.get("field") or []
                        j = int(path[1]) if len(path) > 1 and str(path[1]).isdigit() else None
                        for k in [j] if j is not None and j < len(chunk) else range(len(chunk)):
                            chunk[k][0].fail(f"price list {gid}: {e.get('message')}")
                            bad.add(k)
                    if any(e.get("code") in ("PRICE_LIST_NOT_FOUND",
                                             "PRICE_LIST_CURRENCY_MISMATCH") for e in errors):
                        break  # the list itself: nothing in it can go
                    chunk = [x for k, x in enumerate(chunk) if k not in bad]

    # -- publications --------------------------------------------------------------------

    def _publish(self, plans: list[Plan]) -> None:
        todo = [p for p in plans if "publications" in p.send and p.publications]
        if not todo:
            return
        ids = self.publication_ids()
        inp = [{"publicationId": ids[n]} for n in self.o.publications]
        for chunk in _chunks(todo, ALIASES):
            query = ("mutation Publish($input: [PublicationInput!]!, " + ", ".join(
                f"$p{i}: ID!" for i in range(len(chunk))) + ") { " + " ".join(
                f"p{i}: publishablePublish(id: $p{i}, input: $input) {{ {PLAIN_ERRORS} }}"
                for i in range(len(chunk))) + " }")
            data = self.must("publishablePublish", query, {"input": inp, **{
                f"p{i}": p.answer["id"] for i, p in enumerate(chunk)}})
            for i, p in enumerate(chunk):
                errors = (data.get(f"p{i}") or {}).get("userErrors") or []
                if errors:
                    p.fail("publishing: " + _text(errors))

    # -- translations --------------------------------------------------------------------

    def _resources(self, p: Plan, langs: list[str]) -> list[tuple[str, dict[str, dict[str,
                                                                                   str]]]]:
        """(resource GID, {key: {lang: value}}) of what this plan translates."""
        out: list[tuple[str, dict[str, dict[str, str]]]] = []
        prod = p.product
        if "translations" in p.send:
            keys: dict[str, dict[str, str]] = {}
            for name, key in PRODUCT_KEYS.items():
                for lang in langs:
                    v = (prod.translations.get(lang) or {}).get(name)
                    if v not in (None, ""):
                        keys.setdefault(key, {})[lang] = str(v)
            out.append((p.answer["id"], keys))
            if not prod.simple:
                shop_options = {o["name"]: o for o in p.answer.get("options") or []}
                for o in prod.options:
                    so = shop_options.get(o.name)
                    if so is None:
                        continue
                    names = {lang: o.names[lang] for lang in langs if o.names.get(lang)}
                    out.append((so["id"], {"name": names}))
                    values = {v["name"]: v["id"] for v in so.get("optionValues") or []}
                    for v in o.values:
                        tr = {lang: o.value_in(v, lang) for lang in langs
                              if o.value_in(v, lang) != v}
                        if v in values and tr:
                            out.append((values[v], {"name": tr}))
        if "images" in p.send:
            media = p.answer.get("media_ids") or {}
            for url, _, alts in p.images:
                tr = {lang: alts[lang] for lang in langs if alts.get(lang)}
                if url in media and tr:
                    out.append((media[url], {"alt": tr}))
        if "metafields" in p.send:
            ids = p.answer.get("metafields") or {}
            for m in p.metafields:
                tr = {lang: m.translations[lang] for lang in langs if m.translations.get(lang)}
                if (m.namespace, m.key) in ids and tr:
                    out.append((ids[(m.namespace, m.key)], {"value": tr}))
        if "collections" in p.send:
            ids = p.answer.get("collection_ids") or {}
            for c in p.collections:
                tr = {lang: c.titles[lang] for lang in langs if c.titles.get(lang)}
                if c.handle in ids and tr:
                    out.append((ids[c.handle], {"title": tr}))
        return [(gid, keys) for gid, keys in out if any(keys.values())]

    def _translate(self, plans: list[Plan]) -> None:
        todo = [p for p in plans if p.send & {"translations", "images", "metafields",
                                              "collections"}]
        if not todo or not self.languages[1:]:
            return
        langs = self.translated_languages()
        work: list[tuple[Plan, str, dict[str, dict[str, str]]]] = []
        seen: set[str] = set()
        for p in todo:
            for gid, keys in self._resources(p, langs):
                if gid in seen:  # a collection shared by several products: once
                    continue
                seen.add(gid)
                work.append((p, gid, keys))
        digests: dict[str, dict[str, str | None]] = {}
        for chunk in _chunks([gid for _, gid, _ in work], LOOKUPS):
            data = self.must("translatableResourcesByIds", DIGESTS, {"ids": chunk,
                                                                    "n": len(chunk)})
            for node in (data.get("translatableResourcesByIds") or {}).get("nodes") or []:
                digests[node["resourceId"]] = {c["key"]: c.get("digest") for c in
                                               node.get("translatableContent") or []}
        calls: list[tuple[Plan, str, list[dict[str, Any]]]] = []
        for p, gid, keys in work:
            have = digests.get(gid) or {}
            items = [{"locale": lang, "key": key, "value": value,
                      "translatableContentDigest": have[key]}
                     for key, values in keys.items() for lang, value in values.items()
                     if have.get(key)]  # no content in the default language: nothing to do
            if items:
                calls.append((p, gid, items))
        for chunk in _chunks(calls, ALIASES):
            query = ("mutation Translate(" + ", ".join(
                f"$r{i}: ID!, $t{i}: [TranslationInput!]!" for i in range(len(chunk)))
                + ") { " + " ".join(
                f"t{i}: translationsRegister(resourceId: $r{i}, translations: $t{i}) {{ "
                f"{USER_ERRORS} }}" for i in range(len(chunk))) + " }")
            variables: dict[str, Any] = {}
            for i, (_, gid, items) in enumerate(chunk):
                variables[f"r{i}"], variables[f"t{i}"] = gid, items
            data = self.must("translationsRegister", query, variables)
            for i, (p, gid, _) in enumerate(chunk):
                errors = (data.get(f"t{i}") or {}).get("userErrors") or []
                if errors:
                    p.fail(f"translations of {gid}: " + "; ".join(
                        f"{e.get('code')}: {e.get('message')}" for e in errors))
