"""Photos from a folder, end to end through the CLI: matched by file name, checked
with Pillow (a text file named .jpg, a truncated JPEG and a decompression bomb are
refused, naming the file), published once under their digest, their URLs in the
Shopify CSV (read back by the checker that applies Shopify's import rules); a
re-drop publishes nothing and leaves the URLs alone, a changed photo gets a new URL,
a moved photo moves; a product without photos is a warning, or a reject."""

from __future__ import annotations

import hashlib
import io
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import read_csv
from PIL import Image

CDN = "https://cdn.example.com/p/"
HEADER = "ART;COL;TG;NOME;PREZZO\n"
ROWS = ["D25FW0101;001;S;Cappotto;199.00", "D25FW0101;001;M;Cappotto;199.00",
        "D25FW0101;002;S;Cappotto;199.00", "D25FW0202;001;U;Sciarpa;49.00"]


def jpeg(seed: int, size: tuple[int, int] = (64, 48)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, ((seed * 37) % 256, (seed * 91) % 256, (seed * 53) % 256)).save(
        out, "JPEG", quality=90)
    return out.getvalue()


def profile(tmp: Path, missing: str = "warn", web: str = "") -> Path:
    p = tmp / "photos.yaml"
    p.write_text(f"""
name: photos
source: {{kind: local, path: inbox, ready: {{stable_for: 0s}}}}
read: {{format: csv, delimiter: ";", fields: {{PREZZO: {{type: decimal}}}}}}
map:
  key: sku
  fields:
    sku: {{format: "{{ART}}-{{COL}}-{{TG}}"}}
    article: {{from: ART}}
    colour: {{from: COL}}
    size: {{from: TG}}
    title: {{from: NOME}}
    price: {{from: PREZZO}}
    image_alt: {{format: "{{NOME}} {{COL}}"}}
  product:
    key: article
    options: [{{field: size, name: Taglia}}, {{field: colour, name: Colore}}]
photos:
  folder: FOTO
  pattern: "{{article}}_{{colour}}_{{position}}.jpg"
  public: {{path: cdn, url: "{CDN}"}}
  missing: {missing}
  {web}
write:
  - {{format: shopify_csv, path: "out/{{stem}}.csv"}}
feedback:
  ack: {{path: "feedback/{{stem}}.ack.csv"}}
  rejects: {{path: "feedback/{{stem}}.rejects.csv"}}
""")
    (tmp / "FOTO").mkdir(exist_ok=True)
    (tmp / "inbox").mkdir(exist_ok=True)
    return p


def run(prof: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "filebridge", *args, str(prof)], check=False,
                          env=env, capture_output=True, text=True, timeout=120)


def status(prof: Path, env: dict[str, str]) -> str:
    r = subprocess.run([sys.executable, "-m", "filebridge", "status", "--profile", str(prof)],
                       check=False, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def drop(tmp: Path, stem: str, rows: list[str]) -> None:
    (tmp / "inbox" / f"{stem}.csv").write_text(HEADER + "\n".join(rows) + "\n")


def url(data: bytes, ext: str = "jpg") -> str:
    return f"{CDN}{hashlib.sha256(data).hexdigest()}.{ext}"


def images(tmp: Path, stem: str) -> dict[str, list[tuple[str, str]]]:
    """Handle -> [(image URL, alt text)] in position order, as the CSV says."""
    out: dict[str, list[tuple[int, str, str]]] = {}
    for r in read_csv(tmp / "out" / f"{stem}.csv"):
        if r.get("Product image URL"):
            out.setdefault(r["URL handle"], []).append(
                (int(r["Image position"]), r["Product image URL"], r["Image alt text"]))
    return {h: [(u, a) for _, u, a in sorted(v)] for h, v in out.items()}


def bomb() -> bytes:
    """A PNG of 12000 x 12000 pixels (144 million: over the 40 million limit) that
    weighs a few hundred kilobytes."""
    out = io.BytesIO()
    Image.new("1", (12000, 12000)).save(out, "PNG", optimize=True)
    return out.getvalue()


def test_a_photo_folder_published_once_and_its_urls_in_every_record(tmp_path, cli_env):
    prof = profile(tmp_path)
    foto = tmp_path / "FOTO"
    a1, a2, b1 = jpeg(1), jpeg(2), jpeg(3)
    (foto / "D25FW0101_001_2.jpg").write_bytes(a2)  # positions from the name, not the order
    (foto / "D25FW0101_001_1.JPG").write_bytes(a1)
    (foto / "D25FW0101_002_1.jpg").write_bytes(b1)
    (foto / "D25FW0101_002_2.jpg").write_bytes(b"this is no picture")
    (foto / "D25FW0101_002_3.jpg").write_bytes(jpeg(4, (640, 480))[:900])  # truncated
    (foto / "D25FW0101_002_4.jpg").write_bytes(bomb())
    (foto / "notes.txt").write_text("not a photo of the pattern")
    drop(tmp_path, "A1", ROWS)
    r = run(prof, cli_env, "run")
    assert r.returncode == 0, r.stdout + r.stderr
    [ack] = read_csv(tmp_path / "feedback" / "A1.ack.csv", ";")
    assert (ack["status"], ack["read"], ack["sent"], ack["rejected"]) == ("done", "4", "4", "0")
    # three refused photos, one unmatched file, one record (the scarf) without photos
    assert ack["warnings"] == "5"
    warnings = {w["reason"] for w in read_csv(tmp_path / "feedback" / "A1.rejects.csv", ";")}
    assert any("D25FW0101_002_2.jpg: refused: not an image" in w for w in warnings)
    assert any("D25FW0101_002_3.jpg: refused: broken or truncated" in w for w in warnings)
    assert any("D25FW0101_002_4.jpg: refused:" in w and "12000x12000" in w for w in warnings)
    assert any("notes.txt: does not match" in w for w in warnings)
    assert any("no photo for article D25FW0202, colour 001" in w for w in warnings)
    # Published under their digests, bytes intact; nothing refused was published.
    assert sorted(p.name for p in (tmp_path / "cdn").iterdir()) == sorted(
        u.removeprefix(CDN) for u in (url(a1), url(a2), url(b1)))
    assert (tmp_path / "cdn" / url(a1).removeprefix(CDN)).read_bytes() == a1
    shop = images(tmp_path, "A1")
    coat = shop[next(h for h in shop if h == "d25fw0101")]
    assert [u for u, _ in coat] == [url(a1), url(a2), url(b1)]
    assert coat[0][1] == "Cappotto 001"
    assert not any(h == "d25fw0202" for h in shop)  # sent, without images

    out = status(prof, cli_env)
    assert "images [photos] known=6 published=3 refused=3" in out

    # The same photos dropped again (new files, new times) with a new price list:
    # nothing is published, the URLs are the same.
    stamp = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "cdn").iterdir()}
    for p in foto.iterdir():
        data = p.read_bytes()
        p.unlink()
        p.write_bytes(data)
    drop(tmp_path, "A2", [r.replace("199.00", "189.00") for r in ROWS])
    assert run(prof, cli_env, "run").returncode == 0
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "cdn").iterdir()} == stamp
    assert images(tmp_path, "A2") == shop

    # A changed photo gets a new URL; a photo moved to another product moves.
    a1_new = jpeg(11)
    (foto / "D25FW0101_001_1.JPG").write_bytes(a1_new)
    (foto / "D25FW0101_002_1.jpg").rename(foto / "D25FW0202_001_1.jpg")
    drop(tmp_path, "A3", [r.replace("199.00", "179.00") for r in ROWS])
    assert run(prof, cli_env, "run").returncode == 0
    after = images(tmp_path, "A3")
    coat = after[next(h for h in after if h == "d25fw0101")]
    scarf = after[next(h for h in after if h == "d25fw0202")]
    assert [u for u, _ in coat] == [url(a1_new), url(a2)]
    assert [u for u, _ in scarf] == [url(b1)]
    assert len(list((tmp_path / "cdn").iterdir())) == 4  # one more: the changed photo
    out = status(prof, cli_env)
    assert "images [photos] known=7 published=4 refused=3" in out


def test_no_photo_rejects_the_record_when_the_profile_says_so(tmp_path, cli_env):
    prof = profile(tmp_path, missing="reject")
    (tmp_path / "FOTO" / "D25FW0101_001_1.jpg").write_bytes(jpeg(1))
    drop(tmp_path, "B1", ROWS[:2] + ROWS[3:])
    r = run(prof, cli_env, "run")
    assert r.returncode == 1, r.stdout + r.stderr
    [ack] = read_csv(tmp_path / "feedback" / "B1.ack.csv", ";")
    assert (ack["read"], ack["sent"], ack["rejected"]) == ("3", "2", "1")
    [rej] = read_csv(tmp_path / "feedback" / "B1.rejects.csv", ";")
    assert rej["line"] == "4" and rej["field"] == "images" and "D25FW0202" in rej["reason"]


def test_web_sizes_are_published_scaled_and_converted(tmp_path, cli_env):
    prof = profile(tmp_path, web="web: {max_side: 100, format: webp, quality: 80}")
    big = jpeg(5, (400, 300))
    (tmp_path / "FOTO" / "D25FW0101_001_1.jpg").write_bytes(big)
    drop(tmp_path, "C1", ROWS[:1])
    assert run(prof, cli_env, "run").returncode == 0
    [pub] = list((tmp_path / "cdn").iterdir())
    assert pub.name == f"{hashlib.sha256(big).hexdigest()}-w100q80.webp"
    with Image.open(pub) as im:
        assert (im.format, im.size) == ("WEBP", (100, 75))
    assert [u for v in images(tmp_path, "C1").values() for u, _ in v] == [CDN + pub.name]
    # Other web settings are another rendition: published beside the first.
    prof.write_text(prof.read_text().replace("format: webp", "format: jpeg"))
    drop(tmp_path, "C2", [ROWS[0].replace("199.00", "189.00")])
    assert run(prof, cli_env, "run").returncode == 0
    jpg = tmp_path / "cdn" / f"{hashlib.sha256(big).hexdigest()}-w100q80.jpg"
    with Image.open(jpg) as im:
        assert (im.format, im.size) == ("JPEG", (100, 75))
    assert [u for v in images(tmp_path, "C2").values() for u, _ in v] == [CDN + jpg.name]


@pytest.mark.parametrize("pattern, error", [
    ("{article}_{colour}.jpg", "needs {position}"),
    ("{position}.jpg", "at least one mapped field"),
])
def test_a_pattern_without_position_or_field_is_a_profile_error(tmp_path, cli_env, pattern,
                                                                error):
    prof = profile(tmp_path)
    prof.write_text(prof.read_text().replace("{article}_{colour}_{position}.jpg", pattern))
    r = run(prof, cli_env, "check")
    assert r.returncode != 0 and error in r.stdout + r.stderr, r.stdout + r.stderr




def test_ready_is_for_a_local_photo_folder(tmp_path, cli_env, sshd):
    kh = tmp_path / "known_hosts"
    kh.write_text(sshd.known_hosts_line())
    prof = sftp_profile(tmp_path, sshd, "FOTO", kh)
    prof.write_text(prof.read_text().replace("  missing:", "  ready: {stable_for: 1s}\n"
                                             "  missing:"))
    r = run(prof, cli_env, "check")
    assert r.returncode != 0, r.stdout + r.stderr
    assert "ready: for a local folder; give sftp.ready" in r.stdout + r.stderr


def test_a_local_photo_is_taken_once_complete(tmp_path, cli_env):
    """The local source's readiness rule for the local photo folder: a photo without
    its done-file, or still growing while the run waits out stable_for, is a warning
    naming it (pending: not refused, nothing published for it) and is taken by a
    later run; the done-files are no photos and stay."""
    import os
    import threading

    prof = profile(tmp_path)
    prof.write_text(prof.read_text().replace(
        "  missing:", "  ready: {stable_for: 1s, done_file: '{name}.ok'}\n  missing:"))
    foto = tmp_path / "FOTO"
    a1, a2, a3 = jpeg(1), jpeg(2), jpeg(3, (640, 480))
    (foto / "D25FW0101_001_1.jpg").write_bytes(a1)
    (foto / "D25FW0101_001_1.jpg.ok").write_bytes(b"")
    (foto / "D25FW0101_001_2.jpg").write_bytes(a2)  # its done-file not there yet
    growing = foto / "D25FW0101_001_3.jpg"
    (foto / "D25FW0101_001_3.jpg.ok").write_bytes(b"")  # written too early
    stop = threading.Event()

    def write_slowly() -> None:  # a copy that takes longer than the run waits
        with open(growing, "wb") as f:
            for i in range(0, len(a3), 16):
                f.write(a3[i:i + 16])
                f.flush()
                if stop.wait(0.3):
                    return

    writer = threading.Thread(target=write_slowly)
    writer.start()
    try:
        drop(tmp_path, "L1", ROWS[:1])
        r = run(prof, cli_env, "run")
    finally:
        stop.set()
        writer.join()
    assert r.returncode == 0, r.stdout + r.stderr
    assert [u for v in images(tmp_path, "L1").values() for u, _ in v] == [url(a1)]
    warnings = [w["reason"] for w in read_csv(tmp_path / "feedback" / "L1.rejects.csv", ";")]
    assert any("D25FW0101_001_2.jpg: no D25FW0101_001_2.jpg.ok yet" in w for w in warnings)
    assert any("D25FW0101_001_3.jpg: still being written; taken at a later run" in w
               for w in warnings), warnings
    assert not any("refused" in w or "does not match" in w for w in warnings), warnings
    assert [p.name for p in (tmp_path / "cdn").iterdir()] == [url(a1).removeprefix(CDN)]

    growing.write_bytes(a3)  # the copy finished long ago
    old = time.time() - 60
    os.utime(growing, (old, old))
    (foto / "D25FW0101_001_2.jpg.ok").write_bytes(b"")
    drop(tmp_path, "L2", [ROWS[0].replace("199.00", "189.00")])
    r = run(prof, cli_env, "run")
    assert r.returncode == 0, r.stdout + r.stderr
    assert [u for v in images(tmp_path, "L2").values() for u, _ in v] == [
        url(a1), url(a2), url(a3)]
    assert sorted(p.name for p in foto.iterdir() if p.suffix == ".ok") == [
        f"D25FW0101_001_{n}.jpg.ok" for n in (1, 2, 3)]


def test_a_redrop_leaves_the_loopback_woocommerce_with_each_photo_once(tmp_path, cli_env):
    """Through the woocommerce_api sink (tests/shops/woocommerce: each ``src`` sent
    is a download and a new attachment, as in WooCommerce's
    ``wc_rest_upload_image_from_url``): the same photos dropped again download
    nothing; a changed photo is downloaded once and replaces the old one."""
    from shops.woocommerce import WooServer

    prof = profile(tmp_path)
    prof.write_text(prof.read_text().replace(
        '  - {format: shopify_csv, path: "out/{stem}.csv"}',
        "  - {format: woocommerce_api, url: '${WOO_URL}', consumer_key: '${WOO_KEY}', "
        "consumer_secret: '${WOO_SECRET}', sync: catalog}"))
    foto = tmp_path / "FOTO"
    a1, a2, b1 = jpeg(1), jpeg(2), jpeg(3)
    (foto / "D25FW0101_001_1.jpg").write_bytes(a1)
    (foto / "D25FW0101_001_2.jpg").write_bytes(a2)
    (foto / "D25FW0101_002_1.jpg").write_bytes(b1)
    with WooServer(key="ck_p", secret="cs_p") as shop:
        env = cli_env | {"WOO_URL": shop.url, "WOO_KEY": "ck_p", "WOO_SECRET": "cs_p"}
        drop(tmp_path, "W1", ROWS)
        r = run(prof, env, "run")
        assert r.returncode == 0, r.stdout + r.stderr
        assert shop.images_of("D25FW0101-001-S")[0] == (url(a1), "Cappotto 001")
        assert [u for u, _ in shop.images_of("D25FW0101-002-S")] == [url(b1)]
        assert dict(shop.downloads) == {url(a1): 1, url(a2): 1, url(b1): 1}
        attachments = len(shop.media.attachments)

        for p in foto.iterdir():  # the same photos, dropped again
            data = p.read_bytes()
            p.unlink()
            p.write_bytes(data)
        drop(tmp_path, "W2", [r.replace("199.00", "189.00") for r in ROWS])
        assert run(prof, env, "run").returncode == 0
        assert shop.catalog()  # the price went out...
        assert any(v["regular_price"] == "189.00" for p in shop.catalog().values()
                   for v in p["variations"])
        assert dict(shop.downloads) == {url(a1): 1, url(a2): 1, url(b1): 1}  # ...no photo
        assert len(shop.media.attachments) == attachments

        a1_new = jpeg(11)
        (foto / "D25FW0101_001_1.jpg").write_bytes(a1_new)
        drop(tmp_path, "W3", [r.replace("199.00", "179.00") for r in ROWS])
        assert run(prof, env, "run").returncode == 0
        assert shop.downloads[url(a1_new)] == 1
        assert max(shop.downloads.values()) == 1
        assert shop.images_of("D25FW0101-001-S")[0] == (url(a1_new), "Cappotto 001")
        assert url(a1) not in [u for u, _ in shop.images_of("D25FW0101-001-S")]


def test_a_pattern_field_the_mapping_lacks_is_a_profile_error(tmp_path, cli_env):
    prof = profile(tmp_path)
    prof.write_text(prof.read_text().replace("{article}_{colour}_", "{style}_{colour}_"))
    r = run(prof, cli_env, "check")
    assert r.returncode != 0 and "photos.pattern: {style} is not a mapped field" in \
        r.stdout + r.stderr, r.stdout + r.stderr


def test_photos_are_delivered_over_sftp_once(tmp_path, cli_env, sshd):
    """``public.deliver`` sends each published photo to a destination (here the real
    OpenSSH sshd of tests/sshd.py) before any record names it; a re-drop sends none."""
    import json

    remote = sshd.root / tmp_path.name / "cdn"
    remote.mkdir(parents=True)
    kh = tmp_path / "known_hosts"
    kh.write_text(sshd.known_hosts_line())
    prof = profile(tmp_path)
    dest = sshd.server(kh, path=str(remote.relative_to(sshd.root)))
    prof.write_text(prof.read_text().replace(f'url: "{CDN}"}}', f'url: "{CDN}", deliver: [cdn]}}')
                    + f"destinations: {{cdn: {json.dumps(dest)}}}\n")
    a1, a2 = jpeg(1), jpeg(2)
    (tmp_path / "FOTO" / "D25FW0101_001_1.jpg").write_bytes(a1)
    (tmp_path / "FOTO" / "D25FW0101_001_2.jpg").write_bytes(a2)
    drop(tmp_path, "S1", ROWS[:2])
    r = run(prof, cli_env, "run")
    assert r.returncode == 0, r.stdout + r.stderr
    names = sorted(u.removeprefix(CDN) for u in (url(a1), url(a2)))
    assert sorted(p.name for p in remote.iterdir()) == names  # no temporaries left
    assert (remote / url(a1).removeprefix(CDN)).read_bytes() == a1
    stamp = {p.name: p.stat().st_mtime_ns for p in remote.iterdir()}
    drop(tmp_path, "S2", [r.replace("199.00", "189.00") for r in ROWS[:2]])
    assert run(prof, cli_env, "run").returncode == 0
    assert {p.name: p.stat().st_mtime_ns for p in remote.iterdir()} == stamp


def test_a_replaced_photo_leaves_the_sftp_destination_after_the_grace(tmp_path, cli_env,
                                                                      sshd):
    """The deliver destinations (the real sshd) lose a replaced photo's copy with the
    public folder, after public.keep_replaced; while the server refuses the removal
    the ledger keeps the photo to be removed and the next run finishes the job."""
    import json
    import shutil

    remote = sshd.root / tmp_path.name / "cdn"
    remote.mkdir(parents=True)
    kh = tmp_path / "known_hosts"
    kh.write_text(sshd.known_hosts_line())
    prof = profile(tmp_path)
    dest = sshd.server(kh, path=str(remote.relative_to(sshd.root)))
    prof.write_text(prof.read_text().replace(
        f'url: "{CDN}"}}', f'url: "{CDN}", deliver: [cdn], keep_replaced: 2s}}')
        + f"destinations: {{cdn: {json.dumps(dest)}}}\n")
    a1, a2, a2b = jpeg(1), jpeg(2), jpeg(12)
    (tmp_path / "FOTO" / "D25FW0101_001_1.jpg").write_bytes(a1)
    (tmp_path / "FOTO" / "D25FW0101_001_2.jpg").write_bytes(a2)
    drop(tmp_path, "E1", ROWS[:1])
    assert run(prof, cli_env, "run").returncode == 0
    (tmp_path / "FOTO" / "D25FW0101_001_2.jpg").write_bytes(a2b)
    drop(tmp_path, "E2", [ROWS[0].replace("199.00", "189.00")])
    assert run(prof, cli_env, "run").returncode == 0
    names = {u.removeprefix(CDN) for u in (url(a1), url(a2), url(a2b))}
    assert {p.name for p in remote.iterdir()} == names  # within the grace

    time.sleep(2.5)
    old = remote / url(a2).removeprefix(CDN)
    old.unlink()  # a folder in its place: the server cannot remove it (even as root)
    (old / "x").mkdir(parents=True)
    drop(tmp_path, "E3", [ROWS[0].replace("199.00", "179.00")])
    r = run(prof, cli_env, "run")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "replaced photos not yet removed: destination cdn" in r.stderr
    assert cdn(tmp_path) == {url(a1), url(a2b)}
    assert {p.name for p in remote.iterdir()} == names
    shutil.rmtree(old)
    old.write_bytes(a2)
    drop(tmp_path, "E4", [ROWS[0].replace("199.00", "169.00")])
    r = run(prof, cli_env, "run")
    assert r.returncode == 0, r.stdout + r.stderr
    assert {p.name for p in remote.iterdir()} == names - {url(a2).removeprefix(CDN)}
    assert [u for v in images(tmp_path, "E4").values() for u, _ in v] == [url(a1), url(a2b)]


def test_deliver_names_a_destination(tmp_path, cli_env):
    prof = profile(tmp_path)
    prof.write_text(prof.read_text().replace(f'url: "{CDN}"}}', f'url: "{CDN}", deliver: [cdn]}}'))
    r = run(prof, cli_env, "check")
    assert r.returncode != 0 and "photos.public.deliver: unknown destination 'cdn'" in \
        r.stdout + r.stderr, r.stdout + r.stderr


def test_a_web_size_is_turned_as_the_camera_said(tmp_path, cli_env):
    """A portrait shot stored landscape with EXIF Orientation 6 (rotate 90° CW) comes
    out portrait: the web rendition carries no EXIF, so the turn is applied."""
    prof = profile(tmp_path, web="web: {max_side: 100, format: jpeg, quality: 80}")
    exif = Image.Exif()
    exif[0x0112] = 6
    out = io.BytesIO()
    Image.new("RGB", (400, 200), (200, 10, 10)).save(out, "JPEG", exif=exif.tobytes())
    (tmp_path / "FOTO" / "D25FW0101_001_1.jpg").write_bytes(out.getvalue())
    drop(tmp_path, "E1", ROWS[:1])
    assert run(prof, cli_env, "run").returncode == 0
    [pub] = list((tmp_path / "cdn").iterdir())
    with Image.open(pub) as im:
        assert im.size == (50, 100)


@pytest.mark.parametrize("point", ["photos.staged@2", "photos.copied@2"])
def test_a_crash_while_publishing_leaves_one_copy_of_each_photo(tmp_path, cli_env, point):
    """Killed (SIGKILL) with the second photo's copy written but not renamed, or
    published but not yet in the ledger: the next run sweeps the temporary, publishes
    each photo under the same name once, and the records carry them all."""
    prof = profile(tmp_path)
    shots = [jpeg(1), jpeg(2), jpeg(3)]
    for i, data in enumerate(shots, 1):
        (tmp_path / "FOTO" / f"D25FW0101_001_{i}.jpg").write_bytes(data)
    drop(tmp_path, "K1", ROWS[:2])
    died = run(prof, cli_env | {"FILEBRIDGE_CRASH_AT": point}, "run")
    assert died.returncode == -9, died.stdout + died.stderr
    left = {p.name for p in (tmp_path / "cdn").iterdir()}
    assert any(n.startswith(".filebridge-tmp-") for n in left) == point.startswith(
        "photos.staged")
    r = run(prof, cli_env, "run")
    assert r.returncode == 0, r.stdout + r.stderr
    assert sorted(p.name for p in (tmp_path / "cdn").iterdir()) == sorted(
        url(d).removeprefix(CDN) for d in shots)
    assert [u for v in images(tmp_path, "K1").values() for u, _ in v] == [url(d) for d in shots]
    assert "images [photos] known=3 published=3 refused=0" in status(prof, cli_env)


def cdn(tmp: Path) -> set[str]:
    """The public folder's files, as URLs."""
    return {CDN + p.name for p in (tmp / "cdn").iterdir()}


@pytest.mark.parametrize("crash", ["", "photos.removing", "photos.removed"])
def test_a_replaced_photo_is_deleted_once_its_grace_period_is_over(tmp_path, cli_env, crash):
    """A photo replaced under its name, or removed from the folder, keeps its published
    file for public.keep_replaced (shop files written meanwhile may still name it);
    one that comes back meanwhile is kept; after it the file is deleted, and a picture
    dropped again later is published again. Killed (SIGKILL) between marking the
    rows and deleting the files, or between deleting them and forgetting the rows,
    the next run finishes the job."""
    prof = profile(tmp_path)
    # The grace period is an hour, and the test ends it by moving the retirement times
    # back in the ledger: runs slowed by a loaded machine never end it early.
    prof.write_text(prof.read_text().replace(f'url: "{CDN}"}}',
                                             f'url: "{CDN}", keep_replaced: 1h}}'))
    foto = tmp_path / "FOTO"
    a1, a2, a3, a2b = jpeg(1), jpeg(2), jpeg(3), jpeg(12)
    for n, data in ((1, a1), (2, a2), (3, a3)):
        (foto / f"D25FW0101_001_{n}.jpg").write_bytes(data)
    drop(tmp_path, "G1", ROWS[:1])
    assert run(prof, cli_env, "run").returncode == 0
    assert cdn(tmp_path) == {url(a1), url(a2), url(a3)}

    (foto / "D25FW0101_001_2.jpg").write_bytes(a2b)  # replaced
    (foto / "D25FW0101_001_3.jpg").unlink()          # removed
    (foto / "D25FW0101_001_1.jpg").unlink()          # removed, and back below
    drop(tmp_path, "G2", [ROWS[0].replace("199.00", "189.00")])
    r = run(prof, cli_env, "run")
    assert r.returncode == 0, r.stdout + r.stderr
    assert [u for v in images(tmp_path, "G2").values() for u, _ in v] == [url(a2b)]
    assert cdn(tmp_path) == {url(a1), url(a2), url(a3), url(a2b)}  # within the grace
    (foto / "D25FW0101_001_1.jpg").write_bytes(a1)  # back before the grace is over
    drop(tmp_path, "G3", [ROWS[0].replace("199.00", "179.00")])
    assert run(prof, cli_env, "run").returncode == 0
    stamp = (tmp_path / "cdn" / url(a1).removeprefix(CDN)).stat().st_mtime_ns

    with sqlite3.connect(tmp_path / "filebridge.db") as db:
        assert db.execute("UPDATE images SET retired = retired - 3601 "
                          "WHERE retired IS NOT NULL").rowcount == 2  # a2 and a3
    db.close()
    drop(tmp_path, "G4", [ROWS[0].replace("199.00", "169.00")])
    if crash:
        died = run(prof, cli_env | {"FILEBRIDGE_CRASH_AT": crash}, "run")
        assert died.returncode == -9, died.stdout + died.stderr
        assert (url(a3) in cdn(tmp_path)) == (crash == "photos.removing")
    r = run(prof, cli_env, "run")
    assert r.returncode == 0, r.stdout + r.stderr
    assert cdn(tmp_path) == {url(a1), url(a2b)}
    assert (tmp_path / "cdn" / url(a1).removeprefix(CDN)).stat().st_mtime_ns == stamp
    assert [u for v in images(tmp_path, "G4").values() for u, _ in v] == [url(a1), url(a2b)]
    assert "images [photos] known=2 published=2 refused=0" in status(prof, cli_env)

    (foto / "D25FW0101_001_3.jpg").write_bytes(a3)  # dropped again: published again
    drop(tmp_path, "G5", [ROWS[0].replace("199.00", "159.00")])
    assert run(prof, cli_env, "run").returncode == 0
    assert cdn(tmp_path) == {url(a1), url(a2b), url(a3)}
    assert [u for v in images(tmp_path, "G5").values() for u, _ in v] == [
        url(a1), url(a2b), url(a3)]


def sftp_profile(tmp: Path, sshd, folder: str, kh: Path, ready: str = "{stable_for: 0s}",
                 sink: str = "") -> Path:
    """The photos on the real sshd (tests/sshd.py) instead of the local FOTO folder."""
    import json

    prof = profile(tmp)
    server = sshd.server(kh, path=folder) | {"ready": "READY"}
    server.pop("kind")
    text = prof.read_text().replace("  folder: FOTO\n", "  sftp: " + json.dumps(server)
                                    .replace('"READY"', ready) + "\n")
    if sink:
        text = text.replace('  - {format: shopify_csv, path: "out/{stem}.csv"}',
                            '  - {format: shopify_csv, path: "out/{stem}.csv"}\n' + sink)
    prof.write_text(text)
    return prof


def test_photos_from_an_sftp_folder_published_once(tmp_path, cli_env, sshd):
    """The photo folder on the real OpenSSH sshd: each photo downloaded to scratch,
    checked, published once under its digest; its URL in the Shopify CSV and the
    WooCommerce import file. Broken photos are refused by name. Dropped again on the
    server (new mtimes) they are downloaded to be hashed, and nothing is published."""
    folder = sshd.root / tmp_path.name / "FOTO"
    folder.mkdir(parents=True)
    kh = tmp_path / "known_hosts"
    kh.write_text(sshd.known_hosts_line())
    prof = sftp_profile(tmp_path, sshd, str(folder.relative_to(sshd.root)), kh, sink=(
        '  - {format: woocommerce_csv, path: "out/{stem}.woo.csv"}'))
    a1, a2, b1 = jpeg(1), jpeg(2), jpeg(3)
    (folder / "D25FW0101_001_1.jpg").write_bytes(a1)
    (folder / "D25FW0101_001_2.jpg").write_bytes(a2)
    (folder / "D25FW0101_002_1.jpg").write_bytes(b1)
    (folder / "D25FW0101_002_2.jpg").write_bytes(jpeg(4, (640, 480))[:900])  # truncated
    (folder / "D25FW0101_002_3.jpg").write_bytes(b"GIF89a but no picture")
    drop(tmp_path, "R1", ROWS)
    r = run(prof, cli_env, "run")
    assert r.returncode == 0, r.stdout + r.stderr
    [ack] = read_csv(tmp_path / "feedback" / "R1.ack.csv", ";")
    assert (ack["status"], ack["read"], ack["sent"], ack["rejected"]) == ("done", "4", "4", "0")
    warnings = {w["reason"] for w in read_csv(tmp_path / "feedback" / "R1.rejects.csv", ";")}
    assert any("D25FW0101_002_2.jpg: refused: broken or truncated" in w for w in warnings)
    assert any("D25FW0101_002_3.jpg: refused: not an image" in w for w in warnings)
    assert sorted(p.name for p in (tmp_path / "cdn").iterdir()) == sorted(
        u.removeprefix(CDN) for u in (url(a1), url(a2), url(b1)))
    assert (tmp_path / "cdn" / url(b1).removeprefix(CDN)).read_bytes() == b1
    shop = images(tmp_path, "R1")
    assert [u for u, _ in shop["d25fw0101"]] == [url(a1), url(a2), url(b1)]
    # The WooCommerce file through the re-implemented importer (tests/checkers):
    # the product gets the photos as its image and gallery, in position order.
    from checkers.woocommerce_importer import WooShop, import_csv

    woo = WooShop()
    res = import_csv(woo, tmp_path / "out" / "R1.woo.new.csv")
    assert not res.failed and not res.skipped, (res.failed, res.skipped)
    assert woo.product("D25FW0101").images == [url(a1), url(a2), url(b1)]
    # the server's folder is read, never changed; no download left in scratch
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        f"D25FW0101_00{c}_{n}.jpg" for c, n in ((1, 1), (1, 2), (2, 1), (2, 2), (2, 3)))
    scratch = list((tmp_path / ".filebridge-scratch").rglob("*"))
    assert not [p for p in scratch if p.is_file()], scratch
    assert "images [photos] known=5 published=3 refused=2" in status(prof, cli_env)

    stamp = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "cdn").iterdir()}
    for p in folder.iterdir():  # dropped again: new files, new times
        data = p.read_bytes()
        p.unlink()
        p.write_bytes(data)
    drop(tmp_path, "R2", [r.replace("199.00", "189.00") for r in ROWS])
    r = run(prof, cli_env, "run")
    assert r.returncode == 0, r.stdout + r.stderr
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "cdn").iterdir()} == stamp
    assert images(tmp_path, "R2") == shop
    assert "images [photos] known=5 published=3 refused=2" in status(prof, cli_env)


def test_sftp_photos_delivered_to_an_sftp_cdn_once(tmp_path, cli_env, sshd):
    """Photos read from SFTP and published to an SFTP destination: a re-run uploads
    nothing (the destination's files keep their times)."""
    import json

    folder = sshd.root / tmp_path.name / "FOTO"
    folder.mkdir(parents=True)
    remote = sshd.root / tmp_path.name / "cdn"
    remote.mkdir()
    kh = tmp_path / "known_hosts"
    kh.write_text(sshd.known_hosts_line())
    prof = sftp_profile(tmp_path, sshd, str(folder.relative_to(sshd.root)), kh)
    dest = sshd.server(kh, path=str(remote.relative_to(sshd.root)))
    prof.write_text(prof.read_text().replace(f'url: "{CDN}"}}', f'url: "{CDN}", deliver: [cdn]}}')
                    + f"destinations: {{cdn: {json.dumps(dest)}}}\n")
    a1 = jpeg(1)
    (folder / "D25FW0101_001_1.jpg").write_bytes(a1)
    drop(tmp_path, "D1", ROWS[:2])
    assert run(prof, cli_env, "run").returncode == 0
    assert [p.name for p in remote.iterdir()] == [url(a1).removeprefix(CDN)]
    stamp = {p.name: p.stat().st_mtime_ns for p in remote.iterdir()}
    drop(tmp_path, "D2", [r.replace("199.00", "189.00") for r in ROWS[:2]])
    assert run(prof, cli_env, "run").returncode == 0
    assert {p.name: p.stat().st_mtime_ns for p in remote.iterdir()} == stamp


def test_an_sftp_photo_is_taken_once_complete(tmp_path, cli_env, sshd):
    """The SFTP source's readiness rule: with a done-file configured, a photo without
    it is left for a later run (a warning naming it) and the done-file is no photo;
    with stable_for, a run waits until the photo's size and mtime stay the same."""
    folder = sshd.root / tmp_path.name / "FOTO"
    folder.mkdir(parents=True)
    kh = tmp_path / "known_hosts"
    kh.write_text(sshd.known_hosts_line())
    prof = sftp_profile(tmp_path, sshd, str(folder.relative_to(sshd.root)), kh,
                        ready="{stable_for: 1s, done_file: '{name}.ok'}")
    a1, a2 = jpeg(1), jpeg(2)
    (folder / "D25FW0101_001_1.jpg").write_bytes(a1)
    (folder / "D25FW0101_001_1.jpg.ok").write_bytes(b"")
    (folder / "D25FW0101_001_2.jpg").write_bytes(a2)  # its done-file not there yet
    drop(tmp_path, "Q1", ROWS[:1])
    r = run(prof, cli_env, "run")
    assert r.returncode == 0, r.stdout + r.stderr
    assert [u for v in images(tmp_path, "Q1").values() for u, _ in v] == [url(a1)]
    warnings = [w["reason"] for w in read_csv(tmp_path / "feedback" / "Q1.rejects.csv", ";")]
    assert any("D25FW0101_001_2.jpg: no D25FW0101_001_2.jpg.ok yet" in w for w in warnings)
    assert not any("does not match" in w for w in warnings), warnings
    (folder / "D25FW0101_001_2.jpg.ok").write_bytes(b"")
    drop(tmp_path, "Q2", [ROWS[0].replace("199.00", "189.00")])
    assert run(prof, cli_env, "run").returncode == 0
    assert [u for v in images(tmp_path, "Q2").values() for u, _ in v] == [url(a1), url(a2)]
    assert (folder / "D25FW0101_001_2.jpg.ok").exists()  # the folder is read, not consumed


def downloaded(r: subprocess.CompletedProcess[str]) -> int:
    """How many photos the run downloaded, as its log says."""
    import re

    [n] = re.findall(r"photo\(s\) complete in sftp://\S+, (\d+) downloaded", r.stderr)
    return int(n)


def test_an_unchanged_sftp_photo_is_not_downloaded_by_a_new_process(tmp_path, cli_env,
                                                                    sshd):
    """The ledger remembers each photo's name, size and mtime with its digest: the next
    process (a new ``filebridge run``) downloads none of the unchanged photos; a new
    mtime downloads that photo again (same bytes: nothing published), a new size
    too (new bytes: a new URL)."""
    import os

    folder = sshd.root / tmp_path.name / "FOTO"
    folder.mkdir(parents=True)
    kh = tmp_path / "known_hosts"
    kh.write_text(sshd.known_hosts_line())
    prof = sftp_profile(tmp_path, sshd, str(folder.relative_to(sshd.root)), kh)
    a1, a2, bad = jpeg(1), jpeg(2), b"not a picture"
    (folder / "D25FW0101_001_1.jpg").write_bytes(a1)
    (folder / "D25FW0101_001_2.jpg").write_bytes(a2)
    (folder / "D25FW0101_001_3.jpg").write_bytes(bad)
    old = time.time() - 3600
    for p in folder.iterdir():
        os.utime(p, (old, old))
    drop(tmp_path, "U1", ROWS[:1])
    r = run(prof, cli_env, "run")
    assert r.returncode == 0, r.stdout + r.stderr
    assert downloaded(r) == 3
    shop = images(tmp_path, "U1")
    assert [u for u, _ in shop["d25fw0101"]] == [url(a1), url(a2)]
    stamp = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "cdn").iterdir()}

    drop(tmp_path, "U2", [ROWS[0].replace("199.00", "189.00")])
    r = run(prof, cli_env, "run")
    assert r.returncode == 0, r.stdout + r.stderr
    assert downloaded(r) == 0
    assert images(tmp_path, "U2") == shop
    warnings = [w["reason"] for w in read_csv(tmp_path / "feedback" / "U2.rejects.csv", ";")]
    assert any("D25FW0101_001_3.jpg: refused: not an image" in w for w in warnings)

    os.utime(folder / "D25FW0101_001_1.jpg", (old + 60, old + 60))  # touched
    a2b = jpeg(5, (80, 60))
    assert len(a2b) != len(a2)
    (folder / "D25FW0101_001_2.jpg").write_bytes(a2b)  # replaced, its mtime kept
    os.utime(folder / "D25FW0101_001_2.jpg", (old, old))
    drop(tmp_path, "U3", [ROWS[0].replace("199.00", "179.00")])
    r = run(prof, cli_env, "run")
    assert r.returncode == 0, r.stdout + r.stderr
    assert downloaded(r) == 2
    assert [u for v in images(tmp_path, "U3").values() for u, _ in v] == [url(a1), url(a2b)]
    after = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "cdn").iterdir()}
    assert after[url(a1).removeprefix(CDN)] == stamp[url(a1).removeprefix(CDN)]
    assert set(after) - set(stamp) == {url(a2b).removeprefix(CDN)}

    drop(tmp_path, "U4", [ROWS[0].replace("199.00", "169.00")])
    r = run(prof, cli_env, "run")
    assert r.returncode == 0, r.stdout + r.stderr
    assert downloaded(r) == 0


def test_a_changed_host_key_of_the_photo_server_is_refused(tmp_path, cli_env, sshd):
    """A pinned key the server no longer shows: nothing is downloaded or sent, the
    input stays for the next run, and the message says the key changed."""
    folder = sshd.root / tmp_path.name / "FOTO"
    folder.mkdir(parents=True)
    (folder / "D25FW0101_001_1.jpg").write_bytes(jpeg(1))
    kh = tmp_path / "known_hosts"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f",
                    str(tmp_path / "other")], check=True)
    other = " ".join((tmp_path / "other.pub").read_text().split()[:2])
    kh.write_text(f"{sshd.host_id} {other}\n")
    prof = sftp_profile(tmp_path, sshd, str(folder.relative_to(sshd.root)), kh)
    drop(tmp_path, "H1", ROWS[:1])
    r = run(prof, cli_env, "run")
    assert r.returncode != 0
    assert "HOST KEY CHANGED" in r.stdout + r.stderr, r.stdout + r.stderr
    assert (tmp_path / "inbox" / "H1.csv").exists()
    assert not (tmp_path / "out" / "H1.csv").exists()
    assert not (tmp_path / "cdn").exists() or not list((tmp_path / "cdn").iterdir())


SFTP_BLOCK = "  sftp:\n    host: 127.0.0.1\n    user: photos\n    key: file:KEY\n    path: FOTO\n"


@pytest.mark.parametrize("change, error", [
    (lambda t: t.replace("  folder: FOTO\n", SFTP_BLOCK).replace("    key: file:KEY\n", ""),
     "give key"),
    (lambda t: t.replace("  folder: FOTO\n", SFTP_BLOCK).replace("file:KEY", "hunter2-lit"),
     "literal secret is refused"),
    (lambda t: t.replace("  folder: FOTO\n", "  folder: FOTO\n" + SFTP_BLOCK),
     "give folder (local) or sftp (a server), one of them"),
    (lambda t: t.replace("  folder: FOTO\n", ""),
     "give folder (local) or sftp (a server), one of them"),
    (lambda t: t.replace("  folder: FOTO\n", SFTP_BLOCK), None),
])
def test_check_validates_the_sftp_photo_folder(tmp_path, cli_env, change, error):
    prof = profile(tmp_path)
    (tmp_path / "KEY").write_text("not checked before a connection")
    prof.write_text(change(prof.read_text()))
    r = run(prof, cli_env, "check")
    out = r.stdout + r.stderr
    if error is None:
        assert r.returncode == 0, out
        return
    assert r.returncode != 0 and error in out and "photos" in out, out
    assert "hunter2" not in out


def test_trust_pins_the_photo_servers_key(tmp_path, cli_env, sshd):
    """``filebridge trust`` finds the SFTP photo folder's server and pins its key;
    with it pinned the photos are fetched."""
    folder = sshd.root / tmp_path.name / "FOTO"
    folder.mkdir(parents=True)
    (folder / "D25FW0101_001_1.jpg").write_bytes(jpeg(1))
    kh = tmp_path / "known_hosts"
    prof = sftp_profile(tmp_path, sshd, str(folder.relative_to(sshd.root)), kh)
    drop(tmp_path, "T1", ROWS[:1])
    refused = run(prof, cli_env, "run")
    assert refused.returncode != 0 and "T1.csv" in {p.name for p in (tmp_path / "inbox").iterdir()}
    r = subprocess.run([sys.executable, "-m", "filebridge", "trust", str(prof), "--yes"],
                       check=False, env=cli_env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "photos: pinned" in r.stdout
    assert kh.read_text() == sshd.known_hosts_line()
    assert run(prof, cli_env, "run").returncode == 0
    assert [u for v in images(tmp_path, "T1").values() for u, _ in v] == [url(jpeg(1))]


def test_without_a_public_folder_check_refuses_shop_files(tmp_path, cli_env):
    """Without photos.public the records carry photo: references only the shop APIs
    upload: a shop file (it needs URLs) is refused by check, naming it."""
    prof = profile(tmp_path)
    prof.write_text(prof.read_text().replace(f'  public: {{path: cdn, url: "{CDN}"}}\n', ""))
    r = run(prof, cli_env, "check")
    assert r.returncode != 0, r.stdout + r.stderr
    out = r.stdout + r.stderr
    assert "photos.yaml:24: write.0: shopify_csv needs image URLs" in out, out
    assert "photos.public" in out and "magento_api" in out and "vendure_api" in out, out
    # WooCommerce uploads through WordPress's media library, which its key does not open.
    woo = prof.read_text().replace(
        '  - {format: shopify_csv, path: "out/{stem}.csv"}',
        '  - {format: woocommerce_api, url: "http://127.0.0.1:9", consumer_key: "${K}", '
        'consumer_secret: "${K}"}')
    prof.write_text(woo)
    r = run(prof, cli_env | {"K": "x"}, "check")
    assert r.returncode != 0 and "needs wp_user and wp_password" in r.stdout + r.stderr
    prof.write_text(woo.replace('consumer_secret: "${K}"}', 'consumer_secret: "${K}", '
                                'wp_user: "${K}", wp_password: "${K}"}'))
    r = run(prof, cli_env | {"K": "x"}, "check")
    assert r.returncode == 0 and "photos.yaml: ok" in r.stdout, r.stdout + r.stderr
    # A store given beside a public folder is one too many.
    prof.write_text(prof.read_text().replace("  missing:", f'  public: {{path: cdn, url: '
                                             f'"{CDN}"}}\n  store: st\n  missing:'))
    r = run(prof, cli_env, "check")
    assert r.returncode != 0 and "give one of public and store" in r.stdout + r.stderr


def test_without_a_public_folder_the_shop_api_uploads_the_stored_photos(tmp_path, cli_env):
    """End to end: photos: with a store and no public folder, into the loopback
    WooCommerce: each photo stored under its digest, uploaded once to its media
    library and shown by id; a re-drop stores and uploads nothing."""
    from shops.woocommerce import WooServer

    prof = profile(tmp_path)
    text = prof.read_text().replace(f'  public: {{path: cdn, url: "{CDN}"}}\n', "  store: st\n")
    prof.write_text(text.replace(
        '  - {format: shopify_csv, path: "out/{stem}.csv"}',
        '  - {format: woocommerce_api, url: "${WC_URL}", consumer_key: "${WC_KEY}", '
        'consumer_secret: "${WC_SECRET}", wp_user: "${WP_USER}", '
        'wp_password: "${WP_PASSWORD}", limits: {max_backoff: 0.1}}'))
    foto = tmp_path / "FOTO"
    a1, a2 = jpeg(1), jpeg(2)
    (foto / "D25FW0101_001_1.jpg").write_bytes(a1)
    (foto / "D25FW0101_001_2.jpg").write_bytes(a2)
    (foto / "D25FW0101_002_1.jpg").write_bytes(a1)  # the same picture on another colour
    with WooServer(key="ck_p", secret="cs_p") as shop:
        env = cli_env | {"WC_URL": shop.url, "WC_KEY": "ck_p", "WC_SECRET": "cs_p",
                         "WP_USER": "shopbot", "WP_PASSWORD": "abcd efgh ijkl mnop"}
        drop(tmp_path, "W1", ROWS[:3])
        r = run(prof, env, "run")
        assert r.returncode == 0, r.stdout + r.stderr
        [ack] = read_csv(tmp_path / "feedback" / "W1.ack.csv", ";")
        assert (ack["read"], ack["sent"], ack["rejected"]) == ("3", "3", "0"), ack
        digest = {d: hashlib.sha256(d).hexdigest() for d in (a1, a2)}
        assert sorted(p.name for p in (tmp_path / "st").iterdir()) == sorted(
            f"{h}.jpg" for h in digest.values())
        assert not (tmp_path / "cdn").exists()
        assert shop.wp.uploads == 2 and not shop.downloads
        assert [h for h, _ in shop.uploaded_of("D25FW0101")] == [digest[a1], digest[a2]]
        # one attachment for both colours (its alt is the last sent: WooCommerce keeps
        # alt text on the attachment)
        assert shop.uploaded_of("D25FW0101-002-S")[0][0] == digest[a1]
        # Dropped again with a new price list: nothing stored or uploaded again.
        for p in foto.iterdir():
            data = p.read_bytes()
            p.unlink()
            p.write_bytes(data)
        drop(tmp_path, "W2", [row.replace("199.00", "189.00") for row in ROWS[:3]])
        r = run(prof, env, "run")
        assert r.returncode == 0, r.stdout + r.stderr
        assert shop.wp.uploads == 2
