"""Expression text -> a small tree, through Python's own parser restricted to a
whitelist: nothing outside it (attributes, subscripts, lambdas, comprehensions,
keyword arguments, f-strings …) gets past this module, and nothing is ever run
by Python itself. Every node keeps its column for error messages.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any


class ExprError(ValueError):
    """An expression the mapping cannot use (syntax, names, types), with the column."""

    def __init__(self, message: str, col: int | None = None):
        self.col = col
        super().__init__(message if col is None else f"{message} (at column {col + 1})")


@dataclass(frozen=True)
class Node:
    col: int


@dataclass(frozen=True)
class Const(Node):
    value: str | int | Decimal | bool | date | None


@dataclass(frozen=True)
class Ref(Node):
    name: str
    scope: str = ""  # "" (mapped field if there is one, else input), "input", "mapped"


@dataclass(frozen=True)
class Today(Node):
    pass


@dataclass(frozen=True)
class Unary(Node):
    op: str  # "-" or "not"
    x: Node


@dataclass(frozen=True)
class Arith(Node):
    op: str  # + - * /
    a: Node
    b: Node


@dataclass(frozen=True)
class Compare(Node):
    op: str  # == != < <= > >=
    a: Node
    b: Node


@dataclass(frozen=True)
class Logic(Node):
    op: str  # and, or
    items: tuple[Node, ...]


@dataclass(frozen=True)
class IsNone(Node):
    x: Node
    negate: bool


@dataclass(frozen=True)
class If(Node):
    cond: Node
    then: Node
    other: Node


@dataclass(frozen=True)
class In(Node):
    """``x in [a, b]`` (items listed) or ``x in y`` (y a list value, or text)."""

    x: Node
    items: tuple[Node, ...] | None
    hay: Node | None
    negate: bool


@dataclass(frozen=True)
class Call(Node):
    name: str
    args: tuple[Node, ...]


@dataclass(frozen=True)
class ListOf(Node):
    items: tuple[Node, ...]


SCOPES = ("input", "mapped")
_ARITH = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}
_CMP = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">",
        ast.GtE: ">="}
_WORDS = {ast.FloorDiv: "//", ast.Mod: "%", ast.Pow: "**", ast.BitAnd: "&", ast.BitOr: "|",
          ast.BitXor: "^", ast.LShift: "<<", ast.RShift: ">>", ast.MatMult: "@"}


def parse(text: str) -> Node:
    """The tree of ``text``; raises ExprError naming the column of the problem."""
    flat = text.replace("\r", " ").replace("\n", " ").replace("\t", " ")
    if not flat.strip():
        raise ExprError("the expression is empty")
    try:
        tree = ast.parse(flat.strip(), mode="eval")
    except (RecursionError, MemoryError):
        raise ExprError("the expression is too deeply nested") from None
    except SyntaxError as e:
        lead = len(flat) - len(flat.lstrip())
        raise ExprError(f"not a valid expression: {e.msg}",
                        (e.offset or 1) - 1 + lead) from None
    return _Builder(flat.strip(), len(flat) - len(flat.lstrip())).node(tree.body)


MAX_DEPTH = 100  # nesting levels: far beyond a readable expression, far below the stack


class _Builder:
    def __init__(self, text: str, lead: int):
        self.text, self.lead = text, lead
        self.depth = 0

    def col(self, n: ast.AST) -> int:
        return getattr(n, "col_offset", 0) + self.lead

    def fail(self, n: ast.AST, message: str) -> ExprError:
        return ExprError(message, self.col(n))

    def node(self, n: ast.AST) -> Node:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.fail(n, f"the expression nests more than {MAX_DEPTH} levels deep")
        try:
            return self._node(n)
        finally:
            self.depth -= 1

    def _node(self, n: ast.AST) -> Node:
        c = self.col(n)
        if isinstance(n, ast.Constant):
            return self.const(n)
        if isinstance(n, ast.Name):
            if n.id == "today":
                return Today(c)
            if n.id in SCOPES:
                raise self.fail(n, f"{n.id} needs a field name: {n.id}.NAME or "
                                f"{n.id}[\"NAME WITH SPACES\"]")
            return Ref(c, n.id)
        if isinstance(n, ast.Attribute | ast.Subscript):
            return self.scoped(n)
        if isinstance(n, ast.UnaryOp):
            if isinstance(n.op, ast.USub):
                x = self.node(n.operand)
                if isinstance(x, Const) and type(x.value) in (int, Decimal):
                    return Const(c, -x.value)  # type: ignore[operator]
                return Unary(c, "-", x)
            if isinstance(n.op, ast.UAdd):
                return self.node(n.operand)
            if isinstance(n.op, ast.Not):
                return Unary(c, "not", self.node(n.operand))
            raise self.fail(n, "~ is not supported")
        if isinstance(n, ast.BinOp):
            op = _ARITH.get(type(n.op))
            if op is None:
                word = _WORDS.get(type(n.op), "this operator")
                raise self.fail(n, f"{word} is not supported; use + - * / and round()")
            return Arith(c, op, self.node(n.left), self.node(n.right))
        if isinstance(n, ast.BoolOp):
            return Logic(c, "and" if isinstance(n.op, ast.And) else "or",
                         tuple(self.node(v) for v in n.values))
        if isinstance(n, ast.Compare):
            return self.compare(n)
        if isinstance(n, ast.IfExp):
            return If(c, self.node(n.test), self.node(n.body), self.node(n.orelse))
        if isinstance(n, ast.Call):
            return self.call(n)
        if isinstance(n, ast.List | ast.Tuple):
            return ListOf(c, tuple(self.node(e) for e in n.elts))
        if isinstance(n, ast.JoinedStr):
            raise self.fail(n, "f-strings are not supported; use concat(...)")
        raise self.fail(n, f"{type(n).__name__} is not allowed in a mapping expression")

    def const(self, n: ast.Constant) -> Const:
        v = n.value
        if isinstance(v, bool) or v is None or isinstance(v, str | int):
            return Const(self.col(n), v)
        if isinstance(v, float):
            src = ast.get_source_segment(self.text, n) or repr(v)
            if "e" in src.lower():
                raise self.fail(n, f"write the number {src} in full (no exponent)")
            try:  # the digits as written: 1.22 is exactly 1.22, never a float
                return Const(self.col(n), Decimal(src.replace("_", "")))
            except InvalidOperation:
                raise self.fail(n, f"{src} is not a number") from None
        raise self.fail(n, f"{type(v).__name__} constants are not supported")

    def scoped(self, n: ast.Attribute | ast.Subscript) -> Ref:
        base = n.value
        if not (isinstance(base, ast.Name) and base.id in SCOPES):
            raise self.fail(n, "only input.NAME, mapped.NAME, input[\"NAME\"] and "
                            "mapped[\"NAME\"] may use . or [ ]")
        if isinstance(n, ast.Attribute):
            return Ref(self.col(n), n.attr, base.id)
        key = n.slice
        if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
            raise self.fail(n, f"{base.id}[...] takes a field name in quotes")
        return Ref(self.col(n), key.value, base.id)

    def compare(self, n: ast.Compare) -> Node:
        parts: list[Node] = []
        left = self.node(n.left)
        for op, right_ast in zip(n.ops, n.comparators, strict=True):
            c = self.col(n)
            if isinstance(op, ast.Is | ast.IsNot):
                if not (isinstance(right_ast, ast.Constant) and right_ast.value is None):
                    raise self.fail(n, "'is' only tests 'is None' / 'is not None'")
                parts.append(IsNone(c, left, isinstance(op, ast.IsNot)))
                right: Node = Const(self.col(right_ast), None)
            elif isinstance(op, ast.In | ast.NotIn):
                negate = isinstance(op, ast.NotIn)
                if isinstance(right_ast, ast.List | ast.Tuple | ast.Set):
                    items = tuple(self.node(e) for e in right_ast.elts)
                    parts.append(In(c, left, items, None, negate))
                    right = ListOf(self.col(right_ast), items)
                else:
                    right = self.node(right_ast)
                    parts.append(In(c, left, None, right, negate))
            else:
                right = self.node(right_ast)
                if isinstance(right, Const) and right.value is None or \
                        isinstance(left, Const) and left.value is None:
                    raise self.fail(n, "compare with None using 'is None' or 'is not None'")
                parts.append(Compare(c, _CMP[type(op)], left, right))
            left = right
        return parts[0] if len(parts) == 1 else Logic(self.col(n), "and", tuple(parts))

    def call(self, n: ast.Call) -> Call:
        if not isinstance(n.func, ast.Name):
            raise self.fail(n, "only the functions of the mapping language can be called")
        if n.keywords:
            raise self.fail(n, f"{n.func.id}(): arguments are given by position, not name=")
        if any(isinstance(a, ast.Starred) for a in n.args):
            raise self.fail(n, f"{n.func.id}(): *arguments are not supported")
        return Call(self.col(n), n.func.id, tuple(self.node(a) for a in n.args))


def walk(node: Node) -> list[Node]:
    """Every node of the tree, ``node`` first."""
    out = [node]
    for v in vars(node).values():
        for child in (v if isinstance(v, tuple) else (v,)):
            if isinstance(child, Node):
                out.extend(walk(child))
    return out


def refs(node: Node) -> list[Ref]:
    return [n for n in walk(node) if isinstance(n, Ref)]


def literal(node: Node) -> Any:
    """The value of a constant node (raises for anything else)."""
    if isinstance(node, Const):
        return node.value
    raise ExprError("expected a constant here", node.col)
