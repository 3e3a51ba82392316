"""The full-text path: Postgres ``tsvector`` match of any query word but the speakers' names and the
agent's common words, ranked by ``ts_rank_cd`` normalised by length."""

from __future__ import annotations

import psycopg

from nova.recall.items import RecallTrace
from nova.recall.query import RecallQuery
from nova.recall.ranking import CANDIDATES_PER_PATH, Hit, by_score, content_key

__all__ = ["search", "COMMON_WORD_SHARE", "COMMON_WORD_MIN_ROWS"]

FULLTEXT_RANKED = 200  # matches ranked per full-text query (bounds its cost)
COMMON_WORD_SHARE = 0.05  # a query word in more of a table's rows than this is left out of its full-text query
# ... once at least this many rows hold it: in a young store a share says little (one dog in five
# memories is 20%), and ranking a few matches costs nothing. (The column statistics used before
# existed only after catch-up's first ANALYZE, at 200 entries: no word was left out before that.)
COMMON_WORD_MIN_ROWS = 20
_TABLE = {"episode": "episodes", "relationship": "relationships", "entity": "entities"}


def search(conn: psycopg.Connection, query: RecallQuery, trace: RecallTrace | None = None) -> list[Hit]:
    """Episodes and relationships matching any of the query's words (``query.lexemes``), best first."""
    queries = {table: any_word_query(conn, query.agent_id, table, list(query.lexemes))
               for table in ("episodes", "relationships")}
    if trace is not None:
        trace.fulltext_queries = queries
    return by_score(_matches(conn, "episode", query.agent_id, queries["episodes"], query.exact)
                    + _matches(conn, "relationship", query.agent_id, queries["relationships"], query.exact))


def any_word_query(conn, agent_id: str, table: str, lexemes: list[str]) -> str | None:
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
    held, rows = lexeme_counts(conn, agent_id, table, lexemes)
    common = {w for w, n in held.items() if n >= COMMON_WORD_MIN_ROWS and n > COMMON_WORD_SHARE * rows}
    kept = [w for w in lexemes if w not in common] or [min(lexemes, key=lambda w: (held.get(w, 0), w))]
    return " | ".join("'" + w.replace("\\", "\\\\").replace("'", "''") + "'" for w in kept)


def lexeme_counts(conn, agent_id: str, table: str, lexemes: list[str]) -> tuple[dict[str, int], int]:
    """``({lexeme: how many of the agent's rows of table hold it}, the agent's rows in table)``;
    a lexeme no row holds is absent."""
    counts = dict(conn.execute(
        "SELECT lexeme, n_rows FROM lexeme_frequencies WHERE agent_id = %s AND tbl = %s AND lexeme = ANY(%s)",
        (agent_id, table, [*lexemes, ""])).fetchall())
    return counts, counts.pop("", 0)


def _matches(conn, kind: str, agent_id: str, tsquery: str | None, exact: bool) -> list[Hit]:
    """The agent's rows of ``kind`` matching ``tsquery``, best ``ts_rank_cd`` first (ties by content key).

    ``exact``: rank every match (a small store). Else rank at most ``FULLTEXT_RANKED`` of them: OR
    queries of common words match thousands of rows in a large store, and ranking costs a tsvector
    read per match, so latency stays flat with size; which ones are ranked then follows the rows'
    order on disk (like HNSW, approximate: not a function of content alone)."""
    if tsquery is None:
        return []
    table = _TABLE[kind]
    key = content_key(kind, "t")
    # ts_rank_cd normalisation 1 divides by log(length), so long episodes do not win on length alone.
    rows = conn.execute(
        f"SELECT c.id, ts_rank_cd(c.tsv, %s::tsquery, 1) AS r, c.ck FROM (SELECT t.id, t.tsv, {key} AS ck FROM {table} t"
        f"   WHERE t.agent_id = %s AND t.tsv @@ %s::tsquery LIMIT %s) c ORDER BY r DESC, c.ck LIMIT %s",
        (tsquery, agent_id, tsquery, None if exact else FULLTEXT_RANKED, CANDIDATES_PER_PATH),
    ).fetchall()
    return [((kind, r[0]), r[1], r[2]) for r in rows]
