"""Shipments from the ERP back to the shops (filebridge/shipments/), against the
loopback shops: partial and whole shipments, every row accounted for, unknown
orders, lines and SKUs and quantities beyond what is left rejected with their line
and field, and a shipment never sent twice."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import write_profile
from helpers import KILLED, filebridge, read_csv
from shops.magento import TOKEN as MAGENTO_TOKEN
from shops.magento import MagentoServer
from shops.shopify import FAST_RESTORE, TOKEN, ShopifyServer
from shops.woocommerce import WooServer

from filebridge.errors import ProfileError
from filebridge.job import Job
from filebridge.ledger import shipments as shipment_rows
from filebridge.profile import load_profile
from filebridge.runner import run_files

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "samples" / "spedizioni" / "SPEDIZIONI_20261128.csv"
FAST = {"max_backoff": 0.05, "retries": 2, "timeout": 5}


# -- the sample profile into WooCommerce, as an operator runs it ------------------------


def woo_setup(tmp_path: Path, shop: WooServer) -> tuple[Path, dict[str, str]]:
    """The sample profile and the shop's orders 1001..1003 of the sample (their ids
    are the shop's: the sample's order numbers are replaced with them)."""
    (tmp_path / "profiles" / "shops").mkdir(parents=True)
    shutil.copy(REPO / "profiles" / "shops" / "spedizioni-woocommerce-api.yaml",
                tmp_path / "profiles" / "shops")
    ids = {"1001": shop.add_order([("MGL-ROS-M", 2), ("PNT-NER-44", 1)]),
           "1002": shop.add_order([("BORSA-NER", 1), ("SCIARPA-GRI", 1)]),
           "1003": shop.add_order([("MGL-ROS-M", 3), ("PNT-NER-44", 2)])}
    return tmp_path / "profiles" / "shops" / "spedizioni-woocommerce-api.yaml", \
        {k: str(v) for k, v in ids.items()}


def drop_sample(tmp_path: Path, ids: dict[str, str], name: str = SAMPLE.name) -> Path:
    text = SAMPLE.read_bytes().decode()
    lines = text.split("\r\n")
    out = [lines[0]] + [";".join([ids.get(ln.split(";")[0], ln.split(";")[0]),
                                  *ln.split(";")[1:]]) for ln in lines[1:] if ln]
    inbox = tmp_path / "inbox" / "spedizioni"
    inbox.mkdir(parents=True, exist_ok=True)
    (inbox / name).write_bytes(("\r\n".join(out) + "\r\n").encode())
    return inbox / name


def run(prof: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "filebridge", "run", str(prof)], env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def test_sample_shipments_reach_woocommerce_once(tmp_path, cli_env):
    with WooServer(key="ck_s", secret="cs_s") as shop:
        prof, ids = woo_setup(tmp_path, shop)
        drop_sample(tmp_path, ids)
        env = cli_env | {"WOO_URL": shop.url, "WOO_KEY": "ck_s", "WOO_SECRET": "cs_s"}
        r = run(prof, env)
        assert r.returncode == 1, r.stdout + r.stderr  # rows rejected
        feedback = tmp_path / "feedback" / "spedizioni"
        [ack] = read_csv(feedback / "SPEDIZIONI_20261128.ack.csv", ";")
        assert (ack["read"], ack["sent"], ack["unchanged"], ack["rejected"]) == \
            ("7", "4", "0", "3")
        rejects = read_csv(feedback / "SPEDIZIONI_20261128.rejects.csv", ";")
        why = {(r["line"], r["field"]): r["reason"] for r in rejects}
        assert set(why) == {("6", "order"), ("7", "sku"), ("8", "quantity")}, why
        assert "unknown" in why[("6", "order")]
        assert "SCARPA-40" in why[("7", "sku")]
        assert "only 2 left to ship" in why[("8", "quantity")]
        o1, o2, o3 = (int(ids[k]) for k in ("1001", "1002", "1003"))
        # 1001 shipped whole: completed; 1002 and 1003 in part: still processing.
        assert [shop.orders.order(o)["status"] for o in (o1, o2, o3)] == \
            ["completed", "processing", "processing"]
        [sent] = shop.orders.meta(o1, "filebridge_shipments")
        assert sent["tracking"] == "BRT0012345678" and sent["shipment"] == "DDT-5501"
        assert sorted(sent["lines"].values()) == [1, 2]
        [note] = shop.orders.notes[o1]
        assert "BRT0012345678" in note["note"] and not note["customer_note"]
        # The same file under another name: a duplicate, nothing asked of the shop.
        before = shop.requests
        drop_sample(tmp_path, ids, "SPEDIZIONI_20261129.csv")
        r = run(prof, env)
        assert r.returncode == 0 and "already processed" in r.stderr, r.stderr
        assert shop.requests == before
        # The same shipments again with one more: only that one is sent.
        puts = shop.orders.updates
        again = drop_sample(tmp_path, ids, "SPEDIZIONI_20261130.csv")
        with open(again, "ab") as f:
            f.write(f"{ids['1002']};SCIARPA-GRI;1;GLS;GLS5;30/11/2026;DDT-5602\r\n".encode())
        assert run(prof, env).returncode == 1
        [ack] = read_csv(feedback / "SPEDIZIONI_20261130.ack.csv", ";")
        assert (ack["read"], ack["sent"], ack["unchanged"], ack["rejected"]) == \
            ("8", "1", "4", "3")
        assert shop.orders.updates == puts + 1 and len(shop.orders.notes[o1]) == 1
        assert shop.orders.order(o2)["status"] == "completed"
        # The rest of 1003 later: the order is completed.
        inbox = tmp_path / "inbox" / "spedizioni"
        (inbox / "SPEDIZIONI_20261201.csv").write_bytes(
            f"ORDINE;SKU;QTA;VETTORE;TRACKING;DATA_SPED;DDT\r\n{o3};MGL-ROS-M;2;SDA;SDA1;"
            f"30/11/2026;DDT-5601\r\n{o3};PNT-NER-44;2;SDA;SDA1;30/11/2026;DDT-5601\r\n"
            .encode())
        assert run(prof, env).returncode == 0
        assert shop.orders.order(o3)["status"] == "completed"
        assert len(shop.orders.meta(o3, "filebridge_shipments")) == 2


def test_a_run_killed_after_the_shop_made_a_shipment_does_not_make_it_again(tmp_path):
    """SIGKILL between the shop's answer and the ledger (crash point shipment.made):
    the next run finds the shipment in the order's own record, counts it unchanged,
    and sends the rest; each order is changed once."""
    with WooServer(key="ck_s", secret="cs_s") as shop:
        prof, ids = woo_setup(tmp_path, shop)
        drop_sample(tmp_path, ids)
        env = {"WOO_URL": shop.url, "WOO_KEY": "ck_s", "WOO_SECRET": "cs_s"}
        r = filebridge("run", str(prof), crash_at="shipment.made", env=env)
        assert r.returncode == KILLED, r.stderr
        assert shop.orders.updates == 1  # 1001's shipment is in the shop, nothing else
        r = filebridge("run", str(prof), env=env)
        assert r.returncode == 1, r.stderr
        [ack] = read_csv(tmp_path / "feedback" / "spedizioni" / "SPEDIZIONI_20261128.ack.csv",
                         ";")
        assert (ack["read"], ack["sent"], ack["unchanged"], ack["rejected"]) == \
            ("7", "2", "2", "3")
        assert shop.orders.updates == 3
        assert len(shop.orders.meta(int(ids["1001"]), "filebridge_shipments")) == 1


def test_a_cancelled_or_refunded_woocommerce_order_ships_only_what_is_left(workdir):
    with WooServer(key="ck_s", secret="cs_s") as shop:
        gone = shop.add_order([("A-1", 1)])
        shop.set_status(gone, "cancelled")
        part = shop.add_order([("A-1", 3), ("B-1", 1)])
        shop.refund(part, {"A-1": 1})
        rows = [(gone, "A-1", 1, "T1"), (part, "A-1", 3, "T2"), (part, "A-1", 2, "T3"),
                (part, "B-1", 1, "T3")]
        job, path = shipments_job(workdir, woo_output(shop), rows)
        [out] = run_files(job, [path])
        assert tally(out) == (4, 2, 0, 2)
        assert reasons(job, out) == {(2, "order"), (3, "quantity")}
        # 2 of A-1 (one refunded) and B-1 shipped: the order is complete.
        assert shop.orders.order(part)["status"] == "completed"


# -- Shopify -------------------------------------------------------------------------


def shipments_job(root: Path, output: dict[str, Any], rows: list[tuple[Any, ...]],
                  name: str = "SHIP_1.csv", *, ledger: str = "filebridge.db",
                  line: bool = False, delivered: bool = False) -> tuple[Job, Path]:
    """A shipments profile over a CSV of (order, sku or line, qty, tracking[, delivered])."""
    spec: dict[str, Any] = {"shipment": None}
    fields: dict[str, Any] = {"order": {"from": "ORDER", "required": True},
                              "quantity": {"from": "QTY"}, "tracking": {"from": "TRACK"},
                              "carrier": {"from": "CARRIER"}}
    if line:
        fields["line"] = {"from": "REF"}
        spec["line"] = "line"
    else:
        fields["sku"] = {"from": "REF"}
    if delivered:
        fields["delivered"] = {"from": "DELIVERED"}
        spec["delivered"] = "delivered"
    spec = {k: v for k, v in spec.items() if v is not None}
    prof = write_profile(root, {
        "name": "ship", "source": {"kind": "local", "path": "../inbox"},
        "read": {"format": "csv", "delimiter": ";"}, "map": {"fields": fields},
        "shipments": spec, "write": [output], "ledger": str(root / ledger),
        "feedback": {"ack": {"path": "../out/{stem}.ack.csv"},
                     "rejects": {"path": "../out/{stem}.rejects.csv"}}})
    head = "ORDER;REF;QTY;TRACK;CARRIER" + (";DELIVERED" if delivered else "")
    body = "".join(";".join([str(r[0]), str(r[1]), str(r[2]), str(r[3]), "DHL",
                             *[str(x) for x in r[4:]]]) + "\n" for r in rows)
    path = root / "inbox" / name
    path.write_text(head + "\n" + body, encoding="utf-8")
    return Job(load_profile(prof)), path


def tally(out: Any) -> tuple[int, int, int, int]:
    assert out.status in ("done", "held"), (out.status, out.reason)
    t = out.tally
    assert t.balanced(), t
    return t.read, t.sent, t.unchanged, t.rejected


def reasons(job: Job, out: Any) -> set[tuple[int, str]]:
    rows = read_csv(job.profile.base.parent / "out" / f"{Path(out.file).stem}.rejects.csv",
                    ";") if out.tally.rejected else []
    return {(int(r["line"]), r["field"]) for r in rows}


def shopify_output(shop: ShopifyServer) -> dict[str, Any]:
    return {"format": "shopify_api", "url": shop.url, "token": "${SHIP_TOKEN}", "limits": FAST}


def woo_output(shop: WooServer) -> dict[str, Any]:
    return {"format": "woocommerce_api", "url": shop.url, "consumer_key": "${SHIP_KEY}",
            "consumer_secret": "${SHIP_SECRET}", "limits": FAST}


@pytest.fixture(autouse=True)
def secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    """The shops' credentials, from the environment as a profile takes them."""
    monkeypatch.setenv("SHIP_TOKEN", TOKEN)
    monkeypatch.setenv("SHIP_KEY", "ck_s")
    monkeypatch.setenv("SHIP_SECRET", "cs_s")
    monkeypatch.setenv("SHIP_MAGENTO", MAGENTO_TOKEN)


@pytest.fixture
def shopify():
    with ShopifyServer(restore_rate=FAST_RESTORE) as shop:
        yield shop


def test_shopify_partial_then_whole_fulfillment(workdir, shopify):
    shop = shopify
    o = shop.add_order([("A-1", 3), ("B-1", 1)])
    number = o.rsplit("/", 1)[-1]  # the ERP may know the order by its number id
    job, path = shipments_job(workdir, shopify_output(shop), [
        (number, "A-1", 2, "TRK1"), (number, "B-1", 1, "TRK1"),
        ("gid://shopify/Order/999999", "A-1", 1, "TRK2"),  # unknown order
        (o, "C-9", 1, "TRK3"),  # no such SKU on the order
        (o, "A-1", 2, "TRK4"),  # 1 left after TRK1
        (o, "A-1", "", "TRK5")])  # no quantity
    [out] = run_files(job, [path])
    assert tally(out) == (6, 2, 0, 4)
    assert reasons(job, out) == {(4, "order"), (5, "sku"), (6, "quantity"), (7, "quantity")}
    assert shop.fulfillment_status(o) == "PARTIALLY_FULFILLED"
    assert shop.tracking_numbers(o) == ["TRK1"]
    [f] = shop.fulfillments[o]
    assert sorted(fl["quantity"] for fl in f["lines"]) == [1, 2]
    # The last unit, and the first shipment again in the same file: sent once.
    job, path = shipments_job(workdir, shopify_output(shop), [
        (number, "A-1", 2, "TRK1"), (number, "B-1", 1, "TRK1"), (o, "A-1", 1, "TRK6")],
        "SHIP_2.csv")
    [out] = run_files(job, [path])
    assert tally(out) == (3, 1, 2, 0)
    assert shop.fulfillment_status(o) == "FULFILLED"
    assert shop.fulfillment_calls == 2
    assert shipment_rows.count(job.ledger, job.sinks[0].id) == 3


def test_shopify_shipment_made_but_not_recorded_is_not_made_again(workdir, shopify):
    """A run cut short after Shopify made the fulfilment, before the ledger noted it
    (here: a second ledger that never saw it): the shop's own tracking numbers tell."""
    shop = shopify
    o = shop.add_order([("A-1", 2)])
    job, path = shipments_job(workdir, shopify_output(shop), [(o, "A-1", 1, "TRK1")])
    assert tally(run_files(job, [path])[0]) == (1, 1, 0, 0)
    job, path = shipments_job(workdir, shopify_output(shop), [(o, "A-1", 1, "TRK1")],
                              "SHIP_2.csv", ledger="other.db")
    assert tally(run_files(job, [path])[0]) == (1, 0, 1, 0)
    assert shop.fulfillment_calls == 1
    assert shipment_rows.count(job.ledger, job.sinks[0].id) == 1  # recorded now


def test_shopify_cancelled_order_and_changed_shipment_are_rejected(workdir, shopify):
    shop = shopify
    gone = shop.add_order([("A-1", 1)])
    shop.cancel(gone)
    o = shop.add_order([("A-1", 3)])
    job, path = shipments_job(workdir, shopify_output(shop), [
        (gone, "A-1", 1, "T1"), (o, "A-1", 1, "T2")])
    [out] = run_files(job, [path])
    assert tally(out) == (2, 1, 0, 1) and reasons(job, out) == {(2, "order")}
    # T2 again with another quantity: a sent shipment is not changed.
    job, path = shipments_job(workdir, shopify_output(shop), [(o, "A-1", 2, "T2")],
                              "SHIP_2.csv")
    [out] = run_files(job, [path])
    assert tally(out) == (1, 0, 0, 1) and reasons(job, out) == {(2, "quantity")}
    assert shop.fulfillment_calls == 1


def test_shopify_lines_by_id_and_refunds_leave_less_to_ship(workdir, shopify):
    shop = shopify
    o = shop.add_order([("A-1", 2), ("A-1", 2)])  # one SKU on two lines
    first, second = (li["id"] for li in shop.orders[o]["lines"])
    shop.refund(o, {first: 1}, restock_type="CANCEL")
    job, path = shipments_job(workdir, shopify_output(shop), [
        (o, first, 2, "T1"), (o, first.rsplit("/", 1)[-1], 1, "T2"),
        (o, "gid://shopify/LineItem/424242", 1, "T3")], line=True)
    [out] = run_files(job, [path])
    assert tally(out) == (3, 1, 0, 2)
    assert reasons(job, out) == {(2, "quantity"), (4, "line")}
    # By SKU, 3 units spread over what is left of both lines.
    job, path = shipments_job(workdir, shopify_output(shop), [(o, "A-1", 2, "T4")],
                              "SHIP_2.csv")
    assert tally(run_files(job, [path])[0]) == (1, 1, 0, 0)
    assert shop.fulfillment_status(o) == "FULFILLED"
    assert shop.fulfilled(o, first) == 1 and shop.fulfilled(o, second) == 2


def test_loopback_shopify_refuses_what_shopify_refuses(shopify):
    """fulfillmentCreate against the loopback, without filebridge: order line ids in
    place of fulfillment order line ids, and more than remains, are refused."""
    import requests

    shop = shopify
    o = shop.add_order([("A-1", 1)])
    node = shop._order_node(shop.orders[o], 5)
    fo = node["fulfillmentOrders"]["nodes"][0]
    line = shop.orders[o]["lines"][0]["id"]

    def create(items: list[dict[str, Any]]) -> dict[str, Any]:
        q = ("mutation($f: FulfillmentInput!) { fulfillmentCreate(fulfillment: $f) { "
             "fulfillment { id } userErrors { field message } } }")
        r = requests.post(f"{shop.url}/admin/api/2026-01/graphql.json", timeout=5,
                          headers={"X-Shopify-Access-Token": TOKEN},
                          json={"query": q, "variables": {"f": {"lineItemsByFulfillmentOrder": [
                              {"fulfillmentOrderId": fo["id"],
                               "fulfillmentOrderLineItems": items}]}}})
        return dict(r.json()["data"]["fulfillmentCreate"])

    assert create([{"id": line, "quantity": 1}])["userErrors"]
    fl = fo["lineItems"]["nodes"][0]["id"]
    assert create([{"id": fl, "quantity": 2}])["userErrors"]
    assert not create([{"id": fl, "quantity": 1}])["userErrors"]
    assert "unfulfillable status= closed" in \
        create([{"id": fl, "quantity": 1}])["userErrors"][0]["message"]


def test_a_shipments_profile_names_one_shop_that_takes_shipments(workdir):
    with pytest.raises(ProfileError, match="takes no shipments"):
        shipments_job(workdir, {"format": "csv", "path": "../out/x.csv"}, [("1", "A", 1, "T")])


# -- Magento ---------------------------------------------------------------------------

T0 = 1_780_000_000


def magento_output(shop: MagentoServer) -> dict[str, Any]:
    return {"format": "magento_api", "url": shop.url, "token": "${SHIP_MAGENTO}",
            "limits": FAST}


def test_magento_shipments_partial_whole_and_refused(workdir):
    with MagentoServer() as shop:
        o = shop.add_order([("A-1", 3), ("B-1", 1, "configurable")], T0, invoiced=True)
        held = shop.add_order([("A-1", 1)], T0)
        shop.set_state(held, "holded", "holded", T0)
        refunded = shop.add_order([("A-1", 2)], T0, invoiced=True)
        shop.refund(refunded, {"A-1": 1}, T0 + 60)
        job, path = shipments_job(workdir, magento_output(shop), [
            (o, "A-1", 2, "1Z001"), (o, "B-1", 1, "1Z001"),  # one shipment, two items
            (held, "A-1", 1, "1Z002"),  # on hold: cannot ship
            (refunded, "A-1", 2, "1Z003"),  # one of the two refunded
            (424242, "A-1", 1, "1Z004"),  # unknown order
            (o, "A-1", 1, "1Z005")])  # the last unit
        [out] = run_files(job, [path])
        assert tally(out) == (6, 3, 0, 3)
        assert reasons(job, out) == {(4, "order"), (5, "quantity"), (6, "order")}
        assert shop.orders[o]["state"] == "complete"  # invoiced and all shipped
        [first, last] = [s for s in shop.shipments if s["order_id"] == o]
        assert last["tracks"][0]["track_number"] == "1Z005"
        assert sorted(i["qty"] for i in first["items"]) == [1, 2]
        assert first["tracks"] == [{"track_number": "1Z001", "title": "DHL",
                                    "carrier_code": "dhl"}]
        parent = next(i for i in shop.orders[o]["items"] if i["sku"] == "B-1"
                      and "parent_item_id" not in i)
        assert parent["qty_shipped"] == 1  # the configurable's parent item was shipped
        # Everything again, in a file of another name and another ledger (a run cut
        # short before it recorded anything): the shop's tracks tell what it has.
        calls = shop.ship_calls
        job, path = shipments_job(workdir, magento_output(shop), [
            (o, "A-1", 2, "1Z001"), (o, "B-1", 1, "1Z001"), (o, "A-1", 1, "1Z005")],
            "SHIP_2.csv", ledger="other.db")
        assert tally(run_files(job, [path])[0]) == (3, 0, 3, 0)
        assert shop.ship_calls == calls


def test_loopback_magento_refuses_more_than_is_left_to_ship():
    import requests

    with MagentoServer() as shop:
        o = shop.add_order([("A-1", 1)], T0)
        item = shop.orders[o]["items"][0]["item_id"]

        def ship(qty: int) -> requests.Response:
            return requests.post(f"{shop.url}/rest/all/V1/order/{o}/ship", timeout=5,
                                 headers={"Authorization": f"Bearer {MAGENTO_TOKEN}"},
                                 json={"items": [{"order_item_id": item, "qty": qty}]})

        r = ship(2)
        assert r.status_code == 400 and "invalid quantity to ship" in r.json()["message"]
        assert ship(1).status_code == 200
        r = ship(1)
        assert r.status_code == 400 and "does not allow a shipment" in r.json()["message"]


def test_delivered_later_changes_nothing_in_a_shop_without_that_step(workdir, shopify):
    shop = shopify
    o = shop.add_order([("A-1", 1)])
    job, path = shipments_job(workdir, shopify_output(shop), [(o, "A-1", 1, "T1", "N")],
                              delivered=True)
    assert tally(run_files(job, [path])[0]) == (1, 1, 0, 0)
    job, path = shipments_job(workdir, shopify_output(shop), [(o, "A-1", 1, "T1", "Y")],
                              "SHIP_2.csv", delivered=True)
    assert tally(run_files(job, [path])[0]) == (1, 0, 1, 0)
    assert shop.fulfillment_calls == 1


def test_plan_counts_shipment_rows_and_asks_the_shop_nothing(workdir, shopify):
    from filebridge.sync.plan import plan

    o = shopify.add_order([("A-1", 1)])
    job, path = shipments_job(workdir, shopify_output(shopify), [(o, "A-1", 1, "T1")])
    before = shopify.requests
    p = plan(job, path)
    if p.report is not None:
        p.report.close()
    [out] = p.files.values()
    assert out.describe().startswith("1 shipment rows")
    assert shopify.requests == before and shopify.fulfillment_calls == 0


def test_a_fixed_width_as400_shipments_file_into_magento(workdir):
    """The same flow from a fixed-width export (CPYTOIMPF *FIXED): the fixed reader's
    rows, with a quantity in zoned digits, become Magento shipments."""
    with MagentoServer() as shop:
        o = shop.add_order([("GIACCA-NER-M", 2), ("BORSA-NER", 1)], T0, invoiced=True)
        prof = write_profile(workdir, {
            "name": "spedizioni-as400", "source": {"kind": "local", "path": "../inbox"},
            "read": {"format": "fixed", "encoding": "cp1252", "record_length": 60, "fields": {
                "ORDINE": {"start": 1, "length": 10}, "SKU": {"start": 11, "length": 20},
                "QTA": {"start": 31, "length": 5, "type": "integer"},
                "VETTORE": {"start": 36, "length": 5}, "TRACKING": {"start": 41, "length": 20}}},
            "map": {"fields": {"order": {"from": "ORDINE"}, "sku": {"from": "SKU"},
                               "quantity": {"from": "QTA"}, "carrier": {"from": "VETTORE"},
                               "tracking": {"from": "TRACKING"}}},
            "shipments": {}, "write": [magento_output(shop)],
            "ledger": str(workdir / "filebridge.db")})
        rows = [(str(o), "GIACCA-NER-M", "00002", "UPS", "1ZFIX01"),
                (str(o), "BORSA-NER", "00002", "UPS", "1ZFIX01")]  # 1 ordered
        text = "".join(f"{a:<10}{b:<20}{c}{d:<5}{e:<20}\r\n" for a, b, c, d, e in rows)
        path = workdir / "inbox" / "SPED.TXT"
        path.write_bytes(text.encode("cp1252"))
        [out] = run_files(Job(load_profile(prof)), [path])
        assert tally(out) == (2, 1, 0, 1)
        [s] = shop.shipments
        assert s["items"] == [{"order_item_id": shop.orders[o]["items"][0]["item_id"],
                               "sku": "GIACCA-NER-M", "qty": 2}]
        assert s["tracks"][0]["carrier_code"] == "ups"


def test_a_shopify_order_too_large_to_read_whole_is_rejected_not_half_shipped(workdir, shopify):
    big = shopify.add_order([(f"L-{i}", 1) for i in range(51)])
    small = shopify.add_order([("A-1", 1)])
    job, path = shipments_job(workdir, shopify_output(shopify), [
        (big, "L-0", 1, "T1"), (small, "A-1", 1, "T2")])
    [out] = run_files(job, [path])
    assert tally(out) == (2, 1, 0, 1) and reasons(job, out) == {(2, "order")}
    assert shopify.fulfillment_calls == 1
