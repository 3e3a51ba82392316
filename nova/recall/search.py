"""Recall: the memories relevant to a query, within a token budget, for one agent.

Paths, each ONE ranked list across memory kinds (merged by the path's own score, so
episodes, facts and entities compete on relevance), fused with reciprocal rank fusion (RRF, k=60):
- vector: pgvector cosine over HNSW indexes: relationships, described entities, and episodes
  by their best-matching turn (``episode_keys``: one embedding per entry);
- static: the same over the static tier's vectors (``nova.memory.static_embed``) of the memories whose
  dense vector is still pending (``nova.memory.dense_fill``): a memory is found by meaning from the
  moment it is written; the graph and time paths and packing compare such memories in that space too;
- full text: Postgres ``tsvector`` match of any query word but the speakers' names,
  ranked by ``ts_rank_cd`` normalised by length;
- graph: entities named in the query (alias table) and their direct neighbours; the
  relationships and episodes around them, ranked by similarity to the query;
- time (only when the query names a time: "last May", "two weeks ago", "before June 2023",
  parsed by ``nova.recall.temporal`` against ``now``): episodes that happened and relationships that
  began or were still valid in that range, ranked by similarity to the query: exhaustively when
  the range is short, else from a deeper pool of the vector path's nearest neighbours;
- continuation: the exchange that follows each of the five best episodes of the fusion above in its
  session (answers and "it taught me ..." follow the turn that names the subject).
The query is embedded with the speakers' names at half weight (they are in nearly every memory).
Given a second connection, the full-text path and the nearest entities run on it while the first
runs the rest of the vector path, the time path and the graph path: each side waits on PostgreSQL,
which answers both at once on two cores.
Packing is greedy MMR over the fused list: each pick trades fused relevance against cosine
similarity to the items already chosen, and skips what does not fit the budget or adds no new
source entry, so the budget is not spent on near-duplicates; a fact or entity line whose entries an
episode chosen later holds verbatim is dropped again, its tokens freed.

One module per path under ``nova.recall.paths``; fusion, details, packing and the explain trace
each in a module of their own. Every query filters by ``agent_id``: no path returns another agent's memories.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import datetime

import numpy as np
import psycopg

from nova.memory.embed import Embedder
from nova.recall.alongside import alongside
from nova.recall.block import frame_tokens
from nova.recall.details import item_details
from nova.recall.excerpt import excerpt_long_episodes
from nova.recall.explain import Clock, fill_trace
from nova.recall.fusion import fuse
from nova.recall.items import RecallItem, RecallTrace
from nova.recall.packing import SMALLEST_ITEM_TOKENS, pack
from nova.recall.paths import continuation, fulltext, graph, time_range, vector
from nova.recall.paths.time_range import TIME_POOL
from nova.recall.query import RecallQuery, prepare_query
from nova.recall.ranking import CANDIDATES_PER_PATH

__all__ = ["recall"]


def recall(
    conn: psycopg.Connection,
    embedder: Embedder,
    agent_id: str,
    query: str,
    *,
    limit: int = 20,
    budget_tokens: int = 1000,
    query_vector: np.ndarray | None = None,
    known_sources: set[tuple[str, str]] | None = None,
    trace: RecallTrace | None = None,
    now: datetime | None = None,
    side_conn: psycopg.Connection | None = None,
    kinds: frozenset[str] = frozenset(),
    admit: Callable[[str, dict], bool] | None = None,
    as_of: datetime | None = None,
) -> list[RecallItem]:
    """The best memories of ``agent_id`` for ``query``: at most ``limit`` items, whose block (``render_items``)
    is at most ``budget_tokens`` under the embedding model's tokenizer.

    ``known_sources``: ``(session_id, entry_id)`` pairs the agent already has in front of it
    (the current message itself): memories drawn only from them are not recalled.
    ``trace``: filled with every stage's candidates and decisions (costs extra queries).
    ``now``: what relative times in the query ("two weeks ago") count from; default the current time.
    ``side_conn``: a second connection to the same database, idle for the call: the full-text path and
    the vector path's entity scan run on it in parallel with the rest (about a third less latency).
    ``kinds``: only items of these kinds (episode, relationship, entity) are packed; empty = all.
    (Chosen before packing: a fact whose episode would have covered it is kept when only facts are asked.)
    ``admit(kind, detail)``: packs only the candidates it admits (``detail``: the candidate's ``text``,
    ``occurred_at``, ``valid_from``, ``valid_to``); a search filter decided before packing, so a fact is
    not dropped for an episode the filter would leave out.
    ``as_of``: recall as if asked then: relative times in the query count from it (unless ``now`` is
    given), and nothing first said after it is packed (an episode by its time, a relationship by its
    earliest source entry, an entity by its first mention; a memory without a time is kept).

    Raises:
        ValueError: an empty query or a non-positive budget.
    """
    if not query.strip():
        raise ValueError("recall needs a non-empty query")
    if budget_tokens <= 0 or limit <= 0:
        raise ValueError("budget_tokens and limit must be positive")
    if as_of is not None:
        now = now or as_of
        admit = _said_by(as_of, admit)
    # The query embedding (~5-15 ms on 2 cores) runs while PostgreSQL answers the full-text path.
    clock = Clock()
    q = prepare_query(conn, embedder, agent_id, query, now=now, given_vector=query_vector)
    (nearest, time_hits, graph_hits), (fulltext_hits, entities, side_laps) = alongside(
        conn, side_conn, lambda c: _main_paths(c, q, clock, trace), lambda c: _side_paths(c, q, trace))
    if side_conn is not None:
        clock.lap("side_wait")
    clock.laps |= side_laps
    ranked = ({"vector": vector.ranked(nearest["dense"] | {"entity": entities}), "fulltext": fulltext_hits,
               "graph": graph_hits} | ({"time": time_hits} if time_hits is not None else {})
              | ({"static": vector.ranked(nearest["static"])} if nearest["static"] else {}))
    content_keys = {key: ck for hits in ranked.values() for key, _score, ck in hits}
    vec = q.vector()
    dim = len(vec)
    if trace is not None:
        trace.time_range = q.when.label() if q.when else None
    fused: dict[tuple[str, int], float] = defaultdict(float)
    paths: dict[tuple[str, int], list[str]] = defaultdict(list)
    fuse(ranked, fused, paths)
    by_fusion = lambda: sorted(fused, key=lambda k: (-fused[k], k[0], content_keys[k]))
    ranked["continuation"] = continuation.search(conn, q, by_fusion())
    content_keys |= {key: ck for key, _score, ck in ranked["continuation"]}
    fuse({"continuation": ranked["continuation"]}, fused, paths)
    clock.lap("continuation")
    order = [k for k in by_fusion() if not kinds or k[0] in kinds][: limit * 6]
    # The budget is the block's as injected: its frame and each line's "- " count (nova.recall.block).
    frame, line_tokens = frame_tokens(embedder)
    item_budget = budget_tokens - frame
    # Details (texts, provenance) in chunks: packing usually fills the budget from the first one.
    details: dict[tuple[str, int], dict] = {}
    items: list[RecallItem] = []
    chunk = limit * 2
    decisions = [] if trace is not None and trace.detailed else None
    for start in range(0, len(order), chunk):
        details |= item_details(conn, agent_id, order[start:start + chunk], vec, dim, side_conn, q.static_vector())
        excerpt_long_episodes(conn, agent_id, details, embedder, q.text_query or query, q.lexemes, budget_tokens)
        if decisions is not None:
            decisions.clear()
        items = pack(order[:start + chunk], details, fused, paths, content_keys, limit, item_budget,
                     set(known_sources or ()), dim, decisions, admit, line_tokens)
        if len(items) >= limit or item_budget - sum(i.tokens + line_tokens for i in items) < SMALLEST_ITEM_TOKENS:
            break
    clock.lap("pack")
    if trace is not None:
        fill_trace(conn, agent_id, trace, query, q.text_query, ranked, order, fused, paths, decisions, details, clock)
    return items


def _main_paths(conn: psycopg.Connection, q: RecallQuery, clock: Clock, trace: RecallTrace | None):
    """What runs on the caller's connection: the nearest relationships and episodes (``{"dense": {kind:
    [Neighbour]}, "static": {kind: [Neighbour]}}``, the second empty without the static tier), the time
    path's hits when the query names a time (else None), and the graph path's hits. A time query reads
    a deeper pool of neighbours (``TIME_POOL``): the time path draws on it, in both spaces."""
    q.vector()
    clock.lap("embed_wait")
    pool = TIME_POOL if q.when is not None else CANDIDATES_PER_PATH
    sizes = {"relationship": pool, "episode": max(pool, CANDIDATES_PER_PATH * 2)}
    nearest = {"dense": {kind: vector.nearest(conn, q, kind, n) for kind, n in sizes.items()}, "static": {}}
    if q.static_vector() is not None:
        nearest["static"] = {kind: vector.nearest(conn, q, kind, n, "static") for kind, n in sizes.items()}
        nearest["static"]["entity"] = vector.nearest(conn, q, "entity", CANDIDATES_PER_PATH, "static")
        if not any(nearest["static"].values()):
            nearest["static"] = {}  # every memory has its dense vector: the dense path sees them all
    clock.lap("vector")
    time_hits = None
    if q.when is not None:
        both = {kind: nearest["dense"][kind] + nearest["static"].get(kind, []) for kind in sizes}
        time_hits = time_range.search(conn, q, both)
        clock.lap("time")
    graph_hits = graph.search(conn, q, trace)
    clock.lap("graph")
    return nearest, time_hits, graph_hits


def _side_paths(conn: psycopg.Connection, q: RecallQuery, trace: RecallTrace | None):
    """What runs on the second connection: the full-text path, then, once the query vector is ready,
    the vector path's nearest entities: ``(fulltext hits, [Neighbour], laps)``."""
    clock = Clock()
    fulltext_hits = fulltext.search(conn, q, trace)
    clock.lap("fulltext")
    entities = vector.nearest(conn, q, "entity", CANDIDATES_PER_PATH)
    clock.lap("vector_entities")
    return fulltext_hits, entities, clock.laps


def _said_by(as_of: datetime, admit: Callable[[str, dict], bool] | None) -> Callable[[str, dict], bool]:
    """``admit`` that also leaves out what was first said after ``as_of``."""
    def said_by(kind: str, detail: dict) -> bool:
        said = detail.get("said_at") if kind == "relationship" else detail.get("occurred_at")
        return (said is None or said <= as_of) and (admit is None or admit(kind, detail))
    return said_by
