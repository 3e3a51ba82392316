"""Reciprocal rank fusion (RRF, k=60) of the paths' ranked lists, weighted per path."""

from __future__ import annotations

from nova.recall.ranking import Hit

__all__ = ["fuse", "RRF_K", "PATH_WEIGHTS"]

RRF_K = 60
# Relative weight of each path's ranked list in the fusion. Full text ORs the query's words
# and the graph path returns everything near a named entity: both are noisier than vectors.
# "static": the static tier's vector path (memories whose dense vector is still pending), a vector path
# like the dense one.
PATH_WEIGHTS = {"vector": 1.0, "static": 1.0, "fulltext": 0.6, "graph": 0.4, "time": 0.8, "continuation": 0.6}


def fuse(ranked: dict[str, list[Hit]], fused: dict, paths: dict) -> None:
    """Add each path's ranked list to the fused scores: reciprocal rank fusion, weighted per path."""
    for path, items in ranked.items():
        weight = PATH_WEIGHTS[path]
        for rank, (key, _score, _ck) in enumerate(items):
            fused[key] += weight / (RRF_K + rank + 1)
            paths[key].append(path)
