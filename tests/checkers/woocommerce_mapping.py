"""Which field WooCommerce's product importer maps a CSV header to, as its column-mapping
screen preselects it (nobody touches the screen when a file is dropped by a machine).

Source:
``plugins/woocommerce/includes/admin/importers/class-wc-product-csv-importer-controller.php``
@11adb472 (``auto_map_columns``, ``normalize_columns_names``, ``get_special_columns``,
``sanitize_special_column_name_regex``, ``get_mapping_options``), the filters in
``includes/admin/importers/mappings/`` (``default.php`` @1825a207, ``generic.php``,
``wordpress.php``, ``shopify.php`` @90090b73) and the mapping view
``includes/admin/importers/views/html-csv-import-mapping.php`` (@01e4778d).

The rules, as the code applies them with an en_US admin:

1. A header is matched lower-cased against the lower-cased labels of the default columns,
   then the generic, Shopify (only when the file has ``Title``, ``Body (HTML)``, ``Type`` and
   ``Variant SKU``) and WordPress extras; a later filter wins a clash.
2. Otherwise the special-column patterns are tried in order, case-insensitively and
   unanchored, on the header as written: ``Attribute %d name`` -> ``attributes:name<N>`` ...
   ``Meta: %s`` -> ``meta:<rest of the header, case kept>``.
3. Otherwise the "mapped value" is the lower-cased header itself.
4. The screen then shows a select per column whose options are :func:`mapping_options`; the
   option equal to the mapped value is preselected, and when none is equal the browser
   shows the first option, "Do not import" (value ''). So an unknown header is not imported,
   except one that is spelled like an option key (``global_unique_id``, ``regular_price``).

The exporter's ``GTIN, UPC, EAN, or ISBN`` header is in none of the tables (WooCommerce issue
#68736, open): it maps to '' (do not import). The field is ``global_unique_id``; it can only be
chosen by hand, unless the header is ``global_unique_id`` itself (rule 4) or the value goes
through ``Meta: _global_unique_id`` (an internal meta key, which ``WC_Data::update_meta_data``
routes to ``set_global_unique_id``).

A site whose admin language is not en_US also recognises the translated labels; the English
labels are added by ``wc_importer_default_english_mappings`` so they work everywhere. Only the
English ones are modelled.
"""

from __future__ import annotations

import re
from typing import Protocol


class Units(Protocol):
    weight_unit: str
    dimension_unit: str
    cogs_enabled: bool


def default_columns(shop: Units) -> dict[str, str]:
    """``$default_columns`` of ``auto_map_columns`` (labels as en_US shows them)."""
    w, d = shop.weight_unit, shop.dimension_unit
    cols = {
        "ID": "id", "Type": "type", "SKU": "sku", "Name": "name", "Published": "published",
        "Is featured?": "featured", "Visibility in catalog": "catalog_visibility",
        "Short description": "short_description", "Description": "description",
        "Date sale price starts": "date_on_sale_from", "Date sale price ends": "date_on_sale_to",
        "Tax status": "tax_status", "Tax class": "tax_class", "In stock?": "stock_status",
        "Stock": "stock_quantity", "Backorders allowed?": "backorders",
        "Low stock amount": "low_stock_amount", "Sold individually?": "sold_individually",
        f"Weight ({w})": "weight", f"Length ({d})": "length", f"Width ({d})": "width",
        f"Height ({d})": "height", "Allow customer reviews?": "reviews_allowed",
        "Purchase note": "purchase_note", "Sale price": "sale_price",
        "Regular price": "regular_price", "Categories": "category_ids", "Tags": "tag_ids",
        "Shipping class": "shipping_class_id", "Images": "images",
        "Download limit": "download_limit", "Download expiry days": "download_expiry",
        "Parent": "parent_id", "Upsells": "upsell_ids", "Cross-sells": "cross_sell_ids",
        "Grouped products": "grouped_products", "External URL": "product_url",
        "Button text": "button_text", "Position": "menu_order",
        "Commodity code (HS code)": "customs_commodity_code",
        "Country of origin": "customs_country_of_origin",
        "Customs description": "customs_description",
    }
    if shop.cogs_enabled:
        cols["Cost of goods"] = "cogs_value"
    return cols


GENERIC = {"Title": "name", "Product Title": "name", "Price": "regular_price",
           "Parent SKU": "parent_id", "Quantity": "stock_quantity", "Menu order": "menu_order"}
WORDPRESS = {"post_id": "id", "post_title": "name", "post_content": "description",
             "post_excerpt": "short_description", "post_parent": "parent_id"}
SHOPIFY = {"Variant SKU": "sku", "Title": "name", "Body (HTML)": "description",
           "Quantity": "stock_quantity", "Variant Inventory Qty": "stock_quantity",
           "Image Src": "images", "Variant Image": "images", "Variant Price": "sale_price",
           "Variant Compare At Price": "regular_price", "Type": "category_ids",
           "Tags": "tag_ids_spaces", "Variant Grams": "weight",
           "Variant Requires Shipping": "meta:shopify_requires_shipping",
           "Variant Taxable": "tax_status"}
SPECIAL = {"Attribute %d name": "attributes:name", "Attribute %d value(s)": "attributes:value",
           "Attribute %d visible": "attributes:visible",
           "Attribute %d global": "attributes:taxonomy",
           "Attribute %d default": "attributes:default", "Download %d ID": "downloads:id",
           "Download %d name": "downloads:name", "Download %d URL": "downloads:url",
           "Meta: %s": "meta:"}
SHOPIFY_SPECIAL = {"Option%d Name": "attributes:name", "Option%d Value": "attributes:value"}


def is_shopify(headers: list[str]) -> bool:
    return all(h in headers for h in ("Title", "Body (HTML)", "Type", "Variant SKU"))


def _special_regex(label: str) -> re.Pattern[str]:
    # sanitize_special_column_name_regex: quotemeta, then %d / %s become (.*), case-insensitive
    quoted = re.sub(r"([.\\+*?\[^\]$()])", r"\\\1", label.lower()).strip()
    return re.compile(quoted.replace("%d", "(.*)").replace("%s", "(.*)"), re.IGNORECASE)


def auto_map_columns(headers: list[str], shop: Units) -> list[str]:
    """The mapped value of each header (``auto_map_columns`` with numeric indexes)."""
    cols = dict(default_columns(shop))
    cols.update(GENERIC)                  # filters at priority 10, in mappings.php order
    special = dict(SPECIAL)
    if is_shopify(headers):
        cols.update(SHOPIFY)
        special.update(SHOPIFY_SPECIAL)
    cols.update(WORDPRESS)
    normalized: dict[str, str] = {}
    for label, key in cols.items():       # normalize_columns_names: later keys win
        normalized[label.lower()] = key
    regexes = {}
    for label, key in special.items():
        regexes[label.lower()] = key
    compiled = [(_special_regex(label), key) for label, key in regexes.items()]
    mapped = []
    for field in headers:
        value = field.lower()
        if value in normalized:
            value = normalized[value]
        else:
            for rx, key in compiled:
                if m := rx.search(field):
                    value = key + m.group(1)
                    break
        mapped.append(value)
    return mapped


def mapping_options(item: str, shop: Units) -> list[str]:
    """The option values of the select for a column whose mapped value is ``item``
    (``get_mapping_options``, option groups flattened)."""
    m = re.search(r"\d+", item)
    index = m.group(0) if m else item
    meta = item.replace("meta:", "")
    opts = ["id", "type", "sku", "global_unique_id", "name", "published", "featured",
            "catalog_visibility", "short_description", "description", "regular_price",
            "sale_price", "date_on_sale_from", "date_on_sale_to", "tax_status", "tax_class",
            "stock_status", "stock_quantity", "backorders", "low_stock_amount",
            "sold_individually", "weight", "length", "width", "height", "category_ids",
            "tag_ids", "tag_ids_spaces", "shipping_class_id", "images", "parent_id",
            "upsell_ids", "cross_sell_ids", "grouped_products", "product_url", "button_text",
            f"downloads:id{index}", f"downloads:name{index}", f"downloads:url{index}",
            "download_limit", "download_expiry", f"attributes:name{index}",
            f"attributes:value{index}", f"attributes:taxonomy{index}",
            f"attributes:visible{index}", f"attributes:default{index}", "reviews_allowed",
            "purchase_note", f"meta:{meta}", "menu_order", "customs_commodity_code",
            "customs_country_of_origin", "customs_description"]
    if shop.cogs_enabled:
        opts.append("cogs_value")
    return opts


def preselected(headers: list[str], shop: Units) -> list[str]:
    """What the mapping screen submits untouched: the field key per header, '' for "Do not
    import"."""
    return [v if v in mapping_options(v, shop) else "" for v in auto_map_columns(headers, shop)]
