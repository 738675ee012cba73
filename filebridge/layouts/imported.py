"""Layouts the customer already has, compiled into filebridge fixed-width fields.

IBM i shops describe their files in one of three ways, and each has a compiler:

- a COBOL copybook (``.cpy``, ``.cbl``, ``.cob``): ``copybook.compile_copybook``;
- a CPYFRMIMPF Field Definition File (``.fdf``): ``fdf.compile_fdf``;
- a DSPFFD outfile exported as CSV (``.csv``): ``dspffd.compile_dspffd``.

Each returns a ``Layout``: ordered ``FixedField``s and the record length. A profile
then adjusts what a layout cannot know (a ``PIC 9(7)`` that holds a CYYMMDD date)
with ``merge``. Every problem is a ``LayoutError`` naming the line it comes from.
Readers take a layout file through :class:`LayoutFileMixin` (``layout:``).
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, ValidationInfo, model_validator

from filebridge.layouts.fixed import FixedField, check_layout
from filebridge.layouts.layout import Layout, LayoutError, Names
from filebridge.options import Model, ProfilePath

COPYBOOK_SUFFIXES = (".cpy", ".cbl", ".cob", ".copy")


def read_text(path: Path) -> str:
    """Layout files come from Windows PCs or the IFS: UTF-8 if it decodes, else cp1252
    (only comments and field texts carry accents, so a wrong guess costs nothing)."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def detect(path: Path, text: str) -> str:
    """Which compiler: by extension first, then by content."""
    suffix = path.suffix.lower()
    if suffix in COPYBOOK_SUFFIXES:
        return "copybook"
    if suffix == ".fdf":
        return "fdf"
    head = text[:4000].upper()
    if suffix == ".csv" or "WHFLDI" in head or "WHFLDE" in head:
        return "dspffd"
    if any(ln.split()[:1] == ["*END"] for ln in text.upper().splitlines()):
        return "fdf"
    if re.search(r"\bPIC(TURE)?\s", head):
        return "copybook"
    raise LayoutError("cannot tell what kind of layout this is: name it .cpy/.cbl/.cob "
                      "(COBOL copybook), .fdf (CPYFRMIMPF field definition file) or .csv "
                      "(DSPFFD outfile)", source=path.name)


def load_layout(path: Path | str, *, names: Names = "as_written",
                comp: Literal["binary", "packed"] = "binary") -> Layout:
    """Compile the layout file at ``path``; errors are located as ``FILE:LINE: reason``.

    ``names`` applies to copybooks: ``as_written`` keeps COBOL names such as
    ``PREZZO-VENDITA``; ``underscore`` turns them into ``PREZZO_VENDITA``. ``comp``:
    what a copybook's USAGE COMP is (binary on z/OS, packed in ILE COBOL).
    """
    path = Path(path)
    try:
        text = read_text(path)
    except OSError as e:
        raise LayoutError(f"cannot read the layout file ({e.strerror})",
                          source=str(path)) from None
    try:
        kind = detect(path, text)
        if kind == "copybook":
            from filebridge.layouts.copybook import compile_copybook
            layout = compile_copybook(text, names=names, comp=comp)
        elif kind == "fdf":
            from filebridge.layouts.fdf import compile_fdf
            layout = compile_fdf(text)
        else:
            from filebridge.layouts.dspffd import compile_dspffd
            layout = compile_dspffd(text)
    except LayoutError as e:
        raise e.located(path.name) from None
    layout.name = layout.name or path.stem
    return layout


def merge(layout: Layout, overrides: dict[str, dict[str, Any]] | None) -> dict[str, FixedField]:
    """The layout's fields with a profile's corrections applied.

    ``{DTULTMOD: {type: date, format: CYYMMDD}}`` changes only the keys given; the
    position and storage stay as compiled. An override for a name the layout does not
    have is an error (a typo must not pass), unless it gives ``start`` and ``length``:
    then it adds a field, e.g. a whole COBOL group read as one value.
    """
    fields = dict(layout.fields)
    for name, change in (overrides or {}).items():
        if not isinstance(change, dict):
            raise LayoutError(f"override for {name} must be a mapping such as "
                              "{type: date, format: CYYMMDD}")
        if name in fields:
            spec = {**fields[name].model_dump(exclude_unset=True), **change}
        elif "start" in change and "length" in change:
            spec = dict(change)
        else:
            close = difflib.get_close_matches(name, list(fields), n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else (
                "; give start and length to add a field")
            raise LayoutError(f"override for {name}: the layout has no such field{hint}")
        try:
            fields[name] = FixedField.model_validate(spec)
        except ValidationError as e:
            reason = "; ".join(err["msg"].removeprefix("Value error, ") for err in e.errors())
            raise LayoutError(f"override for {name}: {reason}") from None
    try:
        check_layout(fields, layout.record_length)
    except ValueError as e:
        raise LayoutError(str(e)) from None
    return fields


def expand_layout(data: Any, base: Path | None) -> Any:
    """For reader options (before validation): ``layout: FILE`` compiles the file into
    ``fields`` (the profile's own ``fields`` then override single keys) and supplies
    ``record_length`` unless the profile gives one."""
    if not isinstance(data, dict) or not data.get("layout"):
        return data
    path = Path(str(data["layout"]))
    if base is not None and not path.is_absolute():
        path = Path(base) / path
    layout = load_layout(path, names=data.get("layout_names", "as_written"),
                         comp=data.get("layout_comp", "binary"))
    fields = merge(layout, data.get("fields") or {})
    out = dict(data)
    out["fields"] = {n: f.model_dump(exclude_defaults=True) | {"start": f.start,
                                                               "length": f.length}
                     for n, f in fields.items()}
    out.setdefault("record_length", layout.record_length)
    return out


class LayoutFileMixin(Model):
    """``layout:`` a copybook, FDF or DSPFFD export instead of typing the offsets."""

    layout: ProfilePath | None = Field(None, description="a COBOL copybook (.cpy), IBM FDF "
                                       "(.fdf) or DSPFFD export (.csv) giving the fields; "
                                       "fields: then only overrides single keys, e.g. "
                                       "{DTULTMOD: {type: date, format: CYYMMDD}}")
    layout_comp: Literal["binary", "packed"] = Field(
        "binary", description="what a copybook's USAGE COMP (COMPUTATIONAL) is: binary "
        "(z/OS, most compilers) or packed (ILE COBOL on IBM i, unless compiled with "
        "*COMPASBIN)")
    layout_names: Literal["as_written", "underscore"] = Field(
        "as_written", description="copybook names as written (PREZZO-VENDITA) or with _")

    @model_validator(mode="before")
    @classmethod
    def _from_layout(cls, data: Any, info: ValidationInfo) -> Any:
        base = (info.context or {}).get("base") if info.context else None
        return expand_layout(data, base)
