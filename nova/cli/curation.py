"""Curation commands: ``nova forget`` (by session key, time or one memory), ``nova export`` and ``nova import``."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from nova.cli.common import app, err, out, runtime, time_option


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
             " Its entries stay; a rule keeps it from being made again, also by `nova reextract`; the agent"
             " is then rebuilt, so what the memory did to others (a summary, an older fact it closed) is undone."),
    list_memories: bool = typer.Option(False, "--list-memories", help="List the agent's forgotten-memory rules."),
    restore_memory: Optional[list[int]] = typer.Option(
        None, "--restore-memory", metavar="RULE",
        help="Delete a forgotten-memory rule (ids from --list-memories) and rebuild the agent, which remakes the memory."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Delete memories for good: an agent's, a session's (--session-key), everything before a time
    (--before), or one memory (--memory).

    The entries in scope and everything derived from them go; with --session-key or --before
    the agent's remaining memories are rebuilt from its remaining entries (one transaction).
    The scope is recorded (no content) so catch-up does not read those transcript entries
    again; delete OpenClaw's own transcripts yourself (docs/security.md).
    --memory deletes one relationship or episode and records a rule (hashes, no content) that
    projection and re-extraction honour, then rebuilds the agent (what the memory did to other rows
    is undone; the memory itself is gone from recall before); --restore-memory undoes the rule.
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
    scope = ForgetScope(agent, session_key, time_option(before, "--before"))
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
            rebuilt = _rebuild_now(rt, agent, as_json) if n else None
            if as_json:
                print(json.dumps({"agent": agent, "rules_deleted": n, "entries_rebuilt": rebuilt}))
            elif n:
                out.print(f"deleted {n} rule(s); " + (f"rebuilt the agent's memories from its {rebuilt} entries"
                          if rebuilt is not None else "the next catch-up rebuilds the agent and remakes what they kept out"))
            else:
                out.print("deleted 0 rules")
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
        rebuilt = _rebuild_now(rt, agent, as_json)
    notified = ask_service(rt.settings, "/v1/forgotten", {"agentId": agent})
    if as_json:
        print(json.dumps({"agent": agent, "forgotten": str(ref), "rules": gone.rules,
                          "entities_reworded": gone.entities_reworded, "entries_rebuilt": rebuilt,
                          "service_notified": notified is not None}))
        return
    out.print(f"forgot {ref}: {gone.text[:200]}")
    out.print(f"  rebuilt the agent's memories from its {rebuilt} entries" if rebuilt is not None else
              "  (another writer holds the agent: the next catch-up rebuilds it)")


def _rebuild_now(rt, agent: str, quiet: bool) -> int | None:
    """Rebuild ``agent`` after an edit in place marked it (``nova.memory.reextract.rebuild_pending``), with a
    progress bar; None when another writer kept its lock past the operator's wait (the mark stays: the
    next catch-up rebuilds it)."""
    from nova.memory.reextract import rebuild_pending
    from nova.store.locks import OPERATOR_WAIT_S, agent_lock

    rt.projector.prepare()  # models load before the lock and the transaction
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err, transient=True, disable=quiet or not err.is_terminal) as bar:
        task = bar.add_task(f"rebuilding {agent}", total=None)
        with rt.store.connection() as conn, agent_lock(conn, agent, OPERATOR_WAIT_S) as locked:
            if not locked:
                return None
            with conn.transaction():
                return rebuild_pending(conn, rt.projector, agent, progress=lambda _a, n: bar.advance(task, n),
                                       redactor=rt.redactor, workers=rt.settings.extraction_workers)


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
