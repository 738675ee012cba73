"""The profile's words for related files: the tables a main file needs (``tables:``),
how its set is recognised (``set:``) and how tables are joined to it (``join:``).

A table is either a *code table* (``path:`` one local file, or ``pattern:`` the
newest matching file in a local ``folder:`` or in the profile's source), kept in
the ledger with its version, or a *member* of the main file's set (``member:``, a
name made from the main file's name) that arrives with it and is taken, archived
or quarantined together with it. Joins run between the reader and the mapping, in
order, so mapped fields (and later joins) can use the columns they bring.
"""

from __future__ import annotations

import re
import string
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from filebridge.catalog.spec import check_languages
from filebridge.options import Model, ProfilePath

NAME = r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$"


class TableBase(Model):
    """A file the main file needs beside it (``read:`` is any reader's options)."""

    path: ProfilePath | None = Field(None, description="a code table: this local file "
                                     "(reloaded when its content changes)")
    pattern: str | None = Field(None, description="a code table: the newest file matching "
                                "this glob (e.g. CODICI_*.csv) is the current version; looked "
                                "for in folder:, or without it in the profile's source (its "
                                "folder, local or SFTP)")
    folder: ProfilePath | None = Field(None, description="with pattern: a local folder to "
                                       "look in instead of the profile's source")
    member: str | None = Field(None, description="a member of the main file's set: its file "
                               "name, made from the main file's with {stem}, {name} and the "
                               "groups of set.match, e.g. 'TRADUZIONI_{date}.txt'; taken, "
                               "archived and quarantined together with the main file")

    @model_validator(mode="after")
    def _one_place(self) -> TableBase:
        given = [k for k in ("path", "pattern", "member") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of path (a code table file), pattern (the "
                             "newest of a code table's versions) or member (a file of the "
                             "main file's set)")
        if self.folder is not None and self.pattern is None:
            raise ValueError("folder: goes with pattern:")
        if self.member is not None:
            placeholders(self.member)
        return self

    @property
    def is_member(self) -> bool:
        return self.member is not None


class SetSpec(Model):
    """The main file and its member tables are one set, processed once when complete."""

    match: str | None = Field(None, description="a regular expression matching the whole "
                              "main file name; its groups name the members: "
                              "'ARTICOLI_(?P<date>[0-9]{8})[.]txt' gives {date}, and {1} is "
                              "the first group")
    done_file: str | None = Field(None, description="the set is complete only once this "
                                  "file is there too, e.g. 'SET_{date}.ok'; it is archived "
                                  "with the set")
    manifest: str | None = Field(None, description="a file listing the set's file names, "
                                 "one per line: the set is complete once it and every file "
                                 "it names are there; archived with the set")

    @field_validator("match")
    @classmethod
    def _regex(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                re.compile(v)
            except re.error as e:
                raise ValueError(f"invalid regular expression ({e})") from None
        return v

    @field_validator("done_file", "manifest")
    @classmethod
    def _template(cls, v: str | None) -> str | None:
        if v is not None:
            placeholders(v)
        return v

    def groups(self) -> set[str]:
        """Placeholders the member names may use."""
        names = {"stem", "name", "0"}
        if self.match:
            rx = re.compile(self.match)
            names |= set(rx.groupindex) | {str(i) for i in range(1, rx.groups + 1)}
        return names


def placeholders(template: str) -> set[str]:
    try:
        return {f for _, f, _, _ in string.Formatter().parse(template) if f is not None}
    except ValueError as e:
        raise ValueError(f"bad placeholder in {template!r} ({e})") from None


JoinKind = Literal["one", "wide", "list"]


class JoinSpec(Model):
    """One table joined to the main file's rows by key."""

    table: str = Field(description="the name of a table under tables:")
    on: dict[str, str] | list[str] = Field(description="key: main-file field -> table "
                                           "column, one or more (a composite key), e.g. "
                                           "{ARTICOLO: ART, COLORE: COL}; a list when the "
                                           "names are the same on both sides")
    where: dict[str, str] = Field(default_factory=dict, description="table column -> "
                                  "constant the table's rows must have, e.g. {TIPO: COL} "
                                  "for a code table keyed by type and code")
    kind: JoinKind = Field("one", description="one: one row per key brings columns (codes "
                           "to labels); wide: a long table (key;language;field;text) becomes "
                           "columns <field>@<language>; list: several rows per key become "
                           "one ordered list")
    take: dict[str, str] | list[str] = Field(default_factory=dict, description="kind one: "
                                             "table column -> name of the new field, e.g. "
                                             "{DESCRIZIONE: colour_name}; a list keeps the "
                                             "names")
    language: str | None = Field(None, description="kind one or wide: the table's language "
                                 "column; each new field then comes once per language as "
                                 "<name>@<language> (colour_name@it, colour_name@en, …)")
    languages: list[str] | None = Field(None, description="languages taken (default: "
                                        "map.languages); rows in other languages are "
                                        "ignored")
    field: str | None = Field(None, description="kind wide: the table column naming the "
                              "field (e.g. CAMPO holding NOME, DESCR)")
    fields: dict[str, str] | list[str] = Field(default_factory=dict, description="kind "
                                               "wide: field values taken -> column base "
                                               "name, e.g. {NOME: name, DESCR: descr} gives "
                                               "name@it, name@en, descr@it…; a list keeps the "
                                               "values as names")
    value: str | None = Field(None, description="kind wide: the text column; kind list: "
                              "the column whose values make the list")
    order: list[str] = Field(default_factory=list, description="kind list: columns giving "
                             "the items' order (numbers sort as numbers), then file order")
    template: str | None = Field(None, description="kind list: each item made from the "
                                 "row's columns instead of value:, e.g. "
                                 "'https://cdn.example.com/{ARTICOLO}/{FILE}'")
    as_: str | None = Field(None, alias="as", description="kind list: the name of the new "
                            "list field, e.g. photos")
    missing: Literal["reject", "keep", "empty"] = Field(
        "reject", description="a key with no row in the table: reject the row (naming the "
        "line, the join and the key), keep it with nulls in the new fields, or keep it "
        "with empty ones (empty text, empty list). A blank key is never looked up: its "
        "new fields are null")

    @field_validator("on", "take", "fields", mode="after")
    @classmethod
    def _mapping(cls, v: dict[str, str] | list[str]) -> dict[str, str]:
        return {x: x for x in v} if isinstance(v, list) else dict(v)

    @field_validator("languages")
    @classmethod
    def _languages(cls, v: list[str] | None) -> list[str] | None:
        return check_languages(v) if v is not None else v

    @model_validator(mode="after")
    def _kind(self) -> JoinSpec:
        if not self.on:
            raise ValueError("on: give at least one key field")
        need = {"one": ("take",), "wide": ("field", "value", "fields"),
                "list": ("as_",)}[self.kind]
        for k in need:
            if not getattr(self, k):
                raise ValueError(f"kind {self.kind} needs {k.rstrip('_')}:")
        allowed = {"one": {"take", "language", "languages"},
                   "wide": {"language", "languages", "field", "fields", "value"},
                   "list": {"value", "order", "template", "as_"}}[self.kind]
        for k in ("take", "language", "languages", "field", "fields", "value", "order",
                  "template", "as_"):
            if k not in allowed and getattr(self, k) not in (None, {}, []):
                raise ValueError(f"{k.rstrip('_')}: is not used by kind {self.kind}")
        if self.kind == "wide" and self.language is None:
            raise ValueError("kind wide needs language: (the table's language column)")
        if self.kind == "list" and (self.value is None) == (self.template is None):
            raise ValueError("kind list needs value: or template: (one of them)")
        if self.template is not None:
            placeholders(self.template)
        return self

    def columns(self) -> set[str]:
        """The table columns this join reads."""
        cols = set(self.on.values()) | set(self.where) | set(self.take) | set(self.order)  # type: ignore[union-attr]
        cols |= {c for c in (self.language, self.field, self.value) if c}
        if self.template:
            cols |= placeholders(self.template)
        return cols

    def outputs(self, languages: list[str]) -> list[str]:
        """The fields this join adds to the main file's rows."""
        if self.kind == "list":
            return [self.as_ or ""]
        names = list((self.take if self.kind == "one" else self.fields).values())  # type: ignore[union-attr]
        if self.language is None:
            return names
        return [f"{n}@{lang}" for n in names for lang in languages]

    def describe(self, i: int) -> str:
        return f"join[{i}] {self.table}"


def known_columns(read: Any) -> set[str] | None:
    """The columns a reader's options name, where the layout is known (fixed-width and
    EBCDIC fields, a CSV or sheet without a header); None when only the file tells."""
    fmt = getattr(read, "format", None)
    if fmt in ("fixed", "ebcdic"):
        cols = set(getattr(read, "fields", {}))
        for kind in getattr(read, "records", {}).values():
            cols |= set(kind.fields)
        return cols or None
    if fmt == "csv" and not read.header and read.columns:
        return set(read.columns)
    if fmt == "xlsx" and read.columns:
        return set(read.columns)
    return None


Problem = tuple[tuple[Any, ...], str]


def check_related(profile: Any) -> list[Problem]:
    """Cross-checks of tables:, set: and join: against each other and the layouts,
    each located by its YAML path (``check`` shows the line)."""
    tables: dict[str, Any] = getattr(profile, "tables", None) or {}
    joins: list[JoinSpec] = getattr(profile, "join", None) or []
    sets: SetSpec | None = getattr(profile, "set", None)
    found: list[Problem] = []
    groups = sets.groups() if sets is not None else {"stem", "name", "0"}
    members = [n for n, t in tables.items() if t.is_member]
    if sets is not None and not members:
        found.append((("set",), "set: no table is a member: (give a table member: "
                      "'NAME_{date}.txt')"))
    for name, t in tables.items():
        if t.is_member:
            bad = sorted(placeholders(t.member) - groups)
            if bad:
                found.append((("tables", name, "member"), f"unknown placeholder {{{bad[0]}}}; "
                              "known: " + ", ".join(f"{{{g}}}" for g in sorted(groups))))
    if sets is not None:
        for key in ("done_file", "manifest"):
            tmpl = getattr(sets, key)
            bad = sorted(placeholders(tmpl) - groups) if tmpl else []
            if bad:
                found.append((("set", key), f"unknown placeholder {{{bad[0]}}}"))
    main_cols = known_columns(profile.read)
    produced: dict[str, int] = {}
    map_languages = list(profile.map.languages)
    for i, j in enumerate(joins):
        where = ("join", i)
        t = tables.get(j.table)
        if t is None:
            have = ", ".join(sorted(tables)) or "none: declare it under tables:"
            found.append((where + ("table",), f"unknown table {j.table!r} (tables: {have})"))
            continue
        cols = known_columns(t.read)
        if cols is not None:
            for col in sorted(j.columns() - cols):
                found.append((where, f"column {col!r} is not in table {j.table}'s layout "
                              f"(it has: {', '.join(sorted(cols))})"))
        if main_cols is not None:
            known = main_cols | set(produced)
            for f in j.on:
                if f not in known:
                    found.append((where + ("on",), f"key field {f!r} is not in the main "
                                  f"file's layout nor made by an earlier join (it has: "
                                  f"{', '.join(sorted(known))})"))
        langs = j.languages or map_languages
        if j.language is not None and not langs:
            found.append((where + ("language",), "a join by language needs languages: or "
                          "map.languages"))
        for out in j.outputs(langs):
            if main_cols is not None and out in main_cols:
                found.append((where, f"new field {out!r} is already a field of the main "
                              "file"))
            elif out in produced:
                found.append((where, f"new field {out!r} is made by join[{produced[out]}] "
                              "too"))
            produced.setdefault(out, i)
    return found


def member_name(template: str, main: str, match: re.Match[str] | None) -> str:
    stem = main.rsplit(".", 1)[0] if "." in main else main
    args = [main, *(match.groups() if match else ())]
    named = {k: v or "" for k, v in (match.groupdict() if match else {}).items()}
    return template.format(*[a or "" for a in args], stem=stem, name=main, **named)


def template_glob(template: str) -> str:
    """A member name template as a glob: each placeholder matches anything."""
    parts = []
    for lit, field, _, _ in string.Formatter().parse(template):
        parts.append(lit.replace("[", "[[]"))
        if field is not None:
            parts.append("*")
    return "".join(parts)
