"""The texts, tokens, dates, embeddings and provenance of the candidates packing considers."""

from __future__ import annotations

from collections import defaultdict

import psycopg

from nova.memory.entities import aliases_of
from nova.memory.texts import entity_text, relationship_text
from nova.recall.alongside import alongside
from nova.recall.ranking import similarity_order

__all__ = ["item_details"]


def item_details(conn, agent_id: str, keys: list[tuple[str, int]], vec=None, dim: int = 0,
             side_conn: psycopg.Connection | None = None) -> dict[tuple[str, int], dict]:
    """Text, tokens, dates and provenance of each item; with ``vec``, also its ``embedding`` (MMR).

    An episode's embedding is that of its turn nearest the query (how it was found). Rows are
    read in binary: no text parsing of 384 floats per row. With ``side_conn``, the provenance is
    read on it meanwhile."""
    out, sources = alongside(conn, side_conn, lambda c: _item_rows(c, agent_id, keys, vec, dim),
                              lambda c: _sources(c, agent_id, keys))
    for key, d in out.items():
        d["sources"] = sources.get(key, [])
    return out


def _item_rows(conn, agent_id: str, keys: list[tuple[str, int]], vec, dim: int) -> dict[tuple[str, int], dict]:
    by_kind: dict[str, list[int]] = defaultdict(list)
    for kind, item_id in keys:
        by_kind[kind].append(item_id)
    embedding = (lambda col: col) if vec is not None else (lambda col: "NULL::vector")
    out: dict[tuple[str, int], dict] = {}
    if by_kind["episode"]:
        turn_distance = f"k.embedding::vector({dim}) <=> %(vec)s::vector({dim})"
        nearest_turn = (f"(SELECT k.embedding FROM episode_keys k WHERE k.agent_id = e.agent_id AND k.episode_id = e.id"
                        f"  ORDER BY {similarity_order(turn_distance, 'k.entry_id', exact=True)} LIMIT 1)")
        for rid, text, tokens, occurred, emb in conn.execute(
            f"SELECT e.id, e.text, e.tokens, e.occurred_at, {embedding(nearest_turn)} FROM episodes e"
            f" WHERE e.agent_id = %(agent)s AND e.id = ANY(%(ids)s)",
            {"agent": agent_id, "ids": by_kind["episode"], "vec": vec}, binary=True,
        ):
            out[("episode", rid)] = {"text": text, "tokens": tokens, "occurred_at": occurred, "embedding": emb}
    if by_kind["relationship"]:
        for rid, fact, tokens, vf, vt, emb in conn.execute(
            f"SELECT id, fact, tokens, valid_from, valid_to, {embedding('embedding')} FROM relationships"
            f" WHERE agent_id = %s AND id = ANY(%s)",
            (agent_id, by_kind["relationship"]), binary=True,
        ):
            out[("relationship", rid)] = {"text": relationship_text(fact, vf, vt), "tokens": tokens,
                                          "valid_from": vf, "valid_to": vt, "embedding": emb}
    if by_kind["entity"]:
        for rid, name, kind, summary, tokens, first, aliases, emb in conn.execute(
            f"SELECT e.id, e.name, e.kind, e.summary, e.tokens, e.first_seen, {aliases_of('e')}, {embedding('e.embedding')}"
            f" FROM entities e WHERE e.agent_id = %s AND e.id = ANY(%s)",
            (agent_id, by_kind["entity"]), binary=True,
        ):
            out[("entity", rid)] = {"text": entity_text(name, kind, summary, aliases), "tokens": tokens,
                                    "occurred_at": first, "summary": summary, "embedding": emb}
    return out


def _sources(conn, agent_id: str, keys: list[tuple[str, int]]) -> dict[tuple[str, int], list[dict]]:
    """The transcript entries each item came from, in transcript order: ``{key: [{session_id, entry_id}]}``."""
    sources: dict[tuple[str, int], list[dict]] = defaultdict(list)
    for kind in ("episode", "relationship"):
        ids = [i for (k, i) in keys if k == kind]
        if not ids:
            continue
        for item_id, sid, eid in conn.execute(
            "SELECT p.item_id, p.session_id, p.entry_id FROM provenance p"
            " JOIN entries e USING (agent_id, session_id, entry_id)"
            " WHERE p.agent_id = %s AND p.item_kind = %s AND p.item_id = ANY(%s) ORDER BY e.seq, p.session_id, p.entry_id",
            (agent_id, kind, ids),
        ):
            sources[(kind, item_id)].append({"session_id": sid, "entry_id": eid})
    entity_ids = [i for (k, i) in keys if k == "entity"]
    if entity_ids:
        # An entity item shows its summary, so its source is the entry the summary came from,
        # else the entry that first mentioned it.
        for item_id, sid, eid in conn.execute(
            "SELECT e.id, coalesce(e.summary_session_id, m.session_id), coalesce(e.summary_entry_id, m.entry_id)"
            " FROM entities e LEFT JOIN LATERAL (SELECT p.session_id, p.entry_id FROM provenance p"
            "   JOIN entries en USING (agent_id, session_id, entry_id)"
            "   WHERE p.agent_id = e.agent_id AND p.item_kind = 'entity' AND p.item_id = e.id"
            "   ORDER BY en.occurred_at NULLS LAST, p.session_id, p.entry_id LIMIT 1) m ON e.summary_entry_id IS NULL"
            " WHERE e.agent_id = %s AND e.id = ANY(%s)",
            (agent_id, entity_ids),
        ):
            if eid is not None:
                sources[("entity", item_id)].append({"session_id": sid, "entry_id": eid})
    return sources
