"""COBOL copybooks compiled to fixed-width layouts: positions, lengths and types,
cross-checked against cobolio where it is right (it mis-sizes COMP-4, SIGN SEPARATE,
nested OCCURS and what follows a shorter REDEFINES), and every error located on its
line."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import Any

import pytest

from filebridge.layouts.copybook import compile_copybook
from filebridge.layouts.imported import LayoutError

SAMPLES = Path(__file__).resolve().parents[1] / "samples" / "layouts"


def fixed(*code: str) -> str:
    """Fixed-format source: sequence numbers in 1-6, code from column 8, comments
    (lines starting with * or /) with their indicator in column 7."""
    return "".join(f"{i * 100:06d}" + (c if c[:1] in "*/" else " " + c) + "\n"
                   for i, c in enumerate(code, 1))


def table(text: str, **kw: Any) -> dict[str, tuple[int, int]]:
    return {n: (f.start, f.length) for n, f in compile_copybook(text, **kw).fields.items()}


def agrees_with_cobolio(text: str) -> None:
    """Same record length and (start, length) per field as cobolio (names with _,
    FILLERs dropped). cobolio is a test-time second opinion only: where it is not
    installed, the hand-computed expectations of each test still run."""
    try:
        import cobolio
    except ImportError:
        return
    with contextlib.redirect_stdout(io.StringIO()):  # it prints debug lines
        length, found = cobolio.copybook_to_layout(text)
    expected = {n: (off + 1, size) for n, off, size, *_ in found
                if not n.startswith("FILLER_X_")}
    layout = compile_copybook(text, names="underscore")
    assert layout.record_length == length
    assert {n: (f.start, f.length) for n, f in layout.fields.items()} == expected


def test_sample_articoli():
    layout = compile_copybook((SAMPLES / "ARTICOLI.cpy").read_text())
    assert layout.record_length == 94 and layout.name == "ARTICOLI-REC"
    got = {n: (f.start, f.length, f.type, f.storage, f.sign) for n, f in layout.fields.items()}
    assert got == {
        "CODART": (1, 10, "text", "text", "trailing"),
        "COLORE": (11, 3, "text", "text", "trailing"),
        "TAGLIA": (14, 4, "text", "text", "trailing"),
        "EAN": (18, 13, "text", "text", "trailing"),
        "DESCRIZIONE": (31, 40, "text", "text", "trailing"),
        "PREZZO": (71, 5, "decimal", "packed", "trailing"),
        "GIACENZA": (76, 7, "integer", "zoned", "trailing"),
        "DTULTMOD": (83, 7, "integer", "zoned", "none"),
        "SECOLO": (83, 1, "integer", "zoned", "none"),   # REDEFINES DTULTMOD
        "AAMMGG": (84, 6, "integer", "zoned", "none"),
    }  # FILLER X(5) at 90-94: counted, not a field
    prezzo = layout.fields["PREZZO"]
    assert (prezzo.scale, prezzo.implied) == (2, True)
    assert layout.fields["GIACENZA"].scale == 0
    agrees_with_cobolio((SAMPLES / "ARTICOLI.cpy").read_text())


AS400_MD = fixed(  # the test record of as400.md §4: 61 bytes
    "01  REC.",
    "    05 A PIC X(10).",
    "    05 B PIC X(20).",
    "    05 P PIC S9(7)V99 COMP-3.",
    "    05 Q PIC S9(5).",
    "    05 D PIC 9(7).",
    "    05 DR REDEFINES D.",
    "       10 C PIC 9.",
    "       10 YMD PIC 9(6).",
    "    05 R OCCURS 3 TIMES.",
    "       10 K PIC X(2).",
    "       10 V PIC S9(3) COMP-3.",
    "    05 N PIC S9(4) COMP.")


def test_as400_md_record_agrees_with_cobolio():
    layout = compile_copybook(AS400_MD)
    assert layout.record_length == 61
    assert table(AS400_MD)["K_3"] == (56, 2) and table(AS400_MD)["N"] == (60, 2)
    agrees_with_cobolio(AS400_MD)


def test_nested_occurs_flattened_outer_index_first():
    text = fixed(
        "01  ORDINE.",
        "    05 NUMERO PIC 9(6).",
        "    05 RIGA OCCURS 3 TIMES INDEXED BY IX.",
        "       10 ARTICOLO PIC X(10).",
        "       10 TAGLIE OCCURS 2.",
        "          15 TAGLIA PIC X(3).",
        "          15 QTA PIC S9(3) COMP-3.",
        "       10 IMPORTO PIC S9(5)V99 COMP-3.",
        "    05 TOTALE PIC S9(9)V99 COMP-3.")
    layout = compile_copybook(text)
    row = 10 + 2 * (3 + 2) + 4  # one RIGA: 24 bytes
    assert layout.record_length == 6 + 3 * row + 6 == 84
    got = table(text)
    for i in range(3):
        base = 7 + i * row
        assert got[f"ARTICOLO_{i + 1}"] == (base, 10)
        for j in range(2):
            assert got[f"TAGLIA_{i + 1}_{j + 1}"] == (base + 10 + j * 5, 3)
            assert got[f"QTA_{i + 1}_{j + 1}"] == (base + 13 + j * 5, 2)
        assert got[f"IMPORTO_{i + 1}"] == (base + 20, 4)
    assert got["TOTALE"] == (79, 6)
    assert list(got)[:4] == ["NUMERO", "ARTICOLO_1", "TAGLIA_1_1", "QTA_1_1"]


def test_redefines_offsets_and_record_length():
    text = fixed(
        "01  REC.",
        "    05 TIPO PIC X.",
        "    05 CORPO PIC X(20).",
        "    05 TESTATA REDEFINES CORPO.",
        "       10 DATA-DOC PIC 9(8).",
        "       10 NUMERO PIC 9(6).",
        "    05 RIGA REDEFINES CORPO.",
        "       10 ARTICOLO PIC X(10).",
        "       10 QTA PIC S9(5) COMP-3.",
        "    05 FINE PIC X(2).")
    layout = compile_copybook(text)
    assert layout.record_length == 23  # the redefined CORPO governs
    assert table(text) == {"TIPO": (1, 1), "CORPO": (2, 20), "DATA-DOC": (2, 8),
                           "NUMERO": (10, 6), "ARTICOLO": (2, 10), "QTA": (12, 3),
                           "FINE": (22, 2)}
    # (cobolio places FINE after RIGA, shorter than CORPO: it gets 21 bytes, wrongly.)


def test_several_01_records_overlay_and_may_be_longer():
    text = fixed("01  TESTATA.", "    05 TIPO PIC X.", "    05 DATA-DOC PIC 9(8).",
                 "01  RIGA REDEFINES TESTATA.", "    05 TIPO-R PIC X.",
                 "    05 ARTICOLO PIC X(20).",
                 "01  CODA.", "    05 TIPO-C PIC X.", "    05 TOT PIC 9(5).")
    assert table(text) == {"TIPO": (1, 1), "DATA-DOC": (2, 8), "TIPO-R": (1, 1),
                           "ARTICOLO": (2, 20), "TIPO-C": (1, 1), "TOT": (2, 5)}
    assert compile_copybook(text).record_length == 21


def test_sign_clauses_and_separate_byte():
    text = fixed(
        "05 A PIC S9(5).",
        "05 B PIC S9(5) SIGN LEADING.",
        "05 C PIC S9(5) SIGN IS LEADING SEPARATE CHARACTER.",
        "05 D PIC S9(3)V99 SIGN TRAILING SEPARATE.",
        "05 E PIC S9(5) TRAILING.",
        "05 G SIGN LEADING SEPARATE.",
        "   10 H PIC S9(2).",
        "   10 I PIC 9(2).",
        "   10 J PIC S9(3) COMP-3.")
    f = compile_copybook(text).fields
    got = {n: (x.start, x.length, x.sign) for n, x in f.items()}
    assert got == {"A": (1, 5, "trailing"), "B": (6, 5, "leading"),
                   "C": (11, 6, "leading_separate"), "D": (17, 6, "trailing_separate"),
                   "E": (23, 5, "trailing"),
                   "H": (28, 3, "leading_separate"),  # the group's SIGN applies
                   "I": (31, 2, "none"), "J": (33, 2, "trailing")}
    assert (f["D"].type, f["D"].scale, f["D"].implied) == ("decimal", 2, True)
    assert compile_copybook(text).record_length == 34


def test_binary_and_packed_sizes():
    text = fixed(
        "05 A PIC 9(4) COMP.",
        "05 B PIC 9(5) COMP-4.",
        "05 C PIC S9(9) BINARY.",
        "05 D PIC S9(10) COMP-5.",
        "05 E PIC S9(18) COMPUTATIONAL.",
        "05 F PIC S9(7)V99 PACKED-DECIMAL.",
        "05 G PIC 9(4) COMP-3.",
        "05 H PIC S9 USAGE IS COMPUTATIONAL-3.")
    f = compile_copybook(text).fields
    assert {n: x.length for n, x in f.items()} == {"A": 2, "B": 4, "C": 4, "D": 8, "E": 8,
                                                   "F": 5, "G": 3, "H": 1}
    assert {x.storage for n, x in f.items() if n < "F"} == {"binary"}
    assert {x.storage for n, x in f.items() if n >= "F"} == {"packed"}
    assert f["A"].sign == f["B"].sign == f["G"].sign == "none"  # unsigned
    assert f["C"].sign == "trailing"
    # cobolio agrees on COMP/BINARY/COMP-3 (it gives COMP-4 5 bytes, and no COMP-5).
    agrees_with_cobolio(fixed("05 A PIC 9(4) COMP.", "05 C PIC S9(9) BINARY.",
                              "05 E PIC S9(18) COMP.", "05 F PIC S9(7)V99 COMP-3."))


def test_pictures_repeated_symbols_and_explicit_point():
    text = fixed(
        "05 A PIC XXX.",
        "05 B PIC 999V99.",
        "05 C PIC 9(5).99.",
        "05 D PIC A(4).",
        "05 E PIC -9(3).99.",
        "05 F PICTURE IS ZZZ9.",
        "05 G PIC 9(5)V.")
    f = compile_copybook(text).fields
    got = {n: (x.start, x.length, x.type, x.storage, x.scale, x.implied)
           for n, x in f.items() if n != "A" and n != "D"}
    assert got == {"B": (4, 5, "decimal", "zoned", 2, True),
                   "C": (9, 8, "decimal", "edited", 2, False),  # the point is a byte
                   "E": (21, 7, "decimal", "edited", 2, False),
                   "F": (28, 4, "integer", "edited", 0, False),
                   "G": (32, 5, "integer", "zoned", 0, False)}
    assert (f["A"].length, f["A"].type, f["D"].length) == (3, "text", 4)
    agrees_with_cobolio(fixed("05 A PIC XXX.", "05 B PIC 999V99.", "05 D PIC X(4)."))


def test_copybook_starting_at_level_05_free_format():
    text = ("05 CODICE PIC X(6).\n"
            "05 PREZZO-VENDITA PIC S9(5)V99 COMP-3. *> prezzo al pubblico\n"
            "05 DATI.\n"
            "   10 TAGLIA PIC X(3).\n"
            "* a comment line\n"
            "   10 FILLER PIC X(2).\n"
            "   10 PIC X(2).\n"  # an unnamed item, like FILLER
            "05 QTA PIC 9(3).\n")
    layout = compile_copybook(text)
    assert table(text) == {"CODICE": (1, 6), "PREZZO-VENDITA": (7, 4), "TAGLIA": (11, 3),
                           "QTA": (18, 3)}
    assert layout.record_length == 20 and layout.name == "CODICE"
    assert "PREZZO_VENDITA" in table(text, names="underscore")


def test_sequence_comment_and_identification_areas():
    lines = fixed(
        "*  ANAGRAFICA  05 NOTAFIELD PIC X(99).",
        "/  page eject: also a comment",
        "01  REC.",
        "    05 A PIC X(4).",
        "    05 B PIC 9(3).").splitlines()
    # Columns 73-80 (identification area) are ignored.
    text = "\n".join(ln.ljust(72) + "MOD2026 " if i > 2 else ln
                     for i, ln in enumerate(lines, 1)) + "\n"
    assert table(text) == {"A": (1, 4), "B": (5, 3)}
    agrees_with_cobolio(text)


def test_indented_free_format_with_long_lines():
    # No sequence numbers and a word across column 72: not a fixed-format card.
    text = "       01  REC.\n" + "           05  " + "D" * 50 + "  PIC X(3).\n"
    assert table(text) == {"D" * 50: (1, 3)}


def test_multi_line_entries_values_and_88_levels():
    text = fixed(
        "01  REC.",
        "    05 STATO",
        "          PIC X",
        "          VALUE 'A. B'.",
        "       88 ATTIVO VALUE 'A'.",
        "       88 SOSPESO VALUES ARE 'S' 'X'",
        "                     'Y' THRU 'Z'.",
        "    05 PREZZO PIC S9(5)V99",
        "          USAGE",
        "          COMP-3 VALUE ZEROS.",
        "    05 NOTE PIC X(10) VALUE SPACES.",
        "    05 CONTA PIC 9(3) VALUE 0.")
    assert table(text) == {"STATO": (1, 1), "PREZZO": (2, 4), "NOTE": (6, 10),
                           "CONTA": (16, 3)}  # (cobolio crashes on this one)


def test_same_names_in_different_groups_are_qualified():
    text = fixed(
        "01  REC.",
        "    05 DATA-INS.",
        "       10 AA PIC 99.",
        "       10 MM PIC 99.",
        "    05 DATA-MOD.",
        "       10 AA PIC 99.",
        "       10 MM PIC 99.",
        "    05 AA PIC 99.")
    # As in COBOL, where the last one is AA OF REC.
    assert list(table(text)) == ["DATA-INS-AA", "DATA-INS-MM", "DATA-MOD-AA",
                                 "DATA-MOD-MM", "REC-AA"]
    assert "DATA_MOD_MM" in table(text, names="underscore")


def test_group_usage_applies_to_its_items():
    text = fixed("05 IMPORTI COMP-3.", "   10 NETTO PIC S9(7)V99.", "   10 IVA PIC S9(5)V99.")
    assert table(text) == {"NETTO": (1, 5), "IVA": (6, 4)}


@pytest.mark.parametrize("code, line, words", [
    (["01 R.", "   05 A PIC X(3).", "   05 B PIC S9(3) COMP-1."], 3, "has no PICTURE"),
    (["01 R.", "   05 A PIC X(3).", "   05 B POINTER."], 3, "USAGE POINTER"),
    (["01 R.", "   05 N PIC 9.", "   05 B PIC X OCCURS 1 TO 5", "        DEPENDING ON N."],
     3, "DEPENDING ON"),
    (["01 R.", "   05 A PIC X.", "66 B RENAMES A."], 3, "RENAMES"),
    (["01 R.", "   05 A PIC X(3)", "   05 B PIC X."], 3, "period missing"),
    (["01 R.", "   05 A PIC X(3).", "      10 B PIC X."], 3, "has a PICTURE"),
    (["01 R.", "   05 A.", "   05 B PIC X."], 2, "no PICTURE"),
    (["01 R.", "   05 A PIC X(3) FROBNICATE."], 2, "FROBNICATE"),
    (["01 R.", "   05 A PIC X(3)"], 2, "does not end with a period"),
    (["01 R.", "   05 A PIC X.", "   05 B REDEFINES C PIC X."], 3, "REDEFINES C"),
    (["01 R.", "   05 A PIC X.", "   05 B REDEFINES A PIC X(2).", "   05 C PIC X."], 3,
     "takes 2 bytes"),
    (["01 R.", "   05 A PIC X(3) SIGN LEADING."], 2, "SIGN applies to numeric"),
    (["01 R.", "", "   05 A PIC X(3) COMP-3."], 3, "cannot be COMP-3"),
    (["01 R.", "   05 A PIC N(3)."], 2, "national"),
    (["01 R.", "   05 A PIC 9(39) COMP."], 2, "at most 38"),
    (["01 R.", "   05 A PIC 9(3)P9."], 2, "left or right end"),
    (["01 R.", "   05 A PIC S9(3).99 COMP-3."], 2, "only in DISPLAY"),
    (["01 R.", "   05 A PIC S9(3) COMP-3 SIGN LEADING SEPARATE."], 2, "SIGN applies to DISPLAY"),
    (["01 R.", "   COPY ALTRO."], 2, "COPY"),
    (["01 R.", "   05 A PIC X SYNC."], 2, "SYNCHRONIZED"),
    (["01 R.", "   55 A PIC X."], 2, "level number"),
    (["01 R.", "   05 A PIC X.", "   05 A PIC X."], 3, "twice"),
])
def test_errors_name_their_line(code, line, words):
    with pytest.raises(LayoutError) as e:
        compile_copybook(fixed(*code))
    assert e.value.line == line, str(e.value)
    assert words in e.value.reason
    assert str(e.value).startswith(f"{line}:{e.value.column}: ")
    # in the code area of a fixed-format line
    assert e.value.column is not None and 8 <= e.value.column <= 72


def test_bad_column_7_in_fixed_format():
    text = fixed("01 R.", "   05 A PIC X.") + "000300X   05 B PIC X.\n"
    with pytest.raises(LayoutError, match="column 7") as e:
        compile_copybook(text)
    assert e.value.line == 3


def test_empty_copybook():
    with pytest.raises(LayoutError, match="no data description"):
        compile_copybook(fixed("*  nothing but a comment"))


def test_float_usages_have_no_picture_and_fixed_sizes():
    text = fixed("05 F1 COMP-1.", "05 F2 USAGE IS COMPUTATIONAL-2.", "05 G COMP-2.",
                 "   10 H.", "   10 I.")
    f = compile_copybook(text).fields
    assert {n: (x.start, x.length, x.storage, x.type, x.scale) for n, x in f.items()} == {
        "F1": (1, 4, "float", "decimal", 9), "F2": (5, 8, "float", "decimal", 9),
        "H": (13, 8, "float", "decimal", 9), "I": (21, 8, "float", "decimal", 9)}


def test_comp_0_is_binary_and_comp_follows_the_dialect():
    text = fixed("05 A PIC 9(3) COMP-0.", "05 B PIC S9(7)V99 COMP.", "05 C PIC S9(4) COMP-4.")
    z = compile_copybook(text).fields
    assert [(x.storage, x.length) for x in z.values()] == [("binary", 2), ("binary", 4),
                                                          ("binary", 2)]
    ile = compile_copybook(text, comp="packed").fields  # ILE COBOL: COMP is packed
    assert [(x.storage, x.length) for x in ile.values()] == [("binary", 2), ("packed", 5),
                                                            ("binary", 2)]


def test_p_scaling_positions():
    text = fixed("05 A PIC PPP9(5) COMP-3.", "05 B PIC SVPP99 COMP-3.", "05 C PIC 9(5)PPP.",
                 "05 D PIC S9(3)PPPV COMP.")
    f = compile_copybook(text).fields
    assert {n: (x.length, x.type, x.scale, x.implied) for n, x in f.items()} == {
        "A": (3, "decimal", 8, True),   # .000ddddd
        "B": (2, "decimal", 4, True),   # .00dd
        "C": (5, "integer", -3, False),  # ddddd000
        "D": (2, "integer", -3, False)}


@pytest.mark.parametrize("digits, size", [(18, 8), (19, 9), (20, 9), (21, 9), (22, 10),
                                          (30, 13), (37, 16), (38, 16)])
def test_binary_beyond_18_digits_sized_as_cobrix(digits, size):
    import math

    f = compile_copybook(fixed(f"05 A PIC S9({digits}) COMP.")).fields["A"]
    assert (f.storage, f.length) == ("binary", size)
    if digits > 18:  # cobrix's BinaryUtils.getBytesCount, in floating point
        assert size == math.ceil((math.log(10) / math.log(2) * digits + 1) / 8)


def test_explicit_point_and_sign_clauses_on_display_items():
    text = fixed("05 A PIC S9(5).99.", "05 B PIC S9(3).99 SIGN LEADING SEPARATE.",
                 "05 C PIC 99V99 SIGN IS LEADING SEPARATE CHARACTER.",
                 "05 D PIC 9(3) SIGN TRAILING.", "05 E PIC SV9(7) SIGN LEADING.")
    f = compile_copybook(text).fields
    got = {n: (x.start, x.length, x.storage, x.sign, x.scale, x.implied, x.point)
           for n, x in f.items()}
    assert got == {"A": (1, 8, "zoned", "trailing", 2, False, True),
                   "B": (9, 7, "zoned", "leading_separate", 2, False, True),
                   "C": (16, 5, "zoned", "leading_separate", 2, True, False),  # as cobrix
                   "D": (21, 3, "zoned", "trailing", 0, False, False),
                   "E": (24, 7, "zoned", "leading", 7, True, False)}


def test_edited_pictures_are_read_as_printed():
    text = fixed("05 A PIC 9(8)+.", "05 B PIC Z(6)VZZ-.", "05 C PIC 9(6).99CR.",
                 "05 D PIC +9(8).")
    f = compile_copybook(text).fields
    assert {n: (x.length, x.storage, x.type, x.scale, x.implied) for n, x in f.items()} == {
        "A": (9, "edited", "integer", 0, False), "B": (9, "edited", "decimal", 2, True),
        "C": (11, "edited", "decimal", 2, False), "D": (9, "edited", "integer", 0, False)}


def test_every_problem_is_reported_at_once_with_line_and_column():
    text = fixed(
        "01  R.",
        "    05 A PIC X(3) SYNC.",
        "    05 B PIC N(4).",
        "    05 C PIC X OCCURS 1 TO 5 DEPENDING ON A.",
        "    05 D PIC 9(3)P9.",
        "    05 E USAGE POINTER.",
        "    05 F.",
        "       COPY ALTRO.",
        "    05 G PIC X(2) REDEFINES NOPE.",
        "    05 H PIC S9(3) COMP-2.",
        "66  K RENAMES A.",
        "    55 L PIC X.",
        "    05 M PIC X(3)")
    with pytest.raises(LayoutError) as e:
        compile_copybook(text)
    got = [(p.line, p.column, p.reason.split(":")[0]) for p in e.value.problems]
    # Columns point at the word at fault: SYNC, the picture, OCCURS, USAGE, COPY …
    assert got == [(2, 26, "A"), (3, 21, "B"), (4, 23, "C"), (5, 21, "D"), (6, 17, "E"),
                   (8, 15, "COPY is not expanded"),
                   (9, 12, "G REDEFINES NOPE, which is not an earlier item at the same level"),
                   (10, 21, "H"), (11, 8, "level 66 RENAMES is not supported"),
                   (12, 12, "55 is not a level number (01-49, 77, 88)"),
                   (13, 21, "the entry '05 M' does not end with a period")]
    message = str(e.value)
    assert message.startswith("11 problems:\n  2:26: A: SYNCHRONIZED")
    assert "\n  3:21: B: PIC N(4): national" in message
    assert "\n  13:21: the entry '05 M' does not end with a period" in message
    # (F, whose only content is the COPY, is not also reported as empty.)
    assert "F has no PICTURE" not in message


def test_layout_comp_reaches_the_reader_options(tmp_path):
    from filebridge.readers.ebcdic import EbcdicOptions

    (tmp_path / "R.cpy").write_text(fixed("01 R.", "   05 A PIC X(2).",
                                          "   05 P PIC S9(5)V99 COMP."))
    for comp, length, storage in (("binary", 6, "binary"), ("packed", 6, "packed")):
        o = EbcdicOptions.model_validate({"format": "ebcdic", "layout": "R.cpy",
                                          "layout_comp": comp},
                                         context={"base": tmp_path})
        assert (o.record_length, o.fields["P"].storage) == (length, storage)
