"""Fixed-width field layouts: written once, used to read ERP files and to write
files back to the ERP (feedback) with the same definitions."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from filebridge.options import Encoding, FieldSpec

Storage = Literal["text", "packed", "zoned", "binary", "float", "overpunch", "edited"]
BINARY_STORAGE = ("packed", "zoned", "binary", "float")


class FixedField(FieldSpec):
    """A field at a 1-based position (characters in text files, bytes in binary ones)."""

    start: int = Field(ge=1, description="first position, 1-based")
    length: int = Field(ge=1, description="width in characters (bytes for binary records)")
    trim: bool = Field(True, description="remove trailing blanks from text (leading "
                       "blanks are kept: they may be meaningful)")
    storage: Storage = Field("text", description="how the value is stored: text; packed "
                             "(COMP-3), zoned (DISPLAY S9), binary (COMP, big-endian, 1-16 "
                             "bytes), float (COMP-1 4 bytes, COMP-2 8 bytes: the reader's "
                             "float_format) in binary EBCDIC records; overpunch: text whose "
                             "last character carries the sign (1234N = -12345); edited: a "
                             "COBOL edited picture as printed (12,50- 12+ 12CR ***12 $12.50)")
    scale: int = Field(2, ge=-20, le=38, description="decimal places kept for decimals; "
                       "more digits than this reject the row instead of rounding (float: "
                       "rounded half-even). packed/zoned/binary: the digits are the value "
                       "times 10^scale, up to 38; negative for trailing P scaling positions "
                       "(PIC 9(3)PPP: scale -3)")
    point: bool = Field(False, description="zoned: a printed decimal point (one byte) "
                        "stands before the last scale digits, as in PIC S9(5).99")
    sign: Literal["trailing", "leading", "trailing_separate", "leading_separate",
                  "none"] = Field("trailing", description="zoned: where the sign is "
                                  "(SIGN LEADING/TRAILING [SEPARATE]); none = unsigned")
    lenient_sign: bool = Field(False, description="packed/zoned: accept the rare sign "
                               "nibbles A, E (+) and B (-) besides C, F and D")
    empty: Literal["null", "zero", "reject"] = Field(
        "null", description="packed/zoned field that is all blanks or all zeros bytes")
    encoding: Encoding | None = Field(None, description="text code page of this field, "
                                      "when it differs from the file's")
    overpunch_table: Literal["us", "it", "de"] = Field(
        "us", description="overpunch: the source code page family (us: { }, it "
                          "cp280/1144: à è, de cp273/1141: ä ü)")

    @property
    def end(self) -> int:
        return self.start + self.length - 1

    @model_validator(mode="after")
    def _storage_fits(self) -> FixedField:
        if self.storage == "binary" and self.length > 16:
            raise ValueError("binary fields are 1 to 16 bytes long")
        if self.storage == "float" and self.length not in (4, 8):
            raise ValueError("float fields are 4 (COMP-1) or 8 (COMP-2) bytes long")
        if self.storage == "float" and self.type != "decimal":
            raise ValueError("storage float needs type decimal")
        if self.storage != "text" and self.type == "text":
            raise ValueError(f"storage {self.storage} needs type integer, decimal or date")
        if self.storage not in BINARY_STORAGE and not 0 <= self.scale <= 18:
            raise ValueError("scale is 0 to 18 (beyond, and negative for P scaling "
                             "positions, only with storage packed, zoned or binary)")
        if self.scale < 0 and self.type != "integer":
            raise ValueError("a negative scale (P scaling positions) needs type integer")
        if self.point and (self.storage != "zoned" or self.scale < 1):
            raise ValueError("point: a printed decimal point is for zoned fields with a "
                             "scale of 1 or more")
        return self


def check_layout(fields: dict[str, FixedField], record_length: int | None) -> None:
    """Fields must fit in the record; overlaps are allowed (REDEFINES-style views)."""
    if record_length is None:
        return
    for name, f in fields.items():
        if f.end > record_length:
            raise ValueError(f"field {name} ends at {f.end}, past record_length {record_length}")


class LayoutMixin:
    @model_validator(mode="after")
    def _fits(self):
        check_layout(self.fields, self.record_length)  # type: ignore[attr-defined]
        for kind in getattr(self, "records", {}).values():
            check_layout(kind.fields, self.record_length)  # type: ignore[attr-defined]
        return self


def encode_field(value: object, f: FixedField) -> str:
    """One value in its fixed-width slot: text left-aligned and blank-padded, numbers
    right-aligned and zero-padded (sign in the first position), implied decimals
    without the point. Too-long values are an error, never silently cut."""
    from datetime import date
    from decimal import Decimal

    if value is None:
        text = ""
    elif f.type in ("integer", "decimal"):
        d = Decimal(str(value))
        if f.type == "decimal" and f.implied:
            d = d.scaleb(f.scale)
        if f.type == "integer" or f.implied:
            digits = str(abs(int(d.to_integral_value())))
        else:
            digits = format(abs(d.quantize(Decimal(1).scaleb(-f.scale))), "f")
        sign = "-" if d < 0 else ""
        text = sign + digits.rjust(f.length - len(sign), "0")
    elif f.type == "date" and isinstance(value, date):
        fmt = f.format.upper()
        if fmt in ("CYYMMDD", "CYMD"):
            text = f"{(value.year - 1900) // 100}{value:%y%m%d}"
        else:
            from filebridge.layouts.types import DATE_FORMATS
            text = value.strftime(DATE_FORMATS.get(fmt, f.format))
    else:
        text = str(value)
    if len(text) > f.length:
        raise ValueError(f"value {text!r} does not fit in {f.length} characters")
    return text.ljust(f.length)


def encode_record(values: dict[str, object], fields: dict[str, FixedField],
                  record_length: int | None = None) -> str:
    width = record_length or max(f.end for f in fields.values())
    buf = [" "] * width
    for name, f in fields.items():
        buf[f.start - 1:f.end] = encode_field(values.get(name), f)
    return "".join(buf)
