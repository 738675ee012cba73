"""Running an expression tree over a batch: every node is one Arrow compute call
(or a few) on whole columns; constants stay scalars until the end.

Types follow the values: text, integer, decimal (exact), float, date, boolean,
list. A value of Arrow's null type is "not known yet" (an input whose type the
profile does not declare, at load time) or ``None``: it takes the type the other
operand needs, so the same code checks a profile (on a one-row batch of typed
nulls) and runs it. Nulls propagate through arithmetic and comparisons (a
condition that is null counts as false); rows whose value cannot be computed
(a division by zero, a text that is not a date) are returned in ``failures``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from decimal import Decimal
from typing import Protocol, TypeAlias

import pyarrow as pa
import pyarrow.compute as pc

from filebridge import lists
from filebridge.errors import Bug
from filebridge.expr import decimals
from filebridge.expr.syntax import (
    Arith,
    Call,
    Compare,
    Const,
    ExprError,
    If,
    In,
    IsNone,
    ListOf,
    Logic,
    Node,
    Ref,
    Today,
    Unary,
)

Value: TypeAlias = pa.Array | pa.Scalar
_CMP = {"==": pc.equal, "!=": pc.not_equal, "<": pc.less, "<=": pc.less_equal,
        ">": pc.greater, ">=": pc.greater_equal}
_NUMBERS = ("integer", "decimal", "float")


def kind(t: pa.DataType) -> str:
    if pa.types.is_null(t):
        return "null"
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "text"
    if pa.types.is_integer(t):
        return "integer"
    if pa.types.is_decimal(t):
        return "decimal"
    if pa.types.is_floating(t):
        return "float"
    if pa.types.is_date(t):
        return "date"
    if pa.types.is_boolean(t):
        return "boolean"
    if lists.is_list(t):
        return "list"
    return str(t)


WORDS = {"text": "text", "integer": "a whole number", "decimal": "a decimal number",
         "float": "a floating-point number", "date": "a date", "boolean": "a condition "
         "(true/false)", "list": "a list", "null": "nothing"}


def describe(v: Value) -> str:
    k = kind(v.type)
    return WORDS.get(k, k)


class Callee(Protocol):
    """A function of the language (filebridge/expr/functions.py ``FUNCTIONS``, whose
    functions take this Evaluator: the table is passed in, never imported here)."""

    @property
    def run(self) -> Callable[[Evaluator, Call], Value]: ...


class Evaluator:
    """Evaluates trees over one batch of ``n`` rows; ``resolve`` gives a field's column."""

    def __init__(self, resolve: Callable[[Ref], Value], n: int, today: date,
                 functions: Mapping[str, Callee] | None = None):
        self.resolve, self.n, self.today = resolve, n, today
        self.functions = functions  # None: no calls expected (a text conversion)
        self.failures: list[tuple[pa.Array, str]] = []

    def run(self, node: Node) -> pa.Array:
        return self.array(self.eval(node))

    def array(self, v: Value) -> pa.Array:
        if isinstance(v, pa.ChunkedArray):
            return v.combine_chunks()
        if isinstance(v, pa.Scalar):
            return pa.repeat(v, self.n) if v.is_valid else pa.nulls(self.n, v.type)
        return v

    def eval(self, node: Node) -> Value:
        return getattr(self, "_" + type(node).__name__.lower())(node)

    def fail(self, node: Node, message: str) -> ExprError:
        return ExprError(message, node.col)

    # -- values -----------------------------------------------------------------

    def _const(self, node: Const) -> Value:
        v = node.value
        if v is None:
            return pa.scalar(None, pa.null())
        if isinstance(v, bool):
            return pa.scalar(v, pa.bool_())
        if isinstance(v, int):
            return pa.scalar(v, pa.int64())
        if isinstance(v, Decimal):
            return decimals.literal(v)
        if isinstance(v, date):
            return pa.scalar(v, pa.date32())
        return pa.scalar(v, pa.string())

    def _ref(self, node: Ref) -> Value:
        v = self.resolve(node)
        return v.combine_chunks() if isinstance(v, pa.ChunkedArray) else v

    def _today(self, node: Today) -> Value:
        return pa.scalar(self.today, pa.date32())

    def _listof(self, node: ListOf) -> Value:
        cols = [self.array(self.text(self.eval(i))) for i in node.items]
        if not cols:
            return pa.nulls(self.n, pa.list_(pa.string()))
        return lists.from_columns(cols)

    # -- operators --------------------------------------------------------------

    def _unary(self, node: Unary) -> Value:
        x = self.eval(node.x)
        if node.op == "not":
            return pc.invert(self.cond(x, node))
        if kind(x.type) == "null":
            return x
        if kind(x.type) not in _NUMBERS:
            raise self.fail(node, f"cannot negate {describe(x)}")
        return pc.negate_checked(x)

    def _arith(self, node: Arith) -> Value:
        a, b = self.eval(node.a), self.eval(node.b)
        a, b = self.adopt(a, b), self.adopt(b, a)
        ka, kb = kind(a.type), kind(b.type)
        op = node.op
        if ka == "null":
            return a
        if ka == kb == "text" and op == "+":
            return pc.binary_join_element_wise(a, b, "")
        if ka in _NUMBERS and kb in _NUMBERS:
            if "float" in (ka, kb):
                if "decimal" in (ka, kb):
                    raise self.fail(node, "a floating-point number and a decimal do not mix "
                                    "exactly: give the field type: decimal")
                return {"+": pc.add, "-": pc.subtract, "*": pc.multiply,
                        "/": pc.divide}[op](a.cast(pa.float64()), b.cast(pa.float64()))
            if op == "/":
                q, zero = decimals.divide(a, b)
                if zero is not None:
                    self.failures.append((self.array(zero), "division by zero"))
                return q
            return decimals.arith(op, a, b)
        if ka == "date" and kb == "integer" and op in "+-":
            days = {"+": pc.add_checked, "-": pc.subtract_checked}[op](
                a.cast(pa.int32()).cast(pa.int64()), b)
            return days.cast(pa.int32()).cast(pa.date32())
        if ka == kb == "date" and op == "-":
            return pc.subtract(a.cast(pa.int32()).cast(pa.int64()),
                               b.cast(pa.int32()).cast(pa.int64()))
        verb = {"+": "add", "-": "subtract", "*": "multiply", "/": "divide"}[op]
        texts = [n.name for n, v in ((node.a, a), (node.b, b))
                 if isinstance(n, Ref) and kind(v.type) == "text"]
        hint = ""
        if "text" in (ka, kb) and op == "+":
            hint = " (use concat() to join text)"
        elif texts:
            hint = (f" ({texts[0]} is text: map it with type: decimal or integer and "
                    "compute with that field)")
        raise self.fail(node, f"cannot {verb} {describe(a)} and {describe(b)}{hint}")

    def _compare(self, node: Compare) -> Value:
        a, b = self.eval(node.a), self.eval(node.b)
        a = self.as_date_if(node.a, a, b)
        b = self.as_date_if(node.b, b, a)
        a, b = self.unify([a, b], node, f"compare ({node.op})")
        if kind(a.type) == "null":
            return pa.scalar(None, pa.bool_())
        if kind(a.type) == "list":
            raise self.fail(node, "lists cannot be compared; use x in list or len(list)")
        return _CMP[node.op](a, b)

    def as_date_if(self, node: Node, v: Value, other: Value) -> Value:
        """A text constant compared with a date is read as an ISO date."""
        if isinstance(node, Const) and isinstance(node.value, str) and \
                kind(other.type) == "date":
            try:
                return pa.scalar(date.fromisoformat(node.value), pa.date32())
            except ValueError:
                raise self.fail(node, f"{node.value!r} is not a date (YYYY-MM-DD)") from None
        return v

    def _logic(self, node: Logic) -> Value:
        fn = pc.and_kleene if node.op == "and" else pc.or_kleene
        out = self.cond(self.eval(node.items[0]), node.items[0])
        for item in node.items[1:]:
            out = fn(out, self.cond(self.eval(item), item))
        return out

    def _isnone(self, node: IsNone) -> Value:
        empty = self.blank(self.eval(node.x))
        return pc.invert(empty) if node.negate else empty

    def _if(self, node: If) -> Value:
        cond = pc.fill_null(self.cond(self.eval(node.cond), node.cond), False)
        a, b = self.unify([self.eval(node.then), self.eval(node.other)], node, "if/else")
        return pc.if_else(cond, a, b)

    def _in(self, node: In) -> Value:
        x = self.eval(node.x)
        if node.items is not None:
            found = self.member(node, x, node.items)
        else:
            if node.hay is None:
                raise Bug("expected node.hay is not None")
            hay = self.eval(node.hay)
            if kind(hay.type) == "list":
                found = lists.contains(self.array(hay), x)
            elif kind(hay.type) in ("text", "null"):
                if not (isinstance(node.x, Const) and isinstance(node.x.value, str)):
                    raise self.fail(node, "'in' on text looks for a constant text, e.g. "
                                    "'XL' in size; to test several values write x in [a, b]")
                found = pc.match_substring(hay.cast(pa.string()), node.x.value)
            else:
                raise self.fail(node, f"'in' needs a list of values, not {describe(hay)}")
        found = pc.fill_null(found, False)
        return pc.invert(found) if node.negate else found

    def member(self, node: In, x: Value, items: tuple[Node, ...]) -> Value:
        values = [self.eval(i) for i in items]
        if not values:
            return pa.scalar(False)
        if kind(x.type) == "list":
            raise self.fail(node, "a list is not in a list; test one value, e.g. 'XL' in sizes")
        if all(isinstance(i, Const) for i in items):
            unified = self.unify([x, *values], node, "in")
            x, consts = unified[0], unified[1:]
            if kind(x.type) == "null":
                return pa.scalar(False)
            value_set = pa.array([c.as_py() for c in consts], x.type)
            if isinstance(x, pa.Scalar):
                x = self.array(x)
            return pc.is_in(x, value_set=value_set)
        out: Value | None = None
        for v in values:
            a, b = self.unify([x, v], node, "in")
            eq = pc.fill_null(pc.equal(a, b), False)
            out = eq if out is None else pc.or_(out, eq)
        if out is None:
            raise Bug("expected out is not None")
        return out

    def _call(self, node: Call) -> Value:
        if self.functions is None:
            raise Bug(f"{node.name}() evaluated without the function table")
        return self.functions[node.name].run(self, node)

    # -- shared by operators and functions -------------------------------------

    def adopt(self, v: Value, other: Value) -> Value:
        """A value of unknown type takes the other's type."""
        if kind(v.type) == "null" and kind(other.type) != "null":
            return v.cast(other.type)
        return v

    def cond(self, v: Value, node: Node) -> Value:
        k = kind(v.type)
        if k == "null":
            return v.cast(pa.bool_())
        if k != "boolean":
            raise self.fail(node, f"expected a condition (true/false), got {describe(v)}; "
                            "compare it, e.g. x == 'Y' or x is not None")
        return v

    def blank(self, v: Value) -> Value:
        """Null, text of only blanks, or a list without elements."""
        k = kind(v.type)
        if k == "text":
            return pc.fill_null(pc.equal(pc.utf8_trim_whitespace(v), ""), True)
        if k == "list":
            v = self.array(v)
            return pc.fill_null(pc.equal(pc.list_value_length(v), 0), True)
        return pc.is_null(v)

    def text(self, v: Value) -> Value:
        """Any value as text: decimals exact, dates ISO, lists joined by ', '."""
        k = kind(v.type)
        if k == "text":
            return v.cast(pa.string())
        if k == "list":
            arr = lists.map_values(self.array(v), lambda e: e.cast(pa.string()))
            return pc.binary_join(arr, ", ")
        if k == "boolean":
            return pc.if_else(v, "true", "false")
        return v.cast(pa.string())

    def unify(self, values: list[Value], node: Node, what: str) -> list[Value]:
        """The values cast to one type (integers widen to decimals, decimals to the
        largest scale); text never mixes with numbers or dates."""
        kinds = {kind(v.type) for v in values} - {"null"}
        if not kinds:
            return values
        if len(kinds) == 1:
            k = kinds.pop()
            if k == "decimal":
                target: pa.DataType = pa.decimal128(
                    decimals.MAX, max(decimals.scale_of(v) for v in values
                                      if kind(v.type) == "decimal"))
            elif k == "list":
                types = {v.type for v in values if kind(v.type) == "list"}
                target = types.pop() if len(types) == 1 else pa.list_(pa.string())
            else:
                target = {"text": pa.string(), "integer": pa.int64(), "float": pa.float64(),
                          "date": pa.date32(), "boolean": pa.bool_()}.get(
                    k, next(v.type for v in values if kind(v.type) == k))
        elif kinds == {"integer", "decimal"}:
            target = pa.decimal128(decimals.MAX, max(decimals.scale_of(v) for v in values
                                                     if kind(v.type) == "decimal"))
        elif kinds == {"integer", "float"}:
            target = pa.float64()
        else:
            names = " and ".join(sorted(WORDS.get(k, k) for k in kinds))
            raise self.fail(node, f"{what}: cannot mix {names}")
        out = []
        for v in values:
            if pa.types.is_decimal(target) and kind(v.type) in ("decimal", "integer"):
                v = decimals.narrow(decimals.to_decimal(v))
            out.append(v if v.type == target else v.cast(target))
        return out
