"""The vector path: pgvector cosine over the HNSW indexes (or exact search in a small store):
relationships, described entities, and episodes by their best-matching turn (``episode_keys``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg

from nova.recall.query import RecallQuery
from nova.recall.ranking import CANDIDATES_PER_PATH, Hit, by_score, content_key, similarity_order

__all__ = ["Neighbour", "nearest", "ranked"]


@dataclass(frozen=True)
class Neighbour:
    key: tuple[str, int]
    score: float                  # cosine similarity to the query
    start: datetime | None        # episode: when it happened; relationship: valid_from
    end: datetime | None          # relationship: valid_to (superseded), else None
    content_key: str

    @property
    def hit(self) -> Hit:
        return self.key, self.score, self.content_key


def nearest(conn: psycopg.Connection, query: RecallQuery, kind: str, n: int, space: str = "dense") -> list[Neighbour]:
    """The agent's ``n`` memories of ``kind`` nearest the query, best first, with their times: by exact
    search when ``query.exact`` (see ``nova.recall.query.EXACT_SEARCH_EPISODES``), else through the HNSW index.

    ``space``: ``dense``, the dense model's vectors (``embedding``), or ``static``, the static tier's
    (``static_embedding``, ``nova.memory.static_embed``) over the memories whose dense vector is still
    pending: it stands in for the dense path until the dense pass reaches them. (Searching every memory
    in both spaces and fusing them cost 0.05 evidence recall on locomo-dev: 0.812 vs 0.862.)
    Episodes are ranked by their best-matching turn (``episode_keys``: one embedding per entry);
    entities only when described (a bare name is not worth budget)."""
    agent_id, exact = query.agent_id, query.exact
    if space == "dense":
        column, vec, only = "embedding", query.vector(), ""
    else:
        column, vec, only = "static_embedding", query.static_vector(), " AND t.embedding IS NULL"
    dim = len(vec)
    distance = f"t.{column}::vector({dim}) <=> %(vec)s::vector({dim})"
    present = f"t.{column} IS NOT NULL{only}"
    if kind == "episode":
        # A turn's key is its entry; the episode's is its anchor entry (the same for every turn of it).
        order = similarity_order(distance, "t.session_id, t.entry_id", exact)
        sql = (f"SELECT k.episode_id, 1 - k.d, e.occurred_at, NULL, {content_key('episode', 'e')}"
               f" FROM (SELECT t.episode_id, t.session_id, t.entry_id, {distance} AS d"
               f"   FROM episode_keys t WHERE t.agent_id = %(agent)s AND {present} ORDER BY {order} LIMIT %(n)s) k"
               f" JOIN episodes e ON e.id = k.episode_id"
               f" ORDER BY {similarity_order('k.d', 'k.session_id, k.entry_id', exact=True)}")
    elif kind == "relationship":
        sql = (f"SELECT t.id, 1 - ({distance}), t.valid_from, t.valid_to, {content_key('relationship', 't')}"
               f" FROM relationships t WHERE t.agent_id = %(agent)s AND {present}"
               f" ORDER BY {similarity_order(distance, content_key('relationship', 't'), exact)} LIMIT %(n)s")
    else:
        sql = (f"SELECT t.id, 1 - ({distance}), NULL, NULL, {content_key('entity', 't')} FROM entities t"
               f" WHERE t.agent_id = %(agent)s AND {present} AND t.summary IS NOT NULL"
               f" ORDER BY {similarity_order(distance, content_key('entity', 't'), exact)} LIMIT %(n)s")
    if only and not exact:
        # The HNSW index finds the nearest of ALL memories and the filter keeps the pending ones: let
        # it scan on until it has ``n`` of those (pgvector >= 0.8; an older one ignores the setting).
        conn.execute("SELECT set_config('hnsw.iterative_scan', 'strict_order', true)")
    best: dict[tuple[str, int], Neighbour] = {}
    for item_id, score, start, end, ck in conn.execute(sql, {"vec": vec, "agent": agent_id, "n": n}):
        best.setdefault((kind, item_id), Neighbour((kind, item_id), score, start, end, ck))  # an episode's best turn
    return list(best.values())


def ranked(neighbours: dict[str, list[Neighbour]]) -> list[Hit]:
    """The vector path's one ranked list from the neighbours ``nearest`` found (per kind, best first;
    ``nearest`` runs on both connections, so the path is these two steps). Kinds are merged by their
    raw score: episodes, facts and entities compete on relevance instead of each kind claiming top
    ranks in a list of its own."""
    return by_score([n.hit for n in neighbours["relationship"][:CANDIDATES_PER_PATH]]
                    + [n.hit for n in neighbours["entity"]]
                    + [n.hit for n in neighbours["episode"][:CANDIDATES_PER_PATH * 2]])
