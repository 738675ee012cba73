"""The base profile's CSV (harness.default_input) with a 500-character column no field
maps, so that a few hundred records are several read batches."""

from contracts.harness import default_input


def make(n: int) -> bytes:
    lines = default_input(n).decode("utf-8").splitlines()
    pad = ";" + "x" * 500
    return ("\n".join(line + (";PAD" if i == 0 else pad) for i, line in enumerate(lines))
            + "\n").encode("utf-8")
