"""``filebridge serve``: a small ASGI app (Starlette, run by uvicorn) for what the
shops tell us: their order webhooks, ``POST /hooks/<profile>/<sink id>``
(:mod:`filebridge.webhooks`). :func:`app` builds it, so the operator console can
mount the same routes in its own app; it binds to localhost unless told otherwise
(put a TLS proxy in front of it for the shops: Shopify delivers only to https).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route

from filebridge.webhooks import Refused, Unknown, Webhooks

if TYPE_CHECKING:
    from filebridge.job import Job

log = logging.getLogger("filebridge")

MAX_BODY = 16 * 1024 * 1024  # an order with thousands of lines stays far below


def routes(hooks: Webhooks) -> list[Route]:
    """The webhook routes, to mount in any Starlette app."""

    async def receive(request: Request) -> PlainTextResponse:
        size = request.headers.get("content-length")
        if size is not None and (not size.isdigit() or int(size) > MAX_BODY):
            return PlainTextResponse("too large", status_code=413)
        body = await request.body()  # the raw bytes: the signature is over them
        headers = {k.lower(): v for k, v in request.headers.items()}
        try:
            out = await run_in_threadpool(hooks.handle, request.path_params["profile"],
                                          request.path_params["sink"], headers, body)
        except Refused as e:
            return PlainTextResponse(str(e), status_code=401)
        except Unknown as e:
            return PlainTextResponse(str(e), status_code=404)
        return PlainTextResponse(out.text, status_code=out.status)

    return [Route("/hooks/{profile}/{sink}", receive, methods=["POST"])]


def app(jobs: list[Job], console: Starlette | None = None) -> Starlette:
    """The app of ``filebridge serve`` for ``jobs``; ``app.state.hooks`` is the
    :class:`~filebridge.webhooks.Webhooks` behind it. ``console``: the operator console
    (filebridge/console/), mounted beside the webhooks."""
    hooks = Webhooks(jobs)

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        hooks.start()
        try:
            yield
        finally:
            await run_in_threadpool(hooks.close)

    mounted: list[Route | Mount] = [*routes(hooks)]
    if console is not None:
        mounted.append(Mount("/", app=console))
    web = Starlette(routes=mounted, lifespan=lifespan)
    web.state.hooks = hooks
    return web


def serve(jobs: list[Job], host: str = "127.0.0.1", port: int = 8470,
          console: Starlette | None = None) -> None:
    """Run the app until stopped (Ctrl-C, SIGTERM)."""
    import uvicorn

    web = app(jobs, console)
    if console is not None:
        log.info("console: http://%s:%d/", host, port)
    for profile, sink in web.state.hooks.routes():
        log.info("webhooks: POST http://%s:%d/hooks/%s/%s", host, port, profile, sink)
    if not web.state.hooks.routes():
        log.warning("webhooks: no shop API sink of a stock profile has a webhook_secret")
    # uvicorn's access log would name every request; ours says what each one did.
    uvicorn.run(web, host=host, port=port, log_level="warning", access_log=False)
