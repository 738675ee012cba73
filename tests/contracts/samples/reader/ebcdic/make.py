"""n EBCDIC records (cp037, 40 bytes each); record 2's quantity is not a number."""


def make(n: int) -> bytes:
    out = []
    for i in range(1, n + 1):
        qty = "  x1" if i == 2 else str(i % 50)
        out.append(f"{f'A{i:07d}':<8}{'Cafe macinato':<20}{100 + i % 9000:0>7}{qty:>5}")
    return "".join(out).encode("cp037")
