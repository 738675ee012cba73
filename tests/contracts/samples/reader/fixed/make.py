"""n fixed-width records; line 2's quantity is not a number."""


def make(n: int) -> bytes:
    lines = []
    for i in range(1, n + 1):
        qty = "  x1" if i == 2 else str(i % 50)
        lines.append(f"{f'A{i:07d}':<8}{'Caffè macinato':<20}{100 + i % 9000:0>7}{qty:>5}")
    return ("\r\n".join(lines) + "\r\n").encode("cp1252")
