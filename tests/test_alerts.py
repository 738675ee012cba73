"""Alerts end to end: the real CLI in a subprocess sends to a real SMTP server
(aiosmtpd on loopback) and a real HTTP receiver (http.server in a thread).

Shown: a rejected file, a run held by the breaker, a shop down past ``down_after``
(told once per window, not at every run nor at every retry of a watcher, and
afresh after it recovered), movements
the ERP has not acknowledged, a changed SFTP host key; an alert that cannot be
delivered is logged and the run goes on; the webhook's token never reaches a log.
"""

from __future__ import annotations

import email
import email.policy
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from conftest import write_profile
from helpers import fixed_profile, fixed_rows, wait_for
from shops.woocommerce import WooServer

pytestmark = pytest.mark.timeout(240)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Mailbox:
    """An aiosmtpd handler keeping every message it accepts, parsed."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], email.message.EmailMessage]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = email.message_from_bytes(envelope.original_content or envelope.content,
                                       policy=email.policy.default)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), msg))
        return "250 Message accepted for delivery"

    def about(self, event: str) -> list[email.message.EmailMessage]:
        return [m for _, _, m in self.messages if m["X-Filebridge-Event"] == event]


class Hook:
    """A webhook receiver: every POST's path, headers and JSON body."""

    def __init__(self, status: int = 204) -> None:
        self.posts: list[tuple[str, dict[str, str], dict[str, Any]]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hook.posts.append((self.path, dict(self.headers), json.loads(body)))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def about(self, event: str) -> list[dict[str, Any]]:
        return [b for _, _, b in self.posts if b["event"] == event]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def mailbox():
    box = Mailbox()
    ctl = Controller(box, hostname="127.0.0.1", port=free_port())
    ctl.start()
    box.port = ctl.port  # type: ignore[attr-defined]
    yield box
    ctl.stop()


@pytest.fixture
def hook():
    h = Hook()
    yield h
    h.close()


def alerts(mailbox: Mailbox, **extra: Any) -> dict[str, Any]:
    return {"email": {"host": "127.0.0.1", "port": mailbox.port,  # type: ignore[attr-defined]
                      "security": "none", "sender": "filebridge@shop.example",
                      "to": ["it@shop.example", "merchant@shop.example"]},
            "webhook": {"url": "${HOOK_URL}/hooks/${HOOK_PATH}",
                        "headers": {"Authorization": "${HOOK_TOKEN}"}}} | extra


def hook_env(env: dict[str, str], hook: Hook) -> dict[str, str]:
    return env | {"HOOK_URL": hook.url, "HOOK_PATH": "p4th-s3cret",
                  "HOOK_TOKEN": "Bearer t0k3n-s3cret"}


def cli(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "filebridge", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=180, check=False)


def no_secret(r: subprocess.CompletedProcess[str]) -> None:
    out = r.stdout + r.stderr
    assert "t0k3n" not in out and "p4th-s3cret" not in out, out


def catalog(workdir: Path, **extra: Any) -> Path:
    return write_profile(workdir, {
        "name": "cat", "source": {"kind": "local", "path": "../inbox", "pattern": ["*.csv"],
                                  "ready": {"stable_for": "0s"}, "errors": "../errors"},
        "read": {"format": "csv", "delimiter": ";"},
        "map": {"key": "sku", "fields": {"sku": {"from": "SKU"}}},
        "write": [{"format": "csv", "path": "../out/{stem}.csv"}],
        "feedback": {"ack": {"path": "../feedback/{stem}.ack.csv"}}} | extra)


def test_a_rejected_file_is_told_by_mail_and_webhook_once_per_window(workdir, cli_env,
                                                                       mailbox, hook):
    env = hook_env(cli_env, hook)
    prof = catalog(workdir, alerts=alerts(mailbox))
    (workdir / "inbox" / "E_1.csv").write_text("SKU\n", encoding="utf-8")  # no records
    r = cli("run", str(prof), cwd=workdir, env=env)
    assert "E_1.csv: rejected" in r.stdout, r.stdout + r.stderr
    no_secret(r)

    [(sender, to, msg)] = mailbox.messages
    assert sender == "filebridge@shop.example"
    assert to == ["it@shop.example", "merchant@shop.example"]
    assert msg["Subject"] == "[filebridge] cat: file E_1.csv rejected"
    body = msg.get_content()
    assert "rejected the file E_1.csv as a whole" in body
    assert "Reason: the file holds no records" in body
    assert "Counts: read 0, sent 0, unchanged 0, rejected 0" in body

    [(path, headers, post)] = hook.posts
    assert path == "/hooks/p4th-s3cret" and headers["Authorization"] == "Bearer t0k3n-s3cret"
    assert headers["Content-Type"] == "application/json"
    assert (post["event"], post["profile"], post["file"]) == ("rejected", "cat", "E_1.csv")
    assert post["reason"] == "the file holds no records"
    assert post["counts"]["read"] == 0 and post["subject"] == "cat: file E_1.csv rejected"

    # The same file again within the window: rejected again, not told again.
    (workdir / "inbox" / "E_1.csv").write_text("SKU\n", encoding="utf-8")
    r = cli("run", str(prof), cwd=workdir, env=env)
    assert "E_1.csv: rejected" in r.stdout, r.stdout + r.stderr
    assert len(mailbox.messages) == 1 and len(hook.posts) == 1
    # Another file is another problem.
    (workdir / "inbox" / "E_2.csv").write_text("SKU\n", encoding="utf-8")
    cli("run", str(prof), cwd=workdir, env=env)
    assert [m["Subject"] for _, _, m in mailbox.messages][1] == \
        "[filebridge] cat: file E_2.csv rejected"
    assert len(hook.posts) == 2


def test_an_alert_that_cannot_be_delivered_is_logged_and_the_run_goes_on(workdir, cli_env):
    bad = Hook(status=500)
    try:
        env = hook_env(cli_env, bad)
        closed = free_port()  # nothing listens there
        prof = catalog(workdir, alerts={
            "email": {"host": "127.0.0.1", "port": closed, "security": "none",
                      "sender": "f@shop.example", "to": ["it@shop.example"],
                      "timeout": "2s"},
            "webhook": {"url": "${HOOK_URL}/hooks/${HOOK_PATH}"}})
        (workdir / "inbox" / "E_1.csv").write_text("SKU\n", encoding="utf-8")
        (workdir / "inbox" / "G_1.csv").write_text("SKU\nA\n", encoding="utf-8")
        r = cli("run", str(prof), cwd=workdir, env=env)
        assert "E_1.csv: rejected" in r.stdout and "G_1.csv: done" in r.stdout, r.stdout
        assert "not delivered by e-mail" in r.stderr and "not delivered by webhook" in r.stderr
        assert "HTTP 500" in r.stderr and "Traceback" not in r.stderr, r.stderr
        assert len(bad.posts) == 1  # tried once, then logged
        assert (workdir / "out" / "G_1.csv").read_text() == "sku\nA\n"
        no_secret(r)
        # It reached nobody: the same problem seen again is tried again (no window).
        (workdir / "inbox" / "E_1.csv").write_text("SKU\n", encoding="utf-8")
        cli("run", str(prof), cwd=workdir, env=env)
        assert len(bad.posts) == 2
    finally:
        bad.close()


# the shop: the loopback WooCommerce server -------------------------------------------
@pytest.fixture
def shop():
    with WooServer(key="ck_al", secret="cs_al") as s:
        yield s


def woo(workdir: Path, alerts_: dict[str, Any], **sink: Any) -> Path:
    return write_profile(workdir, {
        "name": "stock",
        "source": {"kind": "local", "path": "../inbox", "pattern": ["*.csv"],
                   "ready": {"stable_for": "0s"}, "archive": "../archive"},
        "read": {"format": "csv", "delimiter": ";", "fields": {"QTY": {"type": "integer"}}},
        "map": {"key": "sku", "fields": {"sku": {"from": "SKU", "required": True},
                                         "stock": {"from": "QTY"}}},
        "write": [{"format": "woocommerce_api", "url": "${WOO_URL}",
                   "consumer_key": "${WOO_KEY}", "consumer_secret": "${WOO_SECRET}",
                   "limits": {"max_backoff": 0.01, "retries": 2}} | sink],
        "feedback": {"ack": {"path": "../feedback/{stem}.ack.csv"}},
        "alerts": alerts_})


def skus(workdir: Path, name: str, n: int) -> None:
    (workdir / "inbox" / name).write_text(
        "SKU;QTY\n" + "".join(f"SKU{i:04};{i % 7}\n" for i in range(n)), encoding="utf-8")


def test_a_run_held_by_the_breaker_is_told(workdir, cli_env, mailbox, hook, shop):
    env = hook_env(cli_env, hook) | {"WOO_URL": shop.url, "WOO_KEY": "ck_al",
                                     "WOO_SECRET": "cs_al"}
    prof = woo(workdir, alerts(mailbox), missing="zero")
    skus(workdir, "S_1.csv", 100)
    assert cli("run", str(prof), cwd=workdir, env=env).returncode == 0
    assert mailbox.messages == [] and hook.posts == []  # a good run says nothing
    skus(workdir, "S_2.csv", 10)  # a truncated export: 90 of 100 would be zeroed
    r = cli("run", str(prof), cwd=workdir, env=env)
    assert r.returncode == 7, r.stdout + r.stderr  # held
    [msg] = mailbox.about("held")
    assert msg["Subject"] == "[filebridge] stock: run held for approval (S_2.csv)"
    body = msg.get_content()
    assert "holds the changes of S_2.csv" in body and "filebridge approve" in body
    assert "90 of the 100 products" in body
    [post] = hook.about("held")
    assert post["file"] == "S_2.csv" and "90 of the 100" in post["reason"]
    assert post["counts"]["read"] == 10


def test_a_shop_down_is_told_once_past_the_threshold_and_again_after_it_recovered(
        workdir, cli_env, mailbox, hook, shop):
    env = hook_env(cli_env, hook) | {"WOO_URL": shop.url, "WOO_KEY": "ck_al",
                                     "WOO_SECRET": "cs_al"}
    # The settings in a shared alerts file; the profile sets its own threshold.
    (workdir / "alerts.yaml").write_text(json.dumps(alerts(mailbox, window="1h")),
                                         encoding="utf-8")
    prof = woo(workdir, {"file": "../alerts.yaml", "down_after": "2s"})
    shop.faults.fail(100_000, 503)
    skus(workdir, "S_1.csv", 20)
    r = cli("run", str(prof), cwd=workdir, env=env)
    assert r.returncode == 6, r.stdout + r.stderr  # queued: the shop failed
    assert mailbox.about("down") == [] and hook.about("down") == []  # not past 2 s yet
    time.sleep(2.2)
    r = cli("run", str(prof), cwd=workdir, env=env)  # still failing: past the threshold
    assert r.returncode == 6, r.stdout + r.stderr
    no_secret(r)
    [msg] = mailbox.about("down")
    assert msg["Subject"].startswith(f"[filebridge] stock: shop woocommerce_api:{shop.url}")
    assert " down for " in msg["Subject"]
    body = msg.get_content()
    assert "has been failing for" in body and "503" in body and "nothing is lost" in body
    [post] = hook.about("down")
    assert post["what"] == f"shop woocommerce_api:{shop.url}" and post["seconds"] >= 2

    for _ in range(3):  # every run sees it down again: told once per window
        cli("run", str(prof), cwd=workdir, env=env)
    assert len(mailbox.about("down")) == 1 and len(hook.about("down")) == 1

    shop.faults.queue.clear()  # back: the queued changes go, the trouble is forgotten
    r = cli("run", str(prof), cwd=workdir, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert len(shop.catalog()) == 20
    [back] = [m for m in mailbox.about("down") if "works again" in m["Subject"]]
    assert back["Subject"] == f"[filebridge] stock: shop woocommerce_api:{shop.url} works again"
    assert [p.get("recovered", False) for p in hook.about("down")] == [False, True]
    cli("run", str(prof), cwd=workdir, env=env)
    assert len(mailbox.about("down")) == 2  # told once that it is back
    shop.faults.fail(100_000, 503)  # down again: a new outage, timed from now
    skus(workdir, "S_2.csv", 21)
    cli("run", str(prof), cwd=workdir, env=env)
    assert len(mailbox.about("down")) == 2  # not 2 s yet
    time.sleep(2.2)
    cli("run", str(prof), cwd=workdir, env=env)
    # A new outage past the threshold is news, even within the first one's window (a
    # flapping shop is told at most once per outage that lasts down_after).
    assert len(mailbox.about("down")) == 3 and len(hook.about("down")) == 3
    assert " down for " in mailbox.about("down")[2]["Subject"]


def test_movements_the_erp_has_not_acknowledged_are_told(workdir, cli_env, mailbox, hook,
                                                        shop):
    from datetime import datetime

    from filebridge.ledger.sqlite import SqliteLedger
    from filebridge.orders.base import OrderLine
    from filebridge.stock.inventory import Inventory
    from filebridge.stock.spec import StockSpec

    env = hook_env(cli_env, hook) | {"WOO_URL": shop.url, "WOO_KEY": "ck_al",
                                     "WOO_SECRET": "cs_al"}
    (workdir / "inbox" / "erp").mkdir()
    prof = write_profile(workdir, {
        "name": "erp",
        "source": {"kind": "local", "path": "../inbox/erp", "pattern": ["*.csv"],
                   "ready": {"stable_for": "0s"}},
        "read": {"format": "csv", "delimiter": ";", "fields": {"QTY": {"type": "integer"}}},
        "map": {"key": "sku"},
        "stock": {"inventory": "shared", "role": "figures", "quantity": "QTY", "sku": "SKU",
                  "erp_knows": "acknowledged", "overdue": "0s", "orders": False,
                  "feedback": {"path": "../outbox/MOV{seq:06d}.csv"}},
        "write": [{"format": "woocommerce_api", "url": "${WOO_URL}", "sync": "stock",
                   "consumer_key": "${WOO_KEY}", "consumer_secret": "${WOO_SECRET}",
                   "fields": {"sku": "sku", "stock": "stock"}}],
        "feedback": {"ack": {"path": "../feedback/{stem}.ack.csv"}},
        "ledger": "../ledger.db", "alerts": alerts(mailbox)}, "erp.yaml")
    inv = Inventory(SqliteLedger(workdir / "ledger.db"),
                    StockSpec.model_validate({"inventory": "shared"}))
    at = datetime(2026, 11, 27, 2, 5, tzinfo=UTC).timestamp()
    inv.record_orders("web:woo", [OrderLine("W1", "1", "A-1", 2, "processing", at, at),
                                  OrderLine("W2", "1", "B-2", 1, "processing", at, at)])
    r = cli("feedback", str(prof), "--no-pull", cwd=workdir, env=env)
    assert r.returncode == 1, r.stdout + r.stderr  # overdue 0s: not acknowledged yet
    [msg] = mailbox.about("overdue")
    assert msg["Subject"] == "[filebridge] erp: 2 movement(s) not acknowledged by the ERP"
    body = msg.get_content()
    assert "sale A-1 -2 in file 1" in body and "sale B-2 -1 in file 1" in body, body
    assert "W1" not in body  # order numbers stay out of mails
    [post] = hook.about("overdue")
    assert post["count"] == 2
    assert sorted((m["sku"], m["qty"], m["file"]) for m in post["movements"]) == [
        ("A-1", -2, 1), ("B-2", -1, 1)]
    cli("feedback", str(prof), "--no-pull", cwd=workdir, env=env)
    assert len(mailbox.about("overdue")) == 1  # once per window


def test_a_changed_sftp_host_key_is_told_at_once(tmp_path, cli_env, mailbox, hook, sshd):
    import paramiko

    remote = sshd.root / tmp_path.name
    (remote / "inbox").mkdir(parents=True)
    (remote / "inbox" / "A.txt").write_bytes(fixed_rows(3))
    kh = tmp_path / "known_hosts"
    other = paramiko.Ed25519Key.from_private_key_file(str(sshd.client_key))  # not the host's
    kh.write_text(f"[127.0.0.1]:{sshd.port} ssh-ed25519 {other.get_base64()}\n")
    prof = fixed_profile(tmp_path)
    prof["source"] = sshd.server(kh, path=str((remote / "inbox").relative_to(sshd.root)),
                                 pattern=["*.txt"], ready={"stable_for": "0s"},
                                 work=str(tmp_path / "work"))
    prof["alerts"] = alerts(mailbox, down_after="1h")  # a host key does not wait for it
    path = write_profile(tmp_path, prof)
    r = cli("run", str(path), cwd=tmp_path, env=hook_env(cli_env, hook))
    assert r.returncode == 6 and "HOST KEY CHANGED" in r.stderr, r.stderr
    [msg] = mailbox.about("host_key")
    assert msg["Subject"] == "[filebridge] art: SFTP host key changed (source)"
    assert other.fingerprint in msg.get_content() and "may be an attack" in msg.get_content()
    [post] = hook.about("host_key")
    assert "HOST KEY CHANGED" in post["error"]


def test_a_watcher_tells_a_shop_down_once_however_often_it_retries(workdir, cli_env,
                                                                  mailbox, hook, shop):
    env = hook_env(cli_env, hook) | {"WOO_URL": shop.url, "WOO_KEY": "ck_al",
                                     "WOO_SECRET": "cs_al"}
    prof = woo(workdir, alerts(mailbox, down_after="1s"))
    shop.faults.fail(100_000, 503)
    skus(workdir, "S_1.csv", 20)
    log = workdir / "watch.log"
    with open(log, "w") as out:
        p = subprocess.Popen([sys.executable, "-m", "filebridge", "watch", str(prof)],
                             cwd=workdir, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: mailbox.about("down"), timeout=60, what="the down alert")
        # The watcher keeps retrying (5 s, then 10 s): two more failed tries, no more mail.
        wait_for(lambda: log.read_text().count("queued changes retried in") >= 3,
                 timeout=60, what="two more failed tries")
        assert len(mailbox.about("down")) == 1 and len(hook.about("down")) == 1
    finally:
        os.kill(p.pid, signal.SIGINT)
        p.wait(timeout=30)
    assert "t0k3n" not in log.read_text() and "Traceback" not in log.read_text()


def test_an_sftp_server_down_past_the_threshold_is_told(tmp_path, cli_env, mailbox, hook):
    kh = tmp_path / "known_hosts"
    kh.write_text("")
    from sshd import _keygen

    key = tmp_path / "id"
    _keygen(key)  # a real key: what fails is the connection (nothing listens)
    prof = fixed_profile(tmp_path)
    prof["source"] = {"kind": "sftp", "host": "127.0.0.1", "port": free_port(),
                      "user": "erp", "key": f"file:{key}", "known_hosts": str(kh),
                      "connect_timeout": "2s", "retry": {"attempts": 1, "wait": "0.1s"},
                      "path": "inbox", "pattern": ["*.txt"], "work": str(tmp_path / "work")}
    prof["alerts"] = alerts(mailbox, down_after="1s")
    path = write_profile(tmp_path, prof)
    env = hook_env(cli_env, hook)
    r = cli("run", str(path), cwd=tmp_path, env=env)
    assert r.returncode == 6 and "cannot connect" in r.stderr, r.stderr
    assert mailbox.messages == []  # first sighting: not down long enough
    time.sleep(1.2)
    r = cli("run", str(path), cwd=tmp_path, env=env)
    assert r.returncode == 6, r.stderr
    [msg] = mailbox.about("down")
    assert msg["Subject"].startswith("[filebridge] art: source down for ")
    assert "cannot connect" in msg.get_content()
    [post] = hook.about("down")
    assert post["what"] == "source" and post["seconds"] >= 1
