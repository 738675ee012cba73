"""A report: a title line, then n detail lines; detail 2 (line 3) has a quantity that
is not a number."""


def make(n: int) -> bytes:
    lines = ["GIACENZE DI MAGAZZINO"]
    for i in range(1, n + 1):
        qty = "x1" if i == 2 else str(i % 50)
        price = f"{10 + i % 90},{i % 100:02d}"
        lines.append(f"{f'A{i:07d}':<8} {'Caffe macinato':<20} {price:>9} {qty:>6}")
    return ("\r\n".join(lines) + "\r\n").encode("cp1252")
