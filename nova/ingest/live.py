"""Live entries: inbound messages stored by the memory-extract hook before catch-up reads them.

OpenClaw's ``message:received`` event (docs/automation/hooks/event-types.md, "Message context")
carries ``content``, ``from``, optional ``timestamp`` (ms since epoch) and ``messageId``, and
the session key, but neither the agent id (it is in the key) nor the transcript entry id: the
transcript line is written later. So a live entry gets provisional ids:

- ``session_id``: the key's ``sessionId`` in ``sessions.json``, else ``live:<session key>``;
- ``entry_id``: ``live:<messageId>`` (or a hash of key, time and text);
- ``seq``: above any line number, so no earlier transcript line joins its episode.

When catch-up later appends the same user message from the transcript, ``adopt_live_entry``
re-keys the live row to the transcript's ids (foreign keys cascade, sql/002) instead of
inserting a duplicate; the memories extracted live stay and nothing is extracted twice. When the
transcript line was read first, ``log_live_entry`` sees it and stores nothing. Both look for the
other's row under one lock per session (``nova.store.locks.session_log_lock``), so neither misses a row
the other is about to commit.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg

from nova.ingest.envelope import parse_envelope, strip_injected_blocks
from nova.ingest.filters import ForgetRules
from nova.memory.forget_one import entry_hash
from nova.memory.entry_log import LIVE_ENTRY_PREFIX, LoggedEntry, append_entry, remember_speakers
from nova.memory.redact import Redactor
from nova.store.locks import session_log_lock
from nova.memory.speakers import Speakers, entry_speakers

__all__ = ["ForgottenScope", "LiveMessage", "agent_of_session_key", "log_live_entry", "adopt_live_entry", "has_live_entries"]

LIVE_SEQ_BASE = 1 << 30          # provisional seq: after every real transcript line
MATCH_WINDOW = timedelta(minutes=30)  # how far apart the hook's and the transcript's times may be
_AGENT_KEY = re.compile(r"^agent:(?P<agent>[^:]*):")
_AGENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


@dataclass(frozen=True)
class LiveMessage:
    """An inbound message as the memory-extract hook reports it."""

    session_key: str
    text: str
    sender: str | None = None          # metadata.senderName, else context.from
    message_id: str | None = None      # context.messageId (channel-specific)
    occurred_at: datetime | None = None  # context.timestamp
    channel: str | None = None         # context.channelId


def agent_of_session_key(session_key: str, default: str = "main") -> str:
    """The agent id in ``agent:<agentId>:…``; ``default`` for keys without one (``cron:…``, ``hook:…``).

    Raises:
        ValueError: the key names an agent id that is not one (it also names a directory under
            ``<state>/agents/``, so ``..`` or ``/`` are refused, never mapped to another agent).
    """
    m = _AGENT_KEY.match(session_key)
    if not m:
        return default
    agent = m.group("agent")
    if not _AGENT_ID.match(agent) or ".." in agent:
        raise ValueError(f"session key {session_key[:80]!r} names an invalid agent id")
    return agent


def _normalise(text: str) -> str:
    return " ".join(text.split())


def message_text(raw: str) -> str:
    """The memory-worthy text of an inbound message: no envelope, no injected memory block."""
    text = strip_injected_blocks(raw)
    env = parse_envelope(text)
    return _normalise(env.body if env else text)


class ForgottenScope(Exception):
    """The message falls in a recorded ``nova forget`` scope: it is not logged (not a duplicate)."""


def log_live_entry(conn: psycopg.Connection, agent_id: str, session_id: str | None, msg: LiveMessage,
                   speakers: Speakers, redactor: Redactor) -> LoggedEntry | None:
    """Insert a live user entry (status ``pending``), secrets redacted; None when there is nothing new to store.

    Runs in the caller's transaction and takes ``nova.store.locks.session_log_lock`` until it ends.

    Nothing is stored (None) for an empty text, a message already logged live (same id), or one
    that catch-up already read from the transcript (same session key and text, close in time).

    Raises:
        ForgottenScope: a ``nova forget`` scope covers the message; nothing is stored.
    """
    text = redactor(message_text(msg.text))
    if not text:
        return None
    session_log_lock(conn, agent_id, msg.session_key)  # catch-up may be logging this message's transcript line
    if ForgetRules.load(conn, agent_id).covers(msg.session_key, msg.occurred_at, session_id):
        raise ForgottenScope(f"a nova forget covers session {msg.session_key}: not remembered")
    if _transcript_twin(conn, agent_id, msg.session_key, text, msg.occurred_at):
        return None
    session_id = session_id or f"{LIVE_ENTRY_PREFIX}{msg.session_key}"
    ident = msg.message_id or hashlib.sha256(
        f"{msg.session_key}\0{msg.occurred_at}\0{text}".encode()).hexdigest()[:24]
    speaker, addressee = entry_speakers("user", msg.sender, speakers)
    pending = conn.execute(
        "SELECT count(*) FROM entries WHERE agent_id = %s AND session_key = %s AND live",
        (agent_id, msg.session_key),
    ).fetchone()[0]
    entry = LoggedEntry(agent_id, session_id, f"{LIVE_ENTRY_PREFIX}{ident}", LIVE_SEQ_BASE + pending, msg.session_key,
                        "user", speaker, addressee, text, msg.occurred_at)
    if not append_entry(conn, entry, parent_id=None, channel=msg.channel, source_file="live", live=True):
        return None
    remember_speakers(conn, [entry])
    return entry


def _transcript_twin(conn, agent_id: str, session_key: str, text: str, at: datetime | None) -> bool:
    return conn.execute(
        "SELECT 1 FROM entries WHERE agent_id = %s AND session_key = %s AND NOT live AND role = 'user'"
        " AND text = %s AND (%s::timestamptz IS NULL OR occurred_at IS NULL"
        "      OR occurred_at BETWEEN %s::timestamptz - %s AND %s::timestamptz + %s) LIMIT 1",
        (agent_id, session_key, text, at, at, MATCH_WINDOW, at, MATCH_WINDOW),
    ).fetchone() is not None


def has_live_entries(conn: psycopg.Connection, agent_id: str, session_key: str) -> bool:
    """Whether ``session_key`` has live entries not yet adopted (``adopt_live_entry``): one index probe
    per transcript chunk, so catch-up looks for twins only where there can be some."""
    return conn.execute("SELECT EXISTS (SELECT 1 FROM entries WHERE agent_id = %s AND session_key = %s AND live)",
                        (agent_id, session_key)).fetchone()[0]


def adopt_live_entry(conn: psycopg.Connection, entry: LoggedEntry, parent_id: str | None, channel: str | None,
                     source_file: str, claimed_later: frozenset[str] = frozenset()) -> str | None:
    """Re-key the live twin of transcript ``entry`` to the transcript's ids.

    Returns the twin's extraction status (``done``, or ``pending``/``failed`` when the service
    has not projected it yet: the caller projects it then), None when there is no twin.

    A twin is an unreconciled live user entry of the same agent and session key whose text
    equals the transcript text (or ends it: channels may prepend quoted context), within
    ``MATCH_WINDOW`` of it. Its episodes move with it, their seq range recomputed. A live entry whose
    text is one of ``claimed_later`` (the texts of user entries later in the same read) is never
    adopted by suffix: it is the later entry's twin.
    """
    if entry.role != "user":
        return None
    text = _normalise(entry.text)
    twin = conn.execute(
        "SELECT session_id, entry_id FROM entries WHERE agent_id = %s AND session_key = %s AND live"
        " AND role = 'user' AND (text = %s OR (length(text) >= 12 AND right(%s, length(text)) = text"
        "      AND NOT text = ANY(%s)))"
        " AND (%s::timestamptz IS NULL OR occurred_at IS NULL"
        "      OR occurred_at BETWEEN %s::timestamptz - %s AND %s::timestamptz + %s)"
        " ORDER BY text = %s DESC, seq LIMIT 1 FOR UPDATE",  # an exact twin before a suffix one
        (entry.agent_id, entry.session_key, text, text, sorted({_normalise(t) for t in claimed_later}), entry.occurred_at, entry.occurred_at,
         MATCH_WINDOW, entry.occurred_at, MATCH_WINDOW, text),
    ).fetchone()
    if twin is None or conn.execute(
        "SELECT 1 FROM entries WHERE agent_id = %s AND session_id = %s AND entry_id = %s",
        (entry.agent_id, entry.session_id, entry.entry_id),
    ).fetchone():
        return None
    old_session, old_entry = twin
    episodes = [r[0] for r in conn.execute(
        "SELECT item_id FROM provenance WHERE agent_id = %s AND item_kind = 'episode' AND session_id = %s"
        " AND entry_id = %s", (entry.agent_id, old_session, old_entry))]
    conn.execute(
        "UPDATE entries SET session_id = %s, entry_id = %s, seq = %s, parent_id = %s,"
        " channel = coalesce(%s, channel), source_file = %s, occurred_at = coalesce(%s, occurred_at), live = false"
        " WHERE agent_id = %s AND session_id = %s AND entry_id = %s",
        (entry.session_id, entry.entry_id, entry.seq, parent_id, channel, source_file, entry.occurred_at,
         entry.agent_id, old_session, old_entry),
    )
    # A forgotten episode's rule names its entries by id (nova.memory.forget_one): it follows the re-key.
    conn.execute(
        "UPDATE forgotten_memories SET key_hash = %s WHERE agent_id = %s AND kind = 'entry' AND key_hash = %s",
        (entry_hash(entry.session_id, entry.entry_id), entry.agent_id, entry_hash(old_session, old_entry)),
    )
    # An entity summary names its source entry in plain columns (no foreign key, so no cascade):
    # re-point it, or recall would cite a live: entry that no longer exists.
    conn.execute(
        "UPDATE entities SET summary_session_id = %s, summary_entry_id = %s"
        " WHERE agent_id = %s AND summary_session_id = %s AND summary_entry_id = %s",
        (entry.session_id, entry.entry_id, entry.agent_id, old_session, old_entry),
    )
    if episodes:
        conn.execute(
            "UPDATE episodes e SET session_id = %s,"
            " anchor_entry_id = CASE WHEN anchor_entry_id = %s THEN %s ELSE anchor_entry_id END,"
            " first_seq = r.lo, last_seq = r.hi"
            " FROM (SELECT p.item_id, min(en.seq) AS lo, max(en.seq) AS hi FROM provenance p"
            "       JOIN entries en USING (agent_id, session_id, entry_id)"
            "       WHERE p.agent_id = %s AND p.item_kind = 'episode' AND p.item_id = ANY(%s)"
            "       GROUP BY p.item_id) r"
            " WHERE e.agent_id = %s AND e.id = r.item_id",
            (entry.session_id, old_entry, entry.entry_id, entry.agent_id, episodes, entry.agent_id),
        )
    # Waits for the service if it is projecting this entry right now (it locks the status row).
    return conn.execute(
        "SELECT status FROM entry_extraction WHERE agent_id = %s AND session_id = %s AND entry_id = %s",
        (entry.agent_id, entry.session_id, entry.entry_id),
    ).fetchone()[0]
