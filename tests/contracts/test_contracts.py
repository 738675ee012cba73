"""Contract suites over the registry: every registered reader, sink, source and
destination, run through the real pipeline with its sample (tests/contracts/
harness.py says where samples live and what they hold), must

- counts: account for every record (read = sent + unchanged + rejected + skipped +
  queued; the ack says so; the output or shop holds the good records);
- rejects: turn a bad record into a reject naming its line and field;
- atomic: never show a partial output under its final name while the file is being
  written (every folder outputs land in is listed at each batch and once more when
  every sink has finished), and leave no temporary behind;
- abort: leave nothing when the run stops half-way (an exception after the first
  batch): no output, no feedback, the input still in the inbox, a shop untouched,
  and the next run does the whole file once;
- memory: stay bounded: the peak (Python objects and Arrow buffers) for 10N records
  is within :data:`GROWTH` times the peak for N, and what it grew by is under
  :data:`PER_BYTE` of what the input grew by (a plugin that holds the whole input
  grows by at least as much as the input; a streaming one by its few bytes of
  bookkeeping per record, filebridge.records.Rows).

A contract that does not apply to a plugin says why in its sample's
``not_applicable``; the test then checks the claim where it can, never skips.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from contracts.harness import (
    BASE,
    CONTRACTS,
    TMP,
    Bench,
    Sample,
    fill,
    merge,
    peak_memory,
    present,
    registered,
    sample,
)
from filebridge.registry import load_plugins

GROWTH = 3.0  # 10x the records may cost at most 3x the peak memory
PER_BYTE = 0.5  # and at most half a byte per byte of input added
pytestmark = pytest.mark.timeout(300)

PLUGINS = registered()
# The memory contract is parametrised only over the plugins it is measured for: an
# inapplicable one is listed by test_inapplicable_contracts_say_why, not counted as a
# memory test that passed.
# A plugin without a sample stays in, so that its test fails saying what to add.
MEASURED = [(k, n) for k, n in PLUGINS
            if (k, n) not in present() or "memory" not in sample(k, n).not_applicable]


def test_every_sample_is_a_registered_plugin() -> None:
    """A sample whose plugin was renamed or removed is not silently left untested."""
    assert [s for s in present() if s not in PLUGINS] == []


# -- the benches ---------------------------------------------------------------------
def shop_env(kind: str, shop: Any) -> dict[str, str]:
    if kind == "woocommerce":
        return {"WOO_URL": shop.url, "WOO_KEY": "ck_c", "WOO_SECRET": "cs_c"}
    if kind == "shopify":
        from shops.shopify import TOKEN
        return {"SHOPIFY_URL": shop.url, "SHOPIFY_TOKEN": TOKEN}
    if kind == "magento":
        from shops.magento import TOKEN
        return {"MAGENTO_URL": shop.url, "MAGENTO_TOKEN": TOKEN}
    if kind == "vendure":
        return {"VENDURE_URL": shop.url, "VENDURE_TEST_USER": shop.username,
                "VENDURE_TEST_PASSWORD": shop.password}
    raise AssertionError(f"unknown loopback shop {kind!r}")


def shop_skus(kind: str, shop: Any) -> set[str]:
    """The SKUs the shop holds, read back from the loopback shop itself."""
    if kind == "shopify":
        return {s for p in shop.catalog().values() for s in p["variants"]}
    if kind == "vendure":  # Vendure does not keep SKUs unique: one variant each, checked
        variants = shop.catalog()["variants"]
        assert all(len(v) == 1 for v in variants.values()), "a SKU created twice"
        return set(variants)
    return set(shop.catalog())


@pytest.fixture
def benches(tmp_path: Path, request: pytest.FixtureRequest,
            monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[Sample, str], Bench]]:
    """Builds a bench for a sample in its own folder; starts the shop (or asks for
    the sshd) the sample needs."""
    monkeypatch.delenv("FILEBRIDGE_LEDGER", raising=False)
    shops: list[Any] = []

    def build(s: Sample, label: str = "w") -> Bench:
        root = tmp_path / label
        root.mkdir()
        subs = {}
        if s.meta.get("needs") == "sshd":
            sshd = request.getfixturevalue("sshd")
            remote = sshd.root / f"{tmp_path.name}-{label}"
            for sub in ("inbox", "shop"):
                (remote / sub).mkdir(parents=True)
            kh = root / "known_hosts"
            kh.write_text(sshd.known_hosts_line())
            subs = {"remote": str(remote.relative_to(sshd.root))}
            frag = fill(s.meta["profile"], subs)
            for part in ("source",):
                if part in frag:
                    frag[part] = sshd.server(kh) | frag[part] | {"work": str(root / "work")}
            for d in (frag.get("destinations") or {}).values():
                d.update(sshd.server(kh) | dict(d))
        else:
            frag = s.meta.get("profile") or {}
        # A reader's options replace the base reader's whole (another format's keys
        # are errors); the other parts merge.
        profile = merge({k: v for k, v in BASE.items() if not (k == "read" and k in frag)},
                        frag)
        kind = s.meta.get("shop")
        if kind:
            shop = start_shop(kind)
            shops.append(shop)
            for k, v in shop_env(kind, shop).items():
                monkeypatch.setenv(k, v)
            s.meta["_shop"] = shop
        watched = [root / w for w in s.meta.get("watched", ["out", "feedback"])]
        if subs:
            watched += [Path(str(w).replace("{remote}", str(sshd.root / subs["remote"])))
                        for w in s.meta.get("remote_watched", [])]
            inbox = Path(str(s.meta.get("inbox", root / "inbox")).replace(
                "{remote}", str(sshd.root / subs["remote"])))
        else:
            inbox = root / "inbox"
        return Bench(root, s, profile, inbox, watched)

    yield build
    for shop in shops:
        shop.__exit__(None, None, None)


def start_shop(kind: str) -> Any:
    if kind == "woocommerce":
        from shops.woocommerce import WooServer
        return WooServer(key="ck_c", secret="cs_c").__enter__()
    if kind == "shopify":
        from shops.shopify import ShopifyServer
        return ShopifyServer().__enter__()
    if kind == "magento":
        from shops.magento import MagentoServer
        return MagentoServer().__enter__()
    if kind == "vendure":
        from shops.vendure import PASSWORD, USER, VendureShop
        return VendureShop(USER, PASSWORD).__enter__()
    raise AssertionError(f"unknown loopback shop {kind!r}")


def read_csv(path: Path) -> list[dict[str, str]]:
    import csv
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter=";"))


def applies(s: Sample, contract: str) -> bool:
    """Whether the contract applies; a sample that says it does not must say why."""
    why = s.not_applicable.get(contract)
    if why is None:
        return True
    assert contract in CONTRACTS, f"{s.folder}: no contract {contract!r}"
    assert len(str(why).split()) >= 4, f"{s.folder}: say why {contract} does not apply"
    return False


def sink_paths(s: Sample, bench: Bench) -> list[str]:
    job = bench.job()
    try:
        return [p for sink in job.sinks for p in sink.paths()]
    finally:
        job.ledger.close()


# -- the contracts ---------------------------------------------------------------------
@pytest.mark.parametrize("kind,name", PLUGINS, ids=[f"{k}-{n}" for k, n in PLUGINS])
def test_counts_add_up(kind: str, name: str, benches: Callable[..., Bench]) -> None:
    s = sample(kind, name)
    assert applies(s, "counts")
    bench = benches(s)
    n = s.sizes[0]
    bench.drop(n)
    [outcome] = bench.run()
    t = outcome.tally
    assert outcome.status == "done", outcome.reason
    assert t.read == n
    assert t.read == t.sent + t.unchanged + t.rejected + t.skipped + t.queued
    assert t.rejected == 1 and t.queued == 0
    [ack] = read_csv(next(bench.root.glob("feedback/*.ack.csv")))
    assert {k: int(ack[k]) for k in t.as_dict()} == t.as_dict()
    if s.meta.get("shop"):
        held = shop_skus(s.meta["shop"], s.meta["_shop"])
        assert len(held) == t.sent + t.unchanged == n - 1
    else:
        assert outcome.outputs, "the good records are published"
    assert not list(bench.inbox.glob(s.input_name)), "the input is archived"


@pytest.mark.parametrize("kind,name", PLUGINS, ids=[f"{k}-{n}" for k, n in PLUGINS])
def test_bad_record_is_a_reject_with_line_and_field(kind: str, name: str,
                                                     benches: Callable[..., Bench]) -> None:
    s = sample(kind, name)
    assert applies(s, "rejects")
    bench = benches(s)
    bench.drop(s.sizes[0])
    [outcome] = bench.run()
    assert outcome.status == "done", outcome.reason
    rejects = read_csv(next(bench.root.glob("feedback/*.rejects.csv")))
    assert [(int(r["line"]), r["field"]) for r in rejects] == [s.bad]
    assert rejects[0]["reason"]


@pytest.mark.parametrize("kind,name", PLUGINS, ids=[f"{k}-{n}" for k, n in PLUGINS])
def test_outputs_are_atomic(kind: str, name: str, benches: Callable[..., Bench]) -> None:
    s = sample(kind, name)
    bench = benches(s)
    if not applies(s, "atomic"):
        # The claim checked: the plugin publishes no file of its own.
        assert sink_paths(s, bench) == [p for w in BASE["write"] for p in [w["path"]]
                                        if s.kind != "sink"]
        return
    bench.drop(s.sizes[0])
    seen: list[list[str]] = []

    def look(read: int) -> None:
        seen.append([p.name for p in bench.finals()])

    [outcome] = bench.run(look)
    assert outcome.status == "done", outcome.reason
    assert len(seen) >= 2, "the sample is read in more than one batch"
    assert seen == [[]] * len(seen), "a file showed under its final name before publishing"
    assert bench.finals() and not [p for p in bench.files() if p.name.startswith(TMP)]


@pytest.mark.parametrize("kind,name", PLUGINS, ids=[f"{k}-{n}" for k, n in PLUGINS])
def test_abort_leaves_nothing(kind: str, name: str, benches: Callable[..., Bench]) -> None:
    s = sample(kind, name)
    assert applies(s, "abort")
    bench = benches(s)
    data = bench.drop(s.sizes[0])
    calls: list[int] = []

    class Abort(Exception):
        pass

    def stop(read: int) -> None:
        calls.append(read)
        if len(calls) == 2:
            raise Abort(f"stopped after {read} records")

    with pytest.raises(Abort):
        bench.run(stop)
    assert 0 < calls[0] < s.sizes[0], "stopped half-way: after the first batch"
    assert bench.files() == [], "an aborted run left files behind"
    assert (bench.inbox / s.input_name).read_bytes() == data, "the input stays for a rerun"
    if s.meta.get("shop"):
        assert shop_skus(s.meta["shop"], s.meta["_shop"]) == set(), "the shop was changed"
    # The next run does the whole file, once.
    [outcome] = bench.run()
    assert outcome.status == "done", outcome.reason
    assert (outcome.tally.read, outcome.tally.rejected) == (s.sizes[0], 1)
    assert outcome.tally.sent + outcome.tally.unchanged == s.sizes[0] - 1
    if s.meta.get("shop"):
        assert len(shop_skus(s.meta["shop"], s.meta["_shop"])) == s.sizes[0] - 1


def test_inapplicable_contracts_say_why() -> None:
    """Every contract a sample opts out of is a known one, with a reason; the memory
    contract's opt-outs are exactly the plugins left out of MEASURED."""
    unmeasured = []
    for kind, name in PLUGINS:
        s = sample(kind, name)  # a missing sample fails here, naming the file to add
        for contract in s.not_applicable:
            assert not applies(s, contract)
        if "memory" in s.not_applicable:
            unmeasured.append((kind, name))
    assert sorted(unmeasured + MEASURED) == sorted(PLUGINS)
    print("memory not measured for:", ", ".join(f"{k}/{n}" for k, n in unmeasured))


@pytest.mark.parametrize("kind,name", MEASURED, ids=[f"{k}-{n}" for k, n in MEASURED])
def test_memory_is_bounded(kind: str, name: str, benches: Callable[..., Bench]) -> None:
    s = sample(kind, name)
    assert applies(s, "memory")
    ratio, per_byte = growth(memory_sample(s), benches)
    assert ratio <= GROWTH and per_byte <= PER_BYTE, (
        f"peak memory grew x{ratio:.2f} for 10x the records ({per_byte:.2f} bytes per "
        "byte of input added)")


def growth(s: Sample, benches: Callable[..., Bench]) -> tuple[float, float]:
    """How the peak memory grew from N to 10N records: the ratio, and bytes per byte
    of input added."""
    peaks: list[int] = []
    sizes: list[int] = []
    warm = benches(s, "warm")  # imports and first-use caches are not the file's cost
    warm.drop(s.sizes[0])
    warm.run()
    base_n = s.sizes[1]
    for label, n in (("n", base_n), ("10n", 10 * base_n)):
        bench = benches(s, label)
        # The one-row-per-key check keeps a hash per key (filebridge/keys.py): memory
        # per key by design, not per record read; measured without it.
        bench.profile["map"].pop("key", None)
        sizes.append(len(bench.drop(n)))
        [outcome] = peak_memory(bench.run, peaks)
        assert outcome.status == "done" and outcome.tally.read == n, outcome.reason
    ratio = peaks[1] / peaks[0]
    per_byte = (peaks[1] - peaks[0]) / (sizes[1] - sizes[0])
    print(f"{s.kind} {s.name}: peak {peaks[0] / 1e6:.1f} MB for {base_n} records, "
          f"{peaks[1] / 1e6:.1f} MB for {10 * base_n} ({sizes[1] / 1e6:.1f} MB input): "
          f"x{ratio:.2f}, {per_byte:.2f} B per input byte")
    return ratio, per_byte


def test_the_memory_contract_fails_a_sink_that_keeps_every_product(
        benches: Callable[..., Bench], monkeypatch: pytest.MonkeyPatch) -> None:
    """The memory contract at a product sink's sizes still tells O(n) from O(1): a
    sink that keeps a short text per product (as magento_csv's URL keys once did, in
    a dict: about 180 bytes each) breaks its limits."""
    from filebridge.sinks.productfile import ProductFileSink

    write = ProductFileSink.write
    kept: list[int] = []  # products each sink kept

    def keeping(self: ProductFileSink, batch: Any) -> None:
        keys = self.__dict__.setdefault("_url_keys", {})  # one dict per sink, per file
        for sku in batch.column("sku").to_pylist():
            keys[str(sku)] = f"url-key-of-{sku}"
        kept.append(len(keys))
        write(self, batch)

    monkeypatch.setattr(ProductFileSink, "write", keeping)
    ratio, per_byte = growth(memory_sample(sample("sink", "shopify_csv")), benches)
    assert max(kept) > 40000 and not (ratio <= GROWTH and per_byte <= PER_BYTE), (
        ratio, per_byte)


def memory_sample(s: Sample) -> Sample:
    """``s`` reading what its ``memory_via`` reader sample reads (its input and read
    options), if it names one. A sink with per-product work in Python is slow under
    tracemalloc; the fixed-width reader holds one block, not a read-ahead, so its
    buffers are full at a smaller N and the same x10 tells bounded from growing."""
    via = s.meta.get("memory_via")
    if not via:
        return s
    src = sample(*str(via).split("/"))
    profile = merge(s.meta.get("profile") or {}, {"read": src.meta["profile"]["read"]})
    return dataclasses.replace(s, make=src.make, meta=s.meta | {
        "profile": profile, "input": src.input_name})


def test_a_plugin_without_a_sample_fails_the_suite(tmp_path: Path) -> None:
    """What makes a new plugin get these tests: it has no sample, so it fails."""
    reg = load_plugins()
    assert set(reg.names("reader")) >= {n for k, n in PLUGINS if k == "reader"}
    with pytest.raises(AssertionError, match="registered but has no contract sample"):
        sample("reader", "no-such-plugin")
    assert os.path.isdir(Path(__file__).parent / "samples")
