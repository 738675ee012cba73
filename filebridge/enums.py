"""Values the shops accept for some canonical fields (``status`` …), checked twice.

Each sink class declares ``ENUMS = {canonical field: accepted values}``. When the
profile is loaded, every value the mapping can produce by itself (a constant
``value``, a ``default``, the values of a lookup, the texts an expression can
return) is checked against the enums of every sink the field feeds, and refused
with its YAML line. When a file runs, a value from the file outside the list
rejects its row, naming the line and field (:func:`not_accepted`, called by the
mapping; a sink may call it too), instead of the sink refusing the whole file.
Comparisons ignore case and surrounding blanks, as the sinks do.

The canonical ``status`` vocabulary is Shopify's product status (active, draft,
archived: https://shopify.dev/docs/api/admin-graphql/latest/enums/ProductStatus;
UNLISTED, 2025-10 and later, is not carried); the other sinks translate it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from filebridge import transforms

if TYPE_CHECKING:
    from filebridge.mapping import MapSpec

STATUSES = ("active", "draft", "archived")

Loc = tuple[Any, ...]


def not_accepted(arr: pa.Array, accepted: tuple[str, ...]) -> pa.Array:
    """Rows holding a value outside ``accepted`` (an empty value is not checked)."""
    text = pc.utf8_lower(pc.utf8_trim_whitespace(pc.cast(arr, pa.string())))
    given = pc.fill_null(pc.not_equal(text, ""), False)
    known = pc.is_in(text, value_set=pa.array([a.lower() for a in accepted], pa.string()))
    return pc.and_(given, pc.invert(pc.fill_null(known, False)))


def _accepts(value: Any, accepted: tuple[str, ...]) -> bool:
    text = str(value).strip().lower()
    return not text or text in (a.lower() for a in accepted)


class _Values:
    """The values each mapped field can produce by itself, with where they are."""

    def __init__(self, spec: MapSpec):
        self.spec, self.memo = spec, {}  # type: ignore[var-annotated]

    def of(self, name: str) -> list[tuple[Loc, Any]]:
        if name not in self.memo:
            self.memo[name] = []  # a cycle (refused elsewhere) ends here
            self.memo[name] = self._compute(name)
        return self.memo[name]

    def _compute(self, name: str) -> list[tuple[Loc, Any]]:
        from filebridge.expr import compile_expr
        from filebridge.fieldrefs import split_scope
        from filebridge.lookups import LookupFile, inline_table

        f = self.spec.fields[name]
        here: list[tuple[Loc, Any]] = []
        if isinstance(f.value, list):
            here += [((name, "value"), v) for v in f.value]
        elif f.value is not None:
            here.append(((name, "value"), f.value))
        if f.from_ is not None:
            here += self._ref(name, *split_scope(f.from_))
        if f.expr is not None:
            here += self._expr(name, compile_expr(f.expr))
        if f.lookup is not None:  # whatever the code, the value is one of the table's
            table = f.lookup.table() if isinstance(f.lookup, LookupFile) else \
                inline_table(f.lookup)
            here = [((name, "lookup"), v) for v in table.values.to_pylist() if v is not None]
            if f.lookup_missing == "keep":
                here = []  # a code may pass unchanged: only known at run time
        out = [(loc, self._transformed(f.apply, v)) for loc, v in here]
        if f.default is not None:
            out.append(((name, "default"), f.default))
        return out

    @staticmethod
    def _transformed(steps: list[Any], v: Any) -> Any:
        if not steps or not isinstance(v, str):
            return v
        arr = pa.array([v], pa.string())
        for step in steps:
            arr = transforms.run(arr, step)
        return arr[0].as_py()

    def _ref(self, owner: str, scope: str, name: str) -> list[tuple[Loc, Any]]:
        kind, n = self.spec.resolved.sources[owner].get((scope, name), ("input", name))
        return self.of(n) if kind == "mapped" else []

    def _expr(self, owner: str, node: Any) -> list[tuple[Loc, Any]]:
        from filebridge.expr.syntax import Call, Const, If, Ref

        if isinstance(node, Const):
            return [((owner, "expr"), node.value)] if isinstance(node.value, str) else []
        if isinstance(node, If):
            return self._expr(owner, node.then) + self._expr(owner, node.other)
        if isinstance(node, Ref):
            return self._ref(owner, node.scope, node.name)
        if isinstance(node, Call) and node.name in ("coalesce", "if_"):
            args = node.args[1:] if node.name == "if_" else node.args
            return [x for a in args for x in self._expr(owner, a)]
        if isinstance(node, Call) and node.name in ("upper", "lower", "trim") and node.args:
            step = {"upper": "upper", "lower": "lower", "trim": "trim"}[node.name]
            return [(loc, self._transformed([step], v))
                    for loc, v in self._expr(owner, node.args[0])]
        return []


def check_profile(profile: Any) -> list[tuple[Loc, str]]:
    """Problems with values the sinks refuse; records on ``profile.map`` which mapped
    fields each sink constrains, for the row checks at run time."""
    from filebridge.registry import REGISTRY as reg

    spec = profile.map
    values = _Values(spec)
    enums: dict[str, list[tuple[str, tuple[str, ...], str]]] = {}
    problems: list[tuple[Loc, str]] = []
    seen: set[tuple[Loc, Any, str]] = set()
    for i, options in enumerate(profile.write):
        sink_enums = getattr(reg.get("sink", options.format), "ENUMS", {})
        if getattr(options, "sync", None) == "stock":
            continue  # only quantities are sent
        label = f"{options.format} (write[{i}])"
        for canonical, accepted in sink_enums.items():
            mapped = (getattr(options, "fields", None) or {}).get(canonical, canonical)
            if spec.fields and mapped not in spec.fields:
                continue  # the records do not carry it
            enums.setdefault(mapped, []).append((label, tuple(accepted), canonical))
            if not spec.fields:
                continue
            for loc, v in values.of(mapped):
                if _accepts(v, accepted) or (loc, v, label) in seen:
                    continue
                seen.add((loc, v, label))
                what = canonical if canonical == mapped else f"{canonical} (field {mapped})"
                message = (f"{what} {v!r} is not accepted by {label}; accepted: "
                           f"{', '.join(accepted)}")
                problems.append((("map", "fields", *loc), message))
    spec._enums = enums
    return problems
