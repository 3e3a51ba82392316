"""Sampled recall telemetry: latency, candidate counts and paths used, in table ``recall_telemetry``.

A sampled recall (``Settings.telemetry_sample_rate``, default 10 %) records one row: no query or
memory text, only numbers and path names. Rows older than ``telemetry_retention_days`` are pruned
while new ones are written (about one insert in fifty), so the table stays bounded without a job.
``summary()`` gives what ``nova status`` prints.
"""

from __future__ import annotations

import json
import random

import psycopg

from nova.recall.items import RecallItem, RecallTrace

__all__ = ["sampled", "record", "summary"]

_PRUNE_EVERY = 50


def sampled(rate: float) -> bool:
    return rate > 0 and random.random() < rate


def record(conn: psycopg.Connection, agent_id: str, source: str, took_ms: float, trace: RecallTrace,
           items: list[RecallItem], retention_days: int) -> None:
    """Write one telemetry row for a recall traced with ``RecallTrace(detailed=False)``."""
    conn.execute(
        "INSERT INTO recall_telemetry (agent_id, source, took_ms, candidates, paths_kept, items, tokens, timings_ms)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
        (agent_id, source, took_ms, json.dumps({p: len(c) for p, c in trace.paths.items()}),
         sorted({p for i in items for p in i.paths}), len(items), sum(i.tokens for i in items),
         json.dumps(trace.timings_ms)),
    )
    if random.randrange(_PRUNE_EVERY) == 0:
        prune(conn, retention_days)


def prune(conn: psycopg.Connection, retention_days: int) -> int:
    return conn.execute("DELETE FROM recall_telemetry WHERE at < now() - make_interval(days => %s)",
                        (retention_days,)).rowcount


def summary(conn: psycopg.Connection, agent_id: str | None = None, hours: int = 24) -> dict:
    """Sampled recalls of the last ``hours``: count, latency p50/p95/p99 (ms), mean items, share per path."""
    row = conn.execute(
        "SELECT count(*), percentile_cont(0.5) WITHIN GROUP (ORDER BY took_ms),"
        " percentile_cont(0.95) WITHIN GROUP (ORDER BY took_ms), percentile_cont(0.99) WITHIN GROUP (ORDER BY took_ms),"
        " avg(items)"
        " FROM recall_telemetry WHERE at > now() - make_interval(hours => %s) AND (%s::text IS NULL OR agent_id = %s)",
        (hours, agent_id, agent_id)).fetchone()
    kept = dict(conn.execute(
        "SELECT p, count(*) FROM recall_telemetry, unnest(paths_kept) AS p"
        " WHERE at > now() - make_interval(hours => %s) AND (%s::text IS NULL OR agent_id = %s) GROUP BY p",
        (hours, agent_id, agent_id)).fetchall())
    n = row[0]
    return {"sampled": n, "p50_ms": row[1], "p95_ms": row[2], "p99_ms": row[3],
            "mean_items": float(row[4]) if row[4] is not None else None,
            "paths_kept": {p: round(c / n, 3) for p, c in kept.items()} if n else {}}
