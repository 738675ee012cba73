"""Named, vectorised transforms for ``apply:`` in a profile's field mapping.

Each takes an Arrow array (and parameters) and returns an array of the same
length; none loops over rows in Python. Write them in a profile as a name
(``trim``) or a one-key mapping with parameters (``{replace: {from: "/", to: "-"}}``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc


def _text(arr: pa.Array) -> pa.Array:
    return arr if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type) \
        else pc.cast(arr, pa.string())


def _collapse(arr: pa.Array) -> pa.Array:
    return pc.replace_substring_regex(pc.utf8_trim_whitespace(_text(arr)), r"\s+", " ")


SIMPLE: dict[str, tuple[Callable[[pa.Array], pa.Array], str]] = {
    "trim": (lambda a: pc.utf8_trim_whitespace(_text(a)), "remove blanks at both ends"),
    "ltrim": (lambda a: pc.utf8_ltrim_whitespace(_text(a)), "remove leading blanks"),
    "rtrim": (lambda a: pc.utf8_rtrim_whitespace(_text(a)), "remove trailing blanks"),
    "upper": (lambda a: pc.utf8_upper(_text(a)), "UPPER CASE"),
    "lower": (lambda a: pc.utf8_lower(_text(a)), "lower case"),
    "title": (lambda a: pc.utf8_title(pc.utf8_lower(_text(a))), "Title Case Of Every Word"),
    "capitalize": (lambda a: pc.utf8_capitalize(_text(a)), "First letter upper, rest lower"),
    "collapse_spaces": (_collapse, "trim and turn runs of blanks into one space"),
    "strip_zeros": (lambda a: pc.utf8_ltrim(_text(a), characters="0"),
                    "remove leading zeros (codes where they carry no meaning)"),
    "slug": (lambda a: pc.utf8_trim(pc.replace_substring_regex(
        pc.utf8_lower(_text(a)), r"[^\p{L}\p{N}]+", "-"), characters="-"),
        "lower-case words joined by '-', for URL handles"),
}


def _replace(arr: pa.Array, args: dict[str, str]) -> pa.Array:
    return pc.replace_substring(_text(arr), args["from"], args.get("to", ""))


def _regex_replace(arr: pa.Array, args: dict[str, str]) -> pa.Array:
    return pc.replace_substring_regex(_text(arr), args["pattern"], args.get("to", ""))


def _prefix(arr: pa.Array, value: str) -> pa.Array:
    return pc.binary_join_element_wise(pa.scalar(value), _text(arr), "")


def _suffix(arr: pa.Array, value: str) -> pa.Array:
    return pc.binary_join_element_wise(_text(arr), pa.scalar(value), "")


def _slice(arr: pa.Array, args: list[int]) -> pa.Array:
    start, stop = (list(args) + [None])[:2]
    return pc.utf8_slice_codeunits(_text(arr), start, stop if stop is not None else 2**31 - 1)


def _pad(arr: pa.Array, args: dict[str, Any]) -> pa.Array:
    fill = str(args.get("with", "0"))
    width = int(args["width"])
    return pc.utf8_lpad(_text(arr), width, fill) if args.get("side", "left") == "left" \
        else pc.utf8_rpad(_text(arr), width, fill)


PARAMETRIC: dict[str, tuple[Callable[[pa.Array, Any], pa.Array], str]] = {
    "replace": (_replace, "{from: TEXT, to: TEXT}: replace every occurrence"),
    "regex_replace": (_regex_replace, "{pattern: REGEX, to: TEXT}: replace matches (\\1 for "
                      "groups)"),
    "prefix": (_prefix, "TEXT: put TEXT before the value"),
    "suffix": (_suffix, "TEXT: put TEXT after the value"),
    "slice": (_slice, "[START, STOP]: characters START..STOP-1 (0-based)"),
    "pad": (_pad, "{width: N, with: '0', side: left|right}: pad to N characters"),
}


def names() -> list[str]:
    return sorted(SIMPLE) + sorted(PARAMETRIC)


def check(step: Any) -> Any:
    """Validate one ``apply`` step at profile load time."""
    if isinstance(step, str):
        if step not in SIMPLE:
            hint = " (it needs parameters)" if step in PARAMETRIC else ""
            raise ValueError(f"unknown transform {step!r}{hint}; known: {', '.join(names())}")
        return step
    if isinstance(step, dict) and len(step) == 1:
        (name, args), = step.items()
        if name not in PARAMETRIC:
            raise ValueError(f"unknown transform {name!r}; known: {', '.join(names())}")
        try:  # a dry run on a tiny array validates the parameters' shape
            PARAMETRIC[name][0](pa.array(["x"]), args)
        except (KeyError, TypeError, ValueError, pa.ArrowException) as e:
            raise ValueError(f"transform {name}: bad parameters {args!r} ({e}); expected "
                             f"{PARAMETRIC[name][1]}") from None
        return step
    raise ValueError("a transform is a name or a one-key mapping {name: parameters}")


def run(arr: pa.Array, step: Any) -> pa.Array:
    if isinstance(step, str):
        return SIMPLE[step][0](arr)
    (name, args), = step.items()
    return PARAMETRIC[name][0](arr, args)
