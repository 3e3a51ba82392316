"""What an agent asks NOVA on purpose (the agent tools and OpenClaw's ``memory_search``; docs/hooks.md):
recall narrowed by time, entity and kind; one memory with the transcript entries it came from; the
transcript around a cited entry; everything known about one entity.

Each answer is scoped to one agent. Items are cited by ``ref`` (``<kind>:<id>``, this store's ids,
what ``nova forget --memory`` takes) and by their provenance: the transcript entries
(``session_key``, ``session_id``, ``entry_id``, time) they came from.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg

from nova.memory.embed import Embedder
from nova.memory.entities import aliases_of
from nova.memory.names import normalize_name
from nova.memory.texts import relationship_text
from nova.recall.items import RecallItem
from nova.recall.search import recall

__all__ = ["SearchFilter", "search_memories", "cite", "memory_detail", "transcript_excerpt", "entity_facts",
           "POOL_FACTOR"]

# A filtered search packs this many times the asked-for items (and budget), admitting only what the
# filter keeps, and answers with the first of them: a narrow filter admits few of the best candidates,
# and the deeper list still fills its answer; a principled bound, not tuned on benchmark questions.
POOL_FACTOR = 4


@dataclass(frozen=True)
class SearchFilter:
    """``since``/``until``: the memory's time (an episode's ``occurred_at``, a relationship's validity
    ``[valid_from, valid_to)``, an entity's first mention) overlaps this range; memories without a time
    are kept only when no range is given. ``entity``: the memory names it or one of its aliases
    (case-insensitive). ``kinds``: a subset of episode, relationship, entity."""

    since: datetime | None = None
    until: datetime | None = None
    entity: str | None = None
    kinds: frozenset[str] = frozenset()


def search_memories(conn: psycopg.Connection, embedder: Embedder, agent_id: str, query: str, flt: SearchFilter, *,
                    limit: int, budget_tokens: int, side_conn: psycopg.Connection | None = None) -> list[RecallItem]:
    """Recall (nova.recall.search.recall, of ``flt.kinds`` only) for ``query``; with a time range or an
    entity, packed from a pool ``POOL_FACTOR`` times larger of what the filter admits: at most ``limit``
    items, ``budget_tokens`` in all, best first.

    Raises:
        ValueError: an empty query, non-positive limits, or an unknown kind.
    """
    unknown = flt.kinds - {"episode", "relationship", "entity"}
    if unknown:
        raise ValueError(f"unknown memory kinds: {', '.join(sorted(unknown))}")
    if flt.since is None and flt.until is None and not flt.entity:
        return recall(conn, embedder, agent_id, query, limit=limit, budget_tokens=budget_tokens, side_conn=side_conn,
                      kinds=flt.kinds)
    names = _entity_names(conn, agent_id, flt.entity) if flt.entity else []
    # The filter is applied as recall packs (``admit``): packing drops a fact for the episode it came
    # from, and that episode may lie outside the range while the fact's validity does not.
    pool = recall(conn, embedder, agent_id, query, limit=limit * POOL_FACTOR, budget_tokens=budget_tokens * POOL_FACTOR,
                  side_conn=side_conn, kinds=flt.kinds,
                  admit=lambda kind, d: _in_range(kind, d, flt) and _names_any(d["text"], names))
    kept, spent = [], 0
    for item in pool:
        if spent + item.tokens > budget_tokens or len(kept) == limit:
            break
        kept.append(item)
        spent += item.tokens
    return kept


def _entity_names(conn, agent_id: str, name: str) -> list[str]:
    """The entity's name and aliases (every entity of that name or alias), lower-cased; the name alone
    when the agent knows no such entity."""
    rows = conn.execute(
        "SELECT lower(a2.alias) FROM entity_aliases a JOIN entity_aliases a2 ON a2.agent_id = a.agent_id"
        " AND a2.entity_id = a.entity_id WHERE a.agent_id = %s AND a.alias_norm = %s",
        (agent_id, normalize_name(name))).fetchall()
    return sorted({r[0] for r in rows} | {name.strip().lower()}, key=len, reverse=True)


def _names_any(text: str, names: list[str]) -> bool:
    if not names:
        return True
    text = text.lower()
    return any(n and n in text for n in names)


def _in_range(kind: str, detail: dict, flt: SearchFilter) -> bool:
    """Whether a candidate (``detail``: nova.recall.details) overlaps the filter's time range."""
    if flt.since is None and flt.until is None:
        return True
    start = detail.get("valid_from") or detail.get("occurred_at")
    if start is None:
        return False
    end = detail.get("valid_to") if kind == "relationship" else start
    if flt.until is not None and start >= flt.until:
        return False
    return not (flt.since is not None and end is not None and end < flt.since)


def cite(conn: psycopg.Connection, agent_id: str, items: list[RecallItem]) -> dict[tuple[str, int], list[dict]]:
    """Each item's provenance with its session key and time: ``{(kind, id): [{session_key, session_id,
    entry_id, occurred_at}]}``, in transcript order."""
    pairs = [(s["session_id"], s["entry_id"]) for i in items for s in i.sources]
    if not pairs:
        return {(i.kind, i.id): [] for i in items}
    rows = {(s, e): (k, t) for s, e, k, t in conn.execute(
        "SELECT session_id, entry_id, session_key, occurred_at FROM entries WHERE agent_id = %s"
        " AND (session_id, entry_id) IN (SELECT * FROM unnest(%s::text[], %s::text[]))",
        (agent_id, [p[0] for p in pairs], [p[1] for p in pairs]))}
    out = {}
    for i in items:
        out[(i.kind, i.id)] = [
            {"session_key": rows[(s["session_id"], s["entry_id"])][0], "session_id": s["session_id"],
             "entry_id": s["entry_id"], "occurred_at": _iso(rows[(s["session_id"], s["entry_id"])][1])}
            for s in i.sources if (s["session_id"], s["entry_id"]) in rows]
    return out


def memory_detail(conn: psycopg.Connection, agent_id: str, kind: str, item_id: int) -> dict | None:
    """One relationship or episode of ``agent_id`` with its provenance entries (text included);
    None when the agent has no such memory."""
    if kind == "relationship":
        row = conn.execute("SELECT fact, valid_from, valid_to FROM relationships WHERE agent_id = %s AND id = %s",
                           (agent_id, item_id)).fetchone()
        if row is None:
            return None
        text, extra = relationship_text(*row), {"valid_from": _iso(row[1]), "valid_to": _iso(row[2])}
    elif kind == "episode":
        row = conn.execute("SELECT text, occurred_at FROM episodes WHERE agent_id = %s AND id = %s",
                           (agent_id, item_id)).fetchone()
        if row is None:
            return None
        text, extra = row[0], {"occurred_at": _iso(row[1])}
    else:
        return None
    sources = [_entry(r) for r in conn.execute(
        "SELECT e.session_key, e.session_id, e.entry_id, e.occurred_at, e.speaker, e.text FROM provenance p"
        " JOIN entries e USING (agent_id, session_id, entry_id)"
        " WHERE p.agent_id = %s AND p.item_kind = %s AND p.item_id = %s ORDER BY e.occurred_at, e.seq",
        (agent_id, kind, item_id))]
    return {"ref": f"{kind}:{item_id}", "kind": kind, "text": text, **extra, "sources": sources}


def transcript_excerpt(conn: psycopg.Connection, agent_id: str, session_id: str, entry_id: str,
                       around: int = 3) -> list[dict] | None:
    """The entry-log entries of ``session_id`` from ``around`` before to ``around`` after ``entry_id``
    (text as logged: envelope and injected memory blocks removed, secrets redacted); None when the
    agent has no such entry."""
    seq = conn.execute("SELECT seq FROM entries WHERE agent_id = %s AND session_id = %s AND entry_id = %s",
                       (agent_id, session_id, entry_id)).fetchone()
    if seq is None:
        return None
    return [_entry(r) for r in conn.execute(
        "SELECT session_key, session_id, entry_id, occurred_at, speaker, text FROM entries"
        " WHERE agent_id = %s AND session_id = %s AND seq BETWEEN %s AND %s ORDER BY seq",
        (agent_id, session_id, seq[0] - around, seq[0] + around))]


def entity_facts(conn: psycopg.Connection, agent_id: str, name: str, *, budget_tokens: int = 1000,
                 limit: int = 60) -> dict | None:
    """What ``agent_id`` knows about the entity called ``name`` (or by an alias): its kind, summary,
    aliases, first and last mention, and the relationships it is the subject or object of (at most
    ``limit``, ``budget_tokens`` in all), current ones first and newest first, each with
    ``valid_from``/``valid_to`` (set once a later fact superseded it); ``more``: how many did not fit.
    Of several entities with that name, the most mentioned. None when there is none."""
    row = conn.execute(
        f"SELECT e.id, e.name, e.kind, e.summary, e.first_seen, e.last_seen, e.mention_count, {aliases_of('e')}"
        " FROM entities e JOIN entity_aliases a ON a.entity_id = e.id AND a.agent_id = e.agent_id"
        " WHERE e.agent_id = %s AND a.alias_norm = %s ORDER BY e.mention_count DESC, e.id LIMIT 1",
        (agent_id, normalize_name(name))).fetchone()
    if row is None:
        return None
    eid, ename, kind, summary, first, last, mentions, aliases = row
    facts, spent, more = [], 0, 0
    for rid, fact, pred, vf, vt, tokens in conn.execute(
            "SELECT id, fact, predicate, valid_from, valid_to, tokens FROM relationships"
            " WHERE agent_id = %s AND (subject_id = %s OR object_id = %s)"
            " ORDER BY (valid_to IS NOT NULL), valid_from DESC NULLS LAST, id", (agent_id, eid, eid)):
        if len(facts) == limit or spent + tokens > budget_tokens:
            more += 1
            continue
        spent += tokens
        facts.append({"ref": f"relationship:{rid}", "text": relationship_text(fact, vf, vt), "predicate": pred,
                      "valid_from": _iso(vf), "valid_to": _iso(vt), "current": vt is None})
    return {"ref": f"entity:{eid}", "name": ename, "kind": kind, "summary": summary, "aliases": aliases,
            "first_seen": _iso(first), "last_seen": _iso(last), "mentions": mentions, "relationships": facts,
            "more": more}


def _entry(row) -> dict:
    session_key, session_id, entry_id, occurred_at, speaker, text = row
    return {"session_key": session_key, "session_id": session_id, "entry_id": entry_id,
            "occurred_at": _iso(occurred_at), "speaker": speaker, "text": text}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
