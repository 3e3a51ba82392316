"""What every recall path shares: a candidate (``Hit``), one ranked list from scored hits, and the SQL
that orders rows by similarity with ties broken by content (the same order in every store built from
the same entries)."""

from __future__ import annotations

__all__ = ["Hit", "by_score", "content_key", "similarity_order", "best_first", "similarity", "has_vector",
           "SCORE_DECIMALS", "CANDIDATES_PER_PATH"]

CANDIDATES_PER_PATH = 40
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


# A path's candidate: ((kind, id), score, content key); the content key breaks ties.
Hit = tuple[tuple[str, int], float, str]


def content_key(kind: str, table_alias: str) -> str:
    """SQL for the content key of a ``kind`` row aliased ``table_alias`` (``_CONTENT_KEY``)."""
    return _CONTENT_KEY[kind].format(t=table_alias)


def by_score(hits: list[Hit]) -> list[Hit]:
    """Merge scored hits into one ranked list, best score first (to ``SCORE_DECIMALS``), then by
    kind and content key; each item once, with its best score."""
    best: dict[tuple[str, int], Hit] = {}
    for hit in hits:
        if hit[0] not in best or hit[1] > best[hit[0]][1]:
            best[hit[0]] = hit
    return sorted(best.values(), key=lambda h: (-round(h[1], SCORE_DECIMALS), h[0][0], h[2]))


def similarity_order(distance: str, content_key: str, exact: bool) -> str:
    """An ORDER BY for nearest neighbours: exact (every row compared; ties to ``SCORE_DECIMALS`` broken by
    content key: no HNSW index serves this order) or approximate (``distance`` alone, which the HNSW
    index serves)."""
    if not exact:
        return distance
    return f"round(({distance}) * 1e{SCORE_DECIMALS}), {content_key}"


def best_first(similarity: str, content_key: str = "ck") -> str:
    """ORDER BY for scored rows: best ``similarity`` first to ``SCORE_DECIMALS``, then by content key."""
    return f"round({similarity} * 1e{SCORE_DECIMALS}) DESC, {content_key}"


def similarity(alias: str, dim: int, static_dim: int | None) -> str:
    """SQL for the cosine similarity of the row aliased ``alias`` to the query (parameters ``%(vec)s``, and
    ``%(svec)s`` with ``static_dim``): in the dense model's space where the row has its dense vector,
    else in the static tier's (``nova.memory.static_embed``: the row's dense vector is still pending).
    The two spaces are not calibrated to each other; a store mixes them only until the dense pass is done."""
    dense = f"1 - ({alias}.embedding::vector({dim}) <=> %(vec)s::vector({dim}))"
    if static_dim is None:
        return dense
    return (f"coalesce({dense},"
            f" 1 - ({alias}.static_embedding::vector({static_dim}) <=> %(svec)s::vector({static_dim})))")


def has_vector(alias: str, static_dim: int | None) -> str:
    """SQL: the row has a vector ``similarity`` can compare (dense, or static with the static tier)."""
    if static_dim is None:
        return f"{alias}.embedding IS NOT NULL"
    return f"({alias}.embedding IS NOT NULL OR {alias}.static_embedding IS NOT NULL)"
