"""The explain trace (``nova recall --explain``, telemetry): per-stage timings and, when detailed,
every path's candidates, the fusion and each packing decision with the candidate's text."""

from __future__ import annotations

import time

from nova.recall.details import item_details
from nova.recall.items import RecallTrace

__all__ = ["Clock", "fill_trace"]


class Clock:
    """Milliseconds per recall stage, for the explain trace and telemetry."""

    def __init__(self):
        self._last = time.perf_counter()
        self.laps: dict[str, float] = {}

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = round((now - self._last) * 1000, 2)
        self._last = now


def fill_trace(conn, agent_id, trace: RecallTrace, query, text_query, ranked, order, fused, paths, decisions,
                details, clock: Clock) -> None:
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
    details = details | (item_details(conn, agent_id, missing) if missing else {})
    trace.texts = {k: d["text"] for k, d in details.items()}
