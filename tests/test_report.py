"""The HTML run report: a real run of a file with bad rows (the CLI in a subprocess, a
real SQLite ledger, the loopback WooCommerce server as the shop) and the page it
leaves beside the ack: counts that add up, rejects grouped with their lines, what
changed in the shop by field, ERP text escaped, nothing loaded from the network."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Sequence
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import write_profile
from helpers import read_csv
from shops.woocommerce import WooServer


@pytest.fixture
def shop():
    with WooServer(key="ck_rep", secret="cs_rep") as s:
        yield s


@pytest.fixture
def env(shop, cli_env):
    return cli_env | {"WOO_URL": shop.url, "WOO_KEY": "ck_rep", "WOO_SECRET": "cs_rep"}


def profile(workdir: Path, report: dict | None = None) -> Path:
    return write_profile(workdir, {
        "name": "stock",
        "source": {"kind": "local", "path": "../inbox", "pattern": ["*.csv"],
                   "ready": {"stable_for": "0s"}, "archive": "../archive",
                   "errors": "../errors"},
        "read": {"format": "csv", "delimiter": ";",
                 "fields": {"QTY": {"type": "integer"},
                            "PRICE": {"type": "decimal", "scale": 2}}},
        "map": {"key": "sku", "fields": {
            "sku": {"from": "SKU", "required": True}, "title": {"from": "NAME"},
            "price": {"from": "PRICE"}, "stock": {"from": "QTY"}}},
        "write": [{"format": "woocommerce_api", "url": "${WOO_URL}",
                   "consumer_key": "${WOO_KEY}", "consumer_secret": "${WOO_SECRET}",
                   "limits": {"max_backoff": 0.05}}],
        "feedback": {"ack": {"path": "../feedback/{stem}.ack.csv"},
                     "rejects": {"path": "../feedback/{stem}.rejects.csv"},
                     "report": report if report is not None else {}},
    })


def cli(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "filebridge", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=180, check=False)


class Page(HTMLParser):
    """The report as a browser would see it: tags, attributes, the text of cells."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.counts: dict[str, int] = {}
        self.groups: list[list[str]] = []
        self._cell: str | None = None
        self._row: list[str] | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag == "td" and a.get("data-count"):
            self._cell = a["data-count"]
            self._text = []
        if tag == "tr" and a.get("class") == "group":
            self._row = []
        if tag == "td" and self._row is not None:
            self._text = []

    def handle_data(self, data):
        self._text.append(data)

    def handle_endtag(self, tag):
        if tag == "td" and self._cell is not None:
            self.counts[self._cell] = int("".join(self._text))
            self._cell = None
        elif tag == "td" and self._row is not None:
            self._row.append("".join(self._text).strip())
        elif tag == "tr" and self._row is not None:
            self.groups.append(self._row)
            self._row = None


ROWS = [("SKU00001", "Shirt", "10.90", "5"), ("SKU00002", "Trousers", "20.90", "3"),
        ("SKU00003", "Belt", "5.00", "7"), ("SKU00004", "Hat", "8.00", "1")]


def write(workdir: Path, name: str, rows: Sequence[tuple[str, ...]]) -> None:
    text = "SKU;NAME;PRICE;QTY\n" + "".join(";".join(r) + "\n" for r in rows)
    (workdir / "inbox" / name).write_text(text, encoding="utf-8")


def test_report_counts_rejects_changes_and_escapes_erp_text(workdir, shop, env):
    prof = profile(workdir)
    write(workdir, "S_1.csv", ROWS)
    assert cli("run", str(prof), cwd=workdir, env=env).returncode == 0
    # The second file: one price changed, one row unchanged, and three bad rows.
    write(workdir, "S_2.csv", [
        ("SKU00001", "Shirt", "12.50", "5"),        # line 2: price changed
        ("SKU00002", "Trousers", "20.90", "3"),     # line 3: unchanged
        ("SKU00003", "Belt", "5.00", "x7"),          # line 4: QTY not an integer
        ("SKU00004", "Hat", "8.00", "<script>alert(1)</script>"),  # line 5: same reason
        ("", "<script src=http://evil.example/x.js></script>", "1.00", "2"),  # line 6
    ])
    r = cli("run", str(prof), cwd=workdir, env=env)
    assert r.returncode != 0 or "rejected" in r.stdout, r.stdout + r.stderr
    [ack] = read_csv(workdir / "feedback" / "S_2.ack.csv", ";")
    assert ack["report"] == "S_2.report.html"  # the ack names the report beside it
    path = workdir / "feedback" / ack["report"]
    html = path.read_text(encoding="utf-8")
    page = Page()
    page.feed(html)

    # Counts: the ack's, and they add up.
    assert page.counts == {k: int(ack[k]) for k in ("read", "sent", "unchanged", "rejected",
                                                     "skipped", "queued")}
    c = page.counts
    assert c["read"] == 5 and c["rejected"] == 3 and c["sent"] == 1 and c["unchanged"] == 1
    assert c["read"] == c["sent"] + c["unchanged"] + c["rejected"] + c["skipped"] + c["queued"]

    # Rejects grouped by field and reason, with the lines of each group.
    by_field = {g[1]: g for g in page.groups}
    qty = by_field["QTY"]
    assert qty[0] == "reject" and qty[3] == "2" and qty[4] == "4, 5", qty
    rejects = read_csv(workdir / "feedback" / "S_2.rejects.csv", ";")
    assert sorted(int(r["line"]) for r in rejects if r["field"] == "QTY") == [4, 5]
    assert any(g[4] == "6" for g in page.groups), page.groups  # the row without a SKU

    # ERP text is escaped, and nothing is loaded from anywhere: no script at all, no
    # src/href outside the page, no url(...) in styles; the only http text is SVG's
    # namespace names (identifiers, never fetched)
    assert "<script" not in html.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert not [t for t, _ in page.tags if t in ("script", "link", "iframe", "img", "object")]
    for tag, attrs in page.tags:
        for k, v in attrs.items():
            if k in ("src", "href", "xlink:href", "action"):
                assert not re.match(r"\s*(https?:|//)", v or ""), (tag, k, v)
    assert "url(" not in html
    # (and the shop's address as text: its output is named by it)
    assert set(re.findall(r"https?://[^\s\"'<>/]*", html)) <= {
        "http://www.w3.org", shop.url.rstrip("/")}
    assert "evil.example" not in html  # a personal-looking field (NAME) is never shown

    # Charts are inline SVG; what changed in the shop is listed by field.
    assert html.count("<svg") == 2
    assert re.search(r"<td>price</td><td class=\"n\">1</td><td>SKU00001</td>",
                     re.sub(r">\s+<", "><", html)), "price change of SKU00001 not listed"
    # Written atomically through the outbox: no temporary file left beside it.
    assert sorted(p.name for p in path.parent.iterdir()) == [
        "S_1.ack.csv", "S_1.report.html", "S_2.ack.csv", "S_2.rejects.csv",
        "S_2.report.html"]


def test_a_rejected_file_gets_a_report_and_the_setting_turns_it_off(workdir, shop, env):
    prof = profile(workdir, report={"path": "../reports/{stem}.html", "charts": False})
    (workdir / "inbox" / "E_1.csv").write_text("SKU;NAME;PRICE;QTY\n", encoding="utf-8")
    cli("run", str(prof), cwd=workdir, env=env)
    [ack] = read_csv(workdir / "feedback" / "E_1.ack.csv", ";")
    assert ack["status"] == "rejected" and ack["report"] == "E_1.html"
    html = (workdir / "reports" / "E_1.html").read_text(encoding="utf-8")
    assert "status-rejected" in html and "the file holds no records" in html
    assert "<svg" not in html  # charts: false

    off = write_profile(workdir, {**_load(prof), "name": "nor", "feedback": {
        "ack": {"path": "../feedback2/{stem}.ack.csv"}}}, "nor.yaml")
    write(workdir, "S_9.csv", ROWS[:1])
    assert cli("run", str(off), cwd=workdir, env=env).returncode == 0
    [ack] = read_csv(workdir / "feedback2" / "S_9.ack.csv", ";")
    assert "report" not in ack  # off by default: the ack keeps its columns
    assert [p.name for p in (workdir / "feedback2").iterdir()] == ["S_9.ack.csv"]


def _load(path: Path) -> dict:
    from ruamel.yaml import YAML

    return dict(YAML(typ="safe").load(path.read_text(encoding="utf-8")))


def test_help_does_not_import_the_report_or_alert_libraries():
    code = ("import sys, filebridge.cli, filebridge.pipeline, filebridge.profile, "
            "filebridge.watch; print(sorted(m for m in ('pygal', 'jinja2', 'smtplib', "
            "'lxml.etree') if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       check=True, timeout=60)
    assert r.stdout.strip() == "[]", r.stdout


def test_a_stock_files_report_shows_its_oversold_skus_and_the_stock_sent(workdir, cli_env):
    from test_stock import profile as stock_profile
    from test_stock import t

    with WooServer(key="ck_st", secret="cs_st") as woo:
        env = cli_env | {"WOO_URL": woo.url, "WOO_KEY": "ck_st", "WOO_SECRET": "cs_st"}
        for sku, qty in (("X-1", 1), ("X-2", 4)):
            woo.shop.create({"sku": sku, "name": sku, "manage_stock": True,
                             "stock_quantity": qty})
        woo.add_order([("X-1", 3)], created=t("02:05"), modified=t("02:05"))
        erp = stock_profile(workdir, "erp", "figures", {"QTY": {"type": "integer"}}, {
            "as_of": {"name": r"STOCK_(\d{8}_\d{4})", "timezone": "UTC"}})
        data = _load(erp)
        data["feedback"]["report"] = {}
        write_profile(workdir, data, "erp.yaml")
        (workdir / "inbox" / "erp" / "STOCK_20261127_0200.csv").write_text(
            "SKU;QTY\nX-1;1\nX-2;4\n")
        r = cli("run", str(erp), cwd=workdir, env=env)
        assert r.returncode == 0, r.stdout + r.stderr
    acks = workdir / "feedback" / "erp"
    [ack] = read_csv(acks / "STOCK_20261127_0200.ack.csv", ";")
    html = (acks / ack["report"]).read_text(encoding="utf-8")
    flat = re.sub(r">\s+<", "><", html)
    assert '<tr><th>oversold</th><td class="n">2</td></tr>' in flat
    assert '<tr><th>oversold_skus</th><td class="n">1</td></tr>' in flat
    assert '<table id="oversold"><tr><th>SKU</th><th class="n">units sold beyond the stock' \
           '</th></tr><tr><td>X-1</td><td class="n">2</td></tr></table>' in flat
    # Both SKUs went to the shop; filebridge had sent neither before (nothing to compare).
    assert "<p>upsert 2; keys filebridge had sent nothing for before (no fields to " \
           "compare): 2.</p>" in flat


def test_a_report_delivered_to_an_unknown_destination_is_refused_when_checked(
        workdir, monkeypatch):
    from filebridge.errors import ProfileError
    from filebridge.profile import load_profile

    for var in ("WOO_URL", "WOO_KEY", "WOO_SECRET"):
        monkeypatch.setenv(var, "http://127.0.0.1:9" if var == "WOO_URL" else "k")
    prof = profile(workdir, report={"deliver": ["erp"]})
    with pytest.raises(ProfileError, match=r"feedback.report.deliver: unknown destination "
                                           r"'erp'"):
        load_profile(prof)


def test_examples_never_show_a_personal_looking_or_hidden_field_nor_the_record():
    from filebridge.records import FileReport, Reject
    from filebridge.report import reject_groups
    from filebridge.report.options import ReportOptions

    rep = FileReport("O.csv")
    record = {"ORDER": "W1", "EMAIL": "anna.rossi@example.it", "CODE": "X9", "QTY": "x"}
    rep.reject(Reject(2, "EMAIL", "'anna.rossi@example' is not an e-mail address", record))
    rep.reject(Reject(3, "CODE", "unknown code 'X9'", record))
    rep.reject(Reject(4, "QTY", "'x' is not a valid integer", record))
    rep.reject(Reject(5, "QTY", "'y' is not a valid integer", record | {"QTY": "y"}))
    groups, overflow = reject_groups(rep, ReportOptions(hide_fields=["CODE"]))
    rep.close()
    got = {g.field: (g.reason, g.count, g.lines, g.examples) for g in groups}
    assert overflow == 0
    assert got["EMAIL"] == ("'…' is not an e-mail address", 1, [2],
                            [(2, "(hidden: personal data)")])
    assert got["CODE"] == ("unknown code '…'", 1, [3], [(3, "(hidden: personal data)")])
    assert got["QTY"] == ("'…' is not a valid integer", 2, [4, 5], [(4, "x"), (5, "y")])
    assert "anna" not in repr(groups) and "W1" not in repr(groups)
