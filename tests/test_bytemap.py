"""layouts/bytemap.py: single-byte pages to UTF-8 by table, as Python's codecs do."""

from __future__ import annotations

import random

import pyarrow as pa
import pytest

from filebridge.layouts.bytemap import byte_map
from filebridge.layouts.bytes import MARK, Utf8Text, decode_values

PAGES = ["cp1252", "latin-1", "iso8859-15", "cp037", "cp500", "cp850", "cp437", "ascii",
         "mac-roman", "koi8-r", "cp1250", "cp1253"]


def _python(data: bytes, encoding: str) -> bytes:
    """What Utf8Text did before the table: Python's codec, invalid bytes marked."""
    return data.decode(encoding, "surrogateescape").encode("utf-8", "filebridge-mark")


@pytest.mark.parametrize("encoding", PAGES)
def test_every_byte_as_pythons_codec(encoding: str) -> None:
    bm = byte_map(encoding, "filebridge-mark")
    assert bm is not None
    for b in range(256):
        out, marked = bm(bytes([b]))
        assert out == _python(bytes([b]), encoding), (encoding, hex(b))
        try:
            bytes([b]).decode(encoding)
        except UnicodeDecodeError:
            assert marked and out == f"{MARK}{b:02X}".encode()
        else:
            assert not marked


@pytest.mark.parametrize("encoding", PAGES)
def test_random_blocks_as_pythons_codec(encoding: str) -> None:
    rng = random.Random(encoding)
    bm = byte_map(encoding, "filebridge-mark")
    assert bm is not None
    for _ in range(20):
        text = rng.choice([b"plain ascii; 12,50\n", b""]) * rng.randint(0, 50)
        noisy = bytes(rng.randrange(256) for _ in range(rng.randint(0, 400)))
        data = bytes(rng.choice([text, noisy, text + noisy + text]))
        out, _ = bm(data)
        assert bytes(out) == _python(data, encoding)


def test_utf8text_marks_unmapped_bytes_of_cp1252() -> None:
    text = Utf8Text("cp1252")
    assert text(b"caff\xe8;1\n") == "caffè;1\n".encode()
    assert not text.marked
    assert text(b"x\x81y\x80\n") == f"x{MARK}81y€\n".encode()
    assert text.marked
    assert text(b"ok\n") == b"ok\n" and text.marked  # once marked, the file stays so


def test_ascii_only_data_comes_back_as_it_is() -> None:
    bm = byte_map("cp1252", "filebridge-mark")
    assert bm is not None
    data = b"CODART;DESCRIZIONE\n001;Jeans\n"
    assert bm(data) == (data, False)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "cp932", "big5",
                                      "shift_jis"])
def test_other_encodings_have_no_table(encoding: str) -> None:
    assert byte_map(encoding) is None
    text = Utf8Text(encoding)
    assert text("abc 日本".encode(encoding)) == "abc 日本".encode()


def test_strict_table_refuses_a_page_with_unmapped_bytes() -> None:
    # Without the marking error handler an unmapped byte has no UTF-8 at all.
    assert byte_map("cp1252") is None
    assert byte_map("latin-1") is not None


@pytest.mark.parametrize("encoding", ["cp1252", "latin-1", "cp850", "iso8859-15"])
def test_decode_values_by_table_as_python(encoding: str) -> None:
    rng = random.Random(encoding)
    for i in range(30):
        values = [None if rng.random() < 0.1 else
                  bytes(rng.choice([rng.randrange(0x20, 0x7F), rng.randrange(256)])
                        for _ in range(rng.randint(0, 12)))
                  for _ in range(rng.randint(1, 40))]
        col = pa.array(values, pa.large_binary())
        if i % 3 == 0:
            col = col.slice(1)
        out, bad = decode_values(col, encoding)
        expected: list[str | None] = []
        for j, v in enumerate(col.to_pylist()):
            try:
                expected.append(None if v is None else v.decode(encoding))
            except UnicodeDecodeError as e:
                expected.append(None)
                assert bad[j] == v[e.start:e.end]
        assert out.type == pa.string()
        assert out.to_pylist() == expected
        assert len(bad) == sum(1 for v, e in zip(col.to_pylist(), expected, strict=True)
                               if v is not None and e is None)
