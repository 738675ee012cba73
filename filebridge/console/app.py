"""The operator console of ``filebridge serve``: server-rendered pages (Jinja2,
autoescaped, no JavaScript) over the ledger the watcher uses.

Viewers see; operators also approve held runs, ask for a sync and upload files. The
work itself is never done in a web request: a sync is a request the watcher takes
(filebridge/syncnow.py), and approved changes are sent by the watcher's next drain.
Nothing here shows a profile's options, so no secret reaches a page.
"""

from __future__ import annotations

import csv
import io
import secrets
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    HTMLResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Route

from filebridge.approval import NothingHeld, release
from filebridge.console import drift as dr
from filebridge.console import rejects as rj
from filebridge.console import reports, sftp, uploads
from filebridge.console.overview import overview, state_of
from filebridge.console.security import csrf_ok, csrf_token, current_user, page
from filebridge.console.users import User, Users
from filebridge.errors import LedgerError, SinkError, TransferError
from filebridge.ledger import console as q
from filebridge.ledger.leases import Busy

MAX_UPLOAD = 50 * 1024 * 1024  # an ERP export or a department's spreadsheet
STOCK_PAGE = 100  # SKUs per stock page
SHOWN = 100  # changes of a held run listed on its page
APPROVE_WAIT = 10.0  # seconds an approval waits for a watcher's pass over the profile
LOCKOUT = (5, 300.0)  # this many wrong passwords for a name within these seconds: wait

_env = Environment(loader=FileSystemLoader(str(Path(__file__).parent / "templates")),
                   autoescape=select_autoescape(default=True, default_for_string=True))


def _when(t: float | None) -> str:
    return datetime.fromtimestamp(t).strftime("%Y-%m-%d %H:%M:%S") if t else "-"


def _counts(t: dict[str, int] | None) -> str:
    return ", ".join(f"{k} {v}" for k, v in (t or {}).items() if v or k == "read")


_env.filters["when"] = _when
_env.filters["counts"] = _counts


def render(request: Request, template: str, status: int = 200, **ctx: Any) -> HTMLResponse:
    user = current_user(request)
    html = _env.get_template(template).render(user=user, csrf=csrf_token(request), **ctx)
    return HTMLResponse(html, status_code=status)


def _job(request: Request) -> Any:
    job = request.app.state.jobs.get(request.path_params["profile"])
    if job is None:
        raise _NotFound(f"no profile {request.path_params['profile']!r} here")
    return job


class _NotFound(Exception):
    pass


# login -----------------------------------------------------------------------
async def login_form(request: Request) -> Response:
    return render(request, "login.html")


async def login(request: Request) -> Response:
    form = await request.form(max_files=0, max_fields=5)
    if not csrf_ok(request, form):
        return PlainTextResponse("refused: the form's CSRF token is missing or wrong (reload "
                                 "the page)", status_code=403)
    users: Users = request.app.state.users
    name = str(form.get("name") or "")[:200]
    failed: dict[str, list[float]] = request.app.state.failed
    now = time.time()
    recent = [t for t in failed.get(name, []) if now - t < LOCKOUT[1]]
    if len(recent) >= LOCKOUT[0]:
        return render(request, "login.html", status=429, error="too many wrong passwords for "
                      "this name: try again in a few minutes")
    user = await run_in_threadpool(users.check, name, str(form.get("password") or ""))
    if user is None:
        if len(failed) > 10_000:  # names are whatever is typed: bounded
            failed.clear()
        failed[name] = [*recent, now]
        return render(request, "login.html", status=401, error="wrong name or password")
    failed.pop(name, None)
    request.session.clear()  # a new session: no fixation
    request.session["user"] = user.name
    csrf_token(request)
    return RedirectResponse("/", status_code=303)


@page(form=True)
async def logout(request: Request, user: User, form: FormData) -> Response:
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


# pages ---------------------------------------------------------------------------
@page()
async def profiles(request: Request, user: User) -> Response:
    jobs = request.app.state.jobs
    views = [await run_in_threadpool(overview, j) for j in jobs.values()]
    return render(request, "profiles.html", profiles=views, now=time.time())


@page()
async def profile(request: Request, user: User) -> Response:
    job = _job(request)

    def read() -> dict[str, Any]:
        health = q.shop_health(job.ledger, state_of(job))
        servers, transfers = sftp.health(job)
        return {"o": overview(job), "runs": q.runs(job.ledger, job.name, 20),
                "sftp": servers, "transfers": transfers,
                "shops": {s: health.get(s, {}) for s in sorted(job.shops)},
                "files": q.files(job.ledger, job.name, 30),
                "syncs": q.syncs(job.ledger, job.name, 10)}

    data = await run_in_threadpool(read)
    return render(request, "profile.html", job=job, uploadable=uploads.inbox(job) is not None,
                  max_upload=request.app.state.max_upload, **data)


@page()
async def run_page(request: Request, user: User) -> Response:
    job = _job(request)
    run_id = int(request.path_params["run"])

    def read() -> dict[str, Any]:
        run = q.run(job.ledger, job.name, run_id)
        counts, changes = q.held_changes(job.ledger, state_of(job), run_id, SHOWN)
        return {"run": run, "files": q.files(job.ledger, job.name, 500, run_id=run_id),
                "held": {s: c for s, c in counts.items() if s in job.shops},
                "changes": [c for c in changes if c["sink"] in job.shops]}

    data = await run_in_threadpool(read)
    if data["run"] is None:
        raise _NotFound(f"no run {run_id} of {job.name}")
    return render(request, "run.html", job=job, shown=SHOWN, **data)


@page(operator=True, form=True)
async def approve(request: Request, user: User, form: FormData) -> Response:
    job = _job(request)
    run_id = int(request.path_params["run"])

    def act() -> dict[str, int]:
        with job.lease.hold(wait=APPROVE_WAIT):
            released = release(job, run_id)
        q.ask_sync(job.ledger, job.name, user.name)  # the watcher sends them
        return released

    try:
        released = await run_in_threadpool(act)
    except NothingHeld as e:
        return render(request, "message.html", status=409, title="Nothing to approve",
                      message=str(e), back=f"/profiles/{job.name}/runs/{run_id}")
    except Busy as e:
        return render(request, "message.html", status=409, title="Busy", message=str(e),
                      back=f"/profiles/{job.name}/runs/{run_id}")
    return render(request, "message.html", title=f"Run #{run_id} approved",
                  message="; ".join(f"{s}: {n} changes released" for s, n in released.items()
                                    if n) + ". The watcher sends them now.",
                  back=f"/profiles/{job.name}")


@page()
async def file_page(request: Request, user: User) -> Response:
    job = _job(request)
    f = await run_in_threadpool(q.file, job.ledger, int(request.path_params["file"]))
    if f is None or f["profile"] != job.name:
        raise _NotFound("no such file")
    reason = request.query_params.get("reason", "")
    fld = request.query_params.get("field", "")
    path = rj.rejects_file(job, f)
    found = None
    if path is not None and path.is_file():
        found = await run_in_threadpool(rj.read, job, path, reason, fld)
    report = await run_in_threadpool(reports.link, job, f)
    return render(request, "file.html", job=job, f=f, path=path, rejects=found, reason=reason,
                  field=fld, report=report)


@page()
async def report_page(request: Request, user: User) -> Response:
    """A run report as the run wrote it: a self-contained page (inline styles and SVG,
    no script), under the console's headers like every page."""
    job = _job(request)
    path = await run_in_threadpool(reports.served, job, request.path_params["name"])
    if path is None:
        raise _NotFound("no such report")
    return FileResponse(path, media_type="text/html; charset=utf-8")


@page()
async def rejects_csv(request: Request, user: User) -> Response:
    job = _job(request)
    f = await run_in_threadpool(q.file, job.ledger, int(request.path_params["file"]))
    if f is None or f["profile"] != job.name:
        raise _NotFound("no such file")
    path = rj.rejects_file(job, f)
    if path is None or not path.is_file():
        raise _NotFound("this file has no rejects file")
    reason = request.query_params.get("reason", "")
    fld = request.query_params.get("field", "")
    stem = Path(f["name"]).stem
    if not reason and not fld:  # as the ERP got it
        return FileResponse(path, filename=f"{stem}.rejects.csv", media_type="text/csv")

    def rows() -> Iterator[str]:
        buf = io.StringIO()
        w = csv.writer(buf, delimiter=job.profile.feedback.rejects.delimiter)
        head = False
        for row in rj.rows(job, path):
            if not head:
                w.writerow(row.keys())
                head = True
            if (reason and reason not in (row.get("reason") or "")) or \
                    (fld and (row.get("field") or "") != fld):
                continue
            w.writerow(row.values())
            if buf.tell() > 1 << 16:
                yield buf.getvalue()
                buf.seek(0)
                buf.truncate()
        yield buf.getvalue()

    return StreamingResponse(rows(), media_type="text/csv; charset=utf-8", headers={
        "content-disposition": f'attachment; filename="{stem}.rejects.filtered.csv"'})


@page(operator=True, form=True)
async def sync_now(request: Request, user: User, form: FormData) -> Response:
    job = _job(request)
    n = await run_in_threadpool(q.ask_sync, job.ledger, job.name, user.name)
    return render(request, "message.html", status=202, title="Sync asked",
                  message=f"Sync request #{n} recorded; the watcher working {job.name} "
                  "carries it out within seconds (see the profile page).",
                  back=f"/profiles/{job.name}")


@page(operator=True, form=True)
async def upload(request: Request, user: User, form: FormData) -> Response:
    job = _job(request)
    back = f"/profiles/{job.name}"
    sent = form.get("file")
    try:
        if uploads.inbox(job) is None:
            raise uploads.UploadError(f"{job.name}: uploads go to a local inbox only")
        if not isinstance(sent, UploadFile) or not sent.filename:
            raise uploads.UploadError("choose a file to upload")
        name = uploads.check_name(job, sent.filename)
        token, path = await run_in_threadpool(uploads.keep, job, name, sent.file,
                                              request.app.state.max_upload)
    except uploads.UploadError as e:
        return render(request, "message.html", status=e.status, title="Upload refused",
                      message=str(e), back=back)
    finally:
        await form.close()
    from filebridge.preview import preview

    def look() -> Any:
        with request.app.state.previews[job.name]:  # one at a time: the job's reader
            return preview(job, path, 20, 200, True)

    p = await run_in_threadpool(look)
    if p.rejected is not None:  # nothing to apply: it would be rejected whole
        await run_in_threadpool(uploads.discard, job, token)
    return render(request, "upload.html", job=job, name=name, token=token, p=p,
                  rejects=[r for r in p.rejects if r.level == "reject"],
                  warnings=[r for r in p.rejects if r.level != "reject"])


@page(operator=True, form=True)
async def upload_apply(request: Request, user: User, form: FormData) -> Response:
    job = _job(request)
    token = request.path_params["token"]
    back = f"/profiles/{job.name}"
    if form.get("action") == "discard":
        await run_in_threadpool(uploads.discard, job, token)
        return render(request, "message.html", title="Upload discarded", message="Nothing "
                      "was written to the inbox.", back=back)
    try:
        final = await run_in_threadpool(uploads.apply, job, token)
    except uploads.UploadError as e:
        return render(request, "message.html", status=409, title="Not applied",
                      message=str(e), back=back)
    return render(request, "message.html", title="Applied", message=f"{final.name} is in "
                  f"{job.name}'s inbox; the watcher processes it.", back=back)


@page()
async def stock_page(request: Request, user: User) -> Response:
    job = _job(request)
    if job.inventory is None:
        raise _NotFound(f"{job.name} is not a stock profile")
    prefix = request.query_params.get("sku", "")
    after = request.query_params.get("after", "")
    from filebridge.console.stock import lines

    rows = await run_in_threadpool(lines, job, prefix, after, STOCK_PAGE)
    return render(request, "stock.html", job=job, lines=rows, sku=prefix,
                  more=len(rows) == STOCK_PAGE, inventory=job.inventory.name,
                  drift=request.app.state.drift.get(job.name), shown=dr.SHOWN)


@page(operator=True, form=True)
async def drift_check(request: Request, user: User, form: FormData) -> Response:
    """Check drift now: reads every shop output's stock (network), corrects nothing."""
    job = _job(request)
    back = f"/profiles/{job.name}/stock"
    if job.inventory is None:
        raise _NotFound(f"{job.name} is not a stock profile")
    try:
        found = await run_in_threadpool(dr.check, job, user.name,
                                        request.app.state.drift_locks[job.name])
    except (TransferError, SinkError, LedgerError) as e:
        return render(request, "message.html", status=502, title="Drift check failed",
                      message=f"{job.name}: {e}", back=back)
    request.app.state.drift[job.name] = found
    return RedirectResponse(back + "#drift", status_code=303)


class _Headers:
    """Pages that run no script, are never framed and never cached (they may show a
    customer's rejected row): a pure ASGI middleware adding those headers."""

    CSP = (b"default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; "
           b"form-action 'self'; frame-ancestors 'none'")
    HEADERS: ClassVar[list[tuple[bytes, bytes]]] = [
        (b"content-security-policy", CSP), (b"x-frame-options", b"DENY"),
        (b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"same-origin"),
        (b"cache-control", b"no-store")]

    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        async def with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + self.HEADERS
            await send(message)

        await self.app(scope, receive, with_headers if scope["type"] == "http" else send)


async def not_found(request: Request, exc: Exception) -> Response:
    return PlainTextResponse(str(exc) or "not found", status_code=404)


def console_app(jobs: list[Any], users: Users, secret: str | None = None,
                max_upload: int = MAX_UPLOAD) -> Starlette:
    """The console for ``jobs``. ``secret`` signs the session cookie (default: a new
    one per process: restarting logs everyone out)."""
    p = "/profiles/{profile}"
    routes = [
        Route("/login", login_form, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/", profiles, methods=["GET"]),
        Route(p, profile, methods=["GET"]),
        Route(p + "/runs/{run:int}", run_page, methods=["GET"]),
        Route(p + "/runs/{run:int}/approve", approve, methods=["POST"]),
        Route(p + "/files/{file:int}", file_page, methods=["GET"]),
        Route(p + "/files/{file:int}/rejects.csv", rejects_csv, methods=["GET"]),
        Route(p + "/reports/{name:path}", report_page, methods=["GET"]),
        Route(p + "/stock", stock_page, methods=["GET"]),
        Route(p + "/stock/drift", drift_check, methods=["POST"]),
        Route(p + "/sync", sync_now, methods=["POST"]),
        Route(p + "/upload", upload, methods=["POST"]),
        Route(p + "/upload/{token}/apply", upload_apply, methods=["POST"]),
    ]
    middleware = [Middleware(_Headers),
                  Middleware(SessionMiddleware, secret_key=secret or secrets.token_hex(32),
                             session_cookie="filebridge_console", same_site="strict",
                             max_age=12 * 3600)]
    web = Starlette(routes=routes, middleware=middleware,
                    exception_handlers={_NotFound: not_found})
    web.state.jobs = {j.name: j for j in jobs}
    web.state.users = users
    web.state.failed = {}  # name -> times of its recent wrong passwords
    web.state.previews = {j.name: threading.Lock() for j in jobs}
    web.state.max_upload = max_upload
    web.state.drift = {}  # profile -> its last drift check (console.drift.Check)
    web.state.drift_locks = {j.name: threading.Lock() for j in jobs}
    return web
