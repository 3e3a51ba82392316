"""Running ``nova ui``: a separate process from ``nova serve``, on loopback TCP with the service's token.

Why not a route set of ``nova serve``: the service listens on a Unix socket by default, which a
browser cannot reach, and its TCP mode takes only an ``Authorization`` header, which a browser does
not send on a link; the hooks' service also stays small (its OpenAPI is what the hooks call). The
browser is run when an operator wants it and stopped after; it loads the dense model for search at
start and spaCy only at the first merge or split.
"""

from __future__ import annotations

import ipaddress
import logging
import signal
import threading
import time
from pathlib import Path

from nova.runtime import Runtime
from nova.serve.server import load_or_create_token
from nova.ui.app import create_app

__all__ = ["ui_url", "run_ui", "is_loopback"]

log = logging.getLogger("nova.ui")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def ui_url(rt: Runtime, host: str, port: int) -> str:
    """The address to open, with the token (``$NOVA_HOME/service.token``, created mode 0600 on first use)."""
    token = load_or_create_token(rt.settings.token_path())
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/?token={token}"


def run_ui(rt: Runtime, *, host: str, port: int, state_dir: Path | None, on_ready=None) -> None:
    """Serve the browser until SIGINT/SIGTERM. ``on_ready(url)`` once the model is loaded and it listens."""
    import uvicorn

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: None)  # uvicorn's re-raise after shutdown is then a no-op: exit 0
    token = load_or_create_token(rt.settings.token_path())
    started = time.perf_counter()
    rt.embedder  # search is ready at the first request
    log.info("nova ui: model loaded in %.1f s", time.perf_counter() - started)
    app = create_app(rt, token=token, host=host, state_dir=state_dir)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False,
                            timeout_graceful_shutdown=5)
    server = uvicorn.Server(config)
    if on_ready is not None:
        def announce() -> None:
            while not server.started and not server.should_exit:
                time.sleep(0.05)
            if server.started:
                on_ready(ui_url(rt, host, port))
        threading.Thread(target=announce, name="nova-ui-ready", daemon=True).start()
    server.run()
