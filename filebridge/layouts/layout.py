"""A compiled layout (:class:`Layout`) and what goes wrong compiling one
(:class:`LayoutError`): shared by the compilers (copybook, fdf, dspffd) and by
filebridge/layouts/imported.py, which picks the compiler for a file."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import ValidationError

from filebridge.errors import FilebridgeError
from filebridge.layouts.fixed import FixedField

Names = Literal["as_written", "underscore"]


class LayoutError(FilebridgeError, ValueError):
    """A layout file that cannot be compiled. ``line`` and ``column`` are 1-based in
    that file. A compiler that finds several problems raises one LayoutError listing
    them all (``problems``); its own reason, line and column are the first one's."""

    def __init__(self, reason: str, line: int | None = None, source: str | None = None,
                 column: int | None = None):
        self.reason, self.line, self.source, self.column = reason, line, source, column
        self.problems: list[LayoutError] = [self]
        super().__init__(self._where(reason))

    def _where(self, reason: str) -> str:
        where = ":".join(str(p) for p in (self.source, self.line, self.column) if p is not None)
        return f"{where}: {reason}" if where else reason

    @classmethod
    def several(cls, problems: list[LayoutError], source: str | None = None) -> LayoutError:
        """One error for all ``problems``, in line order."""
        problems = sorted(problems, key=lambda p: (p.line or 0, p.column or 0))
        if source is not None:
            problems = [p.located(source) for p in problems]
        if len(problems) == 1:
            return problems[0]
        first = problems[0]
        err = cls(first.reason, first.line, first.source, first.column)
        err.problems = problems
        err.args = (f"{len(problems)} problems:\n" + "\n".join(
            "  " + p._where(p.reason) for p in problems),)
        return err

    def located(self, source: str) -> LayoutError:
        if len(self.problems) > 1:
            return LayoutError.several(self.problems, source)
        return LayoutError(self.reason, self.line, source, self.column)


@dataclass
class Layout:
    """A compiled layout: fields in record order (overlapping views included) and
    the record length in bytes (characters for text files)."""

    fields: dict[str, FixedField]
    record_length: int
    name: str | None = None
    kind: str = ""


def make_field(line: int, **spec: Any) -> FixedField:
    """A FixedField, with pydantic's complaint turned into a located LayoutError."""
    try:
        return FixedField.model_validate(spec)
    except ValidationError as e:
        raise LayoutError("; ".join(err["msg"].removeprefix("Value error, ")
                                    for err in e.errors()), line) from None
