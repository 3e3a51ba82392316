"""Running the service: the Unix socket (mode 0600) or TCP with a bearer token, models loaded before
anything listens, and a clean stop on SIGTERM."""

from __future__ import annotations

import logging
import os
import secrets
import signal
import socket
import time

from nova.runtime import Runtime
from nova.serve.app import create_app, warm_request_paths
from nova.serve.worker import load_worker_projector

__all__ = ["serve", "bind_unix_socket", "refuse_if_serving", "load_or_create_token"]

log = logging.getLogger("nova.service")


def refuse_if_serving(path) -> None:
    """Remove a stale socket at ``path`` (left by a crash).

    Raises:
        OSError: another process is serving there.
    """
    if not path.exists():
        return
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(path))
    except OSError:
        path.unlink(missing_ok=True)
    else:
        raise OSError(f"{path} is in use: another nova serve is running")
    finally:
        probe.close()


def bind_unix_socket(path) -> "socket.socket":
    """A listening Unix socket at ``path`` with mode 0600 from the start (no window where others can connect).

    Raises:
        OSError: another process is already serving there, or the directory is not writable.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    refuse_if_serving(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        sock.bind(str(path))
    finally:
        os.umask(old)
    os.chmod(path, 0o600)
    sock.listen(256)
    return sock


def load_or_create_token(path) -> str:
    """The bearer token for TCP mode, created (mode 0600) on first use."""
    if path.exists():
        token = path.read_text().strip()
        if token:
            return token
    path.parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
    return token


def serve(rt: Runtime, *, host: str | None, port: int, socket_path) -> None:
    """Run until SIGINT/SIGTERM: on a Unix socket (default) or TCP ``host:port`` with a bearer token."""
    import uvicorn

    # uvicorn re-raises the stop signal once it has shut down; with these handlers in place that
    # re-raise is a no-op and a SIGTERM ends the process with status 0 (what systemd expects).
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: None)
    token = load_or_create_token(rt.settings.token_path()) if host else None
    if not host:
        refuse_if_serving(socket_path)  # before the models load: a second serve fails in a second
    # Nothing listens until the models are loaded: a hook that finds no socket fails open at
    # once, where one that connects to a loading service would wait out its whole budget.
    started = time.perf_counter()
    log.info("nova serve: loading the models")
    rt.embedder
    projector = load_worker_projector(rt)
    warm_request_paths(rt)
    log.info("nova serve: models loaded in %.1f s", time.perf_counter() - started)
    app = create_app(rt, token=token, worker_projector=projector)
    config = uvicorn.Config(app, log_level="warning", access_log=False, timeout_graceful_shutdown=10)
    server = uvicorn.Server(config)
    if host:
        log.info("nova serve: listening on http://%s:%d (bearer token in %s)", host, port, rt.settings.token_path())
        config.host, config.port = host, port
        server.run()
    else:
        sock = bind_unix_socket(socket_path)
        log.info("nova serve: listening on %s", socket_path)
        try:
            server.run(sockets=[sock])
        finally:
            socket_path.unlink(missing_ok=True)
