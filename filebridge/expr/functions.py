"""The functions an expression may call: name, arity, a one-line description (the
profile reference lists them from here), the load-time checks of constant
arguments, and the column-wise implementation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from filebridge import lists
from filebridge.expr import decimals, units
from filebridge.expr.syntax import Call, Const, ExprError, If, Node
from filebridge.layouts.types import parse_date

if TYPE_CHECKING:
    from filebridge.expr.evaluate import Evaluator, Value


@dataclass(frozen=True)
class Function:
    signature: str
    doc: str
    arity: tuple[int, int | None]
    run: Callable[[Evaluator, Call], Value]
    constants: Callable[[Call], None] | None = None  # checks at profile load


def _const(call: Call, i: int, kind: type, what: str) -> object:
    a = call.args[i]
    if not (isinstance(a, Const) and isinstance(a.value, kind) and
            not (kind is int and isinstance(a.value, bool))):
        raise ExprError(f"{call.name}(): argument {i + 1} must be {what}", a.col)
    return a.value


def _coalesce(ev: Evaluator, call: Call) -> Value:
    values = [ev.array(v) for v in ev.unify([ev.eval(a) for a in call.args], call, "coalesce")]
    out = values[-1]
    out = pc.if_else(ev.blank(out), pa.scalar(None, out.type), out)
    for v in reversed(values[:-1]):
        out = pc.if_else(ev.blank(v), out, v)
    return out


def _if(ev: Evaluator, call: Call) -> Value:
    return ev.eval(If(call.col, *call.args))


def _date_constants(call: Call) -> None:
    a = call.args[0]
    if isinstance(a, Const):
        if not isinstance(a.value, str):
            raise ExprError("date(): give a date as text, e.g. date(\"2027-01-31\")", a.col)
        try:
            date.fromisoformat(a.value)
        except ValueError:
            raise ExprError(f"date(): {a.value!r} is not a date (YYYY-MM-DD)", a.col) from None


def _date(ev: Evaluator, call: Call) -> Value:
    v = ev.eval(call.args[0])
    k = v.type
    if pa.types.is_date(k):
        return v
    if isinstance(v, pa.Scalar) and pa.types.is_string(k):
        return pa.scalar(date.fromisoformat(v.as_py()), pa.date32())
    if not (pa.types.is_string(k) or pa.types.is_null(k)):
        raise ExprError(f"date(): expected text (YYYY-MM-DD), got {k}", call.col)
    out, bad = parse_date(ev.array(v.cast(pa.string())), format="ISO", nulls=[])
    if bad is not None:
        ev.failures.append((bad, "not a date (YYYY-MM-DD)"))
    return out


def _round_constants(call: Call) -> None:
    if len(call.args) > 1:
        n = _const(call, 1, int, "a whole number of decimals, e.g. round(x, 2)")
        if not 0 <= n <= 18:  # type: ignore[operator]
            raise ExprError("round(): decimals must be between 0 and 18", call.args[1].col)


def _round(ev: Evaluator, call: Call) -> Value:
    v = ev.eval(call.args[0])
    digits = int(call.args[1].value) if len(call.args) > 1 else 0  # type: ignore[attr-defined]
    k = v.type
    if pa.types.is_null(k):
        return v.cast(pa.decimal128(decimals.MAX, digits))
    if not (pa.types.is_integer(k) or pa.types.is_decimal(k) or pa.types.is_floating(k)):
        raise ExprError(f"round(): expected a number, got {k}", call.col)
    return decimals.round_to(v, digits)


def _text_fn(fn: Callable[[pa.Array], pa.Array], name: str) -> Callable[[Evaluator, Call],
                                                                         Value]:
    def run(ev: Evaluator, call: Call) -> Value:
        v = ev.eval(call.args[0])
        if lists.is_list(v.type):
            return lists.map_values(ev.array(v), lambda e: fn(e.cast(pa.string())))
        if not (pa.types.is_string(v.type) or pa.types.is_large_string(v.type) or
                pa.types.is_null(v.type)):
            raise ExprError(f"{name}(): expected text, got {v.type} (use text(x) first)",
                            call.col)
        return fn(v.cast(pa.string()))
    return run


def _concat(ev: Evaluator, call: Call) -> Value:
    parts = [pc.fill_null(ev.text(ev.eval(a)), "") for a in call.args]
    if len(parts) == 1:
        return parts[0]
    return pc.binary_join_element_wise(*parts, "")


def _len(ev: Evaluator, call: Call) -> Value:
    v = ev.eval(call.args[0])
    if lists.is_list(v.type):
        return pc.list_value_length(ev.array(v)).cast(pa.int64())
    if pa.types.is_string(v.type) or pa.types.is_null(v.type):
        return pc.utf8_length(v.cast(pa.string())).cast(pa.int64())
    raise ExprError(f"len(): expected text or a list, got {v.type}", call.col)


def _split_constants(call: Call) -> None:
    if not _const(call, 1, str, "a separator in quotes, e.g. split(tags, \",\")"):
        raise ExprError("split(): the separator is empty", call.args[1].col)


def _split(ev: Evaluator, call: Call) -> Value:
    v = ev.eval(call.args[0])
    if lists.is_list(v.type):
        return v
    if not (pa.types.is_string(v.type) or pa.types.is_null(v.type)):
        raise ExprError(f"split(): expected text, got {v.type}", call.col)
    return lists.split(ev.array(v.cast(pa.string())), call.args[1].value)  # type: ignore


def _join_constants(call: Call) -> None:
    if len(call.args) > 1:
        _const(call, 1, str, "a separator in quotes, e.g. join(images, \"|\")")


def _join(ev: Evaluator, call: Call) -> Value:
    sep = call.args[1].value if len(call.args) > 1 else ", "  # type: ignore[attr-defined]
    v = ev.eval(call.args[0])
    if not lists.is_list(v.type):
        if pa.types.is_string(v.type) or pa.types.is_null(v.type):
            return v.cast(pa.string())  # one value is its own join
        raise ExprError(f"join(): expected a list, got {v.type}", call.col)
    arr = lists.map_values(ev.array(v), lambda e: ev.array(ev.text(e)))
    return pc.binary_join(arr, pa.scalar(sep))


def _unit_constants(call: Call) -> None:
    src = _const(call, 1, str, "a unit in quotes, e.g. unit(weight, \"kg\", \"g\")")
    dst = _const(call, 2, str, "a unit in quotes, e.g. unit(weight, \"kg\", \"g\")")
    try:
        units.check(str(src), str(dst))
    except ValueError as e:
        raise ExprError(f"unit(): {e}", call.col) from None


def _unit(ev: Evaluator, call: Call) -> Value:
    v = ev.eval(call.args[0])
    src, dst = call.args[1].value, call.args[2].value  # type: ignore[attr-defined]
    k = v.type
    if pa.types.is_null(k):
        return v.cast(pa.decimal128(decimals.MAX, 0))
    if not (pa.types.is_integer(k) or pa.types.is_decimal(k)):
        raise ExprError(f"unit(): expected a number, got {k} (give the field type: decimal)",
                        call.col)
    ratio, exact = units.factor(str(src), str(dst))
    if exact:
        if pa.types.is_integer(k) and ratio == ratio.to_integral_value():
            return decimals.arith("*", v, pa.scalar(int(ratio), pa.int64()))
        return decimals.arith("*", v, decimals.literal(ratio))
    size = units.UNITS
    scaled = decimals.arith("*", v, decimals.literal(size[str(src)][1]))
    q, _ = decimals.divide(scaled, decimals.literal(size[str(dst)][1]))
    return q


def _extreme(fn: Callable[..., pa.Array], name: str) -> Callable[[Evaluator, Call], Value]:
    def run(ev: Evaluator, call: Call) -> Value:
        values = ev.unify([ev.eval(a) for a in call.args], call, name)
        k = values[0].type
        if not (pa.types.is_integer(k) or pa.types.is_decimal(k) or pa.types.is_floating(k)
                or pa.types.is_date(k) or pa.types.is_null(k)):
            raise ExprError(f"{name}(): expected numbers or dates, got {k}", call.col)
        if pa.types.is_null(k):
            return values[0]
        return fn(*[ev.array(v) for v in values], skip_nulls=True)
    return run


def _text(ev: Evaluator, call: Call) -> Value:
    return ev.text(ev.eval(call.args[0]))


FUNCTIONS: dict[str, Function] = {
    "coalesce": Function("coalesce(a, b, …)", "the first value that is not empty (null, "
                         "blank text or an empty list); empty when all are", (1, None),
                         _coalesce),
    "if_": Function("if_(cond, a, b)", "a where cond is true, else b (same as a if cond "
                    "else b)", (3, 3), _if),
    "date": Function("date(\"2027-01-31\")", "a date constant; date(text) reads ISO dates "
                     "(a row with another text is rejected)", (1, 1), _date, _date_constants),
    "round": Function("round(x, n)", "x rounded to n decimals (default 0), half away from "
                      "zero; the result has exactly n decimals", (1, 2), _round,
                      _round_constants),
    "upper": Function("upper(text)", "UPPER CASE (each element of a list)", (1, 1),
                      _text_fn(pc.utf8_upper, "upper")),
    "lower": Function("lower(text)", "lower case (each element of a list)", (1, 1),
                      _text_fn(pc.utf8_lower, "lower")),
    "trim": Function("trim(text)", "without blanks at both ends (each element of a list)",
                     (1, 1), _text_fn(pc.utf8_trim_whitespace, "trim")),
    "concat": Function("concat(a, b, …)", "the values as text, joined (an empty value adds "
                       "nothing)", (1, None), _concat),
    "text": Function("text(x)", "x as text: decimals exact, dates YYYY-MM-DD, lists joined "
                     "by ', '", (1, 1), _text),
    "len": Function("len(x)", "characters of a text, or elements of a list", (1, 1), _len),
    "split": Function("split(text, sep)", "a list of the parts between sep, each trimmed, "
                      "blank parts left out", (2, 2), _split, _split_constants),
    "join": Function("join(list, sep)", "the elements as one text, sep between them "
                     "(default ', ')", (1, 2), _join, _join_constants),
    "unit": Function("unit(x, \"kg\", \"g\")", "x converted between units of mass, length "
                     "or volume (" + units.names() + ")", (3, 3), _unit, _unit_constants),
    "min": Function("min(a, b, …)", "the smallest of numbers or dates (empty ones skipped)",
                    (2, None), _extreme(pc.min_element_wise, "min")),
    "max": Function("max(a, b, …)", "the largest of numbers or dates (empty ones skipped)",
                    (2, None), _extreme(pc.max_element_wise, "max")),
}


def check_calls(nodes: list[Node]) -> None:
    """Unknown functions, wrong argument counts and bad constant arguments."""
    for n in nodes:
        if not isinstance(n, Call):
            continue
        fn = FUNCTIONS.get(n.name)
        if fn is None:
            raise ExprError(f"unknown function {n.name!r}; known: "
                            + ", ".join(sorted(FUNCTIONS)), n.col)
        lo, hi = fn.arity
        if len(n.args) < lo or (hi is not None and len(n.args) > hi):
            want = f"{lo}" if lo == hi else f"at least {lo}" if hi is None else f"{lo} to {hi}"
            raise ExprError(f"{n.name}() takes {want} argument(s), got {len(n.args)}: "
                            f"{fn.signature}", n.col)
        if fn.constants is not None:
            fn.constants(n)

