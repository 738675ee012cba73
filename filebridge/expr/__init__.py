"""The mapping's expression language: ``expr:`` of a mapped field, ``match:`` of a
lookup.

A small, safe language with Python's syntax: field names, text/number/date
constants, ``+ - * /`` (exact on decimals), comparisons, ``and or not``,
``a if cond else b``, ``x in [..]``, ``x is None`` and the functions of
:mod:`filebridge.expr.functions` (coalesce, if_, date, round, upper, lower, trim,
concat, text, len, split, join, unit, min, max); ``today`` is the run date (the
day the file was claimed). Python parses the text (:mod:`~.syntax` keeps only
the whitelisted forms), and :mod:`~.evaluate` runs the tree as Arrow compute
calls over whole columns.
"""

from __future__ import annotations

from functools import lru_cache

from filebridge.expr.functions import FUNCTIONS, check_calls
from filebridge.expr.syntax import ExprError, Node, Ref, parse, refs, walk


@lru_cache(maxsize=1024)
def compile_expr(text: str) -> Node:
    """The checked tree of ``text`` (syntax, functions and their constant
    arguments); raises ExprError."""
    node = parse(text)
    check_calls(walk(node))
    return node


__all__ = ["FUNCTIONS", "ExprError", "Node", "Ref", "compile_expr", "refs", "walk"]
