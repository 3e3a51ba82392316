"""Recall: the memories relevant to a query, within a token budget, for one agent.

Paths, each ONE ranked list across memory kinds (merged by the path's own score, so
episodes, facts and entities compete on relevance), fused with reciprocal rank fusion (RRF, k=60):
- vector: pgvector cosine over HNSW indexes: relationships, described entities, and episodes
  by their best-matching turn (``episode_keys``: one embedding per entry);
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
source entry, so the budget is not spent on near-duplicates.

Every query filters by ``agent_id``: no path returns another agent's memories.
"""

from __future__ import annotations

import re
import time
from collections import defaultdict
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone

import numpy as np
import psycopg

from nova.memory.embed import Embedder
from nova.memory.entities import aliases_of
from nova.memory.names import normalize_name
from nova.memory.texts import entity_text, relationship_text, render_block
from nova.recall.temporal import QueryTime, query_time

__all__ = ["RecallItem", "RecallTrace", "recall", "render_items"]

RRF_K = 60
CANDIDATES_PER_PATH = 40
FULLTEXT_RANKED = 200  # matches ranked per full-text query (bounds its cost)
COMMON_WORD_SHARE = 0.05  # a query word in more of a table's rows than this is left out of its full-text query
# ... once at least this many rows hold it: in a young store a share says little (one dog in five
# memories is 20%), and ranking a few matches costs nothing. (The column statistics used before
# existed only after catch-up's first ANALYZE, at 200 entries: no word was left out before that.)
COMMON_WORD_MIN_ROWS = 20
_EXACT_TIME_ROWS = 2000  # memories that began in a query's time range compared exhaustively; more: TIME_POOL
TIME_POOL = 120  # nearest neighbours per kind a time query reads; its time path keeps those in range
_EMBEDDING_THREADS = ThreadPoolExecutor(max_workers=2, thread_name_prefix="nova-query-embed")
_SIDE_THREADS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="nova-recall-side")
_SMALLEST_ITEM_TOKENS = 12  # a short fact: less budget than this left cannot take another item
# MMR trade-off in packing: 1 is pure fused relevance, lower values spread the budget across topics.
MMR_LAMBDA = 0.7
_UTC = timezone.utc
_TABLE = {"episode": "episodes", "relationship": "relationships", "entity": "entities"}
# Relative weight of each path's ranked list in the fusion. Full text ORs the query's words
# and the graph path returns everything near a named entity: both are noisier than vectors.
_PATH_WEIGHTS = {"vector": 1.0, "fulltext": 0.6, "graph": 0.4, "time": 0.8, "continuation": 0.6}
CONTINUATION_SEEDS = 5  # best episodes whose next exchange in the session is also a candidate
# Up to this many episodes an agent's nearest neighbours are found by exact search, beyond it by
# the HNSW indexes (approximate: which neighbours are found depends on the order rows were written
# in). Exact search grows with the agent: recall p95 32 ms at 3,200 episodes, 67 ms at 12,800, where
# HNSW takes 23 ms (scripts/bench_recall_scale.py, 10k and 50k memories, 2 cores); 5,000 keeps it
# near 40 ms. LoCoMo conversations hold 300-650.
EXACT_SEARCH_EPISODES = 5_000
# Similarities equal to this many decimals are ties (broken by content key): the same text embedded
# in another batch (another catch-up chunk) differs by ~2e-7 per dimension (float sums in batched
# matrix products), which would otherwise decide the order of two copies of one line.
SCORE_DECIMALS = 4
# Each kind's rows in an order that depends on content only, for ties (equal scores, the same text
# twice): serial ids follow the order rows were written in, which differs between two stores built
# from the same transcripts (clean, killed and resumed, live then adopted).
_CONTENT_KEY = {
    "episode": "{t}.session_id || '/' || {t}.anchor_entry_id",
    "relationship": "{t}.fact || '|' || {t}.predicate || '|' || coalesce({t}.object_value, '')"
                    " || '|' || coalesce({t}.valid_from::text, '')",
    "entity": "{t}.kind || ':' || {t}.norm_name",
}


@dataclass
class RecallItem:
    kind: str                     # episode | relationship | entity
    id: int                       # the row's id in this store (serial: differs between stores)
    text: str                     # what would be injected
    score: float                  # fused RRF score (higher is better)
    tokens: int                   # under the embedding model's tokenizer
    sources: list[dict]           # [{"session_id", "entry_id"}]: provenance
    occurred_at: datetime | None = None
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    paths: list[str] = field(default_factory=list)
    key: str = ""                 # content-derived identity, the same in every store built from the same
                                  # entries: episode "<session_id>/<anchor entry_id>", entity "<kind>:<name>",
                                  # relationship "<fact>|<predicate>|<object>|<valid_from>"

    def to_json(self) -> dict:
        """The item as JSON, identified by ``key`` (not the store's serial ``id``): two stores built
        from the same transcripts give the same JSON, however they were built."""
        d = asdict(self)
        d.pop("id")
        for k in ("occurred_at", "valid_from", "valid_to"):
            d[k] = d[k].isoformat() if d[k] else None
        return d


@dataclass
class RecallTrace:
    """Why each memory was or was not recalled (``nova recall --explain``); filled by ``recall(trace=...)``.

    ``paths``: per path, its ranked candidates ``(kind, id, raw score)`` (cosine similarity for
    vector, graph and time, ``ts_rank_cd`` for full text, the seed episode's fused rank for
    continuation); ``fused``: ``(kind, id, RRF score, paths)``
    best first; ``decisions``: ``(kind, id, "kept" | "cut", reason)`` in packing order;
    ``timings_ms``: per stage.
    """

    query: str = ""
    text_query: str = ""            # the query without the speakers' names (graph seeds, half the embedding)
    fulltext_queries: dict[str, str | None] = field(default_factory=dict)  # table → the tsquery full text ran
    graph_seeds: list[int] = field(default_factory=list)
    time_range: str | None = None   # the query's time expression and the range it resolved to
    paths: dict[str, list[tuple[str, int, float]]] = field(default_factory=dict)
    fused: list[tuple[str, int, float, list[str]]] = field(default_factory=list)
    decisions: list[tuple[str, int, str, str]] = field(default_factory=list)
    texts: dict[tuple[str, int], str] = field(default_factory=dict)
    timings_ms: dict[str, float] = field(default_factory=dict)
    detailed: bool = True           # False: counts and timings only (telemetry), no extra queries

    def to_json(self) -> dict:
        text = lambda k, i: self.texts.get((k, i))
        return {
            "query": self.query, "text_query": self.text_query, "fulltext_queries": self.fulltext_queries,
            "graph_seeds": self.graph_seeds,
            "time_range": self.time_range,
            "paths": {p: [{"kind": k, "id": i, "score": round(sc, 6), "text": text(k, i)} for k, i, sc in c]
                      for p, c in self.paths.items()},
            "fused": [{"kind": k, "id": i, "score": round(sc, 6), "paths": ps} for k, i, sc, ps in self.fused],
            "decisions": [{"kind": k, "id": i, "decision": d, "reason": r, "text": text(k, i)}
                          for k, i, d, r in self.decisions],
            "timings_ms": self.timings_ms,
        }


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
) -> list[RecallItem]:
    """The best memories of ``agent_id`` for ``query``: at most ``limit`` items, ``budget_tokens`` in all.

    ``known_sources``: ``(session_id, entry_id)`` pairs the agent already has in front of it
    (the current message itself): memories drawn only from them are not recalled.
    ``trace``: filled with every stage's candidates and decisions (costs extra queries).
    ``now``: what relative times in the query ("two weeks ago") count from; default the current time.
    ``side_conn``: a second connection to the same database, idle for the call: the full-text path and
    the vector path's entity scan run on it in parallel with the rest (about a third less latency).

    Raises:
        ValueError: an empty query or a non-positive budget.
    """
    if not query.strip():
        raise ValueError("recall needs a non-empty query")
    if budget_tokens <= 0 or limit <= 0:
        raise ValueError("budget_tokens and limit must be positive")
    # The query embedding (~5-15 ms on 2 cores) runs while PostgreSQL answers the full-text path.
    clock = _Clock()
    speakers, exact = _speakers_and_size(conn, agent_id)
    text_query = _without_names(query, speakers)
    pending = _EMBEDDING_THREADS.submit(_query_vector, embedder, query, text_query, query_vector)
    when = query_time(query, now)
    words = _without_names(_without_time(query, when), speakers)
    (nearest, time_hits, graph), (fulltext, entities, side_laps) = _alongside(
        conn, side_conn,
        lambda c: _main_paths(c, agent_id, query, when, speakers, exact, pending, clock, trace),
        lambda c: _side_paths(c, agent_id, words, exact, pending, trace))
    if side_conn is not None:
        clock.lap("side_wait")
    clock.laps |= side_laps
    # The vector path is one ranked list, kinds merged by their raw score: episodes, facts and
    # entities compete on relevance instead of each kind claiming top ranks in a list of its own.
    vector = _by_score([n.hit for n in nearest["relationship"][:CANDIDATES_PER_PATH]]
                       + [n.hit for n in entities]
                       + [n.hit for n in nearest["episode"][:CANDIDATES_PER_PATH * 2]])
    ranked = {"vector": vector, "fulltext": fulltext, "graph": graph} | ({"time": time_hits} if time_hits is not None else {})
    content_keys = {key: ck for hits in ranked.values() for key, _score, ck in hits}
    vec = pending.result()
    dim = len(vec)
    if trace is not None:
        trace.time_range = when.label() if when else None
    fused: dict[tuple[str, int], float] = defaultdict(float)
    paths: dict[tuple[str, int], list[str]] = defaultdict(list)
    _fuse(ranked, fused, paths)
    by_fusion = lambda: sorted(fused, key=lambda k: (-fused[k], k[0], content_keys[k]))
    ranked["continuation"] = _continuation_path(conn, agent_id, by_fusion())
    content_keys |= {key: ck for key, _score, ck in ranked["continuation"]}
    _fuse({"continuation": ranked["continuation"]}, fused, paths)
    clock.lap("continuation")
    order = by_fusion()[: limit * 6]
    # Details (texts, provenance) in chunks: packing usually fills the budget from the first one.
    details: dict[tuple[str, int], dict] = {}
    items: list[RecallItem] = []
    chunk = limit * 2
    decisions = [] if trace is not None and trace.detailed else None
    for start in range(0, len(order), chunk):
        details |= _details(conn, agent_id, order[start:start + chunk], vec, dim, side_conn)
        if decisions is not None:
            decisions.clear()
        items = _pack(order[:start + chunk], details, fused, paths, content_keys, limit, budget_tokens,
                      set(known_sources or ()), dim, decisions)
        if len(items) >= limit or budget_tokens - sum(i.tokens for i in items) < _SMALLEST_ITEM_TOKENS:
            break
    clock.lap("pack")
    if trace is not None:
        _fill_trace(conn, agent_id, trace, query, text_query, ranked, order, fused, paths, decisions, details, clock)
    return items


def _alongside(conn, side_conn, main_work, side_work):
    """``(main_work(conn), side_work(side_conn))``, the side's work on its own thread meanwhile.
    Without ``side_conn`` both run on ``conn``, the side's work first (the full text then overlaps
    the query embedding). Returns only once the side's work is over, even when the main work
    raised: the caller hands ``side_conn`` back to its pool after this."""
    if side_conn is None:
        side = side_work(conn)
        return main_work(conn), side
    future = _SIDE_THREADS.submit(side_work, side_conn)
    try:
        main = main_work(conn)
    finally:
        wait([future])
    return main, future.result()


def _main_paths(conn, agent_id: str, query: str, when: QueryTime | None, speakers: set[str], exact: bool,
                vector: Future, clock: "_Clock", trace: RecallTrace | None):
    """What runs on the caller's connection: the nearest relationships and episodes (``{kind:
    [_Neighbour]}``), the time path's hits when the query names a time (else None), and the graph
    path's hits. A time query reads a deeper pool of neighbours (``TIME_POOL``): the time path draws on it."""
    vec = vector.result()
    clock.lap("embed_wait")
    dim = len(vec)
    pool = TIME_POOL if when is not None else CANDIDATES_PER_PATH
    nearest = {"relationship": _nearest(conn, "relationship", agent_id, vec, dim, pool, exact),
               "episode": _nearest(conn, "episode", agent_id, vec, dim, max(pool, CANDIDATES_PER_PATH * 2), exact)}
    clock.lap("vector")
    time_hits = None
    if when is not None:
        time_hits = _by_score(_time_path(conn, agent_id, when, vec, dim, nearest))
        clock.lap("time")
    graph = _by_score(_graph_path(conn, agent_id, query, vec, dim, speakers, exact, trace))
    clock.lap("graph")
    return nearest, time_hits, graph


def _side_paths(conn, agent_id: str, words: str, exact: bool, vector: Future, trace: RecallTrace | None):
    """What runs on the second connection: the full-text path (any of ``words``), then, once the
    query vector is ready, the vector path's nearest entities: ``(fulltext hits, [_Neighbour], laps)``."""
    clock = _Clock()
    lexemes = _query_lexemes(conn, words)
    queries = {table: _any_word_query(conn, agent_id, table, lexemes) for table in ("episodes", "relationships")}
    if trace is not None:
        trace.fulltext_queries = queries
    fulltext = _by_score(_fulltext_path(conn, "episode", agent_id, queries["episodes"], exact)
                         + _fulltext_path(conn, "relationship", agent_id, queries["relationships"], exact))
    clock.lap("fulltext")
    vec = vector.result()
    entities = _nearest(conn, "entity", agent_id, vec, len(vec), CANDIDATES_PER_PATH, exact)
    clock.lap("vector_entities")
    return fulltext, entities, clock.laps


def _fuse(ranked: dict[str, list[_Hit]], fused: dict, paths: dict) -> None:
    """Add each path's ranked list to the fused scores: reciprocal rank fusion, weighted per path."""
    for path, items in ranked.items():
        weight = _PATH_WEIGHTS[path]
        for rank, (key, _score, _ck) in enumerate(items):
            fused[key] += weight / (RRF_K + rank + 1)
            paths[key].append(path)


class _Clock:
    """Milliseconds per recall stage, for the explain trace and telemetry."""

    def __init__(self):
        self._last = time.perf_counter()
        self.laps: dict[str, float] = {}

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = round((now - self._last) * 1000, 2)
        self._last = now


def _fill_trace(conn, agent_id, trace: RecallTrace, query, text_query, ranked, order, fused, paths, decisions,
                details, clock: _Clock) -> None:
    trace.paths = {p: [(k[0], k[1], float(sc)) for k, sc, _ck in hits] for p, hits in ranked.items()}
    trace.timings_ms = dict(clock.laps)
    if not trace.detailed:
        return
    trace.query, trace.text_query = query, text_query
    trace.fused = [(k[0], k[1], fused[k], paths[k]) for k in order]
    considered = {(k, i) for k, i, _, _ in decisions}
    trace.decisions = decisions + [(k[0], k[1], "cut", "not reached: the budget or item limit was filled first")
                                   for k in order if k not in considered]
    every = {k for hits in ranked.values() for k, _, _ in hits}
    missing = [k for k in every if k not in details]
    details = details | (_details(conn, agent_id, missing) if missing else {})
    trace.texts = {k: d["text"] for k, d in details.items()}


def render_items(items: list[RecallItem]) -> str:
    """The block a hook would inject for these items."""
    return render_block([i.text for i in items])


# -- paths ---------------------------------------------------------------------------------


def _query_vector(embedder: Embedder, query: str, text_query: str, given: np.ndarray | None) -> np.ndarray:
    """The query's embedding, with the speakers' names at half weight.

    A speaker's name is in nearly every memory of a conversation (and facts repeat it:
    "Melanie is lucky to have Melanie's kids"), so at full weight it pulls in memories that
    share the name rather than the topic. The mean of the embeddings with and without the
    names keeps who is asked about and lets the topic decide."""
    if text_query == _without_names(query, set()) or not text_query.strip():  # no speaker named
        return given if given is not None else embedder.encode([query])[0]
    vectors = embedder.encode([text_query] if given is not None else [query, text_query])
    full = given if given is not None else vectors[0]
    mean = full + vectors[-1]
    return (mean / np.linalg.norm(mean)).astype(np.float32)


def _speakers_and_size(conn, agent_id: str) -> tuple[set[str], bool]:
    """The agent's own and its users' names, and whether its store is small enough for exact search
    (at most ``EXACT_SEARCH_EPISODES`` episodes: ``lexeme_frequencies`` counts them under '').

    Names occur in nearly every memory, so as query words they match everything and tell nothing
    (the IDF of a speaker's name is ~0)."""
    rows = conn.execute(
        "SELECT name, NULL FROM agent_speakers WHERE agent_id = %(agent)s UNION ALL"
        " SELECT NULL, n_rows FROM lexeme_frequencies WHERE agent_id = %(agent)s AND tbl = 'episodes' AND lexeme = ''",
        {"agent": agent_id}).fetchall()
    names = {normalize_name(name) for name, _ in rows if name is not None}
    episodes = next((n for name, n in rows if name is None), 0)
    return (names | {part for n in names for part in n.split() if len(part) >= 3},  # "Dana" of "Dana Okafor"
            episodes <= EXACT_SEARCH_EPISODES)


def _without_names(query: str, names: set[str]) -> str:
    words = re.findall(r"[\w'’-]+", query)
    kept = [w for w in words if normalize_name(w) not in names]
    return " ".join(kept)


def _without_time(text: str, when: QueryTime | None) -> str:
    """The text without its time expression: the time path matches "last month" by date; as
    words, "last" and "month" match every memory that says them."""
    if when is None:
        return text
    return re.sub(re.escape(when.expression), " ", text, count=1, flags=re.IGNORECASE)


# A path's candidate: ((kind, id), score, content key); the content key breaks ties.
_Hit = tuple[tuple[str, int], float, str]


def _content_key(kind: str, table_alias: str) -> str:
    """SQL for the content key of a ``kind`` row aliased ``table_alias`` (``_CONTENT_KEY``)."""
    return _CONTENT_KEY[kind].format(t=table_alias)


def _by_score(hits: list[_Hit]) -> list[_Hit]:
    """Merge scored hits into one ranked list, best score first (to ``SCORE_DECIMALS``), then by
    kind and content key; each item once, with its best score."""
    best: dict[tuple[str, int], _Hit] = {}
    for hit in hits:
        if hit[0] not in best or hit[1] > best[hit[0]][1]:
            best[hit[0]] = hit
    return sorted(best.values(), key=lambda h: (-round(h[1], SCORE_DECIMALS), h[0][0], h[2]))


def _similarity_order(distance: str, content_key: str, exact: bool) -> str:
    """An ORDER BY for nearest neighbours: exact (every row compared; ties to ``SCORE_DECIMALS`` broken by
    content key: no HNSW index serves this order) or approximate (``distance`` alone, which the HNSW
    index serves)."""
    if not exact:
        return distance
    return f"round(({distance}) * 1e{SCORE_DECIMALS}), {content_key}"


def _best_first(similarity: str, content_key: str = "ck") -> str:
    """ORDER BY for scored rows: best ``similarity`` first to ``SCORE_DECIMALS``, then by content key."""
    return f"round({similarity} * 1e{SCORE_DECIMALS}) DESC, {content_key}"


@dataclass(frozen=True)
class _Neighbour:
    key: tuple[str, int]
    score: float                  # cosine similarity to the query
    start: datetime | None        # episode: when it happened; relationship: valid_from
    end: datetime | None          # relationship: valid_to (superseded), else None
    content_key: str

    @property
    def hit(self) -> _Hit:
        return self.key, self.score, self.content_key


def _nearest(conn, kind: str, agent_id: str, vec, dim: int, n: int, exact: bool) -> list[_Neighbour]:
    """The agent's ``n`` memories of ``kind`` nearest the query, best first, with their times: by exact
    search when ``exact`` (see ``EXACT_SEARCH_EPISODES``), else through the HNSW index.

    Episodes are ranked by their best-matching turn (``episode_keys``: one embedding per entry);
    entities only when described (a bare name is not worth budget)."""
    distance = f"t.embedding::vector({dim}) <=> %(vec)s::vector({dim})"
    if kind == "episode":
        # A turn's key is its entry; the episode's is its anchor entry (the same for every turn of it).
        order = _similarity_order(distance, "t.session_id, t.entry_id", exact)
        sql = (f"SELECT k.episode_id, 1 - k.d, e.occurred_at, NULL, {_content_key('episode', 'e')}"
               f" FROM (SELECT t.episode_id, t.session_id, t.entry_id, {distance} AS d"
               f"   FROM episode_keys t WHERE t.agent_id = %(agent)s ORDER BY {order} LIMIT %(n)s) k"
               f" JOIN episodes e ON e.id = k.episode_id"
               f" ORDER BY {_similarity_order('k.d', 'k.session_id, k.entry_id', exact=True)}")
    elif kind == "relationship":
        sql = (f"SELECT t.id, 1 - ({distance}), t.valid_from, t.valid_to, {_content_key('relationship', 't')}"
               f" FROM relationships t WHERE t.agent_id = %(agent)s AND t.embedding IS NOT NULL"
               f" ORDER BY {_similarity_order(distance, _content_key('relationship', 't'), exact)} LIMIT %(n)s")
    else:
        sql = (f"SELECT t.id, 1 - ({distance}), NULL, NULL, {_content_key('entity', 't')} FROM entities t"
               f" WHERE t.agent_id = %(agent)s AND t.embedding IS NOT NULL AND t.summary IS NOT NULL"
               f" ORDER BY {_similarity_order(distance, _content_key('entity', 't'), exact)} LIMIT %(n)s")
    best: dict[tuple[str, int], _Neighbour] = {}
    for item_id, score, start, end, ck in conn.execute(sql, {"vec": vec, "agent": agent_id, "n": n}):
        best.setdefault((kind, item_id), _Neighbour((kind, item_id), score, start, end, ck))  # an episode's best turn
    return list(best.values())


def _query_lexemes(conn, text: str) -> list[str]:
    """The text's distinct lexemes as full text indexes them (English stems, stop words dropped)."""
    return [r[0] for r in conn.execute("SELECT unnest(tsvector_to_array(to_tsvector('english', %s)))", (text,))]


def _any_word_query(conn, agent_id: str, table: str, lexemes: list[str]) -> str | None:
    """A ``tsquery`` matching any of ``lexemes`` but the agent's common ones in ``table`` (None when none is left).

    A question rarely shares all its words with its answer, so they are ORed. A word in more than
    ``COMMON_WORD_SHARE`` of the agent's rows ("like", "feel", "great" in a chat) tells little and
    matches thousands of rows, so it is left out (its inverse document frequency is low) once
    ``COMMON_WORD_MIN_ROWS`` rows hold it; when all are common, the rarest one is kept. Shares are NOVA's own counts (``lexeme_frequencies``, kept by
    triggers in the writing transaction): the same for the same content, whatever the ingest history.
    The query is passed to the path as a constant: the planner estimates its selectivity from the
    column statistics (as a value computed inside the statement it guesses every row matches and
    scans the table instead of the GIN index)."""
    if not lexemes:
        return None
    held, rows = _lexeme_counts(conn, agent_id, table, lexemes)
    common = {w for w, n in held.items() if n >= COMMON_WORD_MIN_ROWS and n > COMMON_WORD_SHARE * rows}
    kept = [w for w in lexemes if w not in common] or [min(lexemes, key=lambda w: (held.get(w, 0), w))]
    return " | ".join("'" + w.replace("\\", "\\\\").replace("'", "''") + "'" for w in kept)


def _lexeme_counts(conn, agent_id: str, table: str, lexemes: list[str]) -> tuple[dict[str, int], int]:
    """``({lexeme: how many of the agent's rows of table hold it}, the agent's rows in table)``;
    a lexeme no row holds is absent."""
    counts = dict(conn.execute(
        "SELECT lexeme, n_rows FROM lexeme_frequencies WHERE agent_id = %s AND tbl = %s AND lexeme = ANY(%s)",
        (agent_id, table, [*lexemes, ""])).fetchall())
    return counts, counts.pop("", 0)


def _fulltext_path(conn, kind: str, agent_id: str, tsquery: str | None, exact: bool) -> list[_Hit]:
    """The agent's rows of ``kind`` matching ``tsquery``, best ``ts_rank_cd`` first (ties by content key).

    ``exact``: rank every match (a small store). Else rank at most ``FULLTEXT_RANKED`` of them: OR
    queries of common words match thousands of rows in a large store, and ranking costs a tsvector
    read per match, so latency stays flat with size; which ones are ranked then follows the rows'
    order on disk (like HNSW, approximate: not a function of content alone)."""
    if tsquery is None:
        return []
    table = _TABLE[kind]
    key = _content_key(kind, "t")
    # ts_rank_cd normalisation 1 divides by log(length), so long episodes do not win on length alone.
    rows = conn.execute(
        f"SELECT c.id, ts_rank_cd(c.tsv, %s::tsquery, 1) AS r, c.ck FROM (SELECT t.id, t.tsv, {key} AS ck FROM {table} t"
        f"   WHERE t.agent_id = %s AND t.tsv @@ %s::tsquery LIMIT %s) c ORDER BY r DESC, c.ck LIMIT %s",
        (tsquery, agent_id, tsquery, None if exact else FULLTEXT_RANKED, CANDIDATES_PER_PATH),
    ).fetchall()
    return [((kind, r[0]), r[1], r[2]) for r in rows]


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


def _graph_path(conn, agent_id: str, query: str, vec, dim: int, speakers: set[str], exact: bool,
                trace: RecallTrace | None = None) -> list[_Hit]:
    """Relationships and episodes around the entities the query names, scored by similarity
    (relationships by exact search when ``exact``, else as the planner finds best)."""
    seeds = _query_entities(conn, agent_id, _without_names(query, speakers))
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
    distance = f"t.embedding::vector({dim}) <=> %(vec)s::vector({dim})"
    rel_key = _content_key("relationship", "t")
    rels = conn.execute(
        f"SELECT t.id, 1 - ({distance}), {rel_key} FROM relationships t"
        f" WHERE t.agent_id = %(agent)s AND t.embedding IS NOT NULL"
        f" AND (t.subject_id = ANY(%(around)s) OR t.object_id = ANY(%(around)s))"
        f" ORDER BY {_similarity_order(distance, rel_key, exact)} LIMIT %(n)s",
        {"vec": vec, "agent": agent_id, "around": around, "n": CANDIDATES_PER_PATH},
    ).fetchall()
    episodes = conn.execute(
        f"SELECT id, s, ck FROM (SELECT e.id, max(1 - (k.embedding::vector({dim}) <=> %s::vector({dim}))) AS s,"
        f"   {_content_key('episode', 'e')} AS ck"
        f"   FROM provenance pm JOIN episode_keys k USING (agent_id, session_id, entry_id)"
        f"   JOIN episodes e ON e.id = k.episode_id"
        f"   WHERE pm.agent_id = %s AND pm.item_kind = 'entity' AND pm.item_id = ANY(%s) GROUP BY e.id) x"
        f" ORDER BY {_best_first('s')} LIMIT %s",
        (vec, agent_id, around, CANDIDATES_PER_PATH),
    ).fetchall()
    return [(("relationship", r[0]), r[1], r[2]) for r in rels] + [(("episode", r[0]), r[1], r[2]) for r in episodes]


def _continuation_path(conn, agent_id: str, fused_order: list[tuple[str, int]]) -> list[_Hit]:
    """The exchange that follows each of the best ``CONTINUATION_SEEDS`` episodes in its session, in their order.

    A conversation goes on about what it was about: the answer to a question, or "it taught me
    self-acceptance" after the turn that named the book, is often in the next exchange, which shares
    no words with the query. Scores are the seed's rank (1 = best), for the explain trace."""
    seeds = [item_id for kind, item_id in fused_order if kind == "episode"][:CONTINUATION_SEEDS]
    if not seeds:
        return []
    following = {p: (n, ck) for p, n, ck in conn.execute(
        f"SELECT p.id, n.id, n.ck FROM episodes p JOIN LATERAL (SELECT n.id, {_content_key('episode', 'n')} AS ck"
        "   FROM episodes n WHERE n.agent_id = p.agent_id"
        "   AND n.session_id = p.session_id AND n.last_seq > p.last_seq ORDER BY n.last_seq LIMIT 1) n ON true"
        " WHERE p.agent_id = %s AND p.id = ANY(%s)",
        (agent_id, seeds),
    )}
    return [(("episode", following[s][0]), float(rank), following[s][1])
            for rank, s in enumerate(seeds, 1) if s in following]


def _time_path(conn, agent_id: str, when: QueryTime, vec, dim: int,
               nearest: dict[str, list[_Neighbour]]) -> list[_Hit]:
    """Episodes that happened in the query's range, and relationships that began in it or were still
    valid during it (superseded later: ``valid_to`` after the range start), by similarity.

    A short range (at most ``_EXACT_TIME_ROWS`` rows began in it) is compared exhaustively through
    the time indexes; a long one is read from the query's nearest neighbours (``nearest``, ``TIME_POOL``
    deep), so a wide range in a large store costs no filtered index walk."""
    start, end = when.start, when.end
    lo = start or datetime.min.replace(tzinfo=_UTC)
    hi = end or datetime.max.replace(tzinfo=_UTC)
    hits: list[_Hit] = []
    for n in nearest["episode"]:
        if n.start is not None and lo <= n.start < hi:
            hits.append(n.hit)
    for n in nearest["relationship"]:
        if n.start is not None and n.start < hi and (n.start >= lo or (n.end is not None and n.end > lo)):
            hits.append(n.hit)
    bounds = (agent_id, start, end)
    began = "t.agent_id = %s AND t.{0} >= coalesce(%s, '-infinity'::timestamptz) AND t.{0} < coalesce(%s, 'infinity'::timestamptz)"
    episode_in, relationship_in = began.format("occurred_at"), began.format("valid_from")
    exact = {
        "episode": ("episodes", episode_in,
                    f"SELECT t.id, max(1 - (k.embedding::vector({dim}) <=> %s::vector({dim}))) AS s,"
                    f" {_content_key('episode', 't')} AS ck"
                    f" FROM episodes t JOIN episode_keys k ON k.agent_id = t.agent_id AND k.episode_id = t.id"
                    f" WHERE {episode_in} GROUP BY t.id"),
        "relationship": ("relationships", relationship_in,
                         f"SELECT t.id, 1 - (t.embedding::vector({dim}) <=> %s::vector({dim})) AS s,"
                         f" {_content_key('relationship', 't')} AS ck FROM relationships t"
                         f" WHERE {relationship_in} AND t.embedding IS NOT NULL"),
    }
    for kind, (table, in_range, scored) in exact.items():
        rows = conn.execute(f"SELECT count(*) FROM (SELECT 1 FROM {table} t WHERE {in_range} LIMIT %s) x",
                            (*bounds, _EXACT_TIME_ROWS + 1)).fetchone()[0]
        if rows <= _EXACT_TIME_ROWS:
            hits += [((kind, r[0]), r[1], r[2]) for r in conn.execute(
                f"SELECT id, s, ck FROM ({scored}) x ORDER BY {_best_first('s')} LIMIT %s",
                (vec, *bounds, CANDIDATES_PER_PATH))]
    return hits


# -- details and packing -------------------------------------------------------------------


def _details(conn, agent_id: str, keys: list[tuple[str, int]], vec=None, dim: int = 0,
             side_conn: psycopg.Connection | None = None) -> dict[tuple[str, int], dict]:
    """Text, tokens, dates and provenance of each item; with ``vec``, also its ``embedding`` (MMR).

    An episode's embedding is that of its turn nearest the query (how it was found). Rows are
    read in binary: no text parsing of 384 floats per row. With ``side_conn``, the provenance is
    read on it meanwhile."""
    out, sources = _alongside(conn, side_conn, lambda c: _item_rows(c, agent_id, keys, vec, dim),
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
                        f"  ORDER BY {_similarity_order(turn_distance, 'k.entry_id', exact=True)} LIMIT 1)")
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


def _pack(order, details, fused, paths, content_keys, limit: int, budget: int, covered: set[tuple[str, str]],
          dim: int, decisions: list | None = None) -> list[RecallItem]:
    """Greedy maximal marginal relevance (MMR) over the fused ranking, within the token budget.

    Each step takes the candidate with the best ``MMR_LAMBDA * relevance - (1 - MMR_LAMBDA) *
    redundancy``: relevance is its fused score over the best one (0-1], redundancy its highest cosine
    similarity to an item already chosen. Ten paraphrases of one fact thus do not fill the budget.
    """
    chosen: list[RecallItem] = []
    seen_text: set[str] = set()
    verbatim = set(covered)  # entries whose words are in the block: the current message, chosen episodes
    left = budget
    cut = (lambda key, why: decisions.append((key[0], key[1], "cut", why))) if decisions is not None else (lambda *_: None)
    pool = []
    for key in order:
        if key in details and details[key]["sources"]:
            pool.append(key)
        else:
            cut(key, "no provenance left (its entries were forgotten or are being rebuilt)")
    if not pool:
        return chosen
    relevance = np.array([fused[k] for k in pool]) / fused[pool[0]]
    vectors = np.stack([_unit(details[k].get("embedding"), dim) for k in pool])
    redundancy = np.zeros(len(pool))
    open_ = np.ones(len(pool), dtype=bool)
    while open_.any() and len(chosen) < limit and left > 0:
        mmr = np.where(open_, MMR_LAMBDA * relevance - (1 - MMR_LAMBDA) * redundancy, -np.inf)
        n = int(np.argmax(mmr))
        open_[n] = False
        key, d = pool[n], details[pool[n]]
        srcs = {(s["session_id"], s["entry_id"]) for s in d["sources"]}
        norm_text = re.sub(r"\W+", " ", d["text"].lower()).strip()
        # An episode is the entries' own words; a relationship or entity is a line derived from
        # them. So a derived line is redundant once any item above cites its entries, but an
        # episode only once an episode above (or the current message) holds those words: "Priya
        # is the user's sister" does not say what the episode it came from says about her dog.
        if srcs <= (verbatim if key[0] == "episode" else covered):
            cut(key, "adds no new source entry: the current message or items above already cover it"
                if key[0] != "episode" else "its entries are already in the block (an episode above, or the"
                " current message)")
            continue
        if norm_text in seen_text:
            cut(key, "same text as an item above")
            continue
        if d["tokens"] > left:
            cut(key, f"{d['tokens']} tokens, only {left} left in the budget")
            continue
        chosen.append(RecallItem(
            kind=key[0], id=key[1], text=d["text"], score=round(fused[key], 6), tokens=d["tokens"],
            sources=d["sources"], occurred_at=d.get("occurred_at"), valid_from=d.get("valid_from"),
            valid_to=d.get("valid_to"), paths=paths[key], key=f"{key[0]}:{content_keys[key]}",
        ))
        covered |= srcs
        if key[0] == "episode":
            verbatim |= srcs
        seen_text.add(norm_text)
        left -= d["tokens"]
        if decisions is not None:
            decisions.append((key[0], key[1], "kept",
                              f"pick {len(chosen)}: fused rank {n + 1}, relevance {relevance[n]:.2f},"
                              f" redundancy {redundancy[n]:.2f}, {d['tokens']} tokens"))
        # Rounded like every similarity here: the same texts embedded in other batches pick alike.
        redundancy = np.maximum(redundancy, np.round(vectors @ vectors[n], SCORE_DECIMALS))
    return chosen


def _unit(embedding, dim: int) -> np.ndarray:
    """The item's (unit-length) embedding as a float array; zeros when it has none: never redundant."""
    if embedding is None:
        return np.zeros(dim, dtype=np.float32)
    return np.asarray(embedding.to_numpy() if hasattr(embedding, "to_numpy") else embedding, dtype=np.float32)
