"""The texts, tokens, dates, embeddings and provenance of the candidates packing considers."""

from __future__ import annotations

from collections import defaultdict

import psycopg

from nova.memory.entities import aliases_of
from nova.memory.texts import entity_text, relationship_text
from nova.recall.alongside import alongside
from nova.recall.ranking import best_first, similarity

__all__ = ["item_details"]


def item_details(conn, agent_id: str, keys: list[tuple[str, int]], vec=None, dim: int = 0,
                 side_conn: psycopg.Connection | None = None, svec=None) -> dict[tuple[str, int], dict]:
    """Text, tokens, dates and provenance of each item; with ``vec``, also its ``embedding`` (MMR), and
    with ``svec`` (the query in the static tier's space) its ``static_embedding``.

    An episode's embedding is that of its turn nearest the query (how it was found). Rows are
    read in binary: no text parsing of 384 floats per row. With ``side_conn``, the provenance is
    read on it meanwhile."""
    out, sources = alongside(conn, side_conn, lambda c: _item_rows(c, agent_id, keys, vec, dim, svec),
                              lambda c: _sources(c, agent_id, keys))
    for key, d in out.items():
        d["sources"] = sources.get(key, [])
    return out


def _item_rows(conn, agent_id: str, keys: list[tuple[str, int]], vec, dim: int, svec) -> dict[tuple[str, int], dict]:
    by_kind: dict[str, list[int]] = defaultdict(list)
    for kind, item_id in keys:
        by_kind[kind].append(item_id)
    sdim = len(svec) if svec is not None else None
    # The item's vectors for MMR: (dense, static), NULL where not wanted.
    vectors = lambda t: (f"{t}.embedding, {t}.static_embedding" if sdim is not None else f"{t}.embedding, NULL::vector") \
        if vec is not None else "NULL::vector, NULL::vector"
    params = {"agent": agent_id, "vec": vec, "svec": svec}
    out: dict[tuple[str, int], dict] = {}
    if by_kind["episode"]:
        turn_order = best_first(similarity("k", dim, sdim), "k.entry_id")
        nearest_turn = (f"LEFT JOIN LATERAL (SELECT {vectors('k')} FROM episode_keys k WHERE k.agent_id = e.agent_id"
                        f"  AND k.episode_id = e.id ORDER BY {turn_order} LIMIT 1) turn (dense, static) ON true"
                        ) if vec is not None else ""
        turn_vectors = "turn.dense, turn.static" if vec is not None else "NULL::vector, NULL::vector"
        for rid, text, tokens, occurred, emb, static in conn.execute(
            f"SELECT e.id, e.text, e.tokens, e.occurred_at, {turn_vectors} FROM episodes e {nearest_turn}"
            f" WHERE e.agent_id = %(agent)s AND e.id = ANY(%(ids)s)",
            params | {"ids": by_kind["episode"]}, binary=True,
        ):
            out[("episode", rid)] = {"text": text, "tokens": tokens, "occurred_at": occurred, "embedding": emb,
                                     "static_embedding": static}
    if by_kind["relationship"]:
        # said_at: when the fact was first said (its earliest source entry), for recall "as of" a time.
        for rid, fact, tokens, vf, vt, emb, static, said in conn.execute(
            f"SELECT t.id, t.fact, t.tokens, t.valid_from, t.valid_to, {vectors('t')},"
            f" (SELECT min(en.occurred_at) FROM provenance p JOIN entries en USING (agent_id, session_id, entry_id)"
            f"  WHERE p.agent_id = t.agent_id AND p.item_kind = 'relationship' AND p.item_id = t.id)"
            f" FROM relationships t WHERE t.agent_id = %(agent)s AND t.id = ANY(%(ids)s)",
            params | {"ids": by_kind["relationship"]}, binary=True,
        ):
            out[("relationship", rid)] = {"text": relationship_text(fact, vf, vt), "tokens": tokens,
                                          "valid_from": vf, "valid_to": vt, "said_at": said, "embedding": emb,
                                          "static_embedding": static}
    if by_kind["entity"]:
        for rid, name, kind, summary, tokens, first, aliases, emb, static in conn.execute(
            f"SELECT e.id, e.name, e.kind, e.summary, e.tokens, e.first_seen, {aliases_of('e')}, {vectors('e')}"
            f" FROM entities e WHERE e.agent_id = %(agent)s AND e.id = ANY(%(ids)s)",
            params | {"ids": by_kind["entity"]}, binary=True,
        ):
            out[("entity", rid)] = {"text": entity_text(name, kind, summary, aliases), "tokens": tokens,
                                    "occurred_at": first, "summary": summary, "embedding": emb,
                                    "static_embedding": static}
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
