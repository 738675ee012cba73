"""The profile: one YAML file per flow, validated whole before anything runs.

The model is assembled from the registry (every reader's, sink's and source's
``Options``), so the profile reference and the JSON Schema always match the code.
Errors name the profile file, the YAML line and the field path, all at once.

A profile is validated by a model of the plugins and sections it names only (its
``format:``/``kind:`` values, its stock:, shipments:, photos:), so loading a CSV
profile imports no shop API sink; a name the registry does not know gets the model
of everything, whose error lists every valid name.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, NamedTuple, Union

from pydantic import (
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    create_model,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from filebridge.alerts import AlertsOptions
from filebridge.errors import ProfileError
from filebridge.feedback import FeedbackOptions
from filebridge.lookups import TAGS as LOOKUP_TAGS
from filebridge.mapping import MapSpec
from filebridge.options import LedgerRef, LocatedErrors, Model, Secret
from filebridge.registry import REGISTRY
from filebridge.tables.spec import NAME, JoinSpec, SetSpec, TableBase, check_related

if TYPE_CHECKING:
    from filebridge.photos.spec import PhotosSpec
    from filebridge.shipments.spec import ShipmentSpec
    from filebridge.stock.spec import StockSpec


def _union(kind: str, tag: str, names: frozenset[str] | None = None) -> Any:
    """The options of every plugin of ``kind``, or of ``names`` (a union even of one,
    so that errors have the same places as in the union of all)."""
    models = REGISTRY.options(kind, None if names is None else sorted(names))
    if len(models) == 1 and names is None:
        return models[0]
    return Annotated[Union[tuple(models)], Field(discriminator=tag)]  # noqa: UP007


SECTIONS = {
    "stock": "the files are stock figures (or store movements) of an inventory shared "
             "with the web: shops get what may be sold, net of sales the ERP does not "
             "know yet and of safety stock",
    "shipments": "the files are the ERP's shipments: each becomes a fulfilment in the "
                 "shop of the one write: output (a shop API)",
    "photos": "a folder of photos matched to the records by file name, checked, "
              "published to a public folder under their digest, their URLs in the records",
}


def _section(name: str, present: bool) -> tuple[Any, Any]:
    """A section's field: its model imported only for a profile that has it (absent,
    it can only be None)."""
    if not present:
        return None, Field(None, description=SECTIONS[name])
    if name == "stock":
        from filebridge.stock.spec import StockSpec as spec
    elif name == "shipments":
        from filebridge.shipments.spec import ShipmentSpec as spec  # type: ignore[assignment]
    else:
        from filebridge.photos.spec import PhotosSpec as spec  # type: ignore[assignment]
    return spec | None, Field(None, description=SECTIONS[name])


class ProfileBase(Model):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", description="the flow's name "
                      "(letters, digits, . _ -); keys its state in the ledger")
    description: str = Field("", description="what the flow does, for people")
    map: MapSpec = Field(default_factory=MapSpec, description="how input fields become the "
                         "record sent to the outputs")
    feedback: FeedbackOptions = Field(default_factory=FeedbackOptions,
                                      description="what goes back to the ERP")
    # stock, shipments, photos: placeholders keeping the fields' order, their types
    # set by profile_model() (_section).
    if TYPE_CHECKING:
        stock: StockSpec | None
        shipments: ShipmentSpec | None
    else:
        stock: None = Field(None, description=SECTIONS["stock"])
        shipments: None = Field(None, description=SECTIONS["shipments"])
    ledger: LedgerRef | None = Field(
        None, description="the ledger: a SQLite file, or postgresql://user@host:port/db for "
        "a PostgreSQL database shared by several machines (the password as ledger_password, "
        "never in the URL). Default: $FILEBRIDGE_LEDGER or filebridge.db beside the profile")
    ledger_password: Secret | None = Field(
        None, description="the PostgreSQL ledger's password: ${ENV_VAR} or file:PATH "
        "(without it libpq's PGPASSWORD or ~/.pgpass are used)")
    once: Literal["content", "name_and_content"] | None = Field(
        None, description="when a file is already processed and skipped as a duplicate: "
        "content (its bytes equal any file this profile processed), or name_and_content (the "
        "last file processed under its name had the same bytes: the same bytes under a new "
        "name are a new file). Default: name_and_content for stock.role figures (an old "
        "snapshot re-sent as a new export is applied again), content for everything else")
    set: SetSpec | None = Field(None, description="the main file and its member tables "
                                "(tables with member:) are one set: how the members are "
                                "named from the main file's name, and when the set is "
                                "complete")
    join: list[JoinSpec] = Field(default_factory=list, description="joins applied in order "
                                 "between the reader and the mapping: the mapping (and later "
                                 "joins) can use the fields they bring")
    if TYPE_CHECKING:
        photos: PhotosSpec | None
    else:
        photos: None = Field(None, description=SECTIONS["photos"])
    alerts: AlertsOptions | None = Field(None, description="tell people by e-mail or webhook "
                                         "when a file is rejected, a run held, the ERP late "
                                         "to acknowledge, a shop or server down, a host key "
                                         "changed")
    _file: Path | None = PrivateAttr(None)
    if TYPE_CHECKING:  # the fields profile_model() adds, their types from the registry
        source: Any
        read: Any
        write: list[Any]
        tables: dict[str, TableBase]
        destinations: dict[str, Any]

    def cross_checks(self) -> list[tuple[tuple[Any, ...], str]]:
        """Problems between sections (tables, joins, layouts, filters and defaults
        against the fields' types), each with its YAML path."""
        from filebridge.mapping import check_values
        from filebridge.readers.base import check_filters, field_types

        read = getattr(self, "read", None)
        tables = getattr(self, "tables", None) or {}
        photos = [(("photos", "pattern"), f"{{{f}}} is not a mapped field (map.fields)")
                  for f in (self.photos.fields if self.photos and self.map.fields else ())
                  if f not in self.map.fields]
        photos += self._photo_sinks()
        return photos + check_related(self) + (check_filters(read) if read is not None
                                               else []) + [
            p for n, t in tables.items() for p in check_filters(t.read, ("tables", n, "read"))
        ] + check_values(self.map, field_types(read) if read is not None else {})

    def _photo_sinks(self) -> list[tuple[tuple[Any, ...], str]]:
        """Photos without a public folder give ``photo:`` references, which only the
        API sinks that upload images themselves can use."""
        if self.photos is None or self.photos.public is not None:
            return []
        out: list[tuple[tuple[Any, ...], str]] = []
        for i, o in enumerate(getattr(self, "write", None) or []):
            if not getattr(o, "UPLOADS_PHOTOS", False):
                out.append((("write", i), f"{o.format} needs image URLs, but photos has no "
                            "public folder (its records carry photo: references for the "
                            "shop APIs to upload): give photos.public (a folder a web "
                            "server serves, and its URL), or write only to "
                            + ", ".join(sorted(_photo_uploaders()))))
            elif (problem := o.photo_problem()) is not None:
                out.append((("write", i), problem))
        return out

    @property
    def file(self) -> Path | None:
        return self._file

    @property
    def base(self) -> Path:
        return self._file.parent if self._file else Path.cwd()

    @property
    def once_rule(self) -> str:
        """The rule of once in force: the profile's, or its role's default."""
        if self.once or self.stock is None:  # (not importing the stock model)
            return self.once or "content"
        from filebridge.stock.spec import default_once

        return default_once(self.stock)

    def ledger_path(self) -> Path | str:
        """The SQLite file, or the PostgreSQL URL (as written: without a password)."""
        if self.ledger:
            return self.ledger
        env = os.environ.get("FILEBRIDGE_LEDGER")
        if env and env.startswith(("postgresql://", "postgres://")):
            return env
        return Path(env) if env else self.base / "filebridge.db"

    @property
    def local_home(self) -> Path:
        """Where a ledger on a server keeps its local companions (scratch folders,
        code tables' copies): the profile's folder, in .filebridge."""
        return self.base / ".filebridge"


def _changes_need_key(self: Any) -> Any:
    if any(getattr(s, "mode", "full") == "changes" for s in self.write) and not self.map.key:
        raise ValueError("write: mode: changes needs map.key (the field that identifies a "
                         "record)")
    return self


def _stock_sinks_set_stock(self: Any) -> Any:
    """A stock profile tells shops quantities only. A file's ``reservations_of`` names a
    magento_api output of the same stock profile."""
    stock = getattr(self, "stock", None)
    if stock is not None:
        for i, s in enumerate(self.write):
            if getattr(s, "sync", "stock") != "stock":
                raise ValueError(f"write[{i}]: a profile with stock: sends quantities: set "
                                 "sync: stock")
    from filebridge.sinks.base import sink_id

    apis = [sink_id(s) for s in self.write if s.format == "magento_api"]
    for i, s in enumerate(self.write):
        of = getattr(s, "reservations_of", None)
        if of is None:
            continue
        if stock is None:
            raise ValueError(f"write[{i}].reservations_of: only for a profile with stock:")
        if of not in apis:
            raise ValueError(f"write[{i}].reservations_of: {of!r} is not the id of a "
                             "magento_api output of this profile (ids: "
                             f"{', '.join(apis) or 'none'})")
        if s.sources is not None and s.sources.sources:
            raise ValueError(f"write[{i}].reservations_of: not with sources.sources (the "
                             "reserved units go with the stock field)")
    return self


def _shipments_go_to_one_shop(self: Any) -> Any:
    """A shipments profile sends to one shop API, which must know shipments."""
    if self.shipments is None:
        return self
    if self.stock is not None:
        raise ValueError("shipments: and stock: do not go together (a shipments file "
                         "moves no stock figure)")
    known = ", ".join(REGISTRY.names("shipper"))
    if len(self.write) != 1:
        raise ValueError(f"shipments: write: names exactly one shop API output ({known}), "
                         f"not {len(self.write)}")
    if REGISTRY.find("shipper", self.write[0].format) is None:
        raise ValueError(f"write[0]: {self.write[0].format} takes no shipments; a "
                         f"shipments profile writes to one of {known}")
    return self


def _photo_uploaders() -> list[str]:
    """The formats of the sinks that upload ``photo:`` references themselves."""
    from filebridge.registry import load_plugins

    reg = load_plugins()
    return [n for n in reg.names("sink")
            if getattr(getattr(reg.get("sink", n), "Options", None), "UPLOADS_PHOTOS", False)]


def _known_destinations(self: Any) -> Any:
    """Every ``deliver:`` names a destination the profile defines."""
    known = self.destinations
    fb = self.feedback
    places = [(f"write[{i}]", s) for i, s in enumerate(self.write)] + \
        [(f"feedback.{k}", o) for k, o in (("ack", fb.ack), ("rejects", fb.rejects),
                                           ("report", fb.report))]
    if getattr(self, "stock", None) is not None and self.stock.feedback is not None:
        places.append(("stock.feedback", self.stock.feedback))
    if self.photos is not None and self.photos.public is not None:
        places.append(("photos.public", self.photos.public))
    for where, o in places:
        for name in getattr(o, "deliver", None) or []:
            if name not in known:
                have = ", ".join(sorted(known)) or "none defined"
                raise ValueError(f"{where}.deliver: unknown destination {name!r} "
                                 f"(destinations: {have})")
    return self


def _input_types(profile: Any) -> tuple[dict[str, Any], Any]:
    """(types of the input fields the reader declares and of the fields joins bring,
    type of the others: text for readers that keep undeclared columns as text, None
    where unknown)."""
    import pyarrow as pa

    def arrow(spec: Any) -> Any:
        t = getattr(spec, "type", "text")
        return pa.decimal128(38, spec.scale) if t == "decimal" else {
            "integer": pa.int64(), "date": pa.date32(), "boolean": pa.bool_()}.get(t, pa.string())

    read = profile.read
    declared = dict(getattr(read, "fields", None) or {})
    for kind in (getattr(read, "records", None) or {}).values():
        declared.update(kind.fields)
    types = {n: arrow(s) for n, s in declared.items()}
    for j in getattr(profile, "join", None) or []:  # typed by their tables: left open
        for name in j.outputs(j.languages or list(profile.map.languages)):
            types[name] = pa.null()
    others = pa.string() if read.format in ("csv", "xlsx") else None
    return types, others


def _map_checks(self: Any) -> Any:
    """The mapping run over one row of the reader's declared types (type errors in
    expressions, text times a number …, are found before any file is read), and the
    values the shops accept (status …): constants checked now, the rest per row."""
    from filebridge.enums import check_profile
    from filebridge.mapping import Mapper

    problems = []
    if self.map.fields:
        types, others = _input_types(self)
        problems = [(("map", *loc), msg) for loc, msg in Mapper(self.map).dry_run(types, others)]
        if self.read.format in ("fixed", "ebcdic", "xml") and not getattr(self.read, "records",
                                                                           None):
            # The layout names every field these readers give: an unknown name is a typo.
            for field, where, name in self.map.resolved.input_mentions(self.map.fields):
                if name not in types:
                    problems.append((("map", "fields", field, where), (
                        f"{name!r} is neither a mapped field nor a field of the layout or a join "
                        f"({', '.join(types)})")))
    problems += check_profile(self)
    if problems:
        raise LocatedErrors(problems)
    return self


def _distinct_paths(cls: Any, v: list[Any], info: ValidationInfo) -> list[Any]:
    stock = info.data.get("stock")
    preview = (info.context or {}).get("preview", False)  # a layout is checked before write:
    # Acks move no stock; orders and POS files may tell only the shops of the profiles
    # sharing their inventory (filebridge/stock/share.py).
    if not v and not preview and (stock is None or stock.role == "figures"):
        raise ValueError("List should have at least 1 item")
    # Every file each output publishes (a shop file may be several: WooCommerce's new
    # and update files, PrestaShop's per language, Magento's source items).
    paths = []
    for s in v:
        try:
            paths += REGISTRY.get("sink", s.format)(s).paths()
        except Exception:  # noqa: BLE001  an output that cannot be built says so itself
            paths += [p] if (p := getattr(s, "path", None)) else []
    dupes = {p for p in paths if p is not None and paths.count(p) > 1}
    if dupes:
        raise ValueError(f"two outputs write the same path: {', '.join(sorted(dupes))}")
    return v


class Named(NamedTuple):
    """The plugins (None: every one of the kind) and sections a profile model knows."""

    readers: frozenset[str] | None = None
    sinks: frozenset[str] | None = None
    sources: frozenset[str] | None = None
    destinations: frozenset[str] | None = None
    sections: frozenset[str] = frozenset(SECTIONS)


# A kind a profile names none of (no write: yet, no destinations:) still needs a type.
_FILLER = {"reader": "csv", "sink": "csv", "source": "local", "destination": "local"}


def named(doc: Any) -> Named:
    """What a profile's YAML names: its plugins and sections. Everything when a tag is
    missing, not text or unknown, so that the error lists every valid name."""
    found: dict[str, set[str]] = {k: set() for k in _FILLER}

    def add(kind: str, tag: str, node: Any) -> bool:
        name = node.get(tag) if isinstance(node, dict) else None
        if not isinstance(name, str) or name not in REGISTRY.names(kind):
            return False
        found[kind].add(name)
        return True

    def each(node: Any) -> list[Any]:
        return list(node.values()) if isinstance(node, dict) else [None]

    write = doc.get("write", [])
    tables = [t.get("read") if isinstance(t, dict) else None for t in each(doc.get("tables", {}))]
    ok = (("source" not in doc or add("source", "kind", doc["source"]))
          and ("read" not in doc or add("reader", "format", doc["read"]))
          and isinstance(write, list) and all(add("sink", "format", w) for w in write)
          and all(add("reader", "format", t) for t in tables)
          and all(add("destination", "kind", d) for d in each(doc.get("destinations", {}))))
    if not ok:
        return Named()
    kinds = {k: frozenset(v or {_FILLER[k]}) for k, v in found.items()}
    return Named(readers=kinds["reader"], sinks=kinds["sink"], sources=kinds["source"],
                 destinations=kinds["destination"],
                 sections=frozenset(SECTIONS.keys() & doc.keys()))


@lru_cache(maxsize=64)
def _table_model(readers: frozenset[str] | None = None) -> type[TableBase]:
    return create_model(
        "Table", __base__=TableBase, __doc__=TableBase.__doc__,
        read=(_union("reader", "format", readers), Field(
            description="how to read it: any reader's options, e.g. {format: csv, "
                        "delimiter: ';', encoding: cp1252}")))


@lru_cache(maxsize=64)
def profile_model(plugins: Named = Named()) -> type[ProfileBase]:  # noqa: B008  (immutable)
    """The profile model: of every plugin and section (the JSON Schema, the docs), or
    of those ``plugins`` names (validating one profile: ``named(doc)``)."""
    # Any: the validators are pydantic's decorator proxies and the field types are
    # built at run time from the registry, neither of which create_model's types know.
    sink: Any = _union("sink", "format", plugins.sinks)
    validators: dict[str, Any] = {
                        "distinct_paths": field_validator("write")(_distinct_paths),
                        "changes_need_key": model_validator(mode="after")(_changes_need_key),
                        "stock_sinks": model_validator(mode="after")(_stock_sinks_set_stock),
                        "shipments_shop": model_validator(mode="after")(
                            _shipments_go_to_one_shop),
                        "known_destinations": model_validator(mode="after")(
                            _known_destinations),
                        "map_checks": model_validator(mode="after")(_map_checks)}
    table: Any = _table_model(plugins.readers)
    destination: Any = _union("destination", "kind", plugins.destinations)
    tables: Any = dict[Annotated[str, Field(pattern=NAME)], table]
    destinations: Any = dict[Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")],
                             destination]
    sections: Any = {name: _section(name, name in plugins.sections) for name in SECTIONS}
    return create_model(
        "Profile", __base__=ProfileBase, __validators__=validators, **sections,
        source=(_union("source", "kind", plugins.sources),
                Field(description="where files come from")),
        read=(_union("reader", "format", plugins.readers), Field(description="how to read them")),
        write=(list[sink], Field(
            description="outputs: shop import files, shop APIs, templates")),
        tables=(tables, Field(
            default_factory=dict, description="related files the joins use, by name: code "
            "tables (path: or pattern:) kept in the ledger with their version, or members "
            "of the main file's set (member:)")),
        destinations=(destinations, Field(
            default_factory=dict, description="named places that also receive files: "
            "{name: {kind: sftp | local, …}}; outputs and feedback pick them with deliver:")),
    )


def _yaml() -> YAML:
    y = YAML(typ="rt")
    y.allow_duplicate_keys = False
    return y


UNION_TAGS = set(LOOKUP_TAGS)  # tags of unions told apart by shape, not by a key


def _line_of(doc: Any, loc: tuple[Any, ...]) -> int | None:
    """The YAML line (1-based) of the deepest part of ``loc`` present in the document."""
    node, line = doc, None
    for seg in loc:
        if isinstance(node, CommentedMap):
            if seg in node:
                line = node.lc.key(seg)[0] + 1
                node = node[seg]
                continue
            if seg in (node.get("format"), node.get("kind")) or seg in UNION_TAGS:
                continue  # a discriminator tag in pydantic's path, not a YAML key
            break
        if isinstance(node, CommentedSeq) and isinstance(seg, int) and seg < len(node):
            line = node.lc.item(seg)[0] + 1
            node = node[seg]
            continue
        break
    return line


def _message(err: ErrorDetails) -> str:
    if err["type"] == "extra_forbidden":
        return "unknown key (check the spelling; unknown keys are errors)"
    if err["type"] == "missing":
        return "required, missing"
    msg = err["msg"]
    return msg.removeprefix("Value error, ")


def parse_profile(text: str, file: Path, *, preview: bool = False) -> ProfileBase:
    """Validate profile text; raises ProfileError listing every problem with its line.

    ``preview``: the profile may have no ``write:`` yet (the README's tutorial checks
    the layout on a real file before saying what to write)."""
    try:
        doc = _yaml().load(text)
    except YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{file}:{mark.line + 1}" if mark else str(file)
        raise ProfileError(f"{where}: not valid YAML: {getattr(e, 'problem', e)}") from None
    if not isinstance(doc, dict):
        raise ProfileError(f"{file}: a profile is a YAML mapping (name:, source:, read:, …)")
    if preview and "write" not in doc:
        doc["write"] = CommentedSeq()
    try:
        profile = profile_model(named(doc)).model_validate(doc, context={"base": file.parent,
                                                               "profile": True,
                                                               "preview": preview})
    except ValidationError as e:
        problems = []
        for err in e.errors():
            for loc, message in _located(err):
                path = ".".join(str(p) for p in loc if not _is_tag(doc, loc, p)) or "(top)"
                # A bad format/kind tag is best shown on its own line.
                tag = (err.get("ctx") or {}).get("discriminator", "").strip("'")
                line = _line_of(doc, loc + (tag,) if tag else loc)
                where = f"{file}:{line}" if line else str(file)
                problems.append(f"{where}: {path}: {message}")
        for loc, msg in _unknown_names(doc, file):
            line = _line_of(doc, loc)
            problem = f"{file}:{line}: {'.'.join(str(p) for p in loc)}: {msg}"
            if problem not in problems:
                problems.append(problem)
        raise ProfileError(problems) from None
    problems = []
    for loc, msg in profile.cross_checks():
        line = _line_of(doc, loc)
        where = f"{file}:{line}" if line else str(file)
        problems.append(f"{where}: {'.'.join(str(p) for p in loc)}: {msg}")
    if problems:
        raise ProfileError(problems)
    profile._file = file
    return profile


def _unknown_names(doc: Any, file: Path) -> list[tuple[tuple[Any, ...], str]]:
    """The layout-name check of ``_map_checks`` for a profile that failed elsewhere (a
    lookup file missing, an output misspelt …), so one ``check`` reports it too: the
    layout and the mapping are validated on their own, lookups left out (their files
    are the other problems). Nothing when either is itself invalid, or joins bring
    fields of their own."""
    import copy

    from pydantic import TypeAdapter

    read, mapping = doc.get("read"), doc.get("map")
    if not isinstance(read, dict) or not isinstance(mapping, dict) or doc.get("join"):
        return []
    if read.get("format") not in ("fixed", "ebcdic", "xml") or read.get("records"):
        return []
    mapping = copy.deepcopy(mapping)
    for f in (mapping.get("fields") or {}).values():
        if isinstance(f, dict):
            f.pop("lookup", None)
    context = {"base": file.parent, "profile": True}
    try:
        layout = TypeAdapter(_union("reader", "format", frozenset([read["format"]]))
                             ).validate_python(read, context=context)
        spec = MapSpec.model_validate(mapping, context=context)
    except (ValidationError, ValueError, TypeError):
        return []
    from filebridge.readers.base import field_types

    names = field_types(layout)
    return [(("map", "fields", field, where),
             (f"{name!r} is neither a mapped field nor a field of the layout or a join "
              f"({', '.join(names)})"))
            for field, where, name in spec.resolved.input_mentions(spec.fields)
            if name not in names]


def _located(err: ErrorDetails) -> list[tuple[tuple[Any, ...], str]]:
    """An error's places and messages: a validator's LocatedErrors become one problem
    per place below the validated model."""
    cause = (err.get("ctx") or {}).get("error")
    base = tuple(err["loc"])
    if isinstance(cause, LocatedErrors):
        return [(base + tuple(loc), msg) for loc, msg in cause.items]
    return [(base, _message(err))]


def _is_tag(doc: Any, loc: tuple[Any, ...], part: Any) -> bool:
    """Whether ``part`` of a pydantic location is a union tag rather than a key."""
    if part in UNION_TAGS:
        return True
    node = doc
    for seg in loc:
        if isinstance(node, CommentedMap):
            if seg in node:
                node = node[seg]
                continue
            return seg == part and (seg in (node.get("format"), node.get("kind"))
                                    or seg in UNION_TAGS)
        if isinstance(node, CommentedSeq) and isinstance(seg, int) and seg < len(node):
            node = node[seg]
            continue
        return False
    return False


def load_profile(path: str | Path, *, preview: bool = False) -> ProfileBase:
    file = Path(path).resolve()
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as e:
        raise ProfileError(f"{path}: cannot read the profile ({e.strerror})") from None
    return parse_profile(text, file, preview=preview)


def json_schema() -> dict[str, Any]:
    return profile_model().model_json_schema(by_alias=True)
