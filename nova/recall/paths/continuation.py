"""The continuation path: the exchange that follows each of the best episodes of the fusion so far in
its session (answers and "it taught me ..." follow the turn that names the subject)."""

from __future__ import annotations

import psycopg

from nova.recall.query import RecallQuery
from nova.recall.ranking import Hit, content_key

__all__ = ["search", "CONTINUATION_SEEDS"]

CONTINUATION_SEEDS = 5  # best episodes whose next exchange in the session is also a candidate


def search(conn: psycopg.Connection, query: RecallQuery, fused_order: list[tuple[str, int]]) -> list[Hit]:
    """The exchange that follows each of the best ``CONTINUATION_SEEDS`` episodes in its session, in their order.

    A conversation goes on about what it was about: the answer to a question, or "it taught me
    self-acceptance" after the turn that named the book, is often in the next exchange, which shares
    no words with the query. Scores are the seed's rank (1 = best), for the explain trace."""
    seeds = [item_id for kind, item_id in fused_order if kind == "episode"][:CONTINUATION_SEEDS]
    if not seeds:
        return []
    following = {p: (n, ck) for p, n, ck in conn.execute(
        f"SELECT p.id, n.id, n.ck FROM episodes p JOIN LATERAL (SELECT n.id, {content_key('episode', 'n')} AS ck"
        "   FROM episodes n WHERE n.agent_id = p.agent_id"
        "   AND n.session_id = p.session_id AND n.last_seq > p.last_seq ORDER BY n.last_seq LIMIT 1) n ON true"
        " WHERE p.agent_id = %s AND p.id = ANY(%s)",
        (query.agent_id, seeds),
    )}
    return [(("episode", following[s][0]), float(rank), following[s][1])
            for rank, s in enumerate(seeds, 1) if s in following]
