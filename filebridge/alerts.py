"""Alerts for the people who look after a flow, by e-mail (SMTP) and webhook (an HTTP
POST of JSON): a file rejected, a run held by a breaker, movements the ERP is late to
acknowledge, a shop or server down for longer than ``down_after``, a changed host key.

Each problem has a key (``down:shop woo``, ``rejected:A.csv``); an alert for a key
goes out at most once per ``window`` (kept in the ledger, so watchers and cron runs
sharing it agree), and a lasting problem is told only once it has lasted
``down_after``. An alert that cannot be delivered is logged; it never stops a run.
Credentials come from the environment or files (``${VAR}``, ``file:PATH``), never
from the profile. smtplib and requests are imported only when something is sent.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationInfo, model_validator

from filebridge.options import Duration, Model, Secret, expand_env

log = logging.getLogger("filebridge")

Event = Literal["rejected", "held", "overdue", "down", "host_key"]
ALL: tuple[Event, ...] = ("rejected", "held", "overdue", "down", "host_key")


class EmailOptions(Model):
    """Alerts by e-mail, through an SMTP server."""

    host: str = Field(description="the SMTP server")
    port: int = Field(587, ge=1, le=65535, description="its port (587 submission, 465 ssl, "
                      "25 a relay)")
    security: Literal["starttls", "ssl", "none"] = Field(
        "starttls", description="starttls (upgrade the connection), ssl (TLS from the "
        "start, port 465) or none (a relay on a trusted network)")
    user: str | None = Field(None, description="login user, if the server wants one")
    password: Secret | None = Field(None, description="its password: ${ENV_VAR} or "
                                    "file:PATH, never written here")
    sender: str = Field(description="the From address")
    to: list[str] = Field(min_length=1, description="who gets them")
    subject_prefix: str = Field("[filebridge]", description="put before every subject")
    timeout: Duration = Field(10.0, description="give up on the server after this")


class WebhookOptions(Model):
    """Alerts as an HTTP POST of JSON (a chat's incoming webhook, a monitoring tool)."""

    url: str = Field(description="where to POST; ${ENV_VAR} parts are expanded when sent, "
                     "so a URL holding a token stays out of the profile")
    headers: dict[str, Secret] = Field(default_factory=dict, description="extra headers, "
                                       "each ${ENV_VAR} or file:PATH (e.g. Authorization)")
    timeout: Duration = Field(10.0, description="give up on the receiver after this")


class AlertsOptions(Model):
    """Who is told when something needs a person, and how often."""

    file: str | None = Field(None, description="a shared alerts file (YAML with the keys "
                             "below), relative to the profile's folder; keys given here "
                             "override it. Secret references in it are read as in the "
                             "profile")
    email: EmailOptions | None = Field(None, description="send by e-mail")
    webhook: WebhookOptions | None = Field(None, description="send to a webhook")
    on: list[Event] = Field(default_factory=lambda: list(ALL), description="which "
                            "events: rejected (a file rejected), held (a breaker holds a "
                            "run), overdue (movements the ERP has not acknowledged in "
                            "time), down (a shop or an SFTP server failing for longer "
                            "than down_after), host_key (an SFTP server's host key "
                            "changed)")
    window: Duration = Field(3600.0, description="the same alert (same event and subject) "
                             "at most once per window, e.g. 1h")
    down_after: Duration = Field(900.0, description="a shop or server is reported down once "
                                 "it has failed for this long, e.g. 15m")

    @model_validator(mode="before")
    @classmethod
    def _shared(cls, data: Any, info: ValidationInfo) -> Any:
        if not isinstance(data, dict) or not data.get("file"):
            return data
        base = (info.context or {}).get("base") if info.context else None
        path = Path(expand_env(str(data["file"]))).expanduser()
        if base is not None and not path.is_absolute():
            path = Path(base) / path
        from ruamel.yaml import YAML
        from ruamel.yaml.error import YAMLError

        try:
            shared = YAML(typ="safe").load(path.read_text(encoding="utf-8")) or {}
        except (OSError, YAMLError) as e:
            raise ValueError(f"alerts file {path}: {getattr(e, 'strerror', None) or e}") \
                from None
        if not isinstance(shared, dict) or "file" in shared:
            raise ValueError(f"alerts file {path}: a mapping of alerts settings (email, "
                             "webhook, on, window, down_after) is expected")
        return {**shared, **data}

    @model_validator(mode="after")
    def _somewhere(self) -> AlertsOptions:
        if self.email is None and self.webhook is None:
            raise ValueError("alerts: give email or webhook (or both), here or in the "
                             "alerts file")
        return self


@dataclass
class Alert:
    event: str
    profile: str
    subject: str
    lines: list[str]
    data: dict[str, Any] = field(default_factory=dict)

    def body(self) -> str:
        return "\n".join(self.lines) + "\n"

    def json(self) -> dict[str, Any]:
        return {"event": self.event, "profile": self.profile, "subject": self.subject,
                "text": self.body(), "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                **self.data}


def _options(job: Any) -> AlertsOptions | None:
    return getattr(job.profile, "alerts", None)


def notify(job: Any, key: str, alert: Alert) -> bool:
    """Send ``alert`` unless this key was told within the window; true if it went out
    by at least one channel. Never raises."""
    o = _options(job)
    if o is None or alert.event not in o.on:
        return False
    now = time.time()
    try:
        from filebridge.ledger import alerts as la

        if not la.claim(job.ledger, job.name, key, o.window, now):
            log.debug("%s: alert %s already sent within %gs", job.name, key, o.window)
            return False
    except Exception as e:  # noqa: BLE001 - an alert never stops a run
        log.warning("%s: alert %r not sent: the ledger could not be asked (%s)", job.name,
                    alert.subject, e)
        return False
    if deliver(o, alert, job.name):
        return True
    try:  # nobody was told: not a reason to keep quiet for a window
        la.unclaim(job.ledger, job.name, key, now)
    except Exception as e:  # noqa: BLE001
        log.warning("%s: alerts: the ledger could not be asked (%s)", job.name, e)
    return False


def deliver(o: AlertsOptions, alert: Alert, profile: str) -> bool:
    ok = False
    for channel in ("e-mail", "webhook"):
        try:
            if channel == "e-mail" and o.email is not None:
                _email(o.email, alert)
            elif channel == "webhook" and o.webhook is not None:
                _webhook(o.webhook, alert)
            else:
                continue
            ok = True
        except Exception as e:  # noqa: BLE001 - logged, never raised
            log.warning("%s: alert %r not delivered by %s: %s", profile, alert.subject,
                        channel, _scrub(str(e)))
    return ok


def _scrub(text: str) -> str:
    """No URL query strings or paths (a webhook's token lives there) in a log line."""
    import re

    return re.sub(r"(https?://[^/\s'\"]+)[^\s'\"]*", r"\1/…", text)


def _email(o: EmailOptions, alert: Alert) -> None:
    import smtplib
    from email.message import EmailMessage
    from email.policy import SMTP
    from email.utils import formatdate, make_msgid

    # Folded at 78 columns, a subject holding a long URL came out with a leading space.
    msg = EmailMessage(policy=SMTP.clone(max_line_length=998))
    # One line: a file name may hold a line break, which a header must not.
    msg["Subject"] = " ".join(f"{o.subject_prefix} {alert.subject}".split())
    msg["From"] = o.sender
    msg["To"] = ", ".join(o.to)
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid(domain=o.sender.rpartition("@")[2] or None)
    msg["X-Filebridge-Event"] = alert.event
    msg["X-Filebridge-Profile"] = alert.profile
    msg.set_content(alert.body())
    cls = smtplib.SMTP_SSL if o.security == "ssl" else smtplib.SMTP
    with cls(o.host, o.port, timeout=o.timeout) as smtp:
        if o.security == "starttls":
            smtp.starttls()
        if o.user is not None:
            smtp.login(o.user, o.password.reveal() if o.password is not None else "")
        smtp.send_message(msg)


def _webhook(o: WebhookOptions, alert: Alert) -> None:
    import requests

    r = requests.post(expand_env(o.url), json=alert.json(), timeout=o.timeout,
                      headers={k: v.reveal() for k, v in o.headers.items()})
    if r.status_code >= 300:
        raise RuntimeError(f"the receiver answered HTTP {r.status_code}")


# the events ---------------------------------------------------------------------
def file_outcome(job: Any, outcome: Any) -> None:
    """After a file: tell of a rejected file or a held run."""
    if _options(job) is None or outcome.status not in ("rejected", "held"):
        return
    counts = ", ".join(f"{k} {v}" for k, v in outcome.tally.as_dict().items())
    if outcome.status == "rejected":
        alert = Alert("rejected", job.name, f"{job.name}: file {outcome.file} rejected", [
            (f"Profile {job.name} rejected the file {outcome.file} as a whole: nothing of "
             "it was sent."), f"Reason: {outcome.reason}", f"Counts: {counts}",
            f"Moved to: {outcome.moved_to}"],
            {"file": outcome.file, "reason": outcome.reason, "counts": outcome.tally.as_dict()})
    else:
        alert = Alert("held", job.name, f"{job.name}: run held for approval ({outcome.file})", [
            (f"A breaker of profile {job.name} holds the changes of {outcome.file}: nothing "
             "goes to the shop until someone approves the run (filebridge approve RUN "
             "--profile ...) after looking at filebridge plan."), f"Why: {outcome.reason}",
            f"Counts: {counts}"],
            {"file": outcome.file, "reason": outcome.reason, "counts": outcome.tally.as_dict()})
    notify(job, f"{outcome.status}:{outcome.file}", alert)


def overdue(job: Any, movements: list[Any]) -> None:
    """Movements the ERP has not acknowledged in time (stock_jobs.on_orders)."""
    if _options(job) is None or not movements:
        return
    shown = movements[:20]
    lines = [(f"{len(movements)} stock movement(s) written for the ERP by profile "
              f"{job.name} are not acknowledged in time. Check that the ERP imports the "
              "movement files."), ""] + [
        f"movement {m.id}: {m.kind} {m.sku} {m.qty:+d} in file {m.seq}" for m in shown]
    if len(movements) > len(shown):
        lines.append(f"... and {len(movements) - len(shown)} more")
    notify(job, "overdue", Alert("overdue", job.name, f"{job.name}: {len(movements)} "
                                 "movement(s) not acknowledged by the ERP", lines, {
                                     "count": len(movements),
                                     "movements": [{"id": m.id, "sku": m.sku, "qty": m.qty,
                                                    "kind": m.kind, "file": m.seq}
                                                   for m in shown]}))


def trouble(job: Any, what: str, error: BaseException | str) -> None:
    """``what`` (``shop woo``, ``source``, ``transfer``) failed now. A changed host key
    is told at once; anything else once it has lasted ``down_after``."""
    o = _options(job)
    if o is None:
        return
    from filebridge.errors import HostKeyChanged

    text = str(error)
    if isinstance(error, HostKeyChanged):
        notify(job, f"host_key:{what}", Alert("host_key", job.name,
               f"{job.name}: SFTP host key changed ({what})", [
                   f"Profile {job.name}: {text}", "",
                   ("Nothing is fetched or delivered through this server until the key is "
                    "checked and pinned again.")], {"what": what, "error": text}))
        return
    try:
        from filebridge.ledger import alerts as la

        now = time.time()
        since = la.trouble_since(job.ledger, job.name, f"down:{what}", now)
    except Exception as e:  # noqa: BLE001
        log.warning("%s: alerts: the ledger could not be asked (%s)", job.name, e)
        return
    lasted = now - since
    if lasted < o.down_after:
        return
    mins = lasted / 60
    notify(job, f"down:{what}", Alert("down", job.name,
           f"{job.name}: {what} down for {mins:.0f} min", [
               (f"Profile {job.name}: {what} has been failing for {mins:.1f} minutes "
                f"(since {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(since))})."),
               f"Last error: {text}", "",
               "Files and changes wait and are retried; nothing is lost."],
           {"what": what, "since": since, "seconds": round(lasted), "error": text}))


def fine(job: Any, what: str) -> None:
    """``what`` works again: its trouble is forgotten (the next outage starts afresh)."""
    if _options(job) is None:
        return
    try:
        from filebridge.ledger import alerts as la

        told = la.clear(job.ledger, job.name, f"down:{what}")
    except Exception as e:  # noqa: BLE001
        log.warning("%s: alerts: the ledger could not be asked (%s)", job.name, e)
        return
    if told:  # whoever was told it is down is told it is back
        log.info("%s: %s works again", job.name, what)
        o = _options(job)
        if o is not None and "down" in o.on:
            deliver(o, Alert("down", job.name, f"{job.name}: {what} works again", [
                f"Profile {job.name}: {what} works again; what waited is being sent."],
                {"what": what, "recovered": True}), job.name)


def shops(job: Any) -> None:
    """After the shops' queued changes were tried: each failing shop is in trouble,
    each answering one fine."""
    if _options(job) is None:
        return
    for s in getattr(job, "shops", {}).values():
        error = getattr(s, "last_error", None)
        if error:
            trouble(job, f"shop {s.id}", error)
        else:
            fine(job, f"shop {s.id}")


def after_run(job: Any, outcomes: list[Any]) -> None:
    """At the end of ``filebridge run``: the inbox could be listed (the source works),
    transfers that did not fail work, and each shop is in trouble or fine."""
    if _options(job) is None:
        return
    fine(job, "source")
    if not any(o.status == "failed" and not o.shop for o in outcomes):
        fine(job, "transfer")
        fine(job, "output")
    shops(job)
