"""Just enough GraphQL for the loopback Shopify: parse an operation, resolve its
arguments against the request's variables, price it the way Shopify documents, and
shape a resolver's answer to the selection the client asked for.

Parsing follows the GraphQL spec (October 2021) for executable documents: one
operation (``query``/``mutation``, optional name, variable definitions, directives)
plus fragment definitions; fields with aliases, arguments, directives and selection
sets; inline fragments and fragment spreads; values (variables, int, float,
strings and block strings, booleans, null, enums, lists, objects). It is not a
validator beyond what the server needs: types come from the variable definitions
and from what a resolver returns.

Cost (shopify.dev/docs/apps/build/apis/graphql-admin/rate-limits, "Cost
calculation"): a scalar or enum field costs 0, an object 1, an interface or union
the most expensive of its possible selections (inline fragments here), a connection
is "sized by first and last" (2 plus ``first`` times the cost of one node, so
``customers(first: 10) { nodes { id email } }`` is 12, as Shopify's own answers
show), a mutation field 10; children add to their parent. ``nodes(ids:)`` costs one
node per id. The requested cost is computed before execution; the actual cost from
the data returned (fewer nodes than ``first``, an object that came back null), and
the bucket is refunded the difference [doc]. A plain list of objects (``userErrors``)
is priced like one object, as Shopify prices lists by their element type.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

TOKEN = re.compile(r'''
    (?P<skip>[\s,\ufeff]+|\#[^\n\r]*)
  | (?P<block>"""(?:[^"\\]|\\.|"(?!""))*""")
  | (?P<string>"(?:[^"\\\n]|\\.)*")
  | (?P<number>-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)
  | (?P<spread>\.\.\.)
  | (?P<punct>[!$&():=@\[\]{}|])
  | (?P<name>[_A-Za-z][_0-9A-Za-z]*)
''', re.VERBOSE)


class SyntaxErr(Exception):
    """The document does not parse (Shopify answers ``syntax error, unexpected …``)."""


@dataclass
class Var:
    name: str


@dataclass
class Field:
    name: str
    alias: str | None = None
    args: dict[str, Any] = field(default_factory=dict)  # raw values (Var where a variable)
    directives: dict[str, dict[str, Any]] = field(default_factory=dict)
    selections: list[Any] = field(default_factory=list)  # Field | Fragment | Spread

    @property
    def key(self) -> str:
        return self.alias or self.name

    def fields(self, name: str) -> list[Field]:
        return [f for f in self.selections if isinstance(f, Field) and f.name == name]


@dataclass
class Fragment:  # an inline fragment: ... on Type { … }
    on: str | None
    selections: list[Any]


@dataclass
class Spread:  # ...Name
    name: str


@dataclass
class Operation:
    kind: str  # query | mutation
    name: str | None
    variables: dict[str, tuple[str, Any]]  # name -> (type, default)
    selections: list[Any]
    fragments: dict[str, Fragment]


class _Parser:
    def __init__(self, text: str):
        self.tokens: list[tuple[str, str]] = []
        pos = 0
        while pos < len(text):
            m = TOKEN.match(text, pos)
            if not m:
                raise SyntaxErr(f"syntax error, unexpected character {text[pos]!r}")
            pos = m.end()
            if m.lastgroup != "skip":
                self.tokens.append((str(m.lastgroup), m.group()))
        self.i = 0

    def peek(self, value: str | None = None) -> bool:
        if self.i >= len(self.tokens):
            return False
        return value is None or self.tokens[self.i][1] == value

    def take(self, value: str | None = None, kind: str | None = None) -> str:
        if self.i >= len(self.tokens):
            raise SyntaxErr("syntax error, unexpected end of file")
        k, v = self.tokens[self.i]
        if (value is not None and v != value) or (kind is not None and k != kind):
            raise SyntaxErr(f"syntax error, unexpected {v!r}"
                            + (f", expecting {value!r}" if value else ""))
        self.i += 1
        return v

    def document(self) -> Operation:
        ops: list[Operation] = []
        fragments: dict[str, Fragment] = {}
        while self.peek():
            if self.peek("fragment"):
                self.take()
                frag = self.take(kind="name")
                self.take("on")
                on = self.take(kind="name")
                self.directives()
                fragments[frag] = Fragment(on, self.selection_set())
            elif self.peek("{"):
                ops.append(Operation("query", None, {}, self.selection_set(), fragments))
            else:
                kind = self.take(kind="name")
                if kind not in ("query", "mutation", "subscription"):
                    raise SyntaxErr(f"syntax error, unexpected {kind!r}")
                name = self.take(kind="name") if self.tokens[self.i][0] == "name" else None
                variables = self.variable_definitions() if self.peek("(") else {}
                self.directives()
                ops.append(Operation(kind, name, variables, self.selection_set(), fragments))
        if len(ops) != 1:  # several operations need operationName; the sinks never send it
            raise SyntaxErr("this test server takes exactly one operation per document")
        return ops[0]

    def variable_definitions(self) -> dict[str, tuple[str, Any]]:
        out: dict[str, tuple[str, Any]] = {}
        self.take("(")
        while not self.peek(")"):
            self.take("$")
            name = self.take(kind="name")
            self.take(":")
            type_ = self.type_ref()
            default = None
            if self.peek("="):
                self.take()
                default = self.value()
            self.directives()
            out[name] = (type_, default)
        self.take(")")
        return out

    def type_ref(self) -> str:
        if self.peek("["):
            self.take()
            inner = self.type_ref()
            self.take("]")
            t = f"[{inner}]"
        else:
            t = self.take(kind="name")
        if self.peek("!"):
            self.take()
            t += "!"
        return t

    def directives(self) -> dict[str, dict[str, Any]]:
        out = {}
        while self.peek("@"):
            self.take()
            name = self.take(kind="name")
            out[name] = self.arguments() if self.peek("(") else {}
        return out

    def selection_set(self) -> list[Any]:
        self.take("{")
        items: list[Any] = []
        while not self.peek("}"):
            if self.peek("..."):
                self.take()
                if self.peek("on"):
                    self.take()
                    on = self.take(kind="name")
                    self.directives()
                    items.append(Fragment(on, self.selection_set()))
                elif self.peek("{") or self.peek("@"):
                    self.directives()
                    items.append(Fragment(None, self.selection_set()))
                else:
                    items.append(Spread(self.take(kind="name")))
                continue
            name = self.take(kind="name")
            alias = None
            if self.peek(":"):
                self.take()
                alias, name = name, self.take(kind="name")
            f = Field(name, alias)
            if self.peek("("):
                f.args = self.arguments()
            f.directives = self.directives()
            if self.peek("{"):
                f.selections = self.selection_set()
            items.append(f)
        self.take("}")
        if not items:
            raise SyntaxErr("syntax error, unexpected '}'")
        return items

    def arguments(self) -> dict[str, Any]:
        out = {}
        self.take("(")
        while not self.peek(")"):
            name = self.take(kind="name")
            self.take(":")
            out[name] = self.value()
        self.take(")")
        return out

    def value(self) -> Any:
        kind, v = self.tokens[self.i] if self.i < len(self.tokens) else ("", "")
        if v == "$":
            self.take()
            return Var(self.take(kind="name"))
        if v == "[":
            self.take()
            items = []
            while not self.peek("]"):
                items.append(self.value())
            self.take("]")
            return items
        if v == "{":
            self.take()
            obj = {}
            while not self.peek("}"):
                key = self.take(kind="name")
                self.take(":")
                obj[key] = self.value()
            self.take("}")
            return obj
        self.take()
        if kind == "number":
            return float(v) if any(c in v for c in ".eE") else int(v)
        if kind == "string":
            return json.loads(v)
        if kind == "block":
            return v[3:-3].replace('\\"""', '"""')
        if kind == "name":
            return {"true": True, "false": False, "null": None}.get(v, v)  # an enum: its name
        raise SyntaxErr(f"syntax error, unexpected {v!r}")


def parse(text: str) -> Operation:
    return _Parser(text).document()


def resolve(value: Any, variables: dict[str, Any]) -> Any:
    """An argument value with its variables replaced by the request's values."""
    if isinstance(value, Var):
        return variables.get(value.name)
    if isinstance(value, list):
        return [resolve(v, variables) for v in value]
    if isinstance(value, dict):
        return {k: resolve(v, variables) for k, v in value.items()}
    return value


def flatten(selections: list[Any], fragments: dict[str, Fragment],
            typename: str | None = None) -> list[Field]:
    """The fields a selection set asks of an object of ``typename`` (None: every
    fragment applies), fragments expanded."""
    out: list[Field] = []
    for s in selections:
        if isinstance(s, Field):
            out.append(s)
        elif isinstance(s, Spread):
            frag = fragments.get(s.name)
            if frag is None:
                raise SyntaxErr(f"Fragment {s.name} was used, but not defined")
            if typename is None or frag.on in (None, typename):
                out += flatten(frag.selections, fragments, typename)
        elif typename is None or s.on in (None, typename):
            out += flatten(s.selections, fragments, typename)
    return out


# -- cost ---------------------------------------------------------------------------

CONNECTION_PARTS = ("nodes", "edges", "pageInfo")
MUTATION_COST = 10
CONNECTION_COST = 2


def is_connection(f: Field) -> bool:
    return any(isinstance(s, Field) and s.name in CONNECTION_PARTS for s in f.selections)


def page_size(f: Field, variables: dict[str, Any]) -> int | None:
    first, last = (resolve(f.args.get(k), variables) for k in ("first", "last"))
    size = first if first is not None else last
    return size if isinstance(size, int) and not isinstance(size, bool) else None


class Coster:
    """Requested and actual cost of one operation, as Shopify documents them."""

    def __init__(self, op: Operation, variables: dict[str, Any],
                 list_roots: dict[str, str] | None = None):
        self.op, self.variables = op, variables
        self.list_roots = list_roots or {}  # root field -> argument sizing it (nodes: ids)

    def requested(self) -> int:
        root = self.op.kind == "mutation"
        return sum(self._field(f, root) for f in self._direct(self.op.selections))

    def actual(self, data: dict[str, Any]) -> int:
        root = self.op.kind == "mutation"
        return sum(self._field_actual(f, (data or {}).get(f.key), root)
                   for f in self._direct(self.op.selections))

    # requested ----------------------------------------------------------------------

    def _direct(self, selections: list[Any]) -> list[Field]:
        return flatten(selections, self.op.fragments)

    def _set(self, selections: list[Any]) -> int:
        """Fields outside fragments add up; of the fragments (an interface's possible
        types) the most expensive counts."""
        plain = sum(self._field(s) for s in selections if isinstance(s, Field))
        frags = [self._set(self._fragment(s)) for s in selections if not isinstance(s, Field)]
        return plain + max(frags, default=0)

    def _fragment(self, s: Any) -> list[Any]:
        if isinstance(s, Spread):
            frag = self.op.fragments.get(s.name)
            return frag.selections if frag else []
        return s.selections

    def _field(self, f: Field, mutation: bool = False) -> int:
        if not f.selections:
            return 0
        own = MUTATION_COST if mutation else 1
        if f.name in self.list_roots:
            ids = resolve(f.args.get(self.list_roots[f.name]), self.variables)
            return (len(ids) if isinstance(ids, list) else 1) * (1 + self._set(f.selections))
        if is_connection(f):
            n = page_size(f, self.variables) or 0
            return CONNECTION_COST + n * self._node(f) + self._page_info(f)
        return own + self._set(f.selections)

    def _node(self, f: Field) -> int:
        """One node of a connection: ``nodes { … }`` or ``edges { node { … } }``."""
        costs = [1 + self._set(n.selections) for n in f.fields("nodes")]
        for e in f.fields("edges"):
            costs += [1 + self._set(n.selections) for n in e.fields("node")]
        return max(costs, default=0)

    @staticmethod
    def _page_info(f: Field) -> int:
        return 1 if f.fields("pageInfo") else 0

    # actual -------------------------------------------------------------------------

    def _set_actual(self, selections: list[Any], data: dict[str, Any]) -> int:
        plain = sum(self._field_actual(s, data.get(s.key)) for s in selections
                    if isinstance(s, Field))
        frags = [self._set_actual(self._fragment(s), data) for s in selections
                 if not isinstance(s, Field)]
        return plain + max(frags, default=0)

    def _field_actual(self, f: Field, value: Any, mutation: bool = False) -> int:
        if not f.selections:
            return 0
        own = MUTATION_COST if mutation else 1
        if f.name in self.list_roots:
            items = value if isinstance(value, list) else []
            return sum(1 + (self._set_actual(f.selections, v) if isinstance(v, dict) else 0)
                       for v in items)
        if is_connection(f):
            if not isinstance(value, dict):
                return CONNECTION_COST
            nodes = value.get("nodes")
            if nodes is None:
                nodes = [e.get("node") for e in value.get("edges") or []]
            node_fields = f.fields("nodes") or [n for e in f.fields("edges")
                                                for n in e.fields("node")]
            per = [1 + sum(self._set_actual(nf.selections, n) for nf in node_fields[:1])
                   for n in nodes if isinstance(n, dict)]
            return CONNECTION_COST + sum(per) + self._page_info(f)
        if isinstance(value, list):  # a list of objects: priced as one, the dearest
            return own + max((self._set_actual(f.selections, v) for v in value
                              if isinstance(v, dict)), default=0)
        if not isinstance(value, dict):
            return own  # null: its children never ran
        return own + self._set_actual(f.selections, value)


# -- shaping an answer to the selection ------------------------------------------------


class Unsupported(Exception):
    """The client selected a field the loopback server does not model."""

    def __init__(self, name: str, parent: str):
        super().__init__(f"Field '{name}' doesn't exist on type '{parent}' (or this test "
                         "server does not model it)")
        self.name, self.parent = name, parent


def project(selections: list[Any], value: Any, op: Operation, variables: dict[str, Any],
            parent: str = "Object") -> Any:
    """The part of ``value`` (a resolver's full object) the selection asks for, keyed by
    alias, with nested connections cut to their ``first``/``last``."""
    if value is None:
        return None
    if isinstance(value, list):
        return [project(selections, v, op, variables, parent) for v in value]
    typename = value.get("__typename") if isinstance(value, dict) else None
    out: dict[str, Any] = {}
    for f in flatten(selections, op.fragments, typename):
        if f.name == "__typename":
            out[f.key] = typename or parent
            continue
        if f.name not in value:
            raise Unsupported(f.name, typename or parent)
        v = value[f.name]
        if f.selections and is_connection(f) and isinstance(v, dict):
            v = _page(f, v, variables)
        out[f.key] = project(f.selections, v, op, variables, f.name) if f.selections else v
    return out


def _page(f: Field, conn: dict[str, Any], variables: dict[str, Any]) -> dict[str, Any]:
    nodes = list(conn.get("nodes") or [])
    first = resolve(f.args.get("first"), variables)
    last = resolve(f.args.get("last"), variables)
    more = conn.get("pageInfo", {}).get("hasNextPage", False)
    if isinstance(first, int) and len(nodes) > first:
        nodes, more = nodes[:first], True
    elif isinstance(last, int) and len(nodes) > last:
        nodes = nodes[-last:]
    info = dict(conn.get("pageInfo") or {})
    info.setdefault("endCursor", None)
    info["hasNextPage"] = more
    info.setdefault("hasPreviousPage", False)
    info.setdefault("startCursor", None)
    return {**conn, "nodes": nodes, "edges": [{"node": n, "cursor": None} for n in nodes],
            "pageInfo": info}
