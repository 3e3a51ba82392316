"""One reader interface over both transcript stores of OpenClaw.

- JSONL files (every release): ``<state>/agents/<id>/sessions/*.jsonl[.reset|.deleted.<iso>]``
  with ``sessions.json`` (``nova.ingest.transcripts_jsonl``).
- The SQLite store of releases since 2026.9: ``<state>/agents/<id>/agent/openclaw-agent.sqlite``
  and its cold archives (``nova.ingest.transcripts_sqlite``).

An agent may have both (a migrated install): entries are keyed by (agent, session id, entry id),
so a session seen in both is stored once.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from typing import Protocol

from nova.ingest.transcripts_sqlite import DB_RELATIVE_PATH, list_sqlite_transcripts, read_sqlite_index
from nova.ingest.transcripts_jsonl import ReadResult, list_transcripts, read_session_index

__all__ = ["TranscriptStream", "list_agents", "list_streams", "session_index"]

log = logging.getLogger(__name__)


class TranscriptStream(Protocol):
    """A session transcript that catch-up reads incrementally.

    Positions are opaque integers (byte offsets for JSONL, event seqs for SQLite); ``end()`` is
    the position after the last complete event; ``fingerprint(p)`` changes when the content
    before ``p`` is rewritten.
    """

    agent_id: str
    session_id: str
    state: str

    @property
    def name(self) -> str: ...          # the cursor key (unique per agent)

    @property
    def path(self) -> Path: ...

    def end(self) -> int: ...

    def fingerprint(self, offset: int) -> str: ...

    def read(self, offset: int, line_no: int, max_entries: int | None = None) -> ReadResult: ...


def list_agents(state_dir: Path) -> list[str]:
    """Agent ids with a ``sessions/`` directory or a SQLite store under ``<state>/agents``."""
    root = state_dir / "agents"
    if not root.is_dir():
        return []
    return sorted(
        p.name for p in root.iterdir()
        if (p / "sessions").is_dir() or (p / DB_RELATIVE_PATH).is_file()
    )


def list_streams(state_dir: Path, agent_id: str) -> list[TranscriptStream]:
    """Every transcript of the agent: JSONL files (archives first), then SQLite sessions."""
    streams: list[TranscriptStream] = list(list_transcripts(state_dir, agent_id))
    try:
        streams += list_sqlite_transcripts(state_dir, agent_id)
    except sqlite3.Error as err:  # locked past the timeout, or not a database: next run retries
        log.warning("cannot read the SQLite transcript store of agent %s: %s", agent_id, err)
    return streams


def session_index(state_dir: Path, agent_id: str) -> dict[str, str]:
    """``{session_id: session_key}`` from ``sessions.json`` and the SQLite ``session_windows``."""
    index = read_sqlite_index(state_dir, agent_id)
    index.update(read_session_index(state_dir, agent_id))
    return index
