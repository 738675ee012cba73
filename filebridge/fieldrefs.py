"""Which fields each mapped field reads, and the order to compute them in.

A name in ``from``, ``format``, ``expr`` or a lookup's ``match`` is the mapped
field of that name when the mapping defines one, and otherwise the input field;
in a field's own definition its own name is always the input field
(``colour: {from: colour, lookup: …}``). ``input.NAME`` (``input["NAME"]`` in an
expression, for names with spaces) always means the field as read, and
``mapped.NAME`` the mapped one. One exception keeps old profiles meaning what they
meant: when a name is both, and the mapped field changes the input's value
(transforms, type, lookup, default, clamp), a plain ``from`` or ``format``
reference to it from another field is refused as ambiguous (earlier versions read
it as the input, and a silent change of meaning could rewrite every SKU); in an
expression, a newer form with no old meaning, the mapped field wins.

Fields are computed in dependency order (declared order where free); circular
references are refused naming the cycle.
"""

from __future__ import annotations

import string
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from filebridge.expr import compile_expr, refs

if TYPE_CHECKING:
    from filebridge.mapping import FieldMap

Source = tuple[str, str]  # ("input" | "mapped", name)
Loc = tuple[Any, ...]


def split_scope(text: str) -> tuple[str, str]:
    for scope in ("input", "mapped"):
        if text.startswith(scope + "."):
            return scope, text[len(scope) + 1:]
    return "", text


def template_parts(template: str) -> list[tuple[str, str | None]]:
    """(literal text, field name or None) pieces of a ``format`` template."""
    return [(lit, name) for lit, name, _, _ in string.Formatter().parse(template)]


def template_names(template: str) -> list[str]:
    return [name for _, name in template_parts(template) if name]


def mentions(f: FieldMap) -> Iterator[tuple[str, str, str]]:
    """(where: from/format/expr/lookup, scope, name) of every name ``f`` reads."""
    if f.from_ is not None:
        yield ("from", *split_scope(f.from_))
    if f.format is not None:
        for name in template_names(f.format):
            yield ("format", *split_scope(name))
    if f.expr is not None:
        for r in refs(compile_expr(f.expr)):
            yield "expr", r.scope, r.name
    match = getattr(f.lookup, "match", None)
    for text in match or []:
        for r in refs(compile_expr(text)):
            yield "lookup", r.scope, r.name


def _passthrough(f: FieldMap, name: str) -> bool:
    """``f`` is its input field unchanged (checks aside)."""
    return f.from_ in (name, f"input.{name}") and not f.apply and f.type in (None, "text") \
        and f.lookup is None and f.default is None and f.clamp is None


def _spell(where: str, scope: str, name: str) -> str:
    ident = name.isidentifier()
    if where == "expr" or where == "lookup":
        return f"{scope}.{name}" if ident else f'{scope}["{name}"]'
    if where == "format":
        return "{" + f"{scope}.{name}" + "}"
    return f"from: {scope}.{name}"


class Resolved:
    """References of every field resolved, and the computing order."""

    def __init__(self, fields: dict[str, FieldMap]):
        self.sources: dict[str, dict[tuple[str, str], Source]] = {}
        self.problems: list[tuple[Loc, str]] = []
        reads_own = {n: any(s in ("", "input") and m == n for _, s, m in mentions(f))
                     for n, f in fields.items()}
        for owner, f in fields.items():
            table: dict[tuple[str, str], Source] = {}
            for where, scope, name in mentions(f):
                src = self._resolve(fields, reads_own, owner, where, scope, name)
                if src is not None:
                    table[(scope, name)] = src
            self.sources[owner] = table
        self.order = self._order(list(fields))

    def _resolve(self, fields: dict[str, FieldMap], reads_own: dict[str, bool], owner: str,
                 where: str, scope: str, name: str) -> Source | None:
        loc = ("fields", owner, where)
        if scope == "input" or (scope == "" and (name == owner or name not in fields)):
            return ("input", name)
        if name not in fields:
            self.problems.append((loc, f"mapped.{name}: there is no mapped field {name!r}"))
            return None
        if scope == "" and where in ("from", "format") and reads_own[name] and \
                not _passthrough(fields[name], name):
            self.problems.append((loc, (
                f"{name!r} is both an input field and a mapped field that changes it: write "
                f"{_spell(where, 'input', name)} for the value as read, or "
                f"{_spell(where, 'mapped', name)} for the mapped value")))
            return None
        return ("mapped", name)

    def input_mentions(self, fields: dict[str, FieldMap]) -> list[tuple[str, str, str]]:
        """(field, where, input name) of every input field the mapping reads."""
        out = []
        for owner, f in fields.items():
            for where, scope, name in mentions(f):
                if self.sources[owner].get((scope, name)) == ("input", name):
                    out.append((owner, where, name))
        return out

    def deps(self, name: str) -> list[str]:
        return [n for kind, n in self.sources.get(name, {}).values() if kind == "mapped"]

    def inputs(self) -> set[str]:
        return {n for table in self.sources.values() for kind, n in table.values()
                if kind == "input"}

    def _order(self, names: list[str]) -> list[str]:
        order: list[str] = []
        state: dict[str, int] = {}  # 1 visiting, 2 done
        reported: set[frozenset[str]] = set()

        def visit(n: str, path: list[str]) -> None:
            if state.get(n) == 2:
                return
            if state.get(n) == 1:
                cycle = path[path.index(n):] + [n]
                if frozenset(cycle) not in reported:
                    reported.add(frozenset(cycle))
                    self.problems.append((("fields", cycle[0]), "circular reference: "
                                          + " -> ".join(cycle)))
                return
            state[n] = 1
            for d in self.deps(n):
                visit(d, path + [n])
            state[n] = 2
            order.append(n)

        for n in names:
            visit(n, [])
        return order

    def closure(self, name: str) -> list[str]:
        """``name`` and the mapped fields it needs, in computing order."""
        need: set[str] = set()
        stack = [name]
        while stack:
            n = stack.pop()
            if n not in need:
                need.add(n)
                stack.extend(self.deps(n))
        return [n for n in self.order if n in need]
