"""The recall paths. Each is ``search(conn, query: RecallQuery, ...) -> list[Hit]``: one ranked list of
the agent's candidates across memory kinds, best first, scored by the path's own measure (cosine
similarity, ``ts_rank_cd``, the seed's rank); what follows ``query`` is what the path builds on
(the trace to fill, the vector path's neighbours, the fusion so far). The vector path is two steps,
``vector.nearest`` per kind (on both connections) and ``vector.ranked`` over what they found.
``nova.recall.search`` runs them and fuses their lists.
"""
