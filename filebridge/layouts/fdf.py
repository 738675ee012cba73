"""CPYFRMIMPF Field Definition File (FDF) -> fixed-width layout of a *text* record.

The format (IBM i docs, "Fixed formatted import file"): lines starting with ``*``
are comments; each field line is ``name start end nullpos`` with 1-based, inclusive
byte positions, separated by blanks; ``*END`` ends the definition and must be there
(without it the file may have been cut short). ``nullpos`` 0 means the field has no
null indicator; otherwise that byte holds ``Y`` (null) or ``N``, and it becomes a
boolean field ``NAME_NULL`` so a profile can use it.

An FDF gives positions only: every field is text. Types (a decimal price, a CYYMMDD
date) are set afterwards by profile overrides (``imported.merge``).

``*COL`` in place of a name stands for "the next column of the target table": the
names live in the table, not in the FDF, so such an FDF is refused with the way out.
"""

from __future__ import annotations

from filebridge.layouts.fixed import FixedField
from filebridge.layouts.layout import Layout, LayoutError, make_field


def compile_fdf(text: str) -> Layout:
    fields: dict[str, FixedField] = {}
    lines: dict[str, int] = {}  # upper-case name -> line, to name both on a clash
    ended = False
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        word = line.split()[0].upper()
        if word == "*END":
            ended = True
            break  # what follows *END is not part of the definition
        if word == "*COL":
            raise LayoutError("*COL takes the field names from the target table, which the "
                              "FDF does not contain: write the names instead of *COL, or use "
                              "the table's DSPFFD outfile (as CSV) as the layout", n)
        if line.startswith("*"):
            continue
        parts = line.split()
        if len(parts) != 4:
            raise LayoutError(f"expected 'name start end nullpos', found {len(parts)} "
                              f"item{'s' * (len(parts) != 1)}: {line!r}", n)
        name, *numbers = parts
        if not all(p.isdigit() for p in numbers):
            raise LayoutError(f"{name}: start, end and null position must be whole "
                              f"numbers, found {' '.join(numbers)}", n)
        start, end, nullpos = (int(p) for p in numbers)
        if start < 1 or end < start:
            raise LayoutError(f"{name}: positions {start}-{end} are not a range (1-based, "
                              "start <= end)", n)
        if start <= nullpos <= end:
            raise LayoutError(f"{name}: the null indicator at {nullpos} is inside the "
                              f"field ({start}-{end})", n)
        for key, spec in ((name, {"start": start, "length": end - start + 1}),
                          (f"{name}_NULL", {"start": nullpos, "length": 1,
                                            "type": "boolean"})):
            if key != name and nullpos == 0:
                continue
            if key.upper() in lines:
                raise LayoutError(f"{key} is defined twice (lines {lines[key.upper()]} "
                                  f"and {n})", n)
            fields[key], lines[key.upper()] = make_field(n, **spec), n
    if not ended:
        raise LayoutError("no *END line: an FDF must end with *END (is the file complete?)",
                          len(text.splitlines()) or None)
    if not fields:
        raise LayoutError("the FDF defines no fields")
    return Layout(fields, max(f.end for f in fields.values()), kind="fdf")
