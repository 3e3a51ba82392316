"""Asking a running ``nova serve`` (the CLI's status and forget, the doctor): over its Unix socket, or
TCP with the bearer token."""

from __future__ import annotations

import http.client
import json
import socket

__all__ = ["get_json", "service_address", "ask_service"]


def get_json(socket_path, route: str, timeout: float = 10.0, body: dict | None = None) -> dict | None:
    """GET ``route`` (POST ``body`` when given) from a service on ``socket_path``; None when nothing answers."""
    class _UnixConnection(http.client.HTTPConnection):
        def connect(self):
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(timeout)
            self.sock.connect(str(socket_path))

    try:
        conn = _UnixConnection("nova")
        if body is None:
            conn.request("GET", route)
        else:
            conn.request("POST", route, json.dumps(body), {"content-type": "application/json"})
        return json.loads(conn.getresponse().read())
    except (OSError, ValueError):
        return None


def service_address(settings) -> str:
    """Where the configured ``nova serve`` listens: ``http://host:port`` in TCP mode, else the socket path."""
    svc = settings.service
    return f"http://{svc.host}:{svc.port}" if svc.host else str(settings.socket_path())


def ask_service(settings, route: str, body: dict | None = None, timeout: float = 5.0) -> dict | None:
    """GET ``route`` (POST ``body`` when given) from the configured ``nova serve``: its TCP address
    with the bearer token when ``service.host`` is set, else its Unix socket. None when nothing
    answers (or it refuses)."""
    svc = settings.service
    if not svc.host:
        return get_json(settings.socket_path(), route, timeout=timeout, body=body)
    try:
        token = settings.token_path().read_text().strip()
        conn = http.client.HTTPConnection(svc.host, svc.port, timeout=timeout)
        headers = {"authorization": f"Bearer {token}"}
        if body is None:
            conn.request("GET", route, headers=headers)
        else:
            conn.request("POST", route, json.dumps(body), {**headers, "content-type": "application/json"})
        response = conn.getresponse()
        return json.loads(response.read()) if response.status < 400 else None
    except (OSError, ValueError):
        return None
