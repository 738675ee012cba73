"""Binary EBCDIC fixed-length records: an IBM i physical file copied byte for byte
(FTP TYPE I, a save of the member). There are no line ends: the file is a run of
``record_length``-byte records, cut by length, never decoded as a whole.

Text fields are decoded with the file's code page (or their own); packed, zoned
and binary numbers go through the numpy codecs to exact integers and decimals;
COMP-1/COMP-2 floats to decimals as ``layouts/floats.py`` states; edited pictures
(12+, 12CR) as printed text; dates may sit in any of them. A malformed number
rejects its row, naming the field and showing its bytes in hex.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field, field_validator, model_validator

from filebridge.errors import Bug, RejectedFile
from filebridge.layouts import floats, numeric
from filebridge.layouts.ebcdic import check_codepage, decode_text, hex_of
from filebridge.layouts.fixed import FixedField, check_layout
from filebridge.layouts.imported import LayoutFileMixin
from filebridge.layouts.types import parse, parse_edited
from filebridge.options import Condition
from filebridge.readers.base import apply_filters
from filebridge.readers.multirecord import MultiRecordOptions, Splitter
from filebridge.records import Batch, FileReport, Reject
from filebridge.registry import REGISTRY


class EbcdicOptions(LayoutFileMixin, MultiRecordOptions):
    """Binary EBCDIC fixed-length records (byte-exact copies of IBM i files)."""

    format: Literal["ebcdic"] = Field(description="binary EBCDIC fixed-length records")
    encoding: str = Field("cp280", description="EBCDIC code page (CCSID): cp280/cp1144 "
                          "Italy, cp037/cp1140 US, cp500/cp1148 international, cp273/cp1141 "
                          "Germany")
    record_length: int | None = Field(None, ge=1, description="bytes per record (the "
                                      "file's LRECL); required unless layout: gives it")
    fields: dict[str, FixedField] = Field(default_factory=dict, description="the layout; "
                                          "start/length in bytes, storage: text, packed, zoned "
                                          "or binary (or records: for multi-record files)")
    filter: list[Condition] = Field(default_factory=list, description="keep only records "
                                    "passing every condition; the others count as skipped")
    batch_records: int = Field(50_000, ge=1, description="records decoded per batch")
    float_format: floats.FloatFormat | None = Field(
        None, description="COMP-1/COMP-2 (storage: float) encoding: ibm (hexadecimal, the "
        "z/OS default) or ieee754 (IBM i); _le: byte-reversed (from a PC); required when "
        "a field is a float")

    @field_validator("encoding")
    @classmethod
    def _codepage(cls, v: str) -> str:
        return check_codepage(v)

    @model_validator(mode="after")
    def _fits(self) -> EbcdicOptions:
        if not self.fields and not self.records:
            raise ValueError("give the layout: fields, or record_type and records")
        if self.record_length is None:
            raise ValueError("record_length is required (the file's LRECL), unless "
                             "layout: names a copybook, FDF or DSPFFD file that gives it")
        check_layout(self.fields, self.record_length)
        for kind in self.records.values():
            check_layout(kind.fields, self.record_length)
        every = [*self.fields.items(), *((n, f) for k in self.records.values()
                                         for n, f in k.fields.items())]
        for name, f in every:
            if f.storage == "overpunch":
                raise ValueError(f"field {name}: overpunch is for text files; in binary "
                                 "records use storage: zoned")
            if f.storage == "float" and self.float_format is None:
                raise ValueError(f"field {name} is a float (COMP-1/COMP-2): say how it is "
                                 "encoded with float_format: ibm (IBM hexadecimal, z/OS) "
                                 "or ieee754 (IBM i)")
        return self


def _digits_text(values: pa.Array, f: FixedField) -> pa.Array:
    """Integers of a numeric field holding a date, as zero-padded digits."""
    from filebridge.layouts.dates import IBM_FORMATS, canonical

    fmt = canonical(f.format)
    width = IBM_FORMATS[fmt][0] if fmt else 8
    return pc.utf8_lpad(pc.cast(values, pa.string()), width, "0")


@REGISTRY.reader("ebcdic")
class EbcdicReader:
    Options = EbcdicOptions

    def __init__(self, options: EbcdicOptions):
        self.o = options

    def read(self, path: Path, report: FileReport) -> Iterator[Batch]:
        o, size = self.o, path.stat().st_size
        if o.record_length is None:  # the options require it
            raise Bug("expected o.record_length is not None")
        if size == 0:
            raise RejectedFile("the file is empty")
        if size % o.record_length:
            raise RejectedFile(f"the file has {size} bytes, not a whole number of "
                               f"{o.record_length}-byte records: a truncated transfer, a "
                               "text-mode (ASCII) transfer, or the wrong record_length")
        step = o.record_length * o.batch_records
        first = 1
        splitter = Splitter(o) if o.records else None
        with open(path, "rb") as fh:
            while block := fh.read(step):
                mat = np.frombuffer(block, dtype=np.uint8).reshape(-1, o.record_length)
                n = mat.shape[0]
                report.tally.read += n
                lines = pa.array(range(first, first + n), pa.int64())
                if splitter is not None and o.record_type is not None:
                    rt = o.record_type
                    codes = decode_text(mat[:, rt.start - 1:rt.end], rt.encoding or o.encoding)
                    batch = splitter.split(
                        codes, lines, lambda mask, fields, mat=mat, lines=lines: self._decode(
                            mat[mask.to_numpy(zero_copy_only=False)], pc.filter(lines, mask),
                            fields, report), report)
                else:
                    batch = self._decode(mat, lines, o.fields, report)
                first += n
                yield apply_filters(batch, o.filter, report)
        if splitter is not None:
            splitter.finish()

    def _decode(self, mat: np.ndarray, lines: pa.Array, fields: dict[str, FixedField],
                report: FileReport) -> Batch:
        columns: dict[str, pa.Array] = {}
        problems: list[tuple[str, np.ndarray, str]] = []
        for name, f in fields.items():
            sub = mat[:, f.start - 1:f.end]
            col, bad, what = self._field(sub, f)
            columns[name] = col
            if bad is not None and bad.any():
                problems.append((name, bad, what))
        batch = Batch(pa.table(columns), lines)
        if not problems:
            return batch
        bad_any = np.logical_or.reduce([b for _, b, _ in problems])
        text = {n: c for n, c in columns.items() if pa.types.is_string(c.type)}
        line_of = lines.to_pylist()
        for i in np.flatnonzero(bad_any):
            name, _, what = next(p for p in problems if p[1][i])
            f = fields[name]
            raw = hex_of(mat[i, f.start - 1:f.end])
            report.reject(Reject(line_of[int(i)], name, f"{what} field {name} holds bytes "
                                 f"{raw}, not a valid value",
                                 {k: v[int(i)].as_py() for k, v in text.items()} |
                                 {name: raw}, raw))
        return batch.filter(pa.array(~bad_any))

    def _field(self, sub: np.ndarray, f: FixedField) -> tuple[pa.Array, np.ndarray | None, str]:
        if f.storage == "text":
            col = decode_text(sub, f.encoding or self.o.encoding)
            if f.trim:
                col = pc.utf8_rtrim(col, characters=" ")
            if f.type == "text":
                return col, None, "text"
            values, bad = parse(col, f.type, scale=f.scale, implied=f.implied,
                                format=f.format, nulls=f.nulls)
            return values, (bad.to_numpy(zero_copy_only=False) if bad is not None
                            else None), f"{f.type} text"
        if f.storage == "edited":
            col = decode_text(sub, f.encoding or self.o.encoding)
            values, bad = parse_edited(col, f.type, scale=f.scale, implied=f.implied)
            return values, (bad.to_numpy(zero_copy_only=False) if bad is not None
                            else None), "edited"
        if f.storage == "float":
            if self.o.float_format is None:  # the options require it
                raise Bug("expected self.o.float_format is not None")
            dec, fbad = floats.decode(sub, self.o.float_format, f.scale)
            return dec, fbad, f"{self.o.float_format} float"
        if f.storage == "packed":
            ints, bad = numeric.packed(sub, lenient=f.lenient_sign, on_empty=f.empty)
        elif f.storage == "zoned":
            point = None
            if f.point:
                point = f.length - f.scale - 1 - (f.sign == "trailing_separate")
            ints, bad = numeric.zoned(sub, sign=f.sign, lenient=f.lenient_sign,
                                      on_empty=f.empty, point_at=point)
        else:
            ints, bad = numeric.binary(sub, signed=f.sign != "none")
        return self._typed(ints, bad, f)

    def _typed(self, ints: pa.Array, bad: np.ndarray,
               f: FixedField) -> tuple[pa.Array, np.ndarray, str]:
        what = f.storage
        if f.scale < 0:  # trailing P scaling positions: 9(3)PPP holds ddd000
            dec = ints if pa.types.is_decimal(ints.type) else pc.cast(ints, pa.decimal128(38, 0))
            ints = pc.cast(dec.view(pa.decimal128(38, f.scale)), pa.decimal128(38, 0))
            if (pc.max(pc.abs(ints)).as_py() or 0) < 2 ** 63:
                ints = pc.cast(ints, pa.int64())
        if f.type == "decimal":
            # The digits are the unscaled value: the layout's scale places the point.
            dec = ints if pa.types.is_decimal(ints.type) else pc.cast(ints, pa.decimal128(38, 0))
            return dec.view(pa.decimal128(38, f.scale)), bad, what
        if f.type == "date":
            dates, dbad = parse(_digits_text(ints, f), "date", format=f.format, nulls=f.nulls)
            if dbad is not None:
                bad = bad | dbad.to_numpy(zero_copy_only=False)
            return dates, bad, f"{what} date"
        return ints, bad, what  # int64, or decimal128 beyond 18 digits: exact either way
