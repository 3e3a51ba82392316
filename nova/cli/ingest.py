"""Ingest commands: ``nova catchup`` (transcripts → entry log → memories), ``nova watch`` (the same as
files change) and ``nova reextract`` (memories rebuilt from the entry log)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from nova.cli.common import app, err, out, runtime, time_option, EXIT_ERROR, EXIT_NOTHING, EXIT_BUSY


@app.command()
def catchup(
    openclaw_dir: Optional[Path] = typer.Option(
        None, "--openclaw-dir", help="OpenClaw state directory (default: $OPENCLAW_STATE_DIR or ~/.openclaw)."
    ),
    agent: Optional[list[str]] = typer.Option(None, "--agent", help="Only this agent id (repeatable)."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    cron: bool = typer.Option(
        False, "--cron", help="For schedulers: no progress bar, no report on stdout, exit 3 when there was nothing "
        "new and 4 when another catch-up holds every agent."),
    log_file: Optional[Path] = typer.Option(
        None, "--log-file", help="Also log to this file, rotated at 5 MB (5 kept)."),
    retry_failed: bool = typer.Option(
        False, "--retry-failed", help="Also retry entries whose extraction failed 5 times (dead-lettered; "
        "`nova status` counts them), e.g. after an upgrade that fixes the cause."),
    searchable_only: bool = typer.Option(
        False, "--searchable-only", help="Return as soon as the new memories are searchable (full text, graph, "
        "time and static vectors), leaving the dense model's vectors to `nova serve`, `nova watch` or the next "
        "catch-up. By default catch-up fills them in at its end (the 'dense' line of its report)."),
) -> None:
    """Read new transcript entries of every session into memory (incremental, safe to rerun).

    Reads <dir>/agents/<agentId>/sessions/*.jsonl (and archived *.jsonl.reset.*/.deleted.*)
    and the SQLite store of OpenClaw >= 2026.9 (agents/<agentId>/agent/openclaw-agent.sqlite
    with its cold archives), applies the session-key filters, extracts entities, episodes and
    relationships, and remembers per transcript how far it got. Models load only when there
    is something new. Concurrent runs (other hosts too) skip agents another run holds.

    Exit codes: 0 done, 2 error; with --cron also 3 nothing new, 4 busy.
    """
    from nova.ingest.catchup import StateDirError, run_catchup

    if log_file is not None:
        _log_to_file(log_file)
    log = logging.getLogger("nova.catchup")
    with runtime() as rt:
        state_dir = rt.settings.state_dir(openclaw_dir)
        with Progress(
            TextColumn("[bold]catch-up[/bold] {task.description}"), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), console=err, transient=True, disable=cron or not err.is_terminal,
        ) as bar:
            task = bar.add_task("", total=None)
            try:
                report = run_catchup(
                    rt.store, rt.settings, rt.lazy_projector(), state_dir, agent,
                    progress=lambda desc, n: bar.update(task, advance=n, description=desc),
                    on_files=lambda total: bar.update(task, total=total), retry_dead=retry_failed,
                )
            except StateDirError as e:
                err.print(f"[red]error:[/red] {e}")
                raise typer.Exit(EXIT_ERROR) from None
            # Searchable from here on; with the static tier, the dense model's vectors follow.
            dense = None if searchable_only else rt.fill_dense(
                report.agents, progress=lambda n: bar.update(task, advance=n),
                on_total=lambda total: bar.reset(task, total=total, description="dense vectors"))
    summary = _report_json(report, state_dir, dense)
    log.info("catch-up %s", json.dumps(summary))
    if as_json:
        out.print_json(data=summary)
    elif not cron:
        _print_report(report, state_dir, dense)
    if cron:
        if report.locked_agents and len(report.locked_agents) == len(report.agents):
            raise typer.Exit(EXIT_BUSY)
        if report.nothing_new:
            raise typer.Exit(EXIT_NOTHING)


@app.command()
def watch(
    openclaw_dir: Optional[Path] = typer.Option(
        None, "--openclaw-dir", help="OpenClaw state directory (default: $OPENCLAW_STATE_DIR or ~/.openclaw)."
    ),
    agent: Optional[list[str]] = typer.Option(None, "--agent", help="Only this agent id (repeatable)."),
    log_file: Optional[Path] = typer.Option(None, "--log-file", help="Also log to this file, rotated at 5 MB (5 kept)."),
    rescan: float = typer.Option(300.0, "--rescan", help="Full catch-up after this many seconds without events."),
) -> None:
    """Catch up continuously: new transcript lines become memories within about a second.

    Runs a full catch-up first, then waits on file events (inotify) under <dir>/agents and catches
    up the agents that changed. Waits for a state directory that does not exist yet. SIGTERM or
    Ctrl-C: finishes the transcript in progress and exits 0. Logs one line per catch-up that
    found something.
    """
    import signal
    import threading

    from nova.ingest.watch import watch_state_dir

    if log_file is not None:
        _log_to_file(log_file)
    log = logging.getLogger("nova.watch")
    for handler in logging.getLogger().handlers[:1]:  # stderr: show the per-catch-up lines
        handler.setLevel(min(handler.level, logging.INFO))
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())

    def report_line(report) -> None:
        if not report.nothing_new:
            p = report.projection
            log.info("caught up %d new entries (%d failed) in %.2f s: entities +%d, episodes +%d, relationships +%d",
                     report.entries_new, p.failed, report.seconds, p.entities, p.episodes, p.relationships)

    with runtime() as rt:
        state_dir = rt.settings.state_dir(openclaw_dir)
        err.print(f"nova watch: watching {state_dir}/agents (Ctrl-C to stop)")
        def fill_batch() -> bool:  # the dense pass, one batch per idle moment (new lines go first)
            done = rt.fill_dense(agent, stop=stop.is_set, max_rows=rt.settings.dense_fill_batch)
            return bool(done and done.dense)

        stats = watch_state_dir(rt.settings, rt.store, rt.lazy_projector(), state_dir, stop, agent,
                                on_report=report_line, rescan_s=rescan, on_idle=fill_batch)
    err.print(f"nova watch: stopped after {stats.runs} catch-ups, {stats.entries_new} new entries")


def _log_to_file(path: Path) -> None:
    from logging.handlers import RotatingFileHandler

    path = path.expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = RotatingFileHandler(path, maxBytes=5 * 1024 * 1024, backupCount=5, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"))
    handler.setLevel(logging.INFO)
    logging.getLogger().addHandler(handler)


def _report_json(report, state_dir: Path, dense=None) -> dict:
    p = report.projection
    return {
        "state_dir": str(state_dir), "agents": report.agents, "files": report.files_seen,
        "files_read": report.files_read, "files_unchanged": report.files_unchanged,
        "entries_new": report.entries_new, "entries_known": report.entries_known,
        "entries_filtered": report.entries_filtered, "sessions_filtered": dict(report.sessions_filtered),
        "entries_forgotten": report.entries_forgotten, "secrets_redacted": dict(report.secrets_redacted),
        "lines_skipped": dict(report.lines.skipped), "retried": report.retried, "revived": report.revived,
        "rebuilt": report.rebuilt, "extracted": p.done, "extracted_by_workers": report.extracted_ahead, "failed": p.failed,
        "entities_new": p.entities, "episodes_new": p.episodes,
        "relationships_new": p.relationships, "locked_agents": report.locked_agents,
        "seconds": round(report.seconds, 2),
        "dense": None if dense is None else {"filled": dense.dense, "static_filled": dense.static,
                                             "changed_meanwhile": dense.skipped, "seconds": round(dense.seconds, 2),
                                             "texts_per_s": round(dense.texts_per_s, 1)},
    }


def _print_report(report, state_dir: Path, dense=None) -> None:
    p = report.projection
    out.print(f"[bold]catch-up[/bold] {state_dir}  agents: {', '.join(report.agents)}")
    out.print(
        f"  files {report.files_seen} (read {report.files_read}, unchanged {report.files_unchanged})"
        f"  entries new {report.entries_new}, already known {report.entries_known},"
        f" filtered {report.entries_filtered}"
        + (f", forgotten {report.entries_forgotten}" if report.entries_forgotten else "")
    )
    out.print(
        f"  extracted {p.done} entries ({p.failed} failed, {report.retried} retried):"
        f" entities +{p.entities}, episodes +{p.episodes}, relationships +{p.relationships}"
        f"  in {report.seconds:.1f} s" + ("  (searchable)" if p.done else "")
        + (f"; {report.extracted_ahead} parsed by {report.extraction_workers} extraction worker(s)"
           if report.extracted_ahead else "")
    )
    if report.rebuilt:
        out.print(f"  rebuilt {report.rebuilt} entries first: a memory was forgotten or restored in place"
                  " (the agent tool, /forget or the UI), and what it did to other memories is re-derived")
    if dense is not None:
        out.print(f"  dense vectors: {dense.dense} filled in {dense.seconds:.1f} s ({dense.texts_per_s:.0f} texts/s)"
                  + (f", static vectors {dense.static}" if dense.static else "")
                  + (f"; {dense.skipped} changed while encoding (taken again, or left for the next pass)"
                     if dense.skipped else ""))
    for rule, n in sorted(report.sessions_filtered.items()):
        out.print(f"  skipped {n} session file(s) by {rule}")
    for reason, n in sorted(report.lines.skipped.items()):
        out.print(f"  skipped {n} line(s): {reason}")
    if report.secrets_redacted:
        kinds = ", ".join(f"{k} {n}" for k, n in sorted(report.secrets_redacted.items()))
        out.print(f"  redacted {sum(report.secrets_redacted.values())} secret(s) before storing: {kinds}")
    for e in p.errors[:5]:
        out.print(f"  [yellow]failed[/yellow] {e} (retried by the next catch-up; dead-lettered after 5 failures)")
    if report.locked_agents:
        out.print(f"  [yellow]busy[/yellow] another catch-up holds: {', '.join(report.locked_agents)}")
    if report.nothing_new:
        out.print("  nothing new")




@app.command()
def reextract(
    agent: Optional[list[str]] = typer.Option(None, "--agent", help="Only this agent id (repeatable)."),
    session_key: Optional[str] = typer.Option(
        None, "--session-key", help="Only sessions whose key matches this glob, e.g. 'agent:main:telegram:*'."),
    since: Optional[str] = typer.Option(None, "--since", help="Only entries at or after this time (ISO, UTC if no zone)."),
    until: Optional[str] = typer.Option(None, "--until", help="Only entries before this time (ISO, UTC if no zone)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Rebuild, report what would change, and roll back."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Rebuild entities, episodes and relationships from the stored entry log (not the files).

    Run it after an upgrade that changes extraction (nova status shows rows from older
    extractor versions). Each agent is rebuilt in one transaction: recall
    keeps answering from the old memories until that agent's rebuild commits. An interrupted run
    resumes with the agents it had not finished when run again with the same options.
    Exit codes: 0 done, 2 error.
    """
    from nova.memory.reextract import Scope, reextract as do_reextract, scope_entry_count

    scope = Scope(tuple(agent or ()), session_key, time_option(since, "--since"), time_option(until, "--until"))
    with runtime() as rt:
        with rt.store.connection() as conn:
            try:
                total = scope_entry_count(conn, scope)
            except ValueError as e:
                err.print(f"[red]error:[/red] {e}")
                raise typer.Exit(2) from None
        with Progress(
            TextColumn("[bold]re-extract[/bold] {task.description}"), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), console=err, transient=True, disable=not err.is_terminal,
        ) as bar:
            task = bar.add_task("", total=total)
            try:
                report = do_reextract(rt.store, rt.projector, scope, dry_run=dry_run,
                                      chunk=rt.settings.catchup_chunk_entries, redactor=rt.redactor,
                                      workers=rt.settings.extraction_workers,
                                      progress=lambda desc, n: bar.update(task, advance=n, description=desc))
            except (ValueError, RuntimeError) as e:
                err.print(f"[red]error:[/red] {e}")
                raise typer.Exit(2) from None
            if not dry_run:  # the rebuilt rows' dense vectors (static tier: written behind the rebuild)
                rt.fill_dense(list(agent) if agent else None, progress=lambda n: bar.update(task, advance=n),
                              on_total=lambda t: bar.reset(task, total=t, description="dense vectors"))
    data = {
        "dry_run": report.dry_run, "seconds": round(report.seconds, 2), "rows_by_extractor_version": dict(report.stale_before),
        "extracted": report.projection.done, "failed": report.projection.failed,
        "agents": [{"agent": c.agent_id, "entries": c.entries, "skipped": c.skipped, "before": c.before,
                    "after": c.after, "added": c.added, "removed": c.removed} for c in report.agents],
    }
    if as_json:
        out.print_json(data=data)
        return
    verb = "would change" if dry_run else "rebuilt"
    for c in report.agents:
        if c.skipped:
            out.print(f"[bold]{c.agent_id}[/bold]: already rebuilt by the interrupted run, skipped")
            continue
        counts = ", ".join(f"{t} {c.before.get(t, 0)} → {c.after.get(t, 0)}" for t in c.before)
        out.print(f"[bold]{c.agent_id}[/bold]: {c.entries} entries {verb}: {counts}")
        if dry_run:
            for t in c.added:
                for x in c.added[t][:3]:
                    out.print(f"  + {t[:-1] if t.endswith('s') else t}: {x[:120]}")
                for x in c.removed[t][:3]:
                    out.print(f"  - {t[:-1] if t.endswith('s') else t}: {x[:120]}")
    out.print(f"{report.projection.done} entries extracted ({report.projection.failed} failed) in {report.seconds:.1f} s"
              + ("; rolled back (dry run)" if dry_run else ""))
