"""The one middleware: the door (bearer token and body size, before anything else is read), when each
request arrived, and the lost calls a hook client reports."""

from __future__ import annotations

import hmac
import json
import time
from contextvars import ContextVar

from nova.serve.activity import MISSED_HEADER, HookActivity, parse_missed

__all__ = ["NoteArrival", "seconds_since_arrival", "MAX_BODY_BYTES"]

# The largest request body read: a message of 200,000 characters (nova.serve.models), each written as a
# JSON escaped surrogate pair ("\\ud83d\\ude00", 12 bytes), is 2.4 MB; 4 MiB is above every valid
# request, so only an invalid one is refused (413, unread); below it, validation answers (422).
MAX_BODY_BYTES = 4 * 2**20

# When the request reached the service (set by the middleware, read by the handler's thread), so an
# answer slower than the hook's budget counts as late however long it queued.
_ARRIVED: ContextVar[float] = ContextVar("nova_request_arrived")


class NoteArrival:
    """ASGI middleware, outermost: with a ``token`` (TCP mode) a request without
    ``Authorization: Bearer <token>`` gets 401 before its body or any other header is read, whatever
    its path (``/openapi.json`` and ``/docs`` too); a body over ``max_body`` bytes gets 413 before it is
    parsed. Then it stamps the request's arrival and adds the lost-call report a hook client sent
    (``x-nova-missed``) to the activity counts. Plain ASGI, not ``@app.middleware("http")``, which
    would wrap every hook call in an extra task and stream."""

    _HEADER = MISSED_HEADER.encode()

    def __init__(self, app, activity: HookActivity, token: str | None = None, max_body: int = MAX_BODY_BYTES):
        self.app, self.activity, self.max_body = app, activity, max_body
        self.expected = f"Bearer {token}".encode() if token else None

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        _ARRIVED.set(time.perf_counter())
        headers = dict(scope["headers"])
        if self.expected is not None and not hmac.compare_digest(headers.get(b"authorization", b""), self.expected):
            return await _refuse(send, 401, "missing or wrong bearer token", [(b"www-authenticate", b"Bearer")])
        declared = headers.get(b"content-length", b"")
        if declared and (not declared.isdigit() or int(declared) > self.max_body):
            return await _refuse(send, 413, f"request body over {self.max_body} bytes")
        if scope["method"] in ("POST", "PUT", "PATCH"):
            body, more = [], True
            size = 0
            while more:  # read here (at most max_body bytes), so an undeclared stream is capped too
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > self.max_body:
                    return await _refuse(send, 413, f"request body over {self.max_body} bytes")
                body.append(chunk)
                more = message.get("more_body", False)
            receive = _replay(b"".join(body), receive)
        header = headers.get(self._HEADER)
        missed = parse_missed(header.decode("latin-1")) if header else {}
        if missed:
            self.activity.missed(missed)
        await self.app(scope, receive, send)


def _replay(body: bytes, receive):
    """An ASGI ``receive`` that gives ``body`` once, then defers to the real one (disconnects)."""
    sent = False

    async def again():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()
    return again


async def _refuse(send, status: int, detail: str, headers: list | None = None) -> None:
    payload = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()),
                            *(headers or [])]})
    await send({"type": "http.response.body", "body": payload})


def seconds_since_arrival() -> float:
    """Seconds since the current request arrived (0 outside a request)."""
    now = time.perf_counter()
    return now - _ARRIVED.get(now)
