"""n <item> records, one per line after the prolog and the root; record 2 (line 4)
has a quantity that is not a number."""


def make(n: int) -> bytes:
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', "<items>"]
    for i in range(1, n + 1):
        qty = "x1" if i == 2 else str(i % 50)
        lines.append(f'<item code="A{i:07d}"><desc>Caffè {i}</desc>'
                     f"<price>{10 + i % 90}.50</price><qty>{qty}</qty></item>")
    lines.append("</items>")
    return ("\n".join(lines) + "\n").encode("utf-8")
