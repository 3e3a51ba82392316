"""Session-key filters and forget rules: which conversations become memories.

A small callable in the style of watchfiles' filters: ``SessionFilter(settings)(key)`` returns
the name of the rule that decided, and ``allows(key)`` the verdict. Defaults (see
``nova.config.FilterSettings``): main and direct-message sessions in; sub-agent, cron and hook
sessions out; groups, channels and rooms out unless ``include_groups``.
Session key shapes: docs/reference/session-management-compaction/schema.md. ``ForgetRules``
are the scopes ``nova forget`` recorded, which no writer logs again.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from fnmatch import fnmatchcase

import psycopg

from nova.config import FilterSettings
from nova.ingest.transcripts_jsonl import SessionHeader, TranscriptEntry

__all__ = ["SessionFilter", "ForgetRules", "infer_session_key"]

_CRON_PROMPT = re.compile(r"^\[cron:(?P<job>[^\s\]]+)")
_SUBAGENT_PROMPT = re.compile(r"^\[Subagent (?:Task|Context)\]")


class SessionFilter:
    def __init__(self, settings: FilterSettings):
        self.settings = settings
        self.counts: Counter[str] = Counter()  # rule → sessions it skipped

    def decide(self, key: str) -> tuple[bool, str]:
        """``(allowed, rule)`` where rule names the glob (or default) that decided."""
        for pattern in self.settings.exclude:
            if fnmatchcase(key, pattern):
                return False, f"exclude {pattern}"
        for pattern in self.settings.groups:
            if fnmatchcase(key, pattern):
                if self.settings.include_groups:
                    return True, f"group {pattern}"
                return False, f"group {pattern} (include_groups off)"
        for pattern in self.settings.include:
            if fnmatchcase(key, pattern):
                return True, f"include {pattern}"
        return False, "no include rule"

    def allows(self, key: str) -> bool:
        return self.decide(key)[0]

    def __call__(self, key: str) -> bool:
        allowed, rule = self.decide(key)
        if not allowed:
            self.counts[rule] += 1
        return allowed


def infer_session_key(
    agent_id: str, session_id: str, header: SessionHeader | None, first: TranscriptEntry | None
) -> str | None:
    """Guess a key from a transcript's content: a sub-agent's, cron run's or group chat's tell-tale shape.

    Sub-agents: a ``parentSession`` in the header, or a first prompt starting
    ``[Subagent Task]``; cron runs: a first prompt starting ``[cron:<jobId> ...]`` (both as
    OpenClaw writes them, dist/*); group chats: a first message whose envelope names a group
    (``[Telegram Book Club id:-100777 …] Marco: …``) gives ``agent:<id>:<channel>:group:<groupId>``,
    which the default filters keep out. None when nothing tells.
    """
    if header is not None and header.parent_session:
        return f"agent:{agent_id}:subagent:{session_id}"
    if first is not None and first.role == "user":
        m = _CRON_PROMPT.match(first.text)
        if m:
            return f"agent:{agent_id}:cron:{m.group('job')}"
        if _SUBAGENT_PROMPT.match(first.text):
            return f"agent:{agent_id}:subagent:{session_id}"
        if first.group_id and first.channel:
            return f"agent:{agent_id}:{first.channel.lower()}:group:{first.group_id}"
    return None


@dataclass(frozen=True)
class ForgetRules:
    """An agent's recorded ``nova forget`` scopes (table ``forgotten``), as (session-key glob or None,
    cut-off), and the session ids they emptied (table ``forgotten_sessions``, id → cut-off): entries
    they cover are never logged again, by catch-up or by the memory-extract hook, whatever key their
    transcript is filed under by then."""

    rules: tuple[tuple[str | None, datetime], ...] = ()
    sessions: dict[str, datetime] = field(default_factory=dict)

    @classmethod
    def load(cls, conn: psycopg.Connection, agent_id: str) -> "ForgetRules":
        return cls(tuple(conn.execute(
            "SELECT session_key, before FROM forgotten WHERE agent_id = %s", (agent_id,)).fetchall()),
            dict(conn.execute("SELECT session_id, before FROM forgotten_sessions WHERE agent_id = %s",
                              (agent_id,)).fetchall()))

    def covers(self, session_key: str, occurred_at: datetime | None, session_id: str | None = None) -> bool:
        tomb = self.sessions.get(session_id) if session_id is not None else None
        if tomb is not None and (occurred_at is None or occurred_at < tomb):
            return True
        return any(
            (glob is None or fnmatchcase(session_key, glob)) and (occurred_at is None or occurred_at < before)
            for glob, before in self.rules
        )
