"""The steps of one mapped field after its source, column-wise: ``type``,
``lookup``, ``default``, the checks (``required``, ``regex``, ``min``/``max``,
``check: ean13``, the values the shops accept) and ``clamp``.

A check adds (field, mask of failing rows, reason of row i) to the run; the
mapping turns the first failing check of each row into its reject. List values
are checked element by element: a row fails when one of its elements does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from filebridge import lists
from filebridge.enums import not_accepted
from filebridge.errors import Bug, RejectedFile
from filebridge.expr import ExprError
from filebridge.expr.decimals import rescale, to_integer
from filebridge.expr.evaluate import Evaluator, describe
from filebridge.layouts.types import parse
from filebridge.lookups import Table, find
from filebridge.records import Batch

if TYPE_CHECKING:
    from filebridge.mapping import FieldMap

# field, bad mask, row -> (why, value). Callable[...]: the lambdas bind the values
# they report as default arguments, which mypy cannot infer against [[int], ...].
Check = tuple[str, pa.Array, Callable[..., tuple[str, Any]]]

ARROW_TYPES = {"text": pa.string(), "integer": pa.int64(), "date": pa.date32(),
               "boolean": pa.bool_()}


@dataclass
class Run:
    """One computation of the mapped fields over one batch."""

    batch: Batch
    today: date
    env: dict[str, pa.Array] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)
    where: str = "source"  # the part of the field being computed, for load-time errors
    dry: bool = False  # a load-time check: unresolved names are unknown values

    @property
    def n(self) -> int:
        return len(self.batch)


def blank(arr: pa.Array) -> pa.Array:
    """Null, text of only blanks, or a list without elements."""
    if lists.is_list(arr.type):
        return pc.fill_null(pc.equal(pc.list_value_length(arr), 0), True)
    mask = pc.is_null(arr)
    if pa.types.is_string(arr.type):
        mask = pc.or_(mask, pc.equal(pc.utf8_trim_whitespace(arr), ""))
    return pc.fill_null(mask, True)


def _ean13_ok(arr: pa.Array) -> pa.Array:
    text = pc.cast(arr, pa.string())
    shape = pc.fill_null(pc.match_substring_regex(text, r"^[0-9]{13}$"), False)
    safe = pc.if_else(shape, text, "0000000000000")
    total = None
    for i in range(13):
        digit = pc.cast(pc.utf8_slice_codeunits(safe, i, i + 1), pa.int64())
        term = pc.multiply(digit, 3 if i % 2 else 1)
        total = term if total is None else pc.add(total, term)
    return pc.and_(shape, pc.equal(pc.divide(total, 10), pc.divide(pc.add(total, 9), 10)))


def each(arr: pa.Array, fn: Callable[..., pa.Array]) -> pa.Array:
    """Row mask of ``fn`` (for list values: true when it is for any element)."""
    if lists.is_list(arr.type):
        values, counts = lists.parts(arr)
        return lists.any_per_row(counts, fn(values))
    return fn(arr)


def elements(arr: pa.Array, fn: Callable[..., pa.Array]) -> pa.Array:
    """``fn`` on the value, or on each element of a list."""
    return lists.map_values(arr, fn) if lists.is_list(arr.type) else fn(arr)


def typed(name: str, f: FieldMap, arr: pa.Array, run: Run) -> pa.Array:
    """Text parsed into ``f.type``; a typed value converted when that is exact."""
    if f.type is None:
        raise Bug("expected f.type is not None")
    t = arr.type
    item = t.value_type if lists.is_list(t) else t
    if pa.types.is_string(item) and f.type != "text":
        source = arr
        if lists.is_list(t):
            values, counts = lists.parts(arr)
            parsed, bad_el = parse(values, f.type, scale=f.scale, decimal=f.decimal,
                                   thousands=f.thousands, format=f.date_format)
            arr = lists.build(parsed, counts, arr.is_null())
            bad = None if bad_el is None else lists.any_per_row(counts, bad_el)
        else:
            arr, bad = parse(arr, f.type, scale=f.scale, decimal=f.decimal,
                             thousands=f.thousands, format=f.date_format)
        if bad is not None:
            run.checks.append((name, bad, lambda i, v=source, ty=f.type:
                               (f"{v[i].as_py()!r} is not a valid {ty}", v[i].as_py())))
        return arr
    target = pa.decimal128(38, f.scale) if f.type == "decimal" else ARROW_TYPES[f.type]
    if pa.types.is_null(t):
        return pa.nulls(len(arr), target)
    if lists.is_list(t):
        return arr  # elements already typed stay as they are
    if f.type == "text":
        return Evaluator(lambda r: arr, len(arr), run.today).text(arr)
    if f.type == "decimal" and (pa.types.is_decimal(t) or pa.types.is_integer(t)):
        out, lost = rescale(arr, f.scale)
        _lost(name, arr, lost, f"has more than {f.scale} decimals (round it)", run)
        return out
    if f.type == "integer" and (pa.types.is_decimal(t) or pa.types.is_integer(t)):
        out, lost = to_integer(arr)
        _lost(name, arr, lost, "is not a whole number", run)
        return out
    if f.type == "date" and (pa.types.is_date(t) or pa.types.is_timestamp(t)):
        return arr.cast(pa.date32())
    if f.type == "boolean" and pa.types.is_boolean(t):
        return arr
    raise ExprError(f"type: {f.type} cannot hold {describe(arr)}")


def _lost(name: str, source: pa.Array, lost: pa.Array | None, why: str, run: Run) -> None:
    if lost is not None:
        run.checks.append((name, lost, lambda i, v=source:
                           (f"{name} {v[i].as_py()} {why}", v[i].as_py())))


def exact(value: Any) -> Any:
    """A YAML number with a fraction as the decimal it was written as, not a float."""
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, list):
        return [exact(v) for v in value]
    return value


def constant(value: Any) -> pa.Scalar:
    """A ``value:`` as a scalar; decimals with 38 digits like every decimal column."""
    v = pa.scalar(exact(value))
    return v.cast(pa.decimal128(38, v.type.scale)) if pa.types.is_decimal(v.type) else v


def default(arr: pa.Array, value: Any) -> pa.Array:
    value = exact(value)
    if lists.is_list(arr.type):
        fill = pa.scalar(value if isinstance(value, list) else [value], arr.type)
    elif pa.types.is_null(arr.type):
        return pa.repeat(pa.scalar(value), len(arr))
    else:
        try:
            fill = pa.scalar(value).cast(arr.type)
        except (pa.ArrowException, ValueError, TypeError):
            kind = "integer" if pa.types.is_integer(arr.type) else "decimal" if \
                pa.types.is_decimal(arr.type) else "date" if pa.types.is_date(arr.type) else \
                str(arr.type)
            raise ValueError(f"{value!r} is not a valid {kind}") from None
    return pc.if_else(blank(arr), fill, arr)


def checks(name: str, f: FieldMap, arr: pa.Array, run: Run) -> None:
    out = run.checks
    if f.required:
        out.append((name, blank(arr), lambda i: (f"required field {name} is empty", "")))
    if f.regex is not None:
        pattern = f"^(?:{f.regex})$"
        mask = each(arr, lambda a: pc.invert(pc.fill_null(
            pc.match_substring_regex(pc.cast(a, pa.string()), pattern), True)))
        out.append((name, mask, lambda i, v=arr, rx=f.regex:
                    (f"{v[i].as_py()!r} does not match {rx}", v[i].as_py())))
    numeric = not pa.types.is_null(arr.type)
    for bound, op, word in ((f.min, pc.less, "below"), (f.max, pc.greater, "above")):
        if bound is not None and numeric:
            run.where = "min" if op is pc.less else "max"
            mask = each(arr, lambda a, b=bound, o=op: pc.fill_null(o(a, scalar(b, a)), False))
            out.append((name, mask, lambda i, v=arr, b=bound, w=word:
                        (f"{v[i].as_py()} is {w} the allowed {b}", v[i].as_py())))
    if f.check == "ean13":
        mask = each(arr, lambda a: pc.invert(pc.or_(_ean13_ok(a), blank(a))))
        out.append((name, mask, lambda i, v=arr: (f"{v[i].as_py()!r} is not a valid EAN-13",
                                                  v[i].as_py())))


def clamp(f: FieldMap, arr: pa.Array) -> pa.Array:
    if f.clamp is None or pa.types.is_null(arr.type):
        return arr
    lo, hi = f.clamp
    if lo is not None:
        arr = elements(arr, lambda a: pc.max_element_wise(a, scalar(lo, a)))
    if hi is not None:
        arr = elements(arr, lambda a: pc.min_element_wise(a, scalar(hi, a)))
    return arr


def enum_checks(name: str, arr: pa.Array, shops: list[tuple[str, tuple[str, ...], str]],
                run: Run) -> None:
    for label, accepted, canonical in shops:
        mask = each(arr, lambda a, ok=accepted: not_accepted(a, ok))
        what = canonical if canonical == name else f"{canonical} (field {name})"
        run.checks.append((name, mask, lambda i, v=arr, w=what, lb=label, ok=accepted: (
            f"{w} {v[i].as_py()!r} is not accepted by {lb}; accepted: {', '.join(ok)}",
            v[i].as_py())))


def scalar(value: Decimal, arr: pa.Array) -> pa.Scalar:
    """A bound in the type of ``arr``."""
    if pa.types.is_decimal(arr.type):
        return pa.scalar(value, pa.decimal128(38, max(-value.as_tuple().exponent, 0))  # type: ignore[operator]
                         ).cast(arr.type)
    if pa.types.is_integer(arr.type):
        return pa.scalar(int(value), arr.type)
    if pa.types.is_string(arr.type):
        raise RejectedFile("min/max/clamp need a numeric field: add type: integer or "
                           "decimal to the mapping")
    return pa.scalar(float(value))


def lookup(name: str, f: FieldMap, table: Table, keys: list[pa.Array], run: Run,
           counts: np.ndarray | None = None) -> pa.Array:
    """The values of ``keys`` in ``table``, with the field's missing-code policy;
    ``counts``: the keys are the elements of lists, ``counts`` per row."""
    found, missing, shown = find(table, keys)
    if f.lookup_missing == "keep":
        return pc.if_else(missing, shown, pc.cast(found, pa.string()))
    if f.lookup_missing == "null":
        return found
    if counts is None:
        run.checks.append((name, missing, lambda i, t=shown, w=table.where:
                           (f"{t[i].as_py()!r} is not in {w}", t[i].as_py())))
        return found
    starts = np.cumsum(counts) - counts

    def why(i: int) -> tuple[str, Any]:
        codes = [shown[j].as_py() for j in range(starts[i], starts[i] + counts[i])]
        absent = [c for j, c in enumerate(codes) if missing[starts[i] + j].as_py()]
        return f"{', '.join(map(repr, absent))} not in {table.where}", codes

    run.checks.append((name, lists.any_per_row(counts, missing), why))
    return found
