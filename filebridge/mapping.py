"""Declarative field mapping: raw batch -> mapped batch, bad rows -> rejects.

Every field is computed for the whole batch at once, in dependency order (a field
may read other mapped fields, see :mod:`filebridge.fieldrefs`): its source
(``from``, ``value``, a ``format`` template or an ``expr`` expression, see
:mod:`filebridge.expr`), ``apply`` transforms, the ``type`` (text is parsed; a
value already typed is converted when that is exact), ``lookup``, ``default``;
then the checks (``required``, ``regex``, ``min``/``max``, ``check: ean13``, the
values the profile's shops accept) mark failing rows, and ``clamp`` bounds the
value. A row failing any check becomes one reject naming its first failing field.
List values (:mod:`filebridge.lists`) go through transforms, types, lookups,
checks and clamps element by element; a row fails when one of its elements does.

The profile is checked when it is loaded by running the mapping over one row of
typed nulls (the input types the reader declares, unknown ones open), so type
errors in expressions are profile errors with their YAML line.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any, Literal

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field, PrivateAttr, StrictStr, ValidationInfo, field_validator, model_validator

from filebridge import fieldsteps as steps
from filebridge import lists, transforms
from filebridge.catalog.spec import AttributeSpec, OptionSpec, ProductSpec, check_languages  # noqa: F401
from filebridge.errors import Bug, RejectedFile
from filebridge.expr import FUNCTIONS, ExprError, compile_expr
from filebridge.expr.evaluate import Evaluator
from filebridge.fieldrefs import Resolved, split_scope, template_parts
from filebridge.fieldsteps import Check, Run
from filebridge.layouts.types import FieldType
from filebridge.lookups import Lookup, LookupFile, Table, inline_table
from filebridge.options import LocatedErrors, Model, Scalar, check_regex, value_problem
from filebridge.records import Batch, FileReport, Reject


class FieldMap(Model):
    """How one output field is computed."""

    from_: str | None = Field(None, alias="from", description="input field (or mapped "
                              "field) to take the value from; input.NAME forces the input")
    value: Scalar | list[StrictStr] | None = Field(
        None, description="a constant value: text, number, date or true/false (a list of "
        "texts gives a list)")
    format: str | None = Field(None, description="a template joining fields, e.g. "
                               "'{CODART}-{COLORE}-{TAGLIA}'")
    expr: str | None = Field(None, description="an expression, e.g. \"coalesce(sale, "
                             "price)\" or \"'simple' if size == 'TU' else 'variable'\" (see "
                             "Expressions below)")
    apply: list[Any] = Field(default_factory=list, description="transforms, in order: "
                             + ", ".join(transforms.names()))
    type: FieldType | None = Field(None, description="parse text into text, integer, "
                                   "decimal, date or boolean; a typed value is converted "
                                   "when that is exact (else the row is rejected)")
    scale: int = Field(2, ge=0, le=18, description="decimal places for type: decimal")
    decimal: Literal[".", ","] = Field(".", description="decimal mark, for type: decimal")
    thousands: Literal[".", ",", " ", "'"] | None = Field(None, description="thousands "
                                                          "separator, for type: decimal/integer")
    date_format: str = Field("ISO", description="for type: date (see read fields' format)")
    lookup: Lookup | None = Field(
        None, description="code table: an inline mapping {'01': Rosso, …} (quote the "
                          "codes), a CSV file name (columns code, value), or {file: …, "
                          "encoding, delimiter, key, value, match}")
    lookup_missing: Literal["reject", "keep", "null"] = Field(
        "reject", description="a code not in the lookup: reject the row, keep the code, or "
                              "leave the field empty")
    default: Scalar | None = Field(None, description="value when the field is empty: text, "
                                   "number, date or true/false, of the field's type")
    required: bool = Field(False, description="an empty value (or a list without elements) "
                           "rejects the row")
    regex: str | None = Field(None, description="the value (each element of a list) must "
                              "match this regular expression, whole (RE2 syntax)")
    min: Decimal | None = Field(None, description="smallest accepted value (reject below)")
    max: Decimal | None = Field(None, description="largest accepted value (reject above)")
    clamp: tuple[Decimal | None, Decimal | None] | None = Field(
        None, description="[low, high]: bring the value into range instead of rejecting; "
                          "null for an open end")
    check: Literal["ean13"] | None = Field(None, description="ean13: 13 digits with a valid "
                                           "check digit")

    @field_validator("apply")
    @classmethod
    def _transforms(cls, v: list[Any]) -> list[Any]:
        return [transforms.check(step) for step in v]

    @field_validator("lookup")
    @classmethod
    def _one_kind(cls, v: Any) -> Any:
        if isinstance(v, dict):
            kinds = {type(x).__name__ for x in v.values() if x is not None}
            if len(kinds) > 1:
                raise ValueError("the lookup's values must all be of one kind (all texts, "
                                 f"all numbers…); found {', '.join(sorted(kinds))}: quote "
                                 "the numbers to have texts")
        return v

    @field_validator("regex")
    @classmethod
    def _regex(cls, v: str | None) -> str | None:
        return None if v is None else check_regex(v)

    @field_validator("expr")
    @classmethod
    def _expr(cls, v: str | None) -> str | None:
        if v is not None:
            compile_expr(v)  # ExprError is a ValueError: reported at expr's line
        return v

    @model_validator(mode="after")
    def _one_source(self) -> FieldMap:
        given = [k.rstrip("_") for k in ("from_", "value", "format", "expr")
                 if getattr(self, k) is not None]
        if getattr(self.lookup, "match", None) is not None:
            given.append("lookup.match")
        if len(given) > 1:
            raise ValueError(f"give only one of from, value, format, expr (and lookup.match): "
                             f"this field has {', '.join(given)}")
        if self.type is not None and (why := value_problem(self.default, self.type)):
            raise ValueError(f"default: {why}")
        return self


def check_values(spec: MapSpec, types: dict[str, str]) -> list[tuple[tuple[Any, ...], str]]:
    """A ``default`` that cannot stand in its field: the field's type is its ``type:``,
    else that of the input field it comes ``from`` (``types``: the reader's layout)."""
    found = []
    for name, f in spec.fields.items():
        if f.default is None or f.type is not None:
            continue
        source = types.get(f.from_, "text") if f.from_ else \
            "text" if f.format is not None else None
        if source is None and f.value is not None and not isinstance(f.value, list):
            source = "integer" if isinstance(f.value, int) and not isinstance(f.value, bool) \
                else "decimal" if isinstance(f.value, Decimal) else None
        why = value_problem(f.default, source) if source else None
        if why:
            found.append((("map", "fields", name, "default"), why))
    return found


# mapped field -> [(shop label, accepted values, canonical name)], set by the profile
Enums = dict[str, list[tuple[str, tuple[str, ...], str]]]


class MapSpec(Model):
    """From input fields to the record sent to the outputs."""

    key: str | None = Field(None, description="field that identifies a record (e.g. sku); "
                            "needed for mode: changes")
    fields: dict[str, FieldMap] = Field(default_factory=dict, description="output fields, "
                                        "in order; empty keeps the input fields as they are")
    product: ProductSpec | None = Field(None, description="group rows into products with "
                                        "variant options")
    languages: list[str] = Field(default_factory=list, description="the catalog's languages, "
                                 "the shop's default first, e.g. [it, en, de, fr]; "
                                 "translations are mapped fields named <field>@<language> "
                                 "(title@en, description@de, colour@fr; categories@en: "
                                 "the same paths, each level translated)")
    attributes: dict[str, AttributeSpec] = Field(
        default_factory=dict, description="product properties that are not variant options, "
        "by mapped field: filters (material, colour family, fit) and specifications "
        "(composition, care, origin), e.g. {material: {name: Materiale, names: {en: "
        "Material}}, composition: {filter: false}}")
    _resolved: Resolved | None = PrivateAttr(None)
    _enums: Enums = PrivateAttr(default_factory=dict)

    @field_validator("languages")
    @classmethod
    def _languages(cls, v: list[str]) -> list[str]:
        return check_languages(v)

    @model_validator(mode="after")
    def _refs(self, info: ValidationInfo) -> MapSpec:
        names = set(self.fields)
        for name in names:
            base, _, lang = name.partition("@")
            if lang and lang not in self.languages[1:]:
                known = ", ".join(self.languages[1:]) or "none: set map.languages"
                raise ValueError(f"field {name}: language {lang!r} is not one of the "
                                 f"translated languages ({known})")
        if names:
            for code in self.attributes:
                if code not in names:
                    raise ValueError(f"attribute {code!r} is not one of the mapped fields")
            for label, ref in (("key", self.key),
                               ("product.key", self.product.key if self.product else None)):
                if ref is not None and ref not in names:
                    raise ValueError(f"{label} {ref!r} is not one of the mapped fields")
            for o in self.product.option_specs() if self.product else []:
                if o.field not in names:
                    raise ValueError(f"product option {o.field!r} is not one of the mapped "
                                     "fields")
        self._resolved = Resolved(self.fields)
        problems = self._resolved.problems
        if not (info.context or {}).get("profile"):
            # Alone, input types are unknown; a profile runs this with the reader's.
            problems = problems + Mapper(self).dry_run({}, None)
        if problems:
            raise LocatedErrors(problems)
        return self

    @property
    def resolved(self) -> Resolved:
        if self._resolved is None:
            self._resolved = Resolved(self.fields)
        return self._resolved


class Mapper:
    """Built once per profile; ``apply`` runs per batch."""

    def __init__(self, spec: MapSpec):
        self.spec = spec
        self.resolved = spec.resolved
        self.tables: dict[str, Table] = {}
        for name, f in spec.fields.items():
            if isinstance(f.lookup, LookupFile):
                self.tables[name] = f.lookup.table()
            elif f.lookup is not None:
                self.tables[name] = inline_table(f.lookup)

    def inputs(self) -> set[str]:
        """Input fields the mapping reads."""
        return self.resolved.inputs()

    def check_inputs(self, names: list[str]) -> None:
        missing = sorted(self.inputs() - set(names))
        if missing:
            raise RejectedFile(f"field(s) {', '.join(missing)} used by the mapping are not in "
                               f"the file (it has: {', '.join(names)})")

    def apply(self, batch: Batch, report: FileReport, today: date | None = None) -> Batch:
        """The mapped batch; rows failing a check go to ``report``. ``today``: the run
        date expressions see (the day the file was claimed; default: now)."""
        if not len(batch):
            return batch
        run = Run(batch, today or date.today())
        if not self.spec.fields:
            for name in batch.names:
                steps.enum_checks(name, batch.column(name), self.spec._enums.get(name, []),
                                  run)
            return self._reject(batch, batch, run.checks, report)
        self.check_inputs(batch.names)
        for name in self.resolved.order:
            self._computed(name, run)
        # The input row stays beside the mapped one: a sink refusing a row shows the
        # ERP what it sent.
        mapped = batch.mapped(pa.table({n: run.env[n] for n in self.spec.fields}))
        return self._reject(batch, mapped, run.checks, report)

    def _reject(self, raw: Batch, mapped: Batch, checks: list[Check],
                report: FileReport) -> Batch:
        if not checks:
            return mapped
        bad = checks[0][1]
        for _, mask, _ in checks[1:]:
            bad = pc.or_(bad, mask)
        if not pc.any(bad).as_py():
            return mapped
        idx = pc.indices_nonzero(bad).to_pylist()
        rows = raw.raw_rows(idx)
        lines = pc.take(raw.lines, idx).to_pylist()
        masks = [(n, m.to_pylist(), why) for n, m, why in checks]
        for i, row, line in zip(idx, rows, lines, strict=True):
            name, _, why = next(c for c in masks if c[1][i])
            reason, value = why(i)
            report.reject(Reject(line, name, reason, row, value))
        return mapped.filter(pc.invert(bad))

    def values_of(self, name: str, rows: list[dict[str, Any]]) -> list[Any]:
        """Field ``name`` mapped from rows as read (e.g. rejected ones, to learn their
        SKU); None where it cannot be worked out."""
        f = self.spec.fields.get(name)
        if not rows:
            return []
        if f is None:  # no mapping: the field is the input field itself
            return [r.get(name) for r in rows]
        cols = {n: pa.array([None if r.get(n) is None else str(r.get(n)) for r in rows],
                            pa.string()) for n in self.inputs()}
        batch = Batch(pa.table(cols) if cols else pa.table({"_": [None] * len(rows)}),
                      pa.array(range(len(rows)), pa.int64()))
        run = Run(batch, date.today())
        try:
            for n in self.resolved.closure(name):
                run.env[n] = self._field(n, self.spec.fields[n], run)
        except (ValueError, KeyError, TypeError, pa.ArrowException, RejectedFile):
            return [None] * len(rows)
        return run.env[name].to_pylist()

    def dry_run(self, types: dict[str, pa.DataType], default: pa.DataType | None
                ) -> list[tuple[tuple[Any, ...], str]]:
        """Problems found by mapping one row of typed nulls (``types`` of inputs;
        ``default`` for the others, None: unknown)."""
        cols = {n: pa.nulls(1, types.get(n, default or pa.null())) for n in self.inputs()}
        batch = Batch(pa.table(cols) if cols else pa.table({"_": pa.nulls(1)}),
                      pa.array([1], pa.int64()))
        run = Run(batch, date.today(), dry=True)
        problems = []
        for name in self.resolved.order:
            f = self.spec.fields[name]
            try:
                run.env[name] = self._field(name, f, run)
            except (ExprError, ValueError, TypeError, pa.ArrowException, RejectedFile) as e:
                where = run.where if run.where != "source" else next(
                    (k for k in ("expr", "format", "from", "value")
                     if getattr(f, k.replace("from", "from_")) is not None), "from")
                problems.append((("fields", name, where), str(e)))
                run.env[name] = pa.nulls(1)  # unknown: fields reading it are still checked
        return problems

    # -- one field -------------------------------------------------------------

    def _computed(self, name: str, run: Run) -> None:
        f = self.spec.fields[name]
        try:
            run.env[name] = self._field(name, f, run)
        except (ExprError, pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
            # Only an input of a type the profile could not know gets here: every row
            # of the batch is refused with the reason, the file goes on.
            reason = str(e)
            run.checks.append((name, pa.array([True] * run.n), lambda i: (reason, None)))
            run.env[name] = pa.nulls(run.n, pa.string())

    def _value(self, owner: str, scope: str, name: str, run: Run) -> pa.Array:
        src = self.resolved.sources[owner].get((scope, name))
        if run.dry and (src is None or src[0] == "mapped" and src[1] not in run.env):
            return pa.nulls(run.n)  # refused elsewhere (a cycle, an ambiguous name)
        if src is None:
            raise Bug("expected src is not None")
        return run.env[src[1]] if src[0] == "mapped" else run.batch.column(src[1])

    def _evaluator(self, owner: str, run: Run) -> Evaluator:
        return Evaluator(lambda r: self._value(owner, r.scope, r.name, run), run.n, run.today,
                         FUNCTIONS)

    def _source(self, name: str, f: FieldMap, run: Run) -> pa.Array | None:
        run.where = "source"
        if f.from_ is not None:
            return self._value(name, *split_scope(f.from_), run)
        if f.format is not None:
            ev = self._evaluator(name, run)
            parts: list[Any] = []
            for lit, ref in template_parts(f.format):
                if lit:
                    parts.append(pa.scalar(lit))
                if ref:
                    parts.append(ev.text(self._value(name, *split_scope(ref), run)))
            arr = pc.binary_join_element_wise(*parts, "", null_handling="replace",
                                              null_replacement="") if parts else pa.scalar("")
            return ev.array(arr)
        if f.expr is not None:
            ev = self._evaluator(name, run)
            arr = ev.run(compile_expr(f.expr))
            self._failures(name, ev, run)
            return arr
        if f.value is not None:
            return pa.repeat(steps.constant(f.value), run.n)
        if getattr(f.lookup, "match", None) is not None:
            return None  # the lookup makes the value
        return pa.nulls(run.n, pa.string())

    def _failures(self, name: str, ev: Evaluator, run: Run) -> None:
        for mask, why in ev.failures:
            run.checks.append((name, mask, lambda i, w=why: (w, None)))

    def _field(self, name: str, f: FieldMap, run: Run) -> pa.Array:
        arr = self._source(name, f, run)
        if arr is not None and lists.is_list(arr.type):
            arr = lists.normalise(arr)
        run.where = "apply"
        for step in f.apply:
            if arr is None:
                raise Bug("expected arr is not None")
            arr = steps.elements(arr, lambda a, s=step: transforms.run(a, s))
        if arr is not None and f.type is not None:
            run.where = "type"
            arr = steps.typed(name, f, arr, run)
        if name in self.tables:
            run.where = "lookup"
            arr = self._lookup(name, f, arr, run)
        if arr is None:
            raise Bug("expected arr is not None")
        if f.default is not None:
            run.where = "default"
            arr = steps.default(arr, f.default)
        run.where = "checks"
        steps.checks(name, f, arr, run)
        run.where = "clamp"
        arr = steps.clamp(f, arr)
        steps.enum_checks(name, arr, self.spec._enums.get(name, []), run)
        return arr

    def _lookup(self, name: str, f: FieldMap, arr: pa.Array | None, run: Run) -> pa.Array:
        table = self.tables[name]
        match = getattr(f.lookup, "match", None)
        if match is not None:
            ev = self._evaluator(name, run)
            keys = [ev.array(ev.eval(compile_expr(m))) for m in match]
            self._failures(name, ev, run)
            return steps.lookup(name, f, table, keys, run)
        if arr is None:
            raise Bug("expected arr is not None")
        if not lists.is_list(arr.type):
            return steps.lookup(name, f, table, [arr], run)
        values, counts = lists.parts(arr)
        found = steps.lookup(name, f, table, [values], run, counts)
        return lists.normalise(lists.build(found, counts, arr.is_null()))
