"""How ``vendure_api`` writes products: a batch's catalog upserts become variant
inputs and, where a record says something new about its product, the product's
own fields; new products, option groups and options are made on the way, once.
A mixin of :class:`filebridge.sinks.api.vendure.VendureClient` (transport, lookups
and the facts relied on in Vendure are there).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from filebridge.catalog.prices import selling
from filebridge.catalog.product import Product, build
from filebridge.errors import Bug, RetryableSinkError
from filebridge.sinks.api.base import Change, Result, State
from filebridge.sinks.api.vendure_assets import Assets, known_images
from filebridge.sinks.api.vendure_model import (
    Catalog,
    CustomField,
    ItemError,
    Languages,
    Value,
    category_paths,
    common_filters,
    enabled,
    extras_changed,
    filter_values,
    images_of,
    option_names,
    product_changed,
    product_specs,
    product_translations,
    slug,
    spec_for,
    translations_input,
    variant_translations,
    with_fields,
)
from filebridge.sinks.api.vendure_taxonomy import Taxonomy

CREATE = "mutation($i:[CreateProductVariantInput!]!){createProductVariants(input:$i){" \
         "id sku productId}}"
UPDATE = "mutation($i:[UpdateProductVariantInput!]!){updateProductVariants(input:$i){id}}"
PRODUCTS = "mutation($i:[UpdateProductInput!]!){updateProducts(input:$i){id}}"
GROUPS = "optionGroups{id code name translations{languageCode name} " \
         "options{id code name translations{languageCode name}}}"
FACETS_OF = ("query($v:[String!]!,$p:[String!]!,$n:Int!){productVariants(options:{take:$n,"
             "filter:{id:{in:$v}}}){items{id facetValues{id facet{code}}}} products(options:"
             "{take:$n,filter:{id:{in:$p}}}){items{id facetValues{id facet{code}}}}}")


@dataclass
class Work:
    """One catalog upsert in a batch and what it becomes."""

    change: Change
    record: dict[str, Any]
    known: dict[str, Any] | None  # variant_id, product_id, when the shop has it
    key: str  # product key
    images: list[str] = field(default_factory=list)  # its own images
    assets: dict[str, str] = field(default_factory=dict)  # its images' asset ids
    filters: dict[str, list[Value]] = field(default_factory=dict)
    error: str | None = None
    input: dict[str, Any] = field(default_factory=dict)  # variant input

    @property
    def created(self) -> bool:
        return self.known is None


@dataclass
class Plan:
    """One product in a batch: as assembled, its fields when it is (re)written, and
    the update for a product the shop has."""

    product: Product
    fields: dict[str, Any] | None = None
    update: dict[str, Any] | None = None


class ProductWriter:
    """Catalog upserts for a Vendure client."""

    if TYPE_CHECKING:  # what the client provides
        o: Any  # VendureOptions
        state: State
        catalog: Catalog
        langs: Languages
        taxonomy: Taxonomy
        lock: threading.Lock
        products: dict[str, str]  # product key -> product id, learnt this run
        product_locks: dict[str, threading.Lock]
        groups: dict[str, list[dict[str, Any]]]  # product id -> option groups
        today: Callable[[], date]

        @property
        def assets(self) -> Assets: ...
        def must(self, query: str, variables: dict[str, Any], once: bool = False) -> Any: ...
        def each(self, doc: str, inputs: list[Any], once: bool = False) -> list[Any]: ...
        def lookup(self, skus: list[str]) -> dict[str, list[dict[str, Any]]]: ...
        def stock(self, n: int) -> dict[str, Any]: ...
        def money(self, value: Any) -> int: ...
        def barcode_field(self) -> CustomField | None: ...
        def spec_fields(self, codes: list[str]) -> dict[str, CustomField]: ...

    def upsert(self, changes: list[Change], ids: dict[int, dict[str, Any]]
               ) -> dict[int, Result]:
        """Create or update variants with everything the catalog says, and their
        products where a record says something new about them."""
        works = [Work(c, with_fields(c.record), ids.get(c.id), self.product_key(c))
                 for c in changes]
        groups: dict[str, list[Work]] = {}
        for w in works:
            groups.setdefault(w.key, []).append(w)
            if w.known and w.known.get("product_id"):
                with self.lock:
                    self.products.setdefault(w.key, str(w.known["product_id"]))
        self.find_products([w for w in works if w.created])
        barcode = self.barcode_field() if any(
            "barcode" in w.record or "barcode" in (w.change.previous or {}) for w in works) \
            else None
        plans: dict[str, Plan] = {}
        for key, group in groups.items():
            try:
                plans[key] = self.prepare(key, group, barcode)
            except ItemError as e:
                for w in group:
                    w.error = w.error or str(e)
        self.keep_foreign_facets(works, plans)

        updates = [w for w in works if not w.error and not w.created]
        for w, a in zip(updates, self.each(UPDATE, [w.input for w in updates]), strict=True):
            if isinstance(a, ItemError):
                w.error = str(a)
        creates = [w for w in works if not w.error and w.created]
        if creates:
            self.create(creates, plans)
        # Names, facets, assets of the products that were there: one call for all.
        live = [(key, plan) for key, plan in plans.items() if plan.update is not None
                and any(not w.error for w in groups[key])]
        answers = self.each(PRODUCTS, [plan.update for _, plan in live]) if live else []
        for (key, _), a in zip(live, answers, strict=True):
            if isinstance(a, ItemError):
                for w in groups[key]:
                    w.error = w.error or str(a)
        return {w.change.id: Result(w.change.id, False, f"SKU {w.change.key}: {w.error}")
                if w.error else Result(w.change.id, True, remote=self.remote(w))
                for w in works}

    def remote(self, w: Work) -> dict[str, Any]:
        """What to remember for the SKU: its ids, and the assets of its images."""
        if w.known is None:
            raise Bug("expected w.known is not None")
        out: dict[str, Any] = {"variant_id": w.known["variant_id"],
                               "product_id": w.known["product_id"]}
        if w.assets or w.change.remote.get("images"):
            out["images"] = dict(w.assets)
        if w.change.remote.get("unpublished"):
            out["unpublished"] = False
        return out

    def product_key(self, c: Change) -> str:
        return str(c.record.get("product") or c.key)

    def assemble(self, key: str, group: list[Work]) -> tuple[Product, dict[str, str]]:
        """The product as the shop should have it: the batch's records over the
        last acknowledged ones of its other variants (catalog/product.py), and the
        assets remembered for its images (url -> asset id)."""
        grouped = any(w.record.get("product") for w in group)
        siblings = self.state.siblings(key) if grouped else []
        # A refused record leaves its variant as the shop last acknowledged it.
        mine = {w.record["sku"] for w in group if not w.error}
        records = [with_fields({k: v for k, v in s.items() if k != "_remote"})
                   for s in siblings if s.get("sku") not in mine]
        # The outbox hands changes out by product and SKU; its row ids keep the
        # file's order, which "first seen" option orders follow.
        records += [w.record for w in sorted(group, key=lambda w: w.change.id)
                    if not w.error]
        remotes = [s.get("_remote") or {} for s in siblings] + [w.change.remote for w in group]
        p = build(key, records, spec_for(records, self.catalog.product))
        for problem in p.problems:
            for w in group:
                if problem.record.get("sku") == w.record["sku"]:
                    w.error = problem.reason
        return p, known_images(remotes)

    def prepare(self, key: str, group: list[Work], barcode: CustomField | None) -> Plan:
        """The variant inputs of one product's changes and, when a record says
        something new about the product, the product's own fields (facets,
        collections and assets are found or made on the way)."""
        p, remembered = self.assemble(key, group)
        plan = Plan(p)
        for w in group:
            if w.error:
                continue
            try:
                w.filters = filter_values(w.record, self.langs)
                category_paths(w.record, self.langs)  # refuses misaligned translations
            except ItemError as e:
                w.error = str(e)
            w.images = images_of(w.record)
        live = [w for w in group if not w.error]
        if not live:
            return plan
        pid = self.products.get(key)
        rewrite = pid is None or any(
            w.created or product_changed(w.record, w.change.previous)
            or w.change.remote.get("unpublished") for w in live)
        extras = [w for w in live if rewrite or w.created
                  or extras_changed(w.record, w.change.previous)]
        urls = list(dict.fromkeys([*(p.images if rewrite else []),
                                   *(u for w in extras for u in w.images)]))
        assets = self.assets.resolve(urls, remembered) if urls else {}
        facets = self.facet_codes(p)
        for w in live:
            bad = [a for u in w.images if isinstance(a := assets.get(u), ItemError)]
            if bad:
                w.error = str(bad[0])
                continue
            w.assets = {u: a for u in w.images if isinstance(a := assets.get(u), str)}
            if not w.assets:
                w.assets = {u: remembered[u] for u in w.images if u in remembered}
            try:
                w.input = self.variant_input(w, p, barcode)
            except ItemError as e:
                w.error = str(e)
                continue
            if w in extras:
                if facets:
                    w.input["facetValueIds"] = self.filter_ids(w.filters)
                before = w.change.previous or {}
                if w.images or before.get("images") or before.get("image"):
                    mine = list(dict.fromkeys(w.assets.values()))  # two URLs, one picture
                    w.input["assetIds"] = mine
                    w.input["featuredAssetId"] = mine[0] if mine else None
        if rewrite and any(not w.error for w in group):
            if any(w.error for w in live):  # the product without what was refused
                p, _ = self.assemble(key, group)
                plan.product = p
            plan.fields = self.product_input(p, assets, facets)
            if pid is not None:
                plan.update = {"id": pid, **plan.fields}
                self.sync_options(pid, p)
        return plan

    def facet_codes(self, p: Product) -> set[str]:
        """The facets whose values on this product are ours to set (empty: the
        product's facet values are left alone)."""
        codes = {c for c, a in self.catalog.attributes.items() if a.filter}
        codes |= {a["code"] for r in p.variants for a in r.get("attributes") or []
                  if a.get("filter")}
        if codes or any(r.get("categories") for r in p.variants):
            codes.add(self.o.category_facet)
        return codes

    def filter_ids(self, filters: dict[str, list[Value]]) -> list[str]:
        out: list[str] = []
        for code, values in filters.items():
            spec = self.catalog.attributes.get(code)
            names = {self.langs.default: spec.label(code) if spec else
                     code.replace("_", " ").capitalize()}
            if spec:
                names.update({lang: n for lang, n in spec.names.items()
                              if lang in self.langs.others})
            out += self.taxonomy.values(code, names, values)
        return list(dict.fromkeys(out))

    def variant_input(self, w: Work, p: Product, barcode: CustomField | None) -> dict[str, Any]:
        r = w.record
        out: dict[str, Any] = {"sku": r["sku"], "enabled": enabled(r) is not False,
                               "translations": variant_translations(r, p, self.langs)}
        price = selling(r, self.today())[0] if r.get("sale_price") else r.get("price")
        if price not in (None, ""):
            out["price"] = self.money(price)
        if r.get("stock") is not None:
            out.update(self.stock(int(r["stock"])))
        if barcode is not None and ("barcode" in r or "barcode" in (w.change.previous or {})):
            out["customFields"] = {barcode.name: r.get("barcode") or None}
        if w.known is not None:
            out["id"] = w.known["variant_id"]
        return out

    def product_input(self, p: Product, assets: dict[str, Any], facets: set[str]
                      ) -> dict[str, Any]:
        specs = [a["code"] for a in p.attributes if not a.get("filter")]
        fields = self.spec_fields(specs) if specs else {}
        plain, locale = product_specs(p, fields, {c: self.o.custom_fields.get(c, c)
                                                  for c in specs}, self.langs)
        out: dict[str, Any] = {"translations": product_translations(
            p, self.langs, self.product_slug(p), locale)}
        on = enabled(p.fields)
        if on is not None or len(p.variants) <= 1:
            out["enabled"] = on is not False
        if plain:
            out["customFields"] = plain
        if facets:
            ids = self.filter_ids(common_filters([filter_values(r, self.langs)
                                                  for r in p.variants]))
            paths: dict[Any, dict[str, Any]] = {}
            for r in p.variants:
                for path, tr in category_paths(r, self.langs).items():
                    paths.setdefault(path, {}).update(tr)
            ids += self.taxonomy.categories(paths)
            out["facetValueIds"] = list(dict.fromkeys(ids))
        if p.images or any(images_of(r) for r in p.variants):
            mine = list(dict.fromkeys(a for u in p.images if isinstance(a := assets.get(u), str)))
            out["assetIds"] = mine
            out["featuredAssetId"] = mine[0] if mine else None
        return out

    def product_slug(self, p: Product) -> str:
        handle = p.get("handle")
        return slug(str(handle)) if handle else slug(p.key)

    def keep_foreign_facets(self, works: list[Work], plans: dict[str, Plan]) -> None:
        """Facet values of facets we do not write (added by hand) stay where they are."""
        variants = {str(w.known["variant_id"]): w for w in works
                    if not w.error and w.known and "facetValueIds" in w.input}
        products = {str(plan.update["id"]): plan.update for plan in plans.values()
                    if plan.update is not None and "facetValueIds" in plan.update}
        if not variants and not products:
            return
        ours = {c for c, a in self.catalog.attributes.items() if a.filter}
        ours |= {self.o.category_facet} | {code for w in works for code in w.filters}
        for plan in plans.values():
            ours |= self.facet_codes(plan.product)
        data = self.must(FACETS_OF, {"v": sorted(variants), "p": sorted(products),
                                     "n": max(len(variants), len(products), 1)})
        for v in data["productVariants"]["items"]:
            variants[str(v["id"])].input["facetValueIds"] += [
                f["id"] for f in v["facetValues"] if f["facet"]["code"] not in ours]
        for item in data["products"]["items"]:
            products[str(item["id"])]["facetValueIds"] += [
                f["id"] for f in item["facetValues"] if f["facet"]["code"] not in ours]

    def create(self, creates: list[Work], plans: dict[str, Plan]) -> None:
        """New variants: their products and option groups first (when missing), then
        the variants in their product's option order, in one call."""
        def position(w: Work) -> tuple[str, int]:
            skus = [r["sku"] for r in plans[w.key].product.variants]
            return w.key, skus.index(w.record["sku"]) if w.record["sku"] in skus else len(skus)

        ordered: list[Work] = []
        for w in sorted(creates, key=position):  # options and variants in scale order
            try:
                pid, option_ids = self.ensure_product(w, plans[w.key])
            except ItemError as e:
                w.error = str(e)
                continue
            w.input = {**w.input, "productId": pid, "optionIds": option_ids}
            ordered.append(w)
        try:
            answers = self.each(CREATE, [w.input for w in ordered], once=True)
        except RetryableSinkError:
            # The answer was lost; what reached Vendure shows up in a lookup.
            found = self.lookup([w.change.key for w in ordered])
            if any(len(found.get(w.change.key, [])) != 1 for w in ordered):
                raise
            answers = [found[w.change.key][0] for w in ordered]
        for w, a in zip(ordered, answers, strict=True):
            if isinstance(a, ItemError):
                w.error = str(a)
            else:
                w.known = {"variant_id": a["id"], "product_id": a["productId"]}

    def find_products(self, creates: list[Work]) -> None:
        """Learn the ids of products the new variants belong to: from the ledger, or
        from the shop by slug (a product made by an earlier, failed attempt or by
        hand). Slugs are Vendure's unique natural key for products."""
        wanted: dict[str, str] = {}
        for w in creates:
            key = w.key
            if key in self.products:
                continue
            for s in self.state.siblings(key) if w.record.get("product") else []:
                pid = (s.get("_remote") or {}).get("product_id")
                if pid:
                    with self.lock:
                        self.products.setdefault(key, str(pid))
                    break
            else:
                handle = w.record.get("handle")
                wanted[slug(str(handle)) if handle else slug(key)] = key
        if wanted:
            self._products_by_slug(wanted)

    def _products_by_slug(self, wanted: dict[str, str]) -> None:
        data = self.must("query($s:[String!]!,$n:Int!){products(options:{take:$n,"
                         "filter:{slug:{in:$s}}}){items{id slug}}}",
                         {"s": sorted(wanted), "n": len(wanted)})
        with self.lock:
            for p in data["products"]["items"]:
                if p["slug"] in wanted:
                    self.products.setdefault(wanted[p["slug"]], p["id"])

    def ensure_product(self, w: Work, plan: Plan) -> tuple[str, list[str]]:
        """The product id for ``w`` (created when needed) and its variant's option ids."""
        key = w.key
        with self.lock:
            lock = self.product_locks.setdefault(key, threading.Lock())
        with lock:  # two threads must not create the same product or option group
            pid = self.products.get(key)
            if pid is None:
                fields = plan.fields or self.product_input(plan.product, {}, set())
                try:
                    pid = self.must("mutation($i:CreateProductInput!){createProduct(input:$i)"
                                    "{id}}", {"i": fields}, once=True)["createProduct"]["id"]
                    self.groups[pid] = []
                except RetryableSinkError:
                    self._products_by_slug({self.product_slug(plan.product): key})
                    pid = self.products.get(key)
                    if pid is None:
                        raise
                    plan.update = {"id": pid, **fields}  # it may lack what came after
                with self.lock:
                    self.products[key] = pid
            return pid, self.ensure_options(pid, plan.product, w.record)

    def fetch_groups(self, pid: str) -> list[dict[str, Any]]:
        groups = self.groups.get(pid)
        if groups is None:
            groups = self.groups[pid] = self.must(
                "query($p:ID!){product(id:$p){" + GROUPS + "}}", {"p": pid})["product"][
                    "optionGroups"]
        return groups

    def ensure_options(self, pid: str, p: Product, record: dict[str, Any]) -> list[str]:
        """Option ids of ``record`` on product ``pid``; missing groups and values are
        created with their names in every language (callers hold the product's lock
        and come in the option's order, so S is made before M and L)."""
        mine = {o["field"]: o["value"] for o in record.get("options") or []}
        ids = []
        for opt in p.options:
            if opt.field not in mine:
                continue
            group = self.option_group(pid, opt)
            option = self.option(group, mine[opt.field])
            if option is None:
                option = self.create_option(group, opt, mine[opt.field])
            ids.append(option["id"])
        return ids

    def option_group(self, pid: str, opt: Any) -> dict[str, Any]:
        groups = self.fetch_groups(pid)
        code_ = f"{pid}-{slug(opt.name)}"
        group = next((g for g in groups if g.get("code") == code_ or g["name"] == opt.name),
                     None)
        if group is not None:
            return group
        query = "mutation($i:CreateProductOptionGroupInput!){createProductOptionGroup(" \
                "input:$i){id code name translations{languageCode name} options{id code " \
                "name translations{languageCode name}}}}"
        names = option_names(opt.name, opt.names, self.langs)
        try:
            group = self.must(query, {"i": {"code": code_, "translations": translations_input(
                names), "options": []}}, once=True)["createProductOptionGroup"]
        except RetryableSinkError:  # lost answer: was it made?
            items = self.must("query($c:String!){productOptionGroups(options:{filter:{code:"
                              "{eq:$c}}}){items{id code name translations{languageCode name} "
                              "options{id code name translations{languageCode name}}}}}",
                              {"c": code_})["productOptionGroups"]["items"]
            if not items:
                raise
            group = items[0]
        self.must("mutation($p:ID!,$g:ID!){addOptionGroupToProduct(productId:$p,"
                  "optionGroupId:$g){id}}", {"p": pid, "g": group["id"]})
        groups.append(group)
        return group

    @staticmethod
    def option(group: dict[str, Any], value: str) -> dict[str, Any] | None:
        return next((o for o in group["options"] if o["name"] == value
                     or o.get("code") == slug(value)), None)

    def create_option(self, group: dict[str, Any], opt: Any, value: str) -> dict[str, Any]:
        names = {lang: opt.value_in(value, lang) for lang in self.langs.others
                 if opt.value_in(value, lang) != value}
        fields = "id code name translations{languageCode name}"
        try:
            option = self.must(
                "mutation($i:CreateProductOptionInput!){createProductOption(input:$i){"
                + fields + "}}", {"i": {"productOptionGroupId": group["id"],
                                        "code": slug(value), "translations": translations_input(
                                            {self.langs.default: value, **names})}},
                once=True)["createProductOption"]
        except RetryableSinkError:
            found = self.must("query($g:ID!){productOptions(groupId:$g,options:{take:1000}){"
                              "items{" + fields + "}}}", {"g": group["id"]})
            option = next((o for o in found["productOptions"]["items"]
                           if o["code"] == slug(value)), None)
            if option is None:
                raise
        group["options"].append(option)
        return option

    def sync_options(self, pid: str, p: Product) -> None:
        """Names of the product's option groups and options in languages added or
        corrected since they were made."""
        with self.lock:
            lock = self.product_locks.setdefault(p.key, threading.Lock())
        with lock:
            groups = self.fetch_groups(pid)
            for opt in p.options:
                code_ = f"{pid}-{slug(opt.name)}"
                group = next((g for g in groups if g.get("code") == code_
                              or g["name"] == opt.name), None)
                if group is None:
                    continue
                self.taxonomy._rename("updateProductOptionGroup",
                                      "UpdateProductOptionGroupInput", group,
                                      option_names(opt.name, opt.names, self.langs))
                for value in opt.values:
                    option = self.option(group, value)
                    if option is not None:
                        names = {lang: opt.value_in(value, lang) for lang in self.langs.codes}
                        self.taxonomy._rename("updateProductOption", "UpdateProductOptionInput",
                                              option, names)


