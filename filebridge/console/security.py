"""Login, roles and CSRF for the console.

The session is Starlette's signed cookie (itsdangerous): it holds the user's name and
a random CSRF token, nothing secret. Every POST carries the token in a form field
``csrf`` and is refused (403) without it or with another one; the login form too, so a
foreign page cannot log a browser in under someone else's name. The role is looked up
in the users file on every request, so a user removed or demoted loses access at once.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response

from filebridge.console.users import User, Users

Endpoint = Callable[..., Awaitable[Response]]


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = secrets.token_urlsafe(32)
    return str(token)


def csrf_ok(request: Request, form: FormData) -> bool:
    sent, have = form.get("csrf"), request.session.get("csrf")
    return isinstance(sent, str) and bool(have) and hmac.compare_digest(sent, str(have))


def current_user(request: Request) -> User | None:
    name = request.session.get("user")
    users: Users = request.app.state.users
    role = users.role(name) if isinstance(name, str) else None
    return User(str(name), role) if role else None


def page(operator: bool = False, form: bool = False) -> Callable[[Endpoint], Endpoint]:
    """An endpoint for logged-in users (``operator``: operators only). ``form``: a POST
    whose form is parsed here, CSRF checked, and passed on as ``form=``."""

    def wrap(fn: Endpoint) -> Endpoint:
        @wraps(fn)
        async def endpoint(request: Request, **kw: Any) -> Response:
            user = current_user(request)
            if user is None:
                if request.method == "GET":
                    return RedirectResponse("/login", status_code=303)
                return PlainTextResponse("log in first", status_code=401)
            if operator and not user.operator:  # before reading what a viewer sent
                return PlainTextResponse(f"{user.name} is a viewer: operators only",
                                         status_code=403)
            if form:
                limit = request.app.state.max_upload
                size = request.headers.get("content-length")
                if size is None:
                    return PlainTextResponse("a form needs a Content-Length", status_code=411)
                if not size.isdigit() or int(size) > limit + 65536:
                    return PlainTextResponse(f"too large: at most {limit} bytes",
                                             status_code=413)
                data = await request.form(max_files=1, max_fields=50)
                if not csrf_ok(request, data):
                    await data.close()
                    return PlainTextResponse("refused: the form's CSRF token is missing or "
                                             "wrong (reload the page)", status_code=403)
                kw["form"] = data
            kw["user"] = user
            return await fn(request, **kw)

        return endpoint

    return wrap
