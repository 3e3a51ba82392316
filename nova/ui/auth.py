"""Who may use the memory browser: whoever holds the service's token (``nova serve``'s TCP token,
``$NOVA_HOME/service.token``, mode 0600), the same rule as the TCP service.

- A browser brings the token once in the URL that ``nova ui`` prints (``?token=``); the page answers
  with a cookie (HttpOnly, SameSite=Strict) and sends it to the same address without the token, so
  the token leaves the address bar and history. A script may send ``Authorization: Bearer <token>``.
- Every write (a POST) must also carry the token in its form (a hidden field the pages fill in): a
  page of another site can neither read it nor, with SameSite=Strict, send the cookie.
- Requests whose ``Host`` is not the address the browser was bound to (or a loopback name) are
  refused: a rebound DNS name cannot reach the page from a web site.
"""

from __future__ import annotations

import secrets
from urllib.parse import parse_qs, urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse

__all__ = ["COOKIE", "BadForm", "TokenGate", "form_with_token"]

COOKIE = "nova_ui"
_LOOPBACK_NAMES = {"127.0.0.1", "localhost", "::1", "[::1]"}


class BadForm(Exception):
    """A write without the token (403) or with a body that is not a form (400)."""

    def __init__(self, status: int, detail: str):
        super().__init__(detail)
        self.status, self.detail = status, detail


def _same(given: str | None, token: str) -> bool:
    return given is not None and secrets.compare_digest(given.encode(), token.encode())


class TokenGate:
    """The checks above, as ``@app.middleware("http")``: ``await gate(request, call_next)``."""

    def __init__(self, token: str, host: str):
        self.token = token
        self.hosts = _LOOPBACK_NAMES | {host, f"[{host}]"}
        # What the cookie holds: a value of this process's own, never the token. Browsers send a
        # 127.0.0.1 cookie to every port of 127.0.0.1, so any local web page's server would see it;
        # this value opens only this page while it runs, not the service the token opens.
        self.session = secrets.token_urlsafe(32)

    async def __call__(self, request: Request, call_next):
        if _hostname(request.headers.get("host", "")) not in self.hosts:
            return HTMLResponse("<h1>421</h1><p>This page answers only on its own address.</p>", status_code=421)
        given = request.query_params.get("token")
        if given is not None and request.method == "GET":
            if not _same(given, self.token):
                return _unauthorised()
            rest = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
            target = request.url.path + (f"?{urlencode(rest)}" if rest else "")
            response = RedirectResponse(target, status_code=303)
            response.set_cookie(COOKIE, self.session, httponly=True, samesite="strict", path="/")
            return response
        auth = request.headers.get("authorization", "")
        bearer = auth[7:] if auth.lower().startswith("bearer ") else None
        if not (_same(request.cookies.get(COOKIE), self.session) or _same(bearer, self.token)):
            return _unauthorised()
        return await call_next(request)


def _hostname(header: str) -> str:
    """The name in a Host header without its port: ``127.0.0.1:8765`` → ``127.0.0.1``, ``[::1]:80`` → ``[::1]``."""
    return header.split("]")[0] + "]" if header.startswith("[") else header.rsplit(":", 1)[0]


def _unauthorised() -> HTMLResponse:
    return HTMLResponse(
        "<!doctype html><title>NOVA memory: token needed</title><h1>Token needed</h1>"
        "<p>Open the address <code>nova ui</code> printed (it carries the token), or run <code>nova ui --print-url</code>.</p>",
        status_code=401)


async def form_with_token(request: Request, token: str) -> dict[str, str]:
    """The POSTed form's fields (one value each), after checking its ``token`` field.

    Raises:
        BadForm: 403 without the right token; 400 for a body that is not an urlencoded form.
    """
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        raise BadForm(400, "expected a form (application/x-www-form-urlencoded)")
    body = await request.body()
    if len(body) > 64 * 1024:
        raise BadForm(400, "form too large")
    try:
        fields = {k: v[0] for k, v in parse_qs(body.decode("utf-8"), strict_parsing=False).items()}
    except UnicodeDecodeError:
        raise BadForm(400, "the form is not UTF-8") from None
    if not _same(fields.get("token"), token):
        raise BadForm(403, "this write needs the token (reload the page and try again)")
    return fields
