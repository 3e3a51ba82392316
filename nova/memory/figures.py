"""What each agent's store holds, counted: the figures ``nova status``, the memory browser's agents
page and its health page show (one query, so the three never disagree)."""

from __future__ import annotations

import psycopg

from nova.memory.extract import EXTRACTOR_VERSION

__all__ = ["agent_figures", "FIGURES"]

# The keys of each agent's figures, in the order `nova status` prints them.
FIGURES = ("entries", "live", "entities", "episodes", "relationships", "failed", "dead", "stale",
           "newest_entry", "last_ingest")


def agent_figures(conn: psycopg.Connection, agent: str | None = None) -> list[dict]:
    """Per agent (every agent when ``agent`` is None), ordered by agent id: ``{"agent", *FIGURES}``.

    entries / live: transcript entries in the entry log, and those only a hook has stored so far
    (catch-up has not adopted them); entities, episodes, relationships: memories; failed / dead:
    entries whose extraction failed (retried) or gave up; stale: memories made by an older extractor
    than ``EXTRACTOR_VERSION`` (``nova reextract`` rebuilds them); newest_entry: the latest entry's
    ``occurred_at``; last_ingest: when an entry was last written (both datetimes in UTC, None when empty).
    Agents are those catch-up has seen (sessions) or only the hooks so far (agent_speakers: every
    live entry records its speakers)."""
    rows = conn.execute(
        "SELECT a.agent_id,"
        " (SELECT count(*) FROM entries e WHERE e.agent_id = a.agent_id),"
        " (SELECT count(*) FROM entries e WHERE e.agent_id = a.agent_id AND e.live),"
        " (SELECT count(*) FROM entities e WHERE e.agent_id = a.agent_id),"
        " (SELECT count(*) FROM episodes e WHERE e.agent_id = a.agent_id),"
        " (SELECT count(*) FROM relationships e WHERE e.agent_id = a.agent_id),"
        " (SELECT count(*) FROM entry_extraction x WHERE x.agent_id = a.agent_id AND x.status = 'failed'),"
        " (SELECT count(*) FROM entry_extraction x WHERE x.agent_id = a.agent_id AND x.status = 'dead'),"
        " (SELECT count(*) FROM entities e WHERE e.agent_id = a.agent_id AND e.extractor_version < %(v)s)"
        "  + (SELECT count(*) FROM episodes e WHERE e.agent_id = a.agent_id AND e.extractor_version < %(v)s)"
        "  + (SELECT count(*) FROM relationships e WHERE e.agent_id = a.agent_id AND e.extractor_version < %(v)s),"
        " (SELECT max(occurred_at) FROM entries e WHERE e.agent_id = a.agent_id),"
        " (SELECT max(ingested_at) FROM entries e WHERE e.agent_id = a.agent_id)"
        " FROM (SELECT agent_id FROM sessions UNION SELECT agent_id FROM agent_speakers) a"
        " WHERE %(agent)s::text IS NULL OR a.agent_id = %(agent)s"
        " ORDER BY 1",
        {"v": EXTRACTOR_VERSION, "agent": agent}).fetchall()
    return [{"agent": r[0], **dict(zip(FIGURES, r[1:]))} for r in rows]
