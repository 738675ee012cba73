"""A workbook of n rows under a header; row 3 (record 2) has a quantity that is not a
number. Written in openpyxl's write-only mode."""

import io

from openpyxl import Workbook


def make(n: int) -> bytes:
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("Articoli")
    ws.append(["ART", "DESC", "PRICE", "QTY"])
    for i in range(1, n + 1):
        ws.append([f"A{i:07d}", f"Caffè {i}", 10 + (i % 90) + 0.5,
                   "x1" if i == 2 else i % 50])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
