"""The graph path: entities the query names (alias table) and their direct neighbours; the
relationships and episodes around them, ranked by similarity to the query."""

from __future__ import annotations

import re

import psycopg

from nova.memory.names import normalize_name
from nova.recall.items import RecallTrace
from nova.recall.query import RecallQuery, without_names
from nova.recall.ranking import (CANDIDATES_PER_PATH, Hit, best_first, by_score, content_key, has_vector, similarity,
                                 similarity_order)

__all__ = ["search"]


def _query_entities(conn, agent_id: str, query: str) -> list[int]:
    words = re.findall(r"[\w@#'’.-]+", query)
    grams = set()
    for n in (1, 2, 3):
        for i in range(len(words) - n + 1):
            g = normalize_name(" ".join(words[i:i + n]))
            if len(g) >= 2:
                grams.add(g)
    if not grams:
        return []
    rows = conn.execute(
        "SELECT DISTINCT entity_id FROM entity_aliases WHERE agent_id = %s AND alias_norm = ANY(%s)",
        (agent_id, sorted(grams)),
    ).fetchall()
    return [r[0] for r in rows]


def search(conn: psycopg.Connection, query: RecallQuery, trace: RecallTrace | None = None) -> list[Hit]:
    """Relationships and episodes around the entities the query names, scored by similarity
    (relationships by exact search when ``exact``, else as the planner finds best)."""
    agent_id, exact = query.agent_id, query.exact
    seeds = _query_entities(conn, agent_id, without_names(query.text, query.speakers))
    if trace is not None:
        trace.graph_seeds = seeds
    if not seeds:
        return []
    # Seeds and their direct neighbours in the relationship graph. Not through is_a links ("Priya is
    # Dana's sister" points at the user): they would make the user, and every fact about the user, a
    # neighbour of each person and pet the user has.
    neighbours = conn.execute(
        "SELECT DISTINCT CASE WHEN subject_id = ANY(%s) THEN object_id ELSE subject_id END"
        " FROM relationships WHERE agent_id = %s AND object_id IS NOT NULL AND predicate <> 'is_a'"
        " AND (subject_id = ANY(%s) OR object_id = ANY(%s))",
        (seeds, agent_id, seeds, seeds),
    ).fetchall()
    around = sorted(set(seeds) | {r[0] for r in neighbours if r[0] is not None})
    vec, svec = query.vector(), query.static_vector()
    dim, sdim = len(vec), (len(svec) if svec is not None else None)
    rel_key = content_key("relationship", "t")
    params = {"vec": vec, "svec": svec, "agent": agent_id, "around": around, "n": CANDIDATES_PER_PATH}
    if sdim is None:  # the dense model alone: in the order the planner serves best (exact when ``exact``)
        distance = f"t.embedding::vector({dim}) <=> %(vec)s::vector({dim})"
        rels = conn.execute(
            f"SELECT t.id, 1 - ({distance}), {rel_key} FROM relationships t"
            f" WHERE t.agent_id = %(agent)s AND t.embedding IS NOT NULL"
            f" AND (t.subject_id = ANY(%(around)s) OR t.object_id = ANY(%(around)s))"
            f" ORDER BY {similarity_order(distance, rel_key, exact)} LIMIT %(n)s", params).fetchall()
    else:  # some dense vectors may be pending: each row in the space it has
        rels = conn.execute(
            f"SELECT id, s, ck FROM (SELECT t.id, {similarity('t', dim, sdim)} AS s, {rel_key} AS ck FROM relationships t"
            f" WHERE t.agent_id = %(agent)s AND {has_vector('t', sdim)}"
            f" AND (t.subject_id = ANY(%(around)s) OR t.object_id = ANY(%(around)s))) x"
            f" ORDER BY {best_first('s')} LIMIT %(n)s", params).fetchall()
    episodes = conn.execute(
        f"SELECT id, s, ck FROM (SELECT e.id, max({similarity('k', dim, sdim)}) AS s,"
        f"   {content_key('episode', 'e')} AS ck"
        f"   FROM provenance pm JOIN episode_keys k USING (agent_id, session_id, entry_id)"
        f"   JOIN episodes e ON e.id = k.episode_id"
        f"   WHERE pm.agent_id = %(agent)s AND pm.item_kind = 'entity' AND pm.item_id = ANY(%(around)s)"
        f"   AND {has_vector('k', sdim)} GROUP BY e.id) x"
        f" ORDER BY {best_first('s')} LIMIT %(n)s", params,
    ).fetchall()
    return by_score([(("relationship", r[0]), r[1], r[2]) for r in rels] + [(("episode", r[0]), r[1], r[2]) for r in episodes])
