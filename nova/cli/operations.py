"""Operations commands: ``nova status``, ``nova doctor`` and ``nova migrate``."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from nova.cli.common import app, out, runtime
from nova.config import load_settings


@app.command()
def status(agent: Optional[str] = typer.Option(None, "--agent", help="Only this agent.")) -> None:
    """Row counts per agent, extraction failures, stale rows, the newest entry, recall latency and hook activity.

    "live" counts entries the memory-extract hook logged whose transcript line catch-up has not
    read yet (it adopts them when it does). "failed" entries are retried by every catch-up; after
    5 failures an entry is "dead": kept with its error, retried only by `nova catchup --retry-failed`.

    "stale" counts entities, episodes and relationships made by an older extractor version
    than this NOVA's: run `nova reextract` to rebuild them.

    "dense pending" counts memories (and episode turns) that are searchable already but still wait
    for the dense model's vector (the static tier writes it behind ingest: `nova serve`, `nova watch`
    and `nova catchup` fill it in); the line below the table gives the rate the last pass drained at.

    Hook activity comes from the running `nova serve` (counted since it started): messages
    memory-extract sent, recalls the nova-recall plugin got (and how many held a memory),
    semantic-recall's precomputes, session-init's profiles, answers later than the hook's
    budget, and calls the hooks report they lost (timed out, service unreachable).
    """
    from nova.memory.dense_fill import last_fill_rate, pending_dense
    from nova.memory.figures import FIGURES, agent_figures
    from nova.recall.telemetry import summary as telemetry_summary

    with runtime() as rt, rt.store.connection() as conn:
        rows = agent_figures(conn, agent)
        recalls = telemetry_summary(conn, agent)
        pending = pending_dense(conn, agent)
        rate = last_fill_rate(conn)
    table = Table("agent", "entries", "live", "entities", "episodes", "relationships", "failed", "dead", "stale",
                  "dense pending", "newest entry", "last ingest")
    for r in rows:
        cells = [x.strftime("%Y-%m-%d %H:%M") if hasattr(x, "strftime") else str(x) if x is not None else "-"
                 for x in (r["agent"], *(r[k] for k in FIGURES[:8]), pending.get(r["agent"], 0),
                           *(r[k] for k in FIGURES[8:]))]
        table.add_row(*cells)
    # Piped output gets the full table, not one squeezed to 80 columns.
    (out if out.is_terminal else Console(width=160)).print(table)
    if pending or rate:
        left = sum(pending.values())
        drain = (f"; the last pass ({rate['at'][:16]} UTC) drained {rate['texts_per_s']:.0f} texts/s"
                 + (f", about {left / rate['texts_per_s'] / 60:.0f} min for what is left" if left and rate["texts_per_s"] else "")
                 ) if rate else ""
        out.print(f"dense vectors: {left} pending{drain}"
                  + ("" if not left else " (nova serve and nova watch fill them when idle; nova catchup at its end)"))
    if recalls["sampled"]:
        paths = ", ".join(f"{p} {share:.0%}" for p, share in sorted(recalls["paths_kept"].items()))
        out.print(f"recall, last 24 h ({recalls['sampled']} sampled): p50 {recalls['p50_ms']:.0f} ms,"
                  f" p95 {recalls['p95_ms']:.0f} ms, p99 {recalls['p99_ms']:.0f} ms; {recalls['mean_items']:.1f} items;"
                  f" recalls with an item from each path: {paths}")
    _print_hook_activity(rt.settings, agent)


def _print_hook_activity(settings, agent: Optional[str]) -> None:
    """What the running service answered the hooks (nova.serve.activity), or why there is nothing to show."""
    from nova.serve.client import ask_service, service_address

    where = service_address(settings)
    health = ask_service(settings, "/v1/health", timeout=3)
    if health is None:
        out.print(f"service: not answering at {where}: the hooks have nothing to call, so nothing is stored or"
                  " recalled live (start `nova serve`; catch-up still reads the transcripts)")
        return
    hours, rest = divmod(int(health["uptimeS"]), 3600)
    out.print(f"service: {health['status']} at {where}, up {hours} h {rest // 60} min, {health['queued']} messages"
              f" queued for extraction, {health['failed']} failed")
    agents = {a: v for a, v in health.get("agents", {}).items() if agent is None or a == agent}
    if not agents:
        out.print(f"hooks: no call since the service started ({health['activitySince'][:16]} UTC): check"
                  " `nova doctor` and `openclaw hooks list`")
        return
    table = Table("agent", "messages (queued)", "last message", "recalls (with items)", "precomputed",
                  "bootstraps (with profile)", "late", "missed by the hooks",
                  title=f"hook activity since {health['activitySince'][:16].replace('T', ' ')} UTC")
    for name, a in agents.items():
        missed = ", ".join(f"{hook} {n}" for hook, n in sorted(a["missed"].items())) or "0"
        last = a["lastMessageAt"][:19].replace("T", " ") if a["lastMessageAt"] else "-"
        table.add_row(name, f"{a['messages']} ({a['messagesQueued']})", last,
                      f"{a['recalls']} ({a['recallsWithItems']})", str(a["precomputed"]),
                      f"{a['bootstraps']} ({a['bootstrapsWithContent']})", str(a["late"]), missed)
    (out if out.is_terminal else Console(width=160)).print(table)


@app.command()
def doctor(
    openclaw_dir: Optional[Path] = typer.Option(
        None, "--openclaw-dir", help="OpenClaw state directory (default: $OPENCLAW_STATE_DIR or ~/.openclaw)."),
    as_json: bool = typer.Option(False, "--json", help="Print the checks as JSON."),
) -> None:
    """Check that NOVA works end to end and say how to fix what does not.

    Checks the database and its migrations, the vector indexes, that the embedding model loads
    offline, the hooks and the nova-recall plugin in the OpenClaw state dir and openclaw.json
    (and, with the `openclaw` CLI on PATH, that OpenClaw lists them ready and loaded), that
    `nova serve` answers where the hooks call it, catch-up lag per agent, failed and
    dead-lettered extractions, and disk. Changes nothing.

    Each check is pass, warn, fail or skip, with the fix. Exit codes: 0 all passed, 1 warnings,
    2 a failure. Takes 10-30 s (model load; the openclaw CLI reports).
    """
    from nova.doctor import exit_code, run_checks

    settings = load_settings()
    state_dir = settings.state_dir(openclaw_dir)
    t0 = time.perf_counter()
    checks = run_checks(settings, state_dir)
    took = time.perf_counter() - t0
    code = exit_code(checks)
    if as_json:
        print(json.dumps({"stateDir": str(state_dir), "novaHome": str(settings.home), "exitCode": code,
                          "seconds": round(took, 1), "checks": [c.as_dict() for c in checks]}, indent=2))
        raise typer.Exit(code)
    style = {"pass": "green", "warn": "yellow", "fail": "red", "skip": "dim"}
    out.print(f"nova doctor: OpenClaw state dir {state_dir}, NOVA_HOME {settings.home}")
    for c in checks:
        out.print(f"  [{style[c.status]}]{c.status.upper():4}[/{style[c.status]}]  {c.name:26} {c.detail}",
                  highlight=False)
        if c.fix and c.status in ("warn", "fail"):
            out.print(f"        {'':26} fix: {c.fix}", highlight=False)
    counts = {s: sum(c.status == s for c in checks) for s in style}
    out.print(f"doctor: {counts['pass']} pass, {counts['warn']} warn, {counts['fail']} fail, {counts['skip']} skip"
              f" in {took:.1f} s", highlight=False)
    raise typer.Exit(code)


@app.command()
def migrate() -> None:
    """Apply pending SQL migrations (the package's sql/; safe to run twice or concurrently).

    Every other command applies them too when it opens the store; this one says which it applied.
    """
    import psycopg

    from nova.store.migrations import apply_migrations

    with runtime(migrate=False) as rt, psycopg.connect(rt.store.dsn, autocommit=True) as conn:
        applied = apply_migrations(conn)
    out.print(f"applied: {', '.join(applied)}" if applied else "schema up to date")
