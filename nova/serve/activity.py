"""What the hooks did, per agent, as the service saw it: the answer to "is NOVA doing anything?".

``nova serve`` counts every hook call it answers, in memory, since it started (a restart starts
the counts again; ``since`` says when):

- ``messages``: memory-extract's ``POST /v1/messages``: how many, how many were queued for
  extraction, and when the last one arrived (``lastMessageAt``, ISO 8601 UTC);
- ``recalls``: the nova-recall plugin's ``POST /v1/recall`` answered, and how many of them held
  at least one memory (``recallsWithItems``); ``precomputed`` counts semantic-recall's
  ``POST /v1/recall/precompute``;
- ``bootstraps``: session-init's ``POST /v1/bootstrap`` answered, and how many carried a
  non-empty ``NOVA_MEMORY.md`` (``bootstrapsWithContent``);
- ``late``: answers that took longer than the hook's budget (``[service] *_budget_ms``), which
  the hook had already given up on;
- ``missed``: calls the hooks themselves report as lost (timed out, service unreachable, an
  error answer): the hook client counts them per agent and sends the counts with its next call
  (header ``x-nova-missed``), so an outage shows up once the service is back.

``/v1/health`` returns ``snapshot()`` under ``agents``; ``nova status`` prints it.
"""

from __future__ import annotations

import json
import threading
from collections import defaultdict
from datetime import datetime, timezone

__all__ = ["HookActivity", "parse_missed", "MISSED_HEADER"]

MISSED_HEADER = "x-nova-missed"
_HOOKS = ("memory-extract", "semantic-recall", "session-init", "nova-recall")
_MAX_HEADER = 4096  # a client's counts for a handful of agents; anything longer is not ours


def _counters() -> dict:
    return {"messages": 0, "messagesQueued": 0, "lastMessageAt": None, "recalls": 0, "recallsWithItems": 0,
            "precomputed": 0, "bootstraps": 0, "bootstrapsWithContent": 0, "late": 0,
            "missed": defaultdict(int)}


class HookActivity:
    """Thread-safe per-agent counters of the hook calls one service process answered."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._agents: dict[str, dict] = defaultdict(_counters)
        self.since = datetime.now(timezone.utc)

    def message(self, agent: str, queued: bool) -> None:
        with self._lock:
            held = self._agents[agent]
            held["messages"] += 1
            held["messagesQueued"] += int(queued)
            held["lastMessageAt"] = datetime.now(timezone.utc)

    def recall(self, agent: str, items: int, precompute: bool) -> None:
        with self._lock:
            held = self._agents[agent]
            if precompute:
                held["precomputed"] += 1
            else:
                held["recalls"] += 1
                held["recallsWithItems"] += int(items > 0)

    def bootstrap(self, agent: str, has_content: bool) -> None:
        with self._lock:
            held = self._agents[agent]
            held["bootstraps"] += 1
            held["bootstrapsWithContent"] += int(has_content)

    def late(self, agent: str) -> None:
        with self._lock:
            self._agents[agent]["late"] += 1

    def missed(self, counts: dict[str, dict[str, int]]) -> None:
        """Add a client's report, ``{agent: {hook: n}}`` (``parse_missed``'s output)."""
        with self._lock:
            for agent, hooks in counts.items():
                for hook, n in hooks.items():
                    self._agents[agent]["missed"][hook] += n

    def snapshot(self) -> dict:
        """``{agent: counters}`` as JSON-ready values (timestamps ISO 8601 UTC, ``missed`` per hook)."""
        with self._lock:
            return {agent: {**held, "lastMessageAt": held["lastMessageAt"].isoformat() if held["lastMessageAt"] else None,
                            "missed": dict(held["missed"])}
                    for agent, held in sorted(self._agents.items())}


def parse_missed(header: str | None) -> dict[str, dict[str, int]]:
    """The ``x-nova-missed`` header, ``{"<agent>": {"<hook>": n}}``; anything malformed counts as nothing."""
    if not header or len(header) > _MAX_HEADER:
        return {}
    try:
        data = json.loads(header)
    except ValueError:
        return {}
    if not isinstance(data, dict):
        return {}
    out: dict[str, dict[str, int]] = {}
    for agent, hooks in data.items():
        if not isinstance(agent, str) or not agent or not isinstance(hooks, dict):
            continue
        good = {hook: n for hook, n in hooks.items()
                if hook in _HOOKS and isinstance(n, int) and not isinstance(n, bool) and 0 < n <= 1_000_000}
        if good:
            out[agent] = good
    return out
