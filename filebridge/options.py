"""Building blocks shared by every options model: strict base, durations, paths,
secret references, typed field specs and row filters.

The options models are the specification: every field carries a type, a default
and a one-line description, and docs/profiles.md plus the JSON Schema are
generated from them.
"""

from __future__ import annotations

import codecs
import os
import re
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from filebridge.layouts.types import (
    DATE_FORMATS,
    NUMERIC_DATE_FORMATS,
    FieldType,
    date_format_names,
)


class LocatedErrors(ValueError):
    """Problems a validator found below its own place in the profile: each with the
    path under the model that raised it (``("fields", "sku", "expr")``), so the
    profile loader reports every one at its own YAML line."""

    def __init__(self, items: list[tuple[tuple[Any, ...], str]]):
        self.items = items
        super().__init__("; ".join(".".join(map(str, loc)) + f": {msg}" if loc else msg
                                   for loc, msg in items))


def check_regex(pattern: str) -> str:
    """A regular expression as pyarrow runs it: RE2, which has no lookaround and no
    backreferences (it never backtracks, so no pattern can hang a run)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        pc.match_substring_regex(pa.array([""]), pattern)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
        why = str(e).split(":", 1)[-1].strip()
        hint = ""
        if "(?<" in pattern or "(?=" in pattern or "(?!" in pattern:
            hint = "; lookahead and lookbehind are not supported (RE2)"
        elif re.search(r"\\[1-9]", pattern):
            hint = "; backreferences are not supported (RE2)"
        raise ValueError(f"invalid regular expression {pattern!r} ({why}){hint}") from None
    return pattern


class Model(BaseModel):
    """Strict: unknown keys are errors, so a typo never passes silently."""

    # hide_input_in_errors: a mistyped secret must not come back in an error message.
    model_config = ConfigDict(extra="forbid", populate_by_name=True, hide_input_in_errors=True)


_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: Any) -> Any:
    if isinstance(value, str):
        m = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*(ms|s|m|h|d)?\s*", value)
        if not m:
            raise ValueError(f"not a duration: {value!r} (write e.g. 10s, 500ms, 5m, 1h)")
        return float(m.group(1)) * _UNITS[m.group(2) or "s"]
    return value


Duration = Annotated[float, BeforeValidator(parse_duration), Field(ge=0)]


def expand_env(text: str) -> str:
    """``${VAR}`` in a path becomes the variable's value (an unset one is an error)."""
    def sub(m: re.Match[str]) -> str:
        if m.group(1) not in os.environ:
            raise ValueError(f"environment variable {m.group(1)} (used in {text!r}) is not set")
        return os.environ[m.group(1)]
    return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", sub, text)


def _resolve(value: Any, info: ValidationInfo) -> Any:
    base = (info.context or {}).get("base") if info.context else None
    p = Path(os.path.expanduser(expand_env(str(value))))
    if base is not None and not p.is_absolute():
        p = Path(base) / p
    return Path(os.path.normpath(p))


# A path in a profile: relative paths resolve against the profile's folder.
ProfilePath = Annotated[Path, BeforeValidator(_resolve)]


def _ledger(value: Any, info: ValidationInfo) -> Any:
    """A ledger: a PostgreSQL URL (kept as text, never with a password in it) or the
    path of a SQLite file."""
    text = str(value)
    if text.startswith(("postgresql://", "postgres://")):
        from urllib.parse import urlsplit

        for url in (text, expand_env(text)):
            try:
                secret = urlsplit(url).password
            except ValueError as e:
                raise ValueError(f"not a PostgreSQL URL ({e})") from None
            if secret is not None:
                # Never echo it: the password is the part to keep out of messages.
                raise ValueError("a password written in the ledger URL is refused: give "
                                 "it as ledger_password: ${ENV_VAR} or file:PATH")
        return expand_env(text)
    return _resolve(value, info)


# The ledger: a SQLite file (a ProfilePath) or postgresql://user@host:port/db.
LedgerRef = Annotated[Path | str, BeforeValidator(_ledger)]


# Placeholders an output path may use: filled in per input file.
PATH_VARS = ("stem", "name", "profile", "date", "time")


def check_output_path(template: str) -> str:
    import string

    try:
        names = {f for _, f, _, _ in string.Formatter().parse(
            re.sub(r"\$\{[^}]*\}", "", template)) if f is not None}
    except ValueError as e:
        raise ValueError(f"bad placeholder in {template!r} ({e})") from None
    unknown = sorted(n for n in names if n not in PATH_VARS)
    if unknown:
        raise ValueError(f"unknown placeholder {{{unknown[0]}}} in {template!r}; known: "
                         + ", ".join(f"{{{v}}}" for v in PATH_VARS))
    return template


# An output path template, relative to the profile's folder; checked at load time.
OutputPath = Annotated[str, BeforeValidator(lambda v: check_output_path(str(v)))]


def check_encoding(name: str) -> str:
    try:
        codecs.lookup(name)
        return name
    except LookupError:
        pass
    # Not in the standard library: maybe one of the EBCDIC code pages the ebcdic package
    # registers (imported only then: ~20 ms).
    if name.lower().startswith("cp") or "ebcdic" in name.lower():
        try:
            import ebcdic  # noqa: F401
        except ImportError:
            pass
    try:
        codecs.lookup(name)
    except LookupError:
        raise ValueError(f"unknown encoding {name!r} (e.g. utf-8, utf-8-sig, cp1252, "
                         "iso-8859-15)") from None
    return name


# Strict, and checked after the type: `encoding: 1252` (a YAML number) is a located
# profile error, not a TypeError from inside check_encoding.
Encoding = Annotated[StrictStr, AfterValidator(check_encoding)]

_SECRET_REF = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")


class Secret:
    """A reference to a secret: ``${ENV_VAR}`` or ``file:/path/to/file``.

    The value is read only when needed and is never part of ``repr``/``str``, so it
    cannot leak into logs or error messages. Literal values are refused.
    """

    def __init__(self, ref: str, base: Path | None = None):
        self.ref = ref
        self._base = base

    def describe(self) -> str:
        return self.ref

    def reveal(self) -> str:
        m = _SECRET_REF.match(self.ref)
        if m:
            value = os.environ.get(m.group(1))
            if value is None:
                raise LookupError(f"environment variable {m.group(1)} is not set")
            return value
        path = Path(self.ref[len("file:"):]).expanduser()
        if self._base is not None and not path.is_absolute():
            path = self._base / path
        try:
            return path.read_text(encoding="utf-8").strip()
        except OSError as e:
            raise LookupError(f"secret file {path} cannot be read ({e.strerror})") from None

    def __repr__(self) -> str:
        return f"Secret({self.ref!r})"

    __str__ = describe

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> Any:
        from pydantic_core import core_schema

        def validate(value: Any, info: ValidationInfo) -> Secret:
            if isinstance(value, Secret):
                return value
            if not isinstance(value, str) or not (
                    _SECRET_REF.match(value) or value.startswith("file:")):
                # Never echo the value: it may be the secret itself.
                raise ValueError("a literal secret is refused: write a reference, "
                                 "${ENV_VAR} or file:PATH")
            base = (info.context or {}).get("base") if info.context else None
            secret = cls(value, Path(base) if base else None)
            try:
                secret.reveal()
            except LookupError as e:
                raise ValueError(f"secret {value}: {e}") from None
            return secret

        return core_schema.with_info_plain_validator_function(
            validate, serialization=core_schema.plain_serializer_function_ser_schema(str),
            json_schema_input_schema=core_schema.str_schema(pattern=r"^(\$\{[A-Za-z_][A-Za-z0-9_]*\}|file:.+)$"))


class FieldSpec(Model):
    """How to turn a field's text into a typed value."""

    type: FieldType = Field("text", description="text, integer, decimal, date or boolean")
    scale: int = Field(2, ge=0, le=18, description="decimal places kept for decimals; more "
                       "digits than this reject the row instead of rounding")
    implied: bool = Field(False, description="decimals are implied (COBOL 9(7)V99: "
                          "000020090 is 200.90)")
    format: str = Field("ISO", description="date format: ISO, EUR (dd.mm.yyyy), DMY "
                        "(dd/mm/yyyy), USA, YYYYMMDD; the IBM i formats *CYMD (= CYYMMDD), "
                        "*CMDY, *CDMY, *YMD, *DMY, *MDY, *YYMD, *MDYY, *DMYY, *JUL, "
                        "*LONGJUL, *CJUL, *ISO, *EUR, *USA, *JIS (two-digit years "
                        "1940-2039); or a strptime pattern such as %d-%m-%Y")
    nulls: list[str] | None = Field(None, description="dates: values meaning no date "
                                    "(default: 0, 0000000, 9999999, 0001-01-01 and the like)")

    @field_validator("format")
    @classmethod
    def _known_format(cls, v: str) -> str:
        if "%" in v or v.upper() in DATE_FORMATS or v.upper() in NUMERIC_DATE_FORMATS:
            return v
        known = ", ".join(date_format_names())
        raise ValueError(f"unknown date format {v!r}; known: {known}, or a strptime "
                         "pattern with %")


def _one_value(v: Any) -> Any:
    if isinstance(v, (list, tuple, set, dict)):
        raise ValueError("one value is expected here (text, a number, a date or "
                         "true/false), not a list or a mapping (a filter takes several "
                         "values with in: [...])")
    if isinstance(v, float):
        return Decimal(str(v))  # exact, as YAML wrote it
    return v


# One value a profile compares with or puts into a field: text, a whole number, an exact
# decimal (YAML 1.5 is Decimal('1.5'), never a float), a date or true/false. Lists and
# mappings are refused when the profile is checked, not when Arrow meets them.
Scalar = Annotated[StrictBool | StrictInt | Decimal | date | StrictStr,
                   BeforeValidator(_one_value)]


def value_problem(value: Any, type_: str) -> str | None:
    """Why ``value`` cannot be compared with, or stand in, a field of ``type_``."""
    if value is None or type_ == "text":
        return None
    ok = {"integer": isinstance(value, int) and not isinstance(value, bool)
          or isinstance(value, Decimal) and value == value.to_integral_value(),
          "decimal": isinstance(value, (int, Decimal)) and not isinstance(value, bool),
          "boolean": isinstance(value, bool),
          "date": isinstance(value, date) or isinstance(value, str)
          and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value) is not None}.get(type_, True)
    return None if ok else f"{value!r} is not a valid {type_} (the field is {type_})"


class Condition(Model):
    """Keep only rows where ``field`` satisfies every test given (a row filter)."""

    field: str = Field(description="field to test")
    equals: Scalar | None = Field(None, description="keep rows whose value equals this (one "
                                  "value: text, number, date or true/false)")
    in_: list[Scalar] | None = Field(None, alias="in", description="keep rows whose value "
                                     "is one of these")
    not_in: list[Scalar] | None = Field(None, description="drop rows whose value is one of "
                                        "these")
    min: Decimal | None = Field(None, description="keep rows with value >= min")
    max: Decimal | None = Field(None, description="keep rows with value <= max")
    matches: str | None = Field(None, description="keep rows whose text matches this "
                                "regular expression")

    @model_validator(mode="after")
    def _has_test(self) -> Condition:
        if all(getattr(self, k) is None for k in ("equals", "in_", "not_in", "min", "max",
                                                   "matches")):
            raise ValueError("a filter needs one of equals, in, not_in, min, max, matches")
        if self.matches is not None:
            try:
                check_regex(self.matches)
            except ValueError as e:
                raise ValueError(f"matches: {e}") from None
        return self

    def problems(self, type_: str) -> list[tuple[str, str]]:
        """(key, why) of the tests that cannot apply to a field of ``type_`` (its type in
        the reader's layout: text unless the profile types it)."""
        out = []
        for key, name in (("equals", "equals"), ("in_", "in"), ("not_in", "not_in")):
            v = getattr(self, key)
            for item in v if isinstance(v, list) else [v]:
                why = value_problem(item, type_)
                if why:
                    out.append((name, f"{self.field}: {why}"))
                    break
        for key in ("min", "max"):
            if getattr(self, key) is not None and type_ not in ("integer", "decimal"):
                out.append((key, f"{self.field}: {key} needs an integer or decimal field, "
                                 f"and {self.field} is {type_} (give it a type in fields:)"))
        return out

    def describe(self) -> str:
        for key, label in (("equals", "="), ("in_", "in"), ("not_in", "not in"),
                           ("min", ">="), ("max", "<="), ("matches", "matches")):
            v = getattr(self, key)
            if v is not None:
                return f"{self.field} {label} {v}"
        return self.field


ChunkSize = Annotated[int, Field(4 << 20, ge=64 << 10, description="bytes read per batch")]

OutputMode = Literal["full", "changes"]

# On an output or a feedback file: names from the profile's ``destinations:``.
Deliver = Annotated[list[str], Field(description="once published here, also deliver the "
                                     "file to these destinations (names under the profile's "
                                     "destinations:), e.g. [shop, erp]; it keeps its file "
                                     "name and its done-file there")]
