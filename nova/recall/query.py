"""What recall knows about a query before any path runs: the agent's speakers (left out of word
matches), whether its store is small enough for exact search, the time the query names, and its
embedding (computed on a thread while the first paths run)."""

from __future__ import annotations

import re
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import psycopg

from nova.memory.dense_fill import has_pending_dense
from nova.memory.embed import Embedder
from nova.memory.names import normalize_name
from nova.recall.temporal import QueryTime, query_time

__all__ = ["RecallQuery", "prepare_query", "without_names", "EXACT_SEARCH_EPISODES"]

_EMBEDDING_THREADS = ThreadPoolExecutor(max_workers=2, thread_name_prefix="nova-query-embed")
# Up to this many episodes an agent's nearest neighbours are found by exact search, beyond it by
# the HNSW indexes (approximate: which neighbours are found depends on the order rows were written
# in). Exact search grows with the agent: recall p95 32 ms at 3,200 episodes, 67 ms at 12,800, where
# HNSW takes 23 ms (bench/bench_recall_scale.py, 10k and 50k memories, 2 cores); 5,000 keeps it
# near 40 ms. LoCoMo conversations hold 300-650.
EXACT_SEARCH_EPISODES = 5_000


@dataclass(frozen=True)
class RecallQuery:
    """One query of one agent, as every recall path reads it."""

    agent_id: str
    text: str                  # as asked
    text_query: str            # without the speakers' names (graph seeds, half the embedding)
    words: str                 # what full text matches: no speakers' names, no time expression
    lexemes: tuple[str, ...]   # ``words`` as full text indexes them (``query_lexemes``): the full-text path, excerpts
    when: QueryTime | None     # the time the query names ("last May"), resolved against ``now``
    speakers: set[str]         # the agent's speakers' normalised names (and their parts)
    exact: bool                # a small store: nearest neighbours by exact search
    pending_vector: Future     # the query's embedding (``embed_query``), ready once computed
    pending_static: Future | None = None  # its static-tier embedding, when the embedder has that tier

    def vector(self) -> np.ndarray:
        """The query's embedding; waits for it."""
        return self.pending_vector.result()

    def static_vector(self) -> np.ndarray | None:
        """The query's embedding in the static tier's space (``nova.memory.static_embed``), None without that tier."""
        return self.pending_static.result() if self.pending_static is not None else None


def prepare_query(conn: psycopg.Connection, embedder: Embedder, agent_id: str, query: str, *,
                  now: datetime | None, given_vector: np.ndarray | None) -> RecallQuery:
    """Read the agent's speakers and size, start the query's embedding on a thread (``given_vector``:
    its embedding already computed, e.g. by a precompute), and resolve its time expression."""
    speakers, exact = speakers_and_size(conn, agent_id)
    text_query = without_names(query, speakers)
    pending = _EMBEDDING_THREADS.submit(embed_query, embedder, query, text_query, given_vector)
    static = None
    # The static tier's query vector only when some memory of the agent still lacks its dense vector
    # (the partial indexes answer at once): a complete store recalls exactly as with the dense model.
    if embedder.static is not None and has_pending_dense(conn, agent_id):
        static = Future()  # well under a millisecond: no thread of its own
        static.set_result(embed_query(embedder.static, query, text_query, None))
    when = query_time(query, now)
    words = without_names(without_time(query, when), speakers)
    return RecallQuery(agent_id, query, text_query, words, tuple(query_lexemes(conn, words)), when, speakers, exact,
                       pending, static)


def query_lexemes(conn, text: str) -> list[str]:
    """The text's distinct lexemes as full text indexes them (English stems, stop words dropped)."""
    return [r[0] for r in conn.execute("SELECT unnest(tsvector_to_array(to_tsvector('english', %s)))", (text,))]


def embed_query(embedder, query: str, text_query: str, given: np.ndarray | None) -> np.ndarray:
    """The query's embedding, with the speakers' names at half weight.

    A speaker's name is in nearly every memory of a conversation (and facts repeat it:
    "Melanie is lucky to have Melanie's kids"), so at full weight it pulls in memories that
    share the name rather than the topic. The mean of the embeddings with and without the
    names keeps who is asked about and lets the topic decide. ``embedder``: the dense ``Embedder`` or
    its static tier (anything with ``encode``)."""
    if text_query == without_names(query, set()) or not text_query.strip():  # no speaker named
        return given if given is not None else embedder.encode([query])[0]
    vectors = embedder.encode([text_query] if given is not None else [query, text_query])
    full = given if given is not None else vectors[0]
    mean = full + vectors[-1]
    return (mean / np.linalg.norm(mean)).astype(np.float32)


def speakers_and_size(conn, agent_id: str) -> tuple[set[str], bool]:
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


def without_names(query: str, names: set[str]) -> str:
    words = re.findall(r"[\w'’-]+", query)
    kept = [w for w in words if normalize_name(w) not in names]
    return " ".join(kept)


def without_time(text: str, when: QueryTime | None) -> str:
    """The text without its time expression: the time path matches "last month" by date; as
    words, "last" and "month" match every memory that says them."""
    if when is None:
        return text
    return re.sub(re.escape(when.expression), " ", text, count=1, flags=re.IGNORECASE)
