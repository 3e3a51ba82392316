"""What the memory browser's pages read: plain rows for the templates, every query filtered by the
agent in the page's URL (``agent``), so no page can show another agent's memories."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg

from nova.memory.figures import agent_figures

__all__ = ["PAGE_SIZE", "agents", "agent_exists", "sources", "entry_context", "memories_from_entry", "timeline",
           "timeline_filters", "entities", "entity_kinds", "entity", "relationships_of", "neighbours",
           "duplicate_candidates", "figures", "latency_by_hour"]

PAGE_SIZE = 50


def agents(conn: psycopg.Connection) -> list[dict]:
    """Every agent the store knows (catch-up's sessions, the hooks' speakers) with its figures
    (``nova.memory.figures.agent_figures``)."""
    return agent_figures(conn)


def agent_exists(conn: psycopg.Connection, agent: str) -> bool:
    return conn.execute("SELECT EXISTS (SELECT 1 FROM sessions WHERE agent_id = %s)"
                        " OR EXISTS (SELECT 1 FROM agent_speakers WHERE agent_id = %s)", (agent, agent)).fetchone()[0]


_ENTRY = "e.session_id, e.entry_id, e.seq, e.session_key, e.role, e.speaker, e.text, e.occurred_at"


def _entry(row) -> dict:
    return dict(zip(("session_id", "entry_id", "seq", "session_key", "role", "speaker", "text", "occurred_at"), row))


def sources(conn: psycopg.Connection, agent: str, keys: list[tuple[str, str]]) -> dict[tuple[str, str], dict]:
    """The transcript entries ``(session_id, entry_id)`` of ``agent`` (a recalled memory's provenance)."""
    if not keys:
        return {}
    rows = conn.execute(
        f"SELECT {_ENTRY} FROM entries e JOIN unnest(%s::text[], %s::text[]) AS k(session_id, entry_id)"
        " ON e.session_id = k.session_id AND e.entry_id = k.entry_id WHERE e.agent_id = %s",
        ([k[0] for k in keys], [k[1] for k in keys], agent)).fetchall()
    return {(r[0], r[1]): _entry(r) for r in rows}


def entry_context(conn: psycopg.Connection, agent: str, session_id: str, entry_id: str,
                  around: int = 4) -> tuple[dict | None, list[dict]]:
    """The entry and the ``around`` entries either side of it in its session (by transcript position)."""
    row = conn.execute(f"SELECT {_ENTRY} FROM entries e WHERE e.agent_id = %s AND e.session_id = %s"
                       " AND e.entry_id = %s", (agent, session_id, entry_id)).fetchone()
    if row is None:
        return None, []
    seq = row[2]
    rows = conn.execute(
        f"(SELECT {_ENTRY} FROM entries e WHERE e.agent_id = %s AND e.session_id = %s AND e.seq < %s"
        "  ORDER BY e.seq DESC LIMIT %s)"
        f" UNION ALL (SELECT {_ENTRY} FROM entries e WHERE e.agent_id = %s AND e.session_id = %s AND e.seq >= %s"
        "  ORDER BY e.seq LIMIT %s) ORDER BY 3",
        (agent, session_id, seq, around, agent, session_id, seq, around + 1)).fetchall()
    return _entry(row), [_entry(r) for r in rows]


def memories_from_entry(conn: psycopg.Connection, agent: str, session_id: str, entry_id: str) -> list[dict]:
    """The memories whose provenance includes this entry: ``{"kind", "id", "text"}``."""
    return [{"kind": k, "id": i, "text": t} for k, i, t in conn.execute(
        "SELECT p.item_kind, p.item_id, coalesce(r.fact, ep.text, en.kind || ': ' || en.name)"
        " FROM provenance p"
        " LEFT JOIN relationships r ON p.item_kind = 'relationship' AND r.id = p.item_id AND r.agent_id = p.agent_id"
        " LEFT JOIN episodes ep ON p.item_kind = 'episode' AND ep.id = p.item_id AND ep.agent_id = p.agent_id"
        " LEFT JOIN entities en ON p.item_kind = 'entity' AND en.id = p.item_id AND en.agent_id = p.agent_id"
        " WHERE p.agent_id = %s AND p.session_id = %s AND p.entry_id = %s ORDER BY 1, 2",
        (agent, session_id, entry_id))]


@dataclass
class TimelinePage:
    episodes: list[dict]
    next_before: str | None     # the cursor of the next (older) page, None on the last


def timeline(conn: psycopg.Connection, agent: str, *, session_key: str | None = None, person: int | None = None,
             before: str | None = None) -> TimelinePage:
    """Episodes of ``agent``, newest first, ``PAGE_SIZE`` a page: of one session key, and/or those with an
    entry that mentions the entity ``person`` or that it said. ``before``: the previous page's
    ``next_before`` cursor (``<occurred_at ISO>|<id>``).

    Raises:
        ValueError: a malformed cursor.
    """
    where, params = ["ep.agent_id = %(agent)s"], {"agent": agent, "limit": PAGE_SIZE + 1}
    if session_key:
        where.append("ep.session_key = %(session_key)s")
        params["session_key"] = session_key
    if person is not None:
        # An entry of the exchange mentions the person (its provenance), or the person said it.
        where.append(
            "EXISTS (SELECT 1 FROM provenance pe JOIN entries en ON en.agent_id = pe.agent_id"
            "  AND en.session_id = pe.session_id AND en.entry_id = pe.entry_id"
            "  WHERE pe.agent_id = ep.agent_id AND pe.item_kind = 'episode' AND pe.item_id = ep.id"
            "  AND (EXISTS (SELECT 1 FROM provenance pm WHERE pm.agent_id = pe.agent_id AND pm.item_kind = 'entity'"
            "        AND pm.item_id = %(person)s AND pm.session_id = pe.session_id AND pm.entry_id = pe.entry_id)"
            "   OR en.speaker IN (SELECT alias FROM entity_aliases WHERE agent_id = %(agent)s AND entity_id = %(person)s)))")
        params["person"] = person
    if before:
        at, _, last_id = before.rpartition("|")
        try:
            params["before_at"], params["before_id"] = datetime.fromisoformat(at), int(last_id)
        except ValueError:
            raise ValueError(f"not a timeline cursor: {before!r}") from None
        where.append("(ep.occurred_at, ep.id) < (%(before_at)s, %(before_id)s)")
    rows = conn.execute(
        "SELECT ep.id, ep.session_id, ep.session_key, ep.anchor_entry_id, ep.occurred_at, ep.text, ep.tokens,"
        " (SELECT count(*) FROM provenance p WHERE p.agent_id = ep.agent_id AND p.item_kind = 'episode'"
        "  AND p.item_id = ep.id)"
        f" FROM episodes ep WHERE {' AND '.join(where)} AND ep.occurred_at IS NOT NULL"
        " ORDER BY ep.occurred_at DESC, ep.id DESC LIMIT %(limit)s", params).fetchall()
    page = [dict(zip(("id", "session_id", "session_key", "anchor_entry_id", "occurred_at", "text", "tokens",
                      "entries"), r)) for r in rows[:PAGE_SIZE]]
    more = len(rows) > PAGE_SIZE
    return TimelinePage(page, f"{page[-1]['occurred_at'].isoformat()}|{page[-1]['id']}" if more else None)


def timeline_filters(conn: psycopg.Connection, agent: str) -> tuple[list[str], list[dict]]:
    """The agent's session keys, and its people (the 100 most mentioned), for the timeline's filters."""
    keys = [r[0] for r in conn.execute(
        "SELECT DISTINCT session_key FROM sessions WHERE agent_id = %s ORDER BY 1", (agent,))]
    people = [{"id": i, "name": n} for i, n in conn.execute(
        "SELECT id, name FROM entities WHERE agent_id = %s AND kind = 'person'"
        " ORDER BY mention_count DESC, name LIMIT 100", (agent,))]
    return keys, people


def entities(conn: psycopg.Connection, agent: str, *, kind: str | None = None, name: str | None = None,
             page: int = 0) -> tuple[list[dict], bool]:
    """Entities of ``agent``, most mentioned first, ``PAGE_SIZE`` a page, with alias and relationship
    counts; ``name``: those with a name containing it. Returns the page and whether more follow."""
    where, params = ["e.agent_id = %(agent)s"], {"agent": agent, "limit": PAGE_SIZE + 1, "offset": page * PAGE_SIZE}
    if kind:
        where.append("e.kind = %(kind)s")
        params["kind"] = kind
    if name:
        where.append("e.norm_name LIKE %(name)s")  # the trigram index serves a LIKE '%x%'
        params["name"] = "%" + name.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    rows = conn.execute(
        "SELECT e.id, e.kind, e.name, e.mention_count, e.first_seen, e.last_seen,"
        " (SELECT count(*) FROM entity_aliases a WHERE a.agent_id = e.agent_id AND a.entity_id = e.id),"
        " (SELECT count(*) FROM relationships r WHERE r.agent_id = e.agent_id AND r.subject_id = e.id)"
        f" FROM entities e WHERE {' AND '.join(where)} ORDER BY e.mention_count DESC, e.name, e.id"
        " LIMIT %(limit)s OFFSET %(offset)s", params).fetchall()
    out = [dict(zip(("id", "kind", "name", "mentions", "first_seen", "last_seen", "aliases", "facts"), r))
           for r in rows[:PAGE_SIZE]]
    return out, len(rows) > PAGE_SIZE


def entity_kinds(conn: psycopg.Connection, agent: str) -> list[tuple[str, int]]:
    return conn.execute("SELECT kind, count(*) FROM entities WHERE agent_id = %s GROUP BY 1 ORDER BY 2 DESC, 1",
                        (agent,)).fetchall()


def entity(conn: psycopg.Connection, agent: str, entity_id: int) -> dict | None:
    """One entity of ``agent`` with its aliases and summary, or None (another agent's id included)."""
    row = conn.execute(
        "SELECT id, kind, name, norm_name, summary, mention_count, first_seen, last_seen,"
        " array(SELECT alias FROM entity_aliases a WHERE a.agent_id = e.agent_id AND a.entity_id = e.id ORDER BY alias)"
        " FROM entities e WHERE agent_id = %s AND id = %s", (agent, entity_id)).fetchone()
    if row is None:
        return None
    return dict(zip(("id", "kind", "name", "norm_name", "summary", "mentions", "first_seen", "last_seen", "aliases"),
                    row))


def relationships_of(conn: psycopg.Connection, agent: str, entity_id: int, limit: int = 200) -> list[dict]:
    """The entity's relationships, as subject or object: current ones (no ``valid_to``) first, then those a
    later fact superseded; each with its first source entry."""
    return [dict(zip(("id", "fact", "predicate", "subject_id", "subject", "object_id", "object", "valid_from",
                      "valid_to", "confidence", "sources", "session_id", "entry_id"), r)) for r in conn.execute(
        "SELECT r.id, r.fact, r.predicate, r.subject_id, s.name, r.object_id, coalesce(o.name, r.object_value),"
        " r.valid_from, r.valid_to, r.confidence,"
        " (SELECT count(*) FROM provenance p WHERE p.agent_id = r.agent_id AND p.item_kind = 'relationship'"
        "  AND p.item_id = r.id), src.session_id, src.entry_id"
        " FROM relationships r JOIN entities s ON s.id = r.subject_id LEFT JOIN entities o ON o.id = r.object_id"
        " LEFT JOIN LATERAL (SELECT session_id, entry_id FROM provenance p WHERE p.agent_id = r.agent_id"
        "  AND p.item_kind = 'relationship' AND p.item_id = r.id ORDER BY session_id, entry_id LIMIT 1) src ON true"
        " WHERE r.agent_id = %s AND (r.subject_id = %s OR r.object_id = %s)"
        " ORDER BY r.valid_to IS NOT NULL, r.valid_from DESC NULLS LAST, r.id LIMIT %s",
        (agent, entity_id, entity_id, limit))]


def neighbours(conn: psycopg.Connection, agent: str, entity_id: int, limit: int = 12) -> list[dict]:
    """The entities linked to this one by relationships (either direction), most linked first:
    ``{"id", "name", "kind", "links", "predicate"}`` (the most frequent predicate)."""
    return [dict(zip(("id", "name", "kind", "links", "predicate"), r)) for r in conn.execute(
        "SELECT n.id, n.name, n.kind, count(*), mode() WITHIN GROUP (ORDER BY r.predicate)"
        " FROM relationships r JOIN entities n ON n.agent_id = r.agent_id"
        "  AND n.id = CASE WHEN r.subject_id = %(id)s THEN r.object_id ELSE r.subject_id END"
        " WHERE r.agent_id = %(agent)s AND (r.subject_id = %(id)s OR r.object_id = %(id)s)"
        "  AND r.object_id IS NOT NULL AND r.object_id <> r.subject_id"
        " GROUP BY n.id, n.name, n.kind ORDER BY count(*) DESC, n.name LIMIT %(limit)s",
        {"agent": agent, "id": entity_id, "limit": limit})]


def duplicate_candidates(conn: psycopg.Connection, agent: str, ent: dict, limit: int = 8) -> list[dict]:
    """Entities of ``agent`` that may be this one under another name (merge candidates): similar names
    (pg_trgm), a name that starts the other's, or one of the same kind that starts alike ("Mell", "Melanie")."""
    return [dict(zip(("id", "kind", "name", "mentions"), r)) for r in conn.execute(
        "SELECT id, kind, name, mention_count FROM entities"
        " WHERE agent_id = %(agent)s AND id <> %(id)s AND (similarity(norm_name, %(norm)s) >= 0.4"
        "  OR starts_with(norm_name, %(norm)s) OR (kind = %(kind)s AND left(norm_name, 3) = left(%(norm)s, 3))"
        "  OR (length(split_part(norm_name, ' ', 1)) >= 3 AND starts_with(%(norm)s, split_part(norm_name, ' ', 1))))"
        " ORDER BY kind = %(kind)s DESC, similarity(norm_name, %(norm)s) DESC, mention_count DESC LIMIT %(limit)s",
        {"agent": agent, "id": ent["id"], "norm": ent["norm_name"], "kind": ent["kind"], "limit": limit})]


def figures(conn: psycopg.Connection, agent: str) -> dict:
    """``nova status``'s figures for one agent (``nova.memory.figures.agent_figures``)."""
    return agent_figures(conn, agent)[0]


def latency_by_hour(conn: psycopg.Connection, agent: str, hours: int = 24) -> list[dict]:
    """Sampled recall latency (``recall_telemetry``) per hour of the last ``hours``: count, p50 and p95 in ms."""
    return [{"hour": h, "n": n, "p50": p50, "p95": p95} for h, n, p50, p95 in conn.execute(
        "SELECT date_trunc('hour', at), count(*), percentile_cont(0.5) WITHIN GROUP (ORDER BY took_ms),"
        " percentile_cont(0.95) WITHIN GROUP (ORDER BY took_ms) FROM recall_telemetry"
        " WHERE agent_id = %s AND at > now() - make_interval(hours => %s) GROUP BY 1 ORDER BY 1",
        (agent, hours))]
