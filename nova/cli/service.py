"""Service commands: ``nova serve`` (the resident service the hooks call), ``nova ui`` (the memory
browser) and ``nova install-hooks`` / ``uninstall-hooks``."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Optional

import typer

from nova.cli.common import app, err, out, runtime
from nova.config import load_settings


@app.command()
def serve(
    host: Optional[str] = typer.Option(
        None, "--host", help="Listen on TCP at this address (e.g. 127.0.0.1) instead of the Unix socket; "
        "requests then need the bearer token from $NOVA_HOME/service.token."),
    port: Optional[int] = typer.Option(None, "--port", help="TCP port with --host (default 7645)."),
    socket_path: Optional[Path] = typer.Option(
        None, "--socket", help="Unix socket path (default $NOVA_HOME/nova.sock, mode 0600)."),
    check: bool = typer.Option(
        False, "--check", help="Do not serve: ask the configured service's /v1/health and exit 0 when it answers"
        " with its database up, 1 when it answers degraded, 2 when nothing answers (for readiness checks)."),
    wait: float = typer.Option(0.0, "--wait", help="With --check: keep asking this many seconds until it is healthy."),
) -> None:
    """Run the resident service the OpenClaw hooks call (models and database pool stay loaded).

    Runs until SIGTERM or Ctrl-C, finishing the batch it is extracting. Exit codes: 0 stopped,
    2 error (socket in use, database unreachable). See docs/hooks.md for a systemd unit, whose
    readiness check is `nova serve --check --wait 120`.
    """
    if check:
        raise typer.Exit(_check_service(wait))
    from nova.serve.server import serve as run

    # The service's start-up and per-cause lines are its operator's log: INFO, even without -v.
    service_log = logging.getLogger("nova.service")
    if not any(getattr(h, "nova_service", False) for h in service_log.handlers):
        handler = logging.StreamHandler()
        handler.nova_service = True
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        service_log.addHandler(handler)
        service_log.propagate = False
    service_log.setLevel(logging.INFO)
    with runtime() as rt:
        svc = rt.settings.service
        bind_host = host or svc.host
        if bind_host and bind_host not in ("127.0.0.1", "::1", "localhost"):
            err.print(f"[yellow]warning:[/yellow] listening on {bind_host}, not loopback: anyone who can reach it "
                      "and holds the token can read this agent's memories")
        try:
            run(rt, host=bind_host, port=port or svc.port, socket_path=socket_path or rt.settings.socket_path())
        except OSError as e:
            err.print(f"[red]error:[/red] {e}")
            raise typer.Exit(2) from None


@app.command("ui")
def ui_cmd(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (default loopback only)."),
    port: int = typer.Option(7646, "--port", help="TCP port."),
    openclaw_dir: Optional[Path] = typer.Option(
        None, "--openclaw-dir", help="OpenClaw state directory, for the health page's catch-up lag and doctor"
        " (default: $OPENCLAW_STATE_DIR or ~/.openclaw, when it exists)."),
    print_url: bool = typer.Option(False, "--print-url", help="Print the address to open (with the token) and exit."),
) -> None:
    """Browse and curate an agent's memories in a local web page: search with the hooks' recall, each
    item's explain trace and provenance; a timeline of episodes; entities with their relationships and
    neighbours; health figures; forget a memory, merge two entities, split a wrong name off one.

    The page needs the token in $NOVA_HOME/service.token (the TCP service's): open the address this prints,
    which carries it once and leaves a cookie. Merges and splits rebuild the agent from its transcript
    entries with the new rule (seconds for a few hundred entries) and every `nova reextract` keeps them;
    each curation is in the Audit page (who, when, ids: no content). Runs until Ctrl-C or SIGTERM.
    """
    from nova.ui.server import is_loopback, run_ui, ui_url

    with runtime() as rt:
        if print_url:
            print(ui_url(rt, host, port))
            return
        state_dir = rt.settings.state_dir(openclaw_dir)
        if not state_dir.is_dir():
            if openclaw_dir is not None:
                err.print(f"[red]error:[/red] {openclaw_dir} is not a directory")
                raise typer.Exit(2)
            state_dir = None
        if not is_loopback(host):
            err.print(f"[yellow]warning:[/yellow] listening on {host}, not loopback: anyone who can reach it "
                      "and holds the token can read and curate these memories")
        err.print("nova ui: loading the model…")
        ready = lambda url: err.print(f"nova ui: open {url}  (Ctrl-C to stop)")
        try:
            run_ui(rt, host=host, port=port, state_dir=state_dir, on_ready=ready)
        except OSError as e:
            err.print(f"[red]error:[/red] {e}")
            raise typer.Exit(2) from None


def _check_service(wait_s: float) -> int:
    """``nova serve --check``: 0 healthy, 1 degraded (database down), 2 nothing answers."""
    from nova.serve.client import ask_service, service_address

    settings = load_settings()
    where = service_address(settings)
    deadline = time.monotonic() + max(wait_s, 0.0)
    while True:
        health = ask_service(settings, "/v1/health", timeout=5)
        if health is not None and health.get("database"):
            out.print(f"nova serve at {where}: ok, {health['queued']} queued, up {health['uptimeS']:.0f} s")
            return 0
        if time.monotonic() >= deadline:
            break
        time.sleep(0.5)
    if health is not None:
        err.print(f"nova serve at {where}: degraded, its database is unreachable")
        return 1
    err.print(f"nova serve: nothing answers at {where}")
    return 2


@app.command("install-hooks")
def install_hooks_cmd(
    openclaw_dir: Optional[Path] = typer.Option(
        None, "--openclaw-dir", help="OpenClaw state directory (default: $OPENCLAW_STATE_DIR or ~/.openclaw)."),
) -> None:
    """Copy NOVA's hooks and recall plugin into <state>/hooks and enable them in openclaw.json.

    openclaw.json is backed up first (openclaw.json.nova-backup-<time>) and every other setting
    is kept. Run `nova serve` (or its systemd unit) so the hooks have something to call.
    """
    from nova.install import InstallError, install_hooks

    settings = load_settings()
    state_dir = settings.state_dir(openclaw_dir)
    try:
        report = install_hooks(settings, state_dir)
    except InstallError as e:
        err.print(f"[red]error:[/red] {e}")
        raise typer.Exit(2) from None
    _print_install_report(report)
    sock = settings.socket_path()
    out.print(
        "\nNext:\n"
        "  1. start the service:   nova serve        (or the systemd unit in docs/hooks.md)\n"
        f"  2. check it answers:    curl --unix-socket {sock} http://nova/v1/health\n"
        "  3. restart the gateway, then check OpenClaw sees the hooks and plugin:\n"
        "       openclaw hooks list        (memory-extract, semantic-recall, session-init: ready)\n"
        "       openclaw plugins inspect nova-recall --runtime\n"
        "  Undo with: nova uninstall-hooks"
    )


@app.command("uninstall-hooks")
def uninstall_hooks_cmd(
    openclaw_dir: Optional[Path] = typer.Option(
        None, "--openclaw-dir", help="OpenClaw state directory (default: $OPENCLAW_STATE_DIR or ~/.openclaw)."),
) -> None:
    """Remove NOVA's hooks and plugin from <state>/hooks and openclaw.json (memories stay in the store)."""
    from nova.install import InstallError, uninstall_hooks

    state_dir = load_settings().state_dir(openclaw_dir)
    try:
        report = uninstall_hooks(state_dir)
    except InstallError as e:
        err.print(f"[red]error:[/red] {e}")
        raise typer.Exit(2) from None
    _print_install_report(report)
    if not report.removed and not report.config_changes:
        out.print("nothing to remove: NOVA's hooks were not installed there")


def _print_install_report(report) -> None:
    for path in report.copied:
        out.print(f"copied   {path}")
    for path in report.removed:
        out.print(f"removed  {path}")
    if report.backup_path:
        out.print(f"backup   {report.backup_path}")
    for change in report.config_changes:
        out.print(f"config   {change}")
