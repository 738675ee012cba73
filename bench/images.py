"""Photos from a folder at scale: 10,000 generated JPEGs for 2,000 products (5 each,
one colour, 2 sizes per product: 4,000 SKUs) into a Shopify product CSV. First
load (every photo hashed, checked with Pillow and copied to the public folder),
then the same photos dropped again (rewritten, new times) with a new price list:
every photo is hashed again, none is checked or copied again.

Each run is one ``filebridge run`` process; wall time and peak RSS (from wait4).
With ``--sftp`` the photo folder is on a local OpenSSH sshd (started as the tests
start it, tests/sshd.py): every photo is downloaded to scratch to be hashed, on the
re-drop too (new times), but not on an unchanged re-run in a new process: the ledger
remembers each photo's name, size and mtime with its digest.

    .venv/bin/python bench/images.py                     # 2,000 products, 10,000 photos
    .venv/bin/python bench/images.py --products 200      # a tenth
    .venv/bin/python bench/images.py --sftp              # the photos on an SFTP server
    .venv/bin/python bench/images.py --api --products 200  # uploaded through the shop API

With ``--api`` there is no public folder: the photos go to the profile's store and
the woocommerce_api sink uploads each one through ``/wp-json/wp/v2/media`` of the
loopback WooCommerce (tests/shops/woocommerce, run in this process), then sends the
products' images by id; the re-drop uploads nothing.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

HERE = Path(__file__).resolve().parent

PER_PRODUCT = 5

PROFILE = """
name: images-bench
source: {kind: local, path: inbox, ready: {stable_for: 0s}}
read: {format: csv, delimiter: ";", fields: {PREZZO: {type: decimal}}}
map:
  key: sku
  fields:
    sku: {format: "{ART}-{COL}-{TG}"}
    article: {from: ART}
    colour: {from: COL}
    size: {from: TG}
    title: {from: NOME}
    price: {from: PREZZO}
    image_alt: {format: "{NOME} {COL}"}
  product:
    key: article
    options: [{field: size, name: Size}, {field: colour, name: Colour}]
photos:
  folder: FOTO
  ready: {stable_for: 0s}
  pattern: "{article}_{colour}_{position}.jpg"
  public: {path: cdn, url: "https://cdn.example.com/p/"}
write:
  - {format: shopify_csv, path: "out/{stem}.csv"}
"""


def photos(folder: Path, products: int, seed: int = 7) -> int:
    """``PER_PRODUCT`` distinct 640x480 JPEGs per product (a noise base, so they weigh
    what photos weigh, with a coloured block that makes each unique)."""
    folder.mkdir(parents=True, exist_ok=True)
    rnd = random.Random(seed)
    bases = [Image.effect_noise((640, 480), 40).convert("RGB") for _ in range(8)]
    size = 0
    for a in range(products):
        for p in range(1, PER_PRODUCT + 1):
            im = bases[(a + p) % len(bases)].copy()
            im.paste((rnd.randrange(256), rnd.randrange(256), rnd.randrange(256)),
                     (8 * p, 8 * p, 8 * p + 120, 8 * p + 90))
            out = io.BytesIO()
            # The comment makes each file's bytes unique even where two blocks'
            # colours quantise alike (it happened: 2 of 10,000 were the same bytes).
            im.save(out, "JPEG", quality=80, comment=f"A{a:06d}_{p}".encode())
            (folder / f"A{a:06d}_001_{p}.jpg").write_bytes(out.getvalue())
            size += out.tell()
    return size


def master(path: Path, products: int, price: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write("ART;COL;TG;NOME;PREZZO\n")
        f.writelines(f"A{a:06d};001;{tg};Giacca {a};{price}\n" for a in range(products)
                     for tg in ("S", "M"))


def downloads(out: str) -> str:
    """Photos downloaded, from the run's log (SFTP only)."""
    import re

    found = re.findall(r"photo\(s\) complete in \S+, (\d+) downloaded", out)
    return f", {sum(map(int, found))} downloaded" if found else ""


def run(folder: Path) -> tuple[float, int, str]:
    cmd = [sys.executable, "-m", "filebridge", "run", str(folder / "p.yaml")]
    env = {k: v for k, v in os.environ.items() if k != "FILEBRIDGE_LEDGER"}
    t = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    assert proc.stdout is not None
    out = proc.stdout.read().decode()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - t
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"run failed:\n{out}")
    return wall, usage.ru_maxrss // 1024, downloads(out)


API_WRITE = """write:
  - {format: woocommerce_api, url: "${WC_URL}", consumer_key: "${WC_KEY}",
     consumer_secret: "${WC_SECRET}", wp_user: "${WP_USER}", wp_password: "${WP_PASSWORD}"}
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--products", type=int, default=2000,
                    help=f"{PER_PRODUCT} photos each (default 2,000: 10,000 photos)")
    ap.add_argument("--keep", action="store_true", help="keep the scratch folder")
    ap.add_argument("--sftp", action="store_true", help="the photo folder on a local sshd")
    ap.add_argument("--api", action="store_true", help="no public folder: uploaded "
                    "through the loopback WooCommerce's /wp/v2/media")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="fb-images-"))
    server = None
    try:
        (root / "inbox").mkdir()
        foto = root / "FOTO"
        profile = PROFILE
        if args.sftp:
            import json

            sys.path.insert(0, str(HERE.parent / "tests"))
            from sshd import start_sshd  # the tests' sshd: one config, not two

            server = start_sshd(root / "sshd")
            (root / "known_hosts").write_text(server.known_hosts_line())
            foto = server.root / "FOTO"
            conn = server.server(root / "known_hosts", path="FOTO",
                                 ready={"stable_for": "0s"})
            conn.pop("kind")
            profile = PROFILE.replace("  folder: FOTO\n  ready: {stable_for: 0s}\n",
                                      f"  sftp: {json.dumps(conn)}\n")
        shop = None
        if args.api:
            sys.path.insert(0, str(HERE.parent / "tests"))
            from shops.woocommerce import WooServer

            shop = WooServer(key="ck_bench", secret="cs_bench")
            os.environ.update(WC_URL=shop.url, WC_KEY="ck_bench", WC_SECRET="cs_bench",
                              WP_USER="shopbot", WP_PASSWORD="abcd efgh ijkl mnop")
            profile = profile.replace('  public: {path: cdn, url: "https://cdn.example.com/p/"}\n',
                                      "").split("write:")[0] + API_WRITE
        (root / "p.yaml").write_text(profile)
        t = time.monotonic()
        size = photos(foto, args.products)
        n = args.products * PER_PRODUCT
        print(f"{n} photos, {size / 2**20:.0f} MiB, made in {time.monotonic() - t:.1f} s")

        # The same run without photos (its own folder and ledger): what photos add.
        plain = root / "plain"
        (plain / "inbox").mkdir(parents=True)
        (plain / "p.yaml").write_text(PROFILE.split("photos:")[0] + "write:"
                                      + PROFILE.split("write:")[1])
        master(plain / "inbox" / "A1.csv", args.products, "99.00")
        base, rss0, _ = run(plain)
        print(f"without photos: {base:.2f} s, peak RSS {rss0} MiB")

        master(root / "inbox" / "A1.csv", args.products, "99.00")
        first, rss1, got1 = run(root)
        if shop is not None:
            api_bench(root, shop, args.products, n, first, base, rss1)
            return
        published = len(list((root / "cdn").iterdir()))
        print(f"first load: {first:.2f} s, {n / first:.0f} photos/s ({n / (first - base):.0f} "
              f"photos/s over the run without photos), peak RSS {rss1} MiB, {published} "
              f"published{got1}")

        master(root / "inbox" / "A1b.csv", args.products, "95.00")
        same, rss3, got3 = run(root)  # a new process, the photos untouched
        print(f"unchanged re-run: {same:.2f} s ({same - base:.2f} s over the run without "
              f"photos), peak RSS {rss3} MiB{got3}")

        for p in foto.iterdir():  # dropped again: new files, new times
            data = p.read_bytes()
            p.unlink()
            p.write_bytes(data)
        stamp = {p.name: p.stat().st_mtime_ns for p in (root / "cdn").iterdir()}
        master(root / "inbox" / "A2.csv", args.products, "89.00")
        again, rss2, got2 = run(root)
        after = {p.name: p.stat().st_mtime_ns for p in (root / "cdn").iterdir()}
        copied = sum(1 for k, v in after.items() if stamp.get(k) != v)
        print(f"unchanged re-drop: {again:.2f} s ({again / first:.2f} of the first load; "
              f"{again - base:.2f} s over the run without photos), peak RSS {rss2} MiB, "
              f"{copied} copied{got2}")
        if published != n or copied:
            raise SystemExit("FAILED: every photo published once, none again")
    finally:
        if shop is not None:
            shop.close()
        if server is not None:
            server.proc.terminate()
            server.proc.wait()
        if args.keep:
            print(f"kept: {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


def api_bench(root: Path, shop: object, products: int, n: int, first: float, base: float,
              rss1: int) -> None:
    """The --api figures: uploads on the first load, none on an unchanged re-drop."""
    wp = shop.wp  # type: ignore[attr-defined]
    stored = len(list((root / "photos" / "images-bench").iterdir()))
    print(f"first load through the API: {first:.2f} s, {n / first:.0f} photos/s "
          f"({first - base:.2f} s over the run without photos, which writes a CSV), peak "
          f"RSS {rss1} MiB, {stored} stored, {wp.uploads} uploaded to /wp/v2/media")
    uploads = wp.uploads
    for p in (root / "FOTO").iterdir():
        data = p.read_bytes()
        p.unlink()
        p.write_bytes(data)
    master(root / "inbox" / "A2.csv", products, "89.00")
    again, rss2, _ = run(root)
    print(f"unchanged re-drop: {again:.2f} s, peak RSS {rss2} MiB, "
          f"{wp.uploads - uploads} uploaded")
    if uploads != n or wp.uploads != uploads:
        raise SystemExit("FAILED: every photo uploaded once, none again")


if __name__ == "__main__":
    main()
