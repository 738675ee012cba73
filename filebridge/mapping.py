"""Declarative field mapping: raw batch -> mapped batch, bad rows -> rejects.

Every field is computed for the whole batch at once: source (``from``, ``value``
or a ``format`` template), ``apply`` transforms, parsing into a ``type``,
``lookup``, ``default``; then the checks (``required``, ``regex``, ``min``/``max``,
``check: ean13``) mark failing rows, and ``clamp`` bounds the value. A row
failing any check becomes one reject naming its first failing field.
"""

from __future__ import annotations

import csv
import re
import string
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field, StrictStr, field_validator, model_validator

from filebridge import transforms
from filebridge.errors import ProfileError, RejectedFile
from filebridge.layouts.types import FieldType, parse
from filebridge.catalog.spec import (AttributeSpec, OptionSpec, ProductSpec,  # noqa: F401
                                      check_languages)
from filebridge.options import Model, ProfilePath, Scalar, value_problem
from filebridge.records import Batch, FileReport, Reject


class FieldMap(Model):
    """How one output field is computed."""

    from_: str | None = Field(None, alias="from", description="input field to take the "
                              "value from")
    value: Scalar | list[StrictStr] | None = Field(
        None, description="a constant value: text, number, date or true/false (or a list of "
        "texts, for a list field such as tags)")
    format: str | None = Field(None, description="a template joining input fields, e.g. "
                               "'{CODART}-{COLORE}-{TAGLIA}'")
    apply: list[Any] = Field(default_factory=list, description="transforms, in order: "
                             + ", ".join(transforms.names()))
    type: FieldType | None = Field(None, description="parse text into text, integer, "
                                   "decimal, date or boolean")
    scale: int = Field(2, ge=0, le=18, description="decimal places for type: decimal")
    decimal: Literal[".", ","] = Field(".", description="decimal mark, for type: decimal")
    thousands: Literal[".", ",", " ", "'"] | None = Field(None, description="thousands "
                                                          "separator, for type: decimal/integer")
    date_format: str = Field("ISO", description="for type: date (see read fields' format)")
    lookup: dict[str, Scalar | None] | ProfilePath | None = Field(
        None, description="code table: an inline mapping, or a CSV file with two columns "
                          "(code, value) and a header")
    lookup_missing: Literal["reject", "keep", "null"] = Field(
        "reject", description="a code not in the lookup: reject the row, keep the code, or "
                              "leave the field empty")
    default: Scalar | None = Field(None, description="value when the field is empty: text, "
                                   "number, date or true/false, of the field's type")
    required: bool = Field(False, description="an empty value rejects the row")
    regex: str | None = Field(None, description="the value must match this regular "
                              "expression (whole value)")
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
        if v is not None:
            try:
                re.compile(v)
            except re.error as e:
                raise ValueError(f"invalid regular expression ({e})") from None
        return v

    @model_validator(mode="after")
    def _one_source(self) -> FieldMap:
        given = [k for k in ("from_", "value", "format") if getattr(self, k) is not None]
        if len(given) > 1:
            raise ValueError("give only one of from, value, format")
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
                                 "(title@en, description@de, colour@fr)")
    attributes: dict[str, AttributeSpec] = Field(
        default_factory=dict, description="product properties that are not variant options, "
        "by mapped field: filters (material, colour family, fit) and specifications "
        "(composition, care, origin), e.g. {material: {name: Materiale, names: {en: "
        "Material}}, composition: {filter: false}}")

    @field_validator("languages")
    @classmethod
    def _languages(cls, v: list[str]) -> list[str]:
        return check_languages(v)

    @model_validator(mode="after")
    def _refs(self) -> MapSpec:
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
        return self


def _template_parts(template: str) -> list[tuple[str, str | None]]:
    return [(lit, name) for lit, name, _, _ in string.Formatter().parse(template)]


def _load_lookup(spec: dict[str, Any] | Path) -> dict[str, Any]:
    if isinstance(spec, dict):
        return {str(k): v for k, v in spec.items()}
    try:
        with open(spec, encoding="utf-8-sig", newline="") as f:
            rows = list(csv.reader(f))
    except OSError as e:
        raise ProfileError(f"lookup table {spec}: {e.strerror}") from None
    table = {}
    for n, row in enumerate(rows[1:], 2):
        if len(row) < 2:
            raise ProfileError(f"lookup table {spec}, line {n}: expected code,value")
        table[row[0]] = row[1]
    return table


def _blank(arr: pa.Array) -> pa.Array:
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


Check = tuple[str, pa.Array, Callable[[int], tuple[str, Any]]]  # field, bad mask, (why, value) of row i


class Mapper:
    """Built once per profile; ``apply`` runs per batch."""

    def __init__(self, spec: MapSpec):
        self.spec = spec
        self.lookups = {name: _load_lookup(f.lookup) for name, f in spec.fields.items()
                        if f.lookup is not None}

    def inputs(self) -> set[str]:
        """Input fields the mapping reads."""
        used = set()
        for f in self.spec.fields.values():
            if f.from_:
                used.add(f.from_)
            if f.format:
                used.update(n for _, n in _template_parts(f.format) if n)
        return used

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
        try:
            return self._field(name, f, batch, []).to_pylist()
        except (ValueError, KeyError, TypeError, pa.ArrowException):
            return [None] * len(rows)

    def check_inputs(self, names: list[str]) -> None:
        missing = sorted(self.inputs() - set(names))
        if missing:
            raise RejectedFile(f"field(s) {', '.join(missing)} used by the mapping are not in "
                               f"the file (it has: {', '.join(names)})")

    def apply(self, batch: Batch, report: FileReport) -> Batch:
        if not self.spec.fields or not len(batch):
            return batch
        self.check_inputs(batch.names)
        out: dict[str, pa.Array] = {}
        checks: list[Check] = []
        for name, f in self.spec.fields.items():
            out[name] = self._field(name, f, batch, checks)
        # The input row stays beside the mapped one: a sink refusing a row shows the
        # ERP what it sent.
        mapped = Batch(pa.table(out), batch.lines,
                       batch.raw if batch.raw is not None else batch.table)
        if not checks:
            return mapped
        bad = checks[0][1]
        for _, mask, _ in checks[1:]:
            bad = pc.or_(bad, mask)
        if not pc.any(bad).as_py():
            return mapped
        idx = pc.indices_nonzero(bad).to_pylist()
        raw = batch.raw_rows(idx)
        lines = pc.take(batch.lines, idx).to_pylist()
        masks = [(n, m.to_pylist(), why) for n, m, why in checks]
        for i, row, line in zip(idx, raw, lines):
            name, _, why = next(c for c in masks if c[1][i])
            reason, value = why(i)
            report.reject(Reject(line, name, reason, row, value))
        return mapped.filter(pc.invert(bad))

    def _field(self, name: str, f: FieldMap, batch: Batch, checks: list[Check]) -> pa.Array:
        n = len(batch)
        if f.from_ is not None:
            arr = batch.column(f.from_)
        elif f.format is not None:
            parts = []
            for lit, ref in _template_parts(f.format):
                if lit:
                    parts.append(pa.scalar(lit))
                if ref:
                    parts.append(pc.cast(batch.column(ref), pa.string()))
            arr = pc.binary_join_element_wise(*parts, "", null_handling="replace",
                                              null_replacement="")
            if isinstance(arr, pa.Scalar):
                arr = pa.array([arr.as_py()] * n, pa.string())
        else:
            arr = pa.array([f.value] * n) if f.value is not None else pa.nulls(n, pa.string())
        for step in f.apply:
            arr = transforms.run(arr, step)
        if f.type is not None and f.type != "text" and pa.types.is_string(arr.type):
            source = arr
            arr, bad = parse(arr, f.type, scale=f.scale, decimal=f.decimal,
                             thousands=f.thousands, format=f.date_format)
            if bad is not None:
                texts = source.to_pylist()
                checks.append((name, bad, lambda i, t=texts, ty=f.type:
                               (f"{t[i]!r} is not a valid {ty}", t[i])))
        if name in self.lookups:
            arr = self._lookup(name, f, arr, checks)
        if f.default is not None:
            try:
                fill = pa.scalar(f.default).cast(arr.type) if not pa.types.is_null(arr.type) \
                    else pa.scalar(f.default)
            except (pa.ArrowException, ValueError, TypeError):  # check missed it: say so
                raise RejectedFile(f"map.fields.{name}.default {f.default!r} cannot stand in "
                                   f"the field's values ({arr.type})") from None
            arr = pc.if_else(_blank(arr), fill, arr)
        if f.required:
            checks.append((name, _blank(arr), lambda i: (f"required field {name} is empty", "")))
        if f.regex is not None:
            ok = pc.match_substring_regex(pc.cast(arr, pa.string()), f"^(?:{f.regex})$")
            vals = arr
            checks.append((name, pc.invert(pc.fill_null(ok, True)),
                           lambda i, v=vals, rx=f.regex: (f"{v[i].as_py()!r} does not match {rx}",
                                                          v[i].as_py())))
        for bound, op, word in ((f.min, pc.less, "below"), (f.max, pc.greater, "above")):
            if bound is not None:
                vals = arr
                mask = pc.fill_null(op(arr, self._scalar(bound, arr)), False)
                checks.append((name, mask, lambda i, v=vals, b=bound, w=word:
                               (f"{v[i].as_py()} is {w} the allowed {b}", v[i].as_py())))
        if f.check == "ean13":
            vals = arr
            checks.append((name, pc.invert(pc.or_(_ean13_ok(arr), _blank(arr))),
                           lambda i, v=vals: (f"{v[i].as_py()!r} is not a valid EAN-13",
                                              v[i].as_py())))
        if f.clamp is not None:
            lo, hi = f.clamp
            if lo is not None:
                arr = pc.max_element_wise(arr, self._scalar(lo, arr))
            if hi is not None:
                arr = pc.min_element_wise(arr, self._scalar(hi, arr))
        return arr

    @staticmethod
    def _scalar(value: Decimal, arr: pa.Array) -> pa.Scalar:
        if pa.types.is_decimal(arr.type):
            return pa.scalar(value, pa.decimal128(38, max(-value.as_tuple().exponent, 0))
                             ).cast(arr.type)
        if pa.types.is_integer(arr.type):
            return pa.scalar(int(value), arr.type)
        if pa.types.is_string(arr.type):
            raise RejectedFile("min/max/clamp need a numeric field: add type: integer or "
                               "decimal to the mapping")
        return pa.scalar(float(value))

    def _lookup(self, name: str, f: FieldMap, arr: pa.Array, checks: list[Check]) -> pa.Array:
        table = self.lookups[name]
        codes = pa.array(list(table), pa.string())
        values = pa.array(list(table.values()))
        text = pc.cast(arr, pa.string())
        pos = pc.index_in(text, value_set=codes)
        found = pc.take(values, pos)
        missing = pc.and_(pc.is_null(pos), pc.invert(_blank(text)))
        if f.lookup_missing == "keep":
            return pc.if_else(missing, text, pc.cast(found, pa.string()))
        if f.lookup_missing == "reject":
            # The table's file name, not its path: reasons go back to the ERP.
            where = f"lookup {f.lookup.name}" if isinstance(f.lookup, Path) else "the inline lookup"
            checks.append((name, missing, lambda i, t=text, w=where:
                           (f"{t[i].as_py()!r} is not in {w}", t[i].as_py())))
        return found
