"""The one middleware: when each request arrived, and the lost calls a hook client reports."""

from __future__ import annotations

import time
from contextvars import ContextVar

from nova.serve.activity import MISSED_HEADER, HookActivity, parse_missed

__all__ = ["NoteArrival", "seconds_since_arrival"]

# When the request reached the service (set by the middleware, read by the handler's thread), so an
# answer slower than the hook's budget counts as late however long it queued.
_ARRIVED: ContextVar[float] = ContextVar("nova_request_arrived")


class NoteArrival:
    """ASGI middleware: stamps each request's arrival and adds the lost-call report a hook client
    sent (``x-nova-missed``) to the activity counts. Plain ASGI, not ``@app.middleware("http")``,
    which would wrap every hook call in an extra task and stream."""

    _HEADER = MISSED_HEADER.encode()

    def __init__(self, app, activity: HookActivity):
        self.app, self.activity = app, activity

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            _ARRIVED.set(time.perf_counter())
            header = next((v for k, v in scope["headers"] if k == self._HEADER), None)
            missed = parse_missed(header.decode("latin-1")) if header else {}
            if missed:
                self.activity.missed(missed)
        await self.app(scope, receive, send)


def seconds_since_arrival() -> float:
    """Seconds since the current request arrived (0 outside a request)."""
    now = time.perf_counter()
    return now - _ARRIVED.get(now)
