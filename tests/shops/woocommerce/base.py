"""What every resource module of the loopback WooCommerce shares: errors in
WordPress's REST shape, pagination, ``_fields``, the WordPress text functions the
controllers run names through, and one lock and id sequence for the whole shop
(posts, attachments and terms each have their own table in WordPress; one sequence
here keeps ids unique across them, which the tests rely on to tell them apart).

Errors are ``{"code", "message", "data": {"status", ...}}`` [doc: woocommerce-rest-
api-docs "Errors"]; WP_REST_Server answers a missing required argument with 400
``rest_missing_callback_param`` "Missing parameter(s): name" and an ill-typed one with
``rest_invalid_param`` (wp-includes/rest-api/class-wp-rest-request.php
``has_valid_params``).
"""

from __future__ import annotations

import copy
import html
import threading
from collections import Counter
from typing import Any

from checkers.woocommerce_shop import collate
from checkers.wp_functions import (
    remove_accents,
    sanitize_text_field,
    sanitize_title,
    wc_sanitize_taxonomy_name,
    wp_kses_post,
)

__all__ = ["BASE", "BATCH_LIMIT", "State", "WooError", "ascii_lower", "collate", "fields",
           "invalid", "missing", "no_route", "page", "remove_accents", "sanitize_text_field",
           "sanitize_title", "stored_name", "to_int", "wc_sanitize_taxonomy_name"]

BASE = "/wp-json/wc/v3"
BATCH_LIMIT = 100  # woocommerce_rest_batch_items_limit


class WooError(Exception):
    def __init__(self, status: int, code: str, message: str, **data: Any):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.data = {"status": status, **data}

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "data": self.data}


def invalid(param: str, why: str) -> WooError:
    return WooError(400, "rest_invalid_param", f"Invalid parameter(s): {param}",
                    params={param: why})


def missing(param: str) -> WooError:
    return WooError(400, "rest_missing_callback_param", f"Missing parameter(s): {param}",
                    params=[param])


def no_route() -> WooError:
    return WooError(404, "rest_no_route",
                    "No route was found matching the URL and request method.")


def to_int(v: Any) -> int:
    try:
        return int(v)
    except (TypeError, ValueError):
        return 0


def ascii_lower(s: str) -> str:
    """PHP 8 ``strtolower``: ASCII letters only ("É" stays "É")."""
    return "".join(chr(ord(c) + 32) if "A" <= c <= "Z" else c for c in s)


def stored_name(name: str) -> str:
    """A term name as WordPress stores it (``pre_term_name``: sanitize_text_field,
    wp_filter_kses, _wp_specialchars): tags out, whitespace collapsed, '&' as
    '&amp;'. The REST API answers the stored form."""
    return wp_kses_post(sanitize_text_field(name))


def label(stored: str) -> str:
    return html.unescape(stored)


def fields(obj: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
    """``_fields``: only the top-level keys asked for."""
    if query.get("_fields"):
        return {k: copy.deepcopy(obj[k]) for k in query["_fields"].split(",") if k in obj}
    return copy.deepcopy(obj)


def page(items: list[Any], query: dict[str, str], default: int = 10
         ) -> tuple[int, dict[str, str], list[Any]]:
    """``per_page`` (1..100), ``page`` (from 1), ``offset`` (wins over page, as in
    WP_Query) with X-WP-Total and X-WP-TotalPages."""
    try:
        per_page = int(query.get("per_page", default))
        number = int(query.get("page", 1))
        offset = int(query["offset"]) if "offset" in query else None
    except ValueError:
        raise invalid("per_page", "per_page is not of type integer.") from None
    if not 1 <= per_page <= 100:
        raise invalid("per_page", "per_page must be between 1 (inclusive) and 100 (inclusive)")
    if number < 1:
        raise invalid("page", "page must be greater than or equal to 1")
    total = len(items)
    start = offset if offset is not None else (number - 1) * per_page
    return (200, {"X-WP-Total": str(total), "X-WP-TotalPages": str(-(-total // per_page))},
            items[start:start + per_page])


class State:
    """The shop's lock, id sequence and clock, shared by its resource modules."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.next_id = 100
        self.now: float | None = None  # the shop's clock (None: the real time)
        self.counters: dict[str, Counter[str]] = {}

    def new_id(self) -> int:
        with self.lock:
            self.next_id += 1
            return self.next_id


def batch(data: Any, limit: int, create: Any, update: Any, delete: Any) -> dict[str, Any]:
    """``WC_REST_Controller::batch_items``: at most ``limit`` create+update+delete items
    (413 ``woocommerce_rest_request_entity_too_large`` beyond); each item that fails
    is ``{"id": <id or 0>, "error": {code, message, data}}`` in an HTTP 200 answer;
    creates, then updates, then deletes."""
    if not isinstance(data, dict):
        raise WooError(400, "rest_invalid_json", "Invalid JSON body passed.")
    for op in ("create", "update", "delete"):
        if op in data and not isinstance(data[op], list):
            raise invalid(op, f"{op} is not of type array.")
    total = sum(len(data.get(op) or ()) for op in ("create", "update", "delete"))
    if total > limit:
        raise WooError(413, "woocommerce_rest_request_entity_too_large",
                       f"Unable to accept more than {limit} items for this request.")
    out: dict[str, list[Any]] = {}

    def each(op: str, fn: Any, ident: Any) -> None:
        res = out.setdefault(op, [])
        for item in data[op]:
            try:
                res.append(fn(item))
            except WooError as e:
                res.append({"id": ident(item), "error": {"code": e.code, "message": e.message,
                                                         "data": e.data}})

    def item_id(i: Any) -> int:
        return to_int(i.get("id", 0)) if isinstance(i, dict) else 0

    if data.get("create"):
        each("create", create, lambda i: 0)
    if data.get("update"):
        each("update", lambda i: update(item_id(i), i), item_id)
    if data.get("delete"):
        each("delete", lambda i: delete(to_int(i)), to_int)
    return out
