"""What recall returns: the items (memories with their text, score, tokens and provenance) and the
explain trace of how they were chosen."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime

__all__ = ["RecallItem", "RecallTrace"]


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
