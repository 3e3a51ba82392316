"""``nova recall``: the memories a hook would inject for a query, with provenance and ``--explain``."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from nova.cli.common import app, err, out, runtime, time_option


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
    asked_at = time_option(as_of, "--as-of")
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
