"""The profile reference (docs/profiles.md), generated from the options models.

A test compares the committed file with this output, so the reference cannot go
stale: change a model, run ``filebridge schema --markdown > docs/profiles.md``.
"""

from __future__ import annotations

import typing
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from filebridge import transforms
from filebridge.expr import FUNCTIONS
from filebridge.expr.decimals import DIVISION_SCALE
from filebridge.feedback import FeedbackOptions
from filebridge.layouts.types import date_format_names
from filebridge.mapping import MapSpec
from filebridge.photos.spec import PhotosSpec
from filebridge.registry import load_plugins
from filebridge.stock.spec import StockSpec


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Literal:
        return " \\| ".join(repr(a) for a in args)
    if origin is typing.Annotated:
        return _type_name(args[0])
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        return " \\| ".join(_type_name(a) for a in args if a is not type(None)) + \
            (" or null" if type(None) in args else "")
    if origin in (list, tuple):
        return f"list of {_type_name(args[0])}" if args else "list"
    if origin is dict:
        return f"map of {_type_name(args[1])}"
    if isinstance(tp, type):
        return {"str": "text", "int": "integer", "float": "number", "bool": "boolean",
                "Decimal": "number", "PosixPath": "path", "Path": "path"}.get(
            tp.__name__, tp.__name__)
    return str(tp)


def _default(f: FieldInfo) -> str:
    if f.is_required():
        return "**required**"
    if f.default_factory is not None:
        value = f.default_factory()  # type: ignore[call-arg]
        if isinstance(value, BaseModel):
            return "(see below)"
        return f"`{value!r}`" if value not in ({}, []) else "empty"
    if f.default is PydanticUndefined or f.default is None:
        return "—"
    return f"`{f.default!r}`"


def _nested(tp: Any) -> list[type[BaseModel]]:
    found = []
    for a in typing.get_args(tp) or (tp,):
        if isinstance(a, type) and issubclass(a, BaseModel):
            found.append(a)
        elif typing.get_args(a):
            found.extend(_nested(a))
    return found


def _table(model: type[BaseModel], title: str, out: list[str], seen: set[str]) -> None:
    if model.__name__ in seen:
        return
    seen.add(model.__name__)
    out.append(f"### {title}\n")
    if model.__doc__:
        # The first paragraph, whole: a docstring's first line may stop mid-sentence.
        first = model.__doc__.strip().split("\n\n")[0]
        out.append(" ".join(line.strip() for line in first.splitlines()) + "\n")
    out.append("| key | type | default | meaning |\n|---|---|---|---|")
    later = []
    for name, f in model.model_fields.items():
        key = f.alias or name
        desc = (f.description or "").replace("|", "\\|").replace("\n", " ")
        out.append(f"| `{key}` | {_type_name(f.annotation)} | {_default(f)} | {desc} |")
        later += [(m, f"{title} → `{key}`") for m in _nested(f.annotation)]
    out.append("")
    for m, t in later:
        _table(m, f"{t} ({m.__name__})", out, seen)


def carries_table(reg: Any) -> list[str]:
    """What each shop output carries of the catalog, from its ``CARRIES``."""
    from filebridge.catalog.coverage import FEATURES

    sinks = [n for n in reg.names("sink") if getattr(reg.get("sink", n), "CARRIES", None)]
    out = ["### What each shop output carries", "",
           "Declared by each output (`CARRIES`); `filebridge check` notes a feature a "
           "profile gives an output that cannot carry it. — : not carried.", "",
           "| | " + " | ".join(f"`{n}`" for n in sinks) + " |",
           "|---|" + "---|" * len(sinks)]
    for feature, meaning in FEATURES.items():
        cells = [reg.get("sink", n).CARRIES.get(feature, "—") for n in sinks]
        out.append(f"| {feature}: {meaning} | " + " | ".join(cells) + " |")
    return out + [""]


def lands_table(reg: Any) -> list[str]:
    """Where each canonical field lands in each shop output, from its ``LANDS``."""
    from filebridge.catalog.record import CANONICAL

    sinks = [n for n in reg.names("sink") if getattr(reg.get("sink", n), "LANDS", None)]
    out = ["### Where each canonical field lands", "",
           "Shop outputs read records by canonical names (a sink's `fields:` maps one to "
           "another mapped field). Weights are grams in the record; prices exact decimals. "
           "— : not written.", "",
           "| canonical | " + " | ".join(f"`{n}`" for n in sinks) + " |",
           "|---|" + "---|" * len(sinks)]
    for name in CANONICAL:
        cells = [reg.get("sink", n).LANDS.get(name, "—") for n in sinks]
        out.append(f"| `{name}` | " + " | ".join(cells) + " |")
    return out + [""]


def reference() -> str:
    reg = load_plugins()
    from filebridge.profile import ProfileBase

    out = ["# Profile reference", "",
           "Generated from the options models by `filebridge schema --markdown`; do not edit "
           "by hand. A profile is one YAML file per flow. Relative paths resolve against the "
           "profile's folder; `${VAR}` in a path is taken from the environment. Secrets are "
           "only references: `${ENV_VAR}` or `file:PATH`. Unknown keys are errors.", "",
           "## Top level", "",
           "| key | meaning |", "|---|---|",
           "| `name` | " + (ProfileBase.model_fields["name"].description or "") + " |",
           "| `description` | what the flow does, for people |",
           "| `source` | where files come from: `kind:` " + ", ".join(reg.names("source")) + " |",
           "| `read` | how to read them: `format:` " + ", ".join(reg.names("reader")) + " |",
           "| `map` | how input fields become the record sent to the outputs |",
           "| `write` | a list of outputs: `format:` " + ", ".join(reg.names("sink")) + " |",
           "| `feedback` | acknowledgement and rejects files for the ERP |",
           "| `destinations` | named places that also receive files (`kind:` " +
           ", ".join(reg.names("destination")) + "); outputs and feedback pick them with "
           "`deliver: [name, …]` |",
           "| `tables` | related files the joins use: code tables kept in the ledger with "
           "their version, or members of the main file's set |",
           "| `set` | " + (ProfileBase.model_fields["set"].description or "") + " |",
           "| `join` | " + (ProfileBase.model_fields["join"].description or "") + " |",
           "| `stock` | " + (ProfileBase.model_fields["stock"].description or "") + " |",
           "| `shipments` | " + (ProfileBase.model_fields["shipments"].description or "")
           + " |",
           "| `ledger` | " + (ProfileBase.model_fields["ledger"].description or "") + " |",
           "| `ledger_password` | "
           + (ProfileBase.model_fields["ledger_password"].description or "") + " |",
           "| `once` | " + (ProfileBase.model_fields["once"].description or "") + " |", ""]
    seen: set[str] = set()
    out.append("## Sources\n")
    for name in reg.names("source"):
        _table(reg.get("source", name).Options, f"source kind `{name}`", out, seen)
    out.append("## Readers\n")
    for name in reg.names("reader"):
        _table(reg.get("reader", name).Options, f"read format `{name}`", out, seen)
    out.append("Date formats: " + ", ".join(date_format_names()) +
               ", or any strptime pattern containing `%`.\n")
    out.append("## Mapping\n")
    _table(MapSpec, "map", out, seen)
    out.append("Transforms for `apply`:\n")
    for n, (_, doc) in sorted(transforms.SIMPLE.items()):
        out.append(f"- `{n}`: {doc}")
    for n, (_, doc) in sorted(transforms.PARAMETRIC.items()):
        out.append(f"- `{{{n}: …}}`: {doc}")
    out += ["", ("Expressions (`expr:` of a field, `match:` of a lookup) use Python's syntax, "
            "restricted: field names (a mapped field when one has that name, else the input "
            "field; `input.NAME` / `mapped.NAME`, or `input[\"A NAME\"]`, to choose), text, "
            "number and `True`/`False`/`None` constants, `today` (the day the file was "
            "claimed), `+ - * /` (exact on decimals; `/` gives at least "
            f"{DIVISION_SCALE} decimals, rounded half away from zero), `== != < <= > >=`, "
            "`and or not`, `a if cond else b`, `x in [a, b]`, `x is None` (null, blank text "
            "or an empty list), `[a, b, c]` (a list) and these functions:"), ""]
    for _name, fn in sorted(FUNCTIONS.items()):
        out.append(f"- `{fn.signature}`: {fn.doc}")
    out.append("\n## Related files and joins\n")
    from filebridge.profile import _table_model
    from filebridge.tables.spec import JoinSpec, SetSpec

    _table(_table_model(), "tables → name", out, seen)
    _table(SetSpec, "set", out, seen)
    _table(JoinSpec, "join → each", out, seen)
    out.append("\n## Outputs\n")
    for name in reg.names("sink"):
        _table(reg.get("sink", name).Options, f"write format `{name}`", out, seen)
    out += lands_table(reg)
    out += carries_table(reg)
    out.append("## Photos\n")
    _table(PhotosSpec, "photos", out, seen)
    out.append("## Feedback\n")
    _table(FeedbackOptions, "feedback", out, seen)
    out.append("## Shared stock\n")
    _table(StockSpec, "stock", out, seen)
    out.append("## Shipments back to the shop\n")
    from filebridge.shipments.spec import ShipmentSpec

    _table(ShipmentSpec, "shipments", out, seen)
    out.append("## Destinations\n")
    for name in reg.names("destination"):
        _table(reg.get("destination", name).Options, f"destination kind `{name}`", out, seen)
    return "\n".join(out).rstrip() + "\n"
