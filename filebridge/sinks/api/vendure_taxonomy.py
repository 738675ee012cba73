"""Facets and collections in Vendure: found or created once, never twice.

Relied on in ``@vendure/core`` 3.7.3:

- ``createFacet(input: {code, isPrivate, translations, values})``; a facet code is
  made unique by suffixing (FacetService.ensureUniqueCode), so a facet is looked
  up by its code before one is made. Facet value codes are not unique: we keep
  one value per code and facet. ``Facet.values`` lists every value.
- A collection's content is computed by its filters (``CollectionFilter``,
  ``dist/config/catalog/default-collection-filters.js``) and refreshed by a job
  whenever a product or variant changes (CollectionService.onModuleInit). Our
  collections use ``facet-value-filter`` on one value of a private facet
  (``category_facet``, one value per category path) with ``inheritFilters:
  false``: a product belongs to a collection exactly when it carries that value,
  which it gets in the same ``updateProducts`` as its other fields. That keeps
  membership exact (a product leaving a category leaves the collection; nothing
  else is in it), idempotent (the facet value list is absolute), free of
  read-modify-write races between parallel batches, and independent of the
  catalog's size (a ``product-id-filter`` would be a list of every product id,
  rewritten on each change and soon over the 100 kB body limit). Vendure's own
  initial-data import builds collections the same way
  (``dist/data-import/providers/populator/populator.js``).
- Collections are found per parent (``filter: {parentId}``, or ``topLevelOnly``)
  by their name in the default language. A name filter on a translated field
  matches any language and returns only the matching translation, so the
  children are listed whole and compared here. A collection made by hand with
  the same name is adopted: our facet-value filter is added to its filters,
  OR-combined (``combineWithAnd: false``).
- ``CreateCollectionTranslationInput`` needs name, slug and description; slugs
  clashing with another collection's are suffixed by Vendure (SlugValidator).

Creates go out once (no HTTP retry); when the answer is lost the thing is looked
up again, so a retry finds what the first attempt made. One lock serialises
creating, so parallel batches never make a facet, value or collection twice.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from filebridge.errors import RetryableSinkError
from filebridge.sinks.api.vendure_model import (
    ItemError,
    Languages,
    Path,
    Value,
    code_of,
    slug,
    translations_input,
    vlang,
)

if TYPE_CHECKING:
    from filebridge.sinks.api.vendure import VendureClient

FACET = "id code isPrivate translations{languageCode name} " \
        "values{id code translations{languageCode name}}"
COLLECTION = "id name parentId translations{languageCode name slug} filters{code args{name value}}"
FILTER = "facet-value-filter"


class Taxonomy:
    def __init__(self, client: VendureClient, langs: Languages, category_facet: str,
                 category_names: dict[str, str]):
        self.c = client
        self.langs = langs
        self.category_facet = category_facet
        self.category_names = category_names  # the category facet's name per language
        self.lock = threading.RLock()
        self.facets: dict[str, dict[str, Any]] = {}  # code -> facet (values by code)
        self.children: dict[str | None, list[dict[str, Any]]] = {}  # parent id -> collections
        self.collections: dict[Path, str] = {}  # path -> collection id, checked this run

    # -- facets ----------------------------------------------------------------------------
    def load(self, codes: list[str]) -> None:
        """Learn the facets with these codes (one query), if not known yet."""
        with self.lock:
            wanted = [c for c in codes if c not in self.facets]
            if not wanted:
                return
            items = self.c.must("query($c:[String!]!,$n:Int!){facets(options:{take:$n,"
                                "filter:{code:{in:$c}}}){items{" + FACET + "}}}",
                                {"c": wanted, "n": len(wanted)})["facets"]["items"]
            for f in items:
                self.facets[f["code"]] = self._index(f)

    @staticmethod
    def _index(facet: dict[str, Any]) -> dict[str, Any]:
        values: dict[str, dict[str, Any]] = {}
        for v in facet.get("values") or []:
            values.setdefault(v["code"], v)
        return {**facet, "values": values}

    def facet(self, code: str, names: dict[str, str], private: bool) -> dict[str, Any]:
        """The facet ``code``, created when missing; its names kept up to date."""
        with self.lock:
            self.load([code])
            f = self.facets.get(code)
            if f is None:
                f = self._create_facet(code, names, private)
            else:
                self._rename("updateFacet", "UpdateFacetInput", f, names)
            return f

    def _create_facet(self, code: str, names: dict[str, str], private: bool) -> dict[str, Any]:
        def find() -> dict[str, Any] | None:
            self.load([code])
            return self.facets.get(code)

        made, fresh = self._once(
            "mutation($i:CreateFacetInput!){createFacet(input:$i){" + FACET + "}}",
            {"i": {"code": code, "isPrivate": private, "translations":
                   translations_input(names), "values": []}}, "createFacet", find)
        if fresh:
            self.facets[made["code"]] = self._index(made)
            if made["code"] != code:  # Vendure suffixed it: another facet took the code
                raise ItemError(f"Vendure gave facet {code!r} the code {made['code']!r}")
        return self.facets[code]

    def values(self, code: str, names: dict[str, str], values: list[Value],
               private: bool = False, codes: list[str] | None = None) -> list[str]:
        """Ids of ``values`` in facet ``code`` (created when missing, names updated)."""
        if not values:
            return []
        with self.lock:
            f = self.facet(code, names, private)
            codes = codes or [code_of(v.text) for v in values]
            missing = {vc: v for vc, v in zip(codes, values, strict=True)
                       if vc not in f["values"]}
            if missing:
                def find() -> dict[str, Any] | None:
                    self.facets.pop(code, None)
                    self.load([code])
                    got = self.facets.get(code)
                    return got if got and all(vc in got["values"] for vc in missing) else None

                made, fresh = self._once(
                    "mutation($i:[CreateFacetValueInput!]!){createFacetValues(input:$i){"
                    "id code translations{languageCode name}}}",
                    {"i": [{"facetId": f["id"], "code": vc,
                            "translations": translations_input(v.names)}
                           for vc, v in missing.items()]}, "createFacetValues", find)
                if fresh:
                    for v in made:
                        f["values"].setdefault(v["code"], v)
                else:
                    f = made
            for vc, v in zip(codes, values, strict=True):
                self._rename("updateFacetValue", "UpdateFacetValueInput", f["values"][vc],
                             v.names)
            return [f["values"][vc]["id"] for vc in codes]

    def _rename(self, mutation: str, input_type: str, entity: dict[str, Any],
                names: dict[str, str]) -> None:
        """Write the names that differ from what the entity has (a new language, a
        corrected translation)."""
        have = {t["languageCode"]: t["name"] for t in entity.get("translations") or []}
        diff = {lang: n for lang, n in names.items() if have.get(vlang(lang)) != n}
        if not diff:
            return
        self.c.must(f"mutation($i:{input_type}!){{{mutation}(input:$i){{id}}}}",
                    {"i": {"id": entity["id"], "translations": translations_input(diff)}})
        entity["translations"] = [*[t for t in entity.get("translations") or []
                                    if t["languageCode"] not in {vlang(k) for k in diff}],
                                  *translations_input(diff)]

    # -- categories ------------------------------------------------------------------------
    def categories(self, paths: dict[Path, dict[str, Path]]) -> list[str]:
        """Facet value ids that put a product in every level of each path (its
        collections are created when missing)."""
        ids: list[str] = []
        for path, tr in paths.items():
            for depth in range(1, len(path) + 1):
                level = path[:depth]
                names = {self.langs.default: level[-1]}
                names.update({lang: t[depth - 1] for lang, t in tr.items()})
                value = self.values(self.category_facet, self.category_names,
                                    [Value(" > ".join(level), names)], private=True,
                                    codes=[code_of(*level)])[0]
                self.collection(level, names, value)
                if value not in ids:
                    ids.append(value)
        return ids

    def collection(self, path: Path, names: dict[str, str], value: str) -> str:
        with self.lock:
            cid = self.collections.get(path)
            if cid is not None:
                return cid
            parent = self.collections[path[:-1]] if len(path) > 1 else None
            found = self._child(parent, path[-1])
            if found is None:
                found = self._create_collection(parent, path, names, value)
            else:
                self._adopt(found, value)
                self._rename_collection(found, names)
            self.collections[path] = found["id"]
            return found["id"]

    def _kids(self, parent: str | None, fresh: bool = False) -> list[dict[str, Any]]:
        """The collections right under ``parent`` (None: the root), every page."""
        if fresh or parent not in self.children:
            if parent is None:
                query = "query($s:Int!){collections(options:{topLevelOnly:true,skip:$s,"
                variables: dict[str, Any] = {}
            else:
                query = "query($p:String!,$s:Int!){collections(options:{filter:{parentId:" \
                        "{eq:$p}},skip:$s,"
                variables = {"p": parent}
            query += "take:1000}){totalItems items{" + COLLECTION + "}}}"
            out: list[dict[str, Any]] = []
            while True:
                page = self.c.must(query, {**variables, "s": len(out)})["collections"]
                out.extend(page["items"])
                if len(out) >= page["totalItems"] or not page["items"]:
                    break
            self.children[parent] = out
        return self.children[parent]

    def _child(self, parent: str | None, name: str, fresh: bool = False
               ) -> dict[str, Any] | None:
        default = vlang(self.langs.default)
        for kid in self._kids(parent, fresh):
            trs = {t["languageCode"]: t["name"] for t in kid["translations"]}
            if trs.get(default, kid["name"]) == name:
                return kid
        return None

    def _create_collection(self, parent: str | None, path: Path, names: dict[str, str],
                           value: str) -> dict[str, Any]:
        made, _ = self._once(
            "mutation($i:CreateCollectionInput!){createCollection(input:$i){" + COLLECTION
            + "}}",
            {"i": {**({"parentId": parent} if parent else {}), "isPrivate": False,
                   "inheritFilters": False, "filters": [value_filter(value)],
                   "translations": [{"languageCode": vlang(lang), "name": n,
                                     "slug": slug(n, "category"), "description": ""}
                                    for lang, n in names.items()]}},
            "createCollection", lambda: self._child(parent, path[-1], fresh=True))
        kids = self._kids(parent)
        if all(k["id"] != made["id"] for k in kids):
            kids.append(made)
        return made

    def _adopt(self, collection: dict[str, Any], value: str) -> None:
        """Make a collection found by name hold the products with ``value``."""
        filters = collection.get("filters") or []
        for f in filters:
            args = {a["name"]: a["value"] for a in f["args"]}
            if f["code"] == FILTER and value in [str(i) for i in
                                                 json.loads(args.get("facetValueIds") or "[]")]:
                return
        keep = [{"code": f["code"], "arguments": [{"name": a["name"], "value": a["value"]}
                                                  for a in f["args"]]} for f in filters]
        extra = value_filter(value, combine_with_and=not keep)
        self.c.must("mutation($i:UpdateCollectionInput!){updateCollection(input:$i){id}}",
                    {"i": {"id": collection["id"], "filters": [*keep, extra]}})
        collection["filters"] = [*filters, {"code": extra["code"], "args": extra["arguments"]}]

    def _rename_collection(self, collection: dict[str, Any], names: dict[str, str]) -> None:
        """New languages get a translation; a changed name is written, its slug kept
        (it is in the shop's links). Translations are matched by languageCode
        (TranslatableSaver)."""
        have = {t["languageCode"]: t for t in collection["translations"]}
        diff: list[dict[str, Any]] = []
        for lang, n in names.items():
            t = have.get(vlang(lang))
            if t is None:
                diff.append({"languageCode": vlang(lang), "name": n,
                             "slug": slug(n, "category"), "description": ""})
            elif t["name"] != n:
                diff.append({"languageCode": vlang(lang), "name": n})
        if not diff:
            return
        self.c.must("mutation($i:UpdateCollectionInput!){updateCollection(input:$i){id}}",
                    {"i": {"id": collection["id"], "translations": diff}})
        for d in diff:
            have[d["languageCode"]] = {**have.get(d["languageCode"], {}), **d}
        collection["translations"] = list(have.values())

    # -- creating once ---------------------------------------------------------------------
    def _once(self, query: str, variables: dict[str, Any], key: str,
              find: Callable[[], Any]) -> tuple[Any, bool]:
        """Run a create once: (what it made, True). When its answer is lost, (what
        ``find`` finds, False), or the error again so the outbox retries later."""
        try:
            return self.c.must(query, variables, once=True)[key], True
        except RetryableSinkError:
            found = find()
            if found is None:
                raise
            return found, False


def value_filter(value: str, combine_with_and: bool = True) -> dict[str, Any]:
    """A ``facet-value-filter`` ConfigurableOperationInput for one facet value
    (arguments are JSON text, as the populator writes them)."""
    return {"code": FILTER, "arguments": [
        {"name": "facetValueIds", "value": json.dumps([value])},
        {"name": "containsAny", "value": "false"},
        {"name": "combineWithAnd", "value": "true" if combine_with_and else "false"}]}
