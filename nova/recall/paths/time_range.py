"""The time path, for a query that names a time ("last May", "two weeks ago", "before June 2023";
``nova.recall.temporal``): episodes that happened and relationships that began or were still valid in
that range, ranked by similarity to the query."""

from __future__ import annotations

from datetime import datetime, timezone

import psycopg

from nova.recall.paths.vector import Neighbour
from nova.recall.query import RecallQuery
from nova.recall.ranking import CANDIDATES_PER_PATH, Hit, best_first, by_score, content_key, has_vector, similarity

__all__ = ["search", "TIME_POOL"]

_EXACT_TIME_ROWS = 2000  # memories that began in a query's time range compared exhaustively; more: TIME_POOL
TIME_POOL = 120  # nearest neighbours per kind a time query reads; its time path keeps those in range
_UTC = timezone.utc


def search(conn: psycopg.Connection, query: RecallQuery, nearest: dict[str, list[Neighbour]]) -> list[Hit]:
    """Episodes that happened in the query's range, and relationships that began in it or were still
    valid during it (superseded later: ``valid_to`` after the range start), by similarity.

    A short range (at most ``_EXACT_TIME_ROWS`` rows began in it) is compared exhaustively through
    the time indexes; a long one is read from the query's nearest neighbours (``nearest``, ``TIME_POOL``
    deep), so a wide range in a large store costs no filtered index walk. ``nearest`` holds the static
    tier's neighbours too (of memories whose dense vector is pending), and rows are compared in the
    space they have (``nova.recall.ranking.similarity``)."""
    agent_id, vec, svec = query.agent_id, query.vector(), query.static_vector()
    dim, sdim = len(vec), (len(svec) if svec is not None else None)
    start, end = query.when.start, query.when.end
    lo = start or datetime.min.replace(tzinfo=_UTC)
    hi = end or datetime.max.replace(tzinfo=_UTC)
    hits: list[Hit] = []
    for n in nearest["episode"]:
        if n.start is not None and lo <= n.start < hi:
            hits.append(n.hit)
    for n in nearest["relationship"]:
        if n.start is not None and n.start < hi and (n.start >= lo or (n.end is not None and n.end > lo)):
            hits.append(n.hit)
    params = {"agent": agent_id, "lo": start, "hi": end, "vec": vec, "svec": svec}
    began = ("t.agent_id = %(agent)s AND t.{0} >= coalesce(%(lo)s, '-infinity'::timestamptz)"
             " AND t.{0} < coalesce(%(hi)s, 'infinity'::timestamptz)")
    episode_in, relationship_in = began.format("occurred_at"), began.format("valid_from")
    exact = {
        "episode": ("episodes", episode_in,
                    f"SELECT t.id, max({similarity('k', dim, sdim)}) AS s, {content_key('episode', 't')} AS ck"
                    f" FROM episodes t JOIN episode_keys k ON k.agent_id = t.agent_id AND k.episode_id = t.id"
                    f" WHERE {episode_in} AND {has_vector('k', sdim)} GROUP BY t.id"),
        "relationship": ("relationships", relationship_in,
                         f"SELECT t.id, {similarity('t', dim, sdim)} AS s,"
                         f" {content_key('relationship', 't')} AS ck FROM relationships t"
                         f" WHERE {relationship_in} AND {has_vector('t', sdim)}"),
    }
    for kind, (table, in_range, scored) in exact.items():
        rows = conn.execute(f"SELECT count(*) FROM (SELECT 1 FROM {table} t WHERE {in_range} LIMIT %(limit)s) x",
                            params | {"limit": _EXACT_TIME_ROWS + 1}).fetchone()[0]
        if rows <= _EXACT_TIME_ROWS:
            hits += [((kind, r[0]), r[1], r[2]) for r in conn.execute(
                f"SELECT id, s, ck FROM ({scored}) x ORDER BY {best_first('s')} LIMIT %(n)s",
                params | {"n": CANDIDATES_PER_PATH})]
    return by_score(hits)
