"""Reading OpenClaw JSONL transcripts (the file-backed era) into transcript entries.

Layout (docs/reference/session-management-compaction/schema.md):
``<state>/agents/<agentId>/sessions/<sessionId>.jsonl``, archived copies as
``<sessionId>.jsonl.reset.<iso>`` / ``.deleted.<iso>`` (same session id: never ingested twice,
the entry log is keyed by entry id), and ``sessions.json`` mapping session keys to
``{sessionId, sessionFile, ...}``. A transcript is a ``type: "session"`` header followed by
entries with ``id`` + ``parentId``; only ``message`` entries of role user/assistant carry
memories, and only their ``text`` parts (not thinking, tool calls or tool results).

Nothing here is fatal: malformed, blank and unknown lines are counted in ``ReadStats.skipped``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Iterator

from nova.ingest.envelope import is_synthetic_turn, parse_envelope, remembered_text, strip_injected_blocks
from nova.memory.dates import parse_iso_time

__all__ = [
    "TranscriptFile",
    "TranscriptEntry",
    "SessionHeader",
    "ReadStats",
    "ReadResult",
    "list_transcripts",
    "read_session_index",
    "read_transcript",
    "parse_line",
    "collect_entries",
]

log = logging.getLogger(__name__)

_FILE_NAME = re.compile(r"^(?P<sid>[^/]+?)\.jsonl(?:\.(?P<state>reset|deleted)\.(?P<stamp>.+))?$")
# Entry types that exist in OpenClaw transcripts but are not conversation text.
_NON_MEMORY_TYPES = {
    "compaction", "custom", "custom_message", "reset", "branch_summary",
    "model_change", "thinking_level_change", "label", "session_info",
}
_MAX_LINE_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class TranscriptFile:
    """A JSONL transcript: one of the two kinds of ``nova.ingest.sources.TranscriptStream``.

    Positions are byte offsets; an entry's ``seq`` is its line number.
    """

    agent_id: str
    session_id: str
    path: Path
    state: str  # "live", "reset" or "deleted"

    @property
    def name(self) -> str:
        """The cursor key: the file name (a renamed archive finds its former cursor by session id)."""
        return self.path.name

    def end(self) -> int:
        return self.path.stat().st_size

    def fingerprint(self, offset: int) -> str:
        """Identity of the bytes before ``offset``: the first line and the line that ends there.

        A file rewritten under the cursor (truncated, or changed before it) fingerprints
        differently, so catch-up re-reads it from the start and skips known entry ids.
        """
        if offset <= 0:
            return ""
        with self.path.open("rb") as fh:
            first = fh.readline(65536)
            fh.seek(max(0, offset - 4096))
            tail = fh.read(min(offset, 4096))
        return hashlib.sha256(first).hexdigest()[:32] + hashlib.sha256(tail).hexdigest()[:32]

    def read(self, offset: int, line_no: int, max_entries: int | None = None) -> "ReadResult":
        return read_transcript(self.path, offset, line_no, max_entries)



@dataclass(frozen=True)
class SessionHeader:
    session_id: str | None
    timestamp: datetime | None
    parent_session: str | None
    raw: dict


@dataclass(frozen=True)
class TranscriptEntry:
    """One user/assistant message, envelope removed. ``seq`` is its line number (0-based)."""

    entry_id: str
    seq: int
    role: str  # "user" | "assistant"
    text: str
    occurred_at: datetime | None
    parent_id: str | None
    sender: str | None = None   # from the channel envelope
    channel: str | None = None
    group_id: str | None = None  # the envelope's group chat id (nova.ingest.envelope.Envelope.group_id)
    # Set for a user-role message another session sent (OpenClaw's message.provenance.kind "inter_session":
    # sessions_send, agent-to-agent replies, docs/reference/transcript-hygiene.md): its source session
    # key, or "another session". Not the user's words: catch-up skips or attributes it (inter_session_input).
    origin: str | None = None


@dataclass
class ReadStats:
    lines: int = 0
    entries: int = 0
    skipped: Counter = field(default_factory=Counter)

    def merge(self, other: "ReadStats") -> None:
        self.lines += other.lines
        self.entries += other.entries
        self.skipped.update(other.skipped)


@dataclass
class ReadResult:
    entries: list[TranscriptEntry]
    header: SessionHeader | None
    end_offset: int    # byte offset after the last complete line consumed
    end_line: int      # number of lines consumed from the file start
    stats: ReadStats


def list_transcripts(state_dir: Path, agent_id: str) -> list[TranscriptFile]:
    """Every transcript of an agent, live and archived, oldest archive first."""
    sessions = state_dir / "agents" / agent_id / "sessions"
    out = []
    for path in sessions.iterdir() if sessions.is_dir() else []:
        m = _FILE_NAME.match(path.name)
        if m and path.is_file():
            out.append(TranscriptFile(agent_id, m.group("sid"), path, m.group("state") or "live"))
    # Archives before live files so a session's history is read in the order it was written.
    return sorted(out, key=lambda f: (f.state == "live", f.name))


def read_session_index(state_dir: Path, agent_id: str) -> dict[str, str]:
    """``sessions.json`` as ``{session_id: session_key}``; {} when missing or malformed."""
    path = state_dir / "agents" / agent_id / "sessions" / "sessions.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as err:
        log.warning("ignoring unreadable %s: %s", path, err)
        return {}
    out: dict[str, str] = {}
    if isinstance(data, dict):
        for key, value in data.items():
            if isinstance(value, dict) and isinstance(value.get("sessionId"), str):
                out[value["sessionId"]] = key
    return out


def _timestamp(value) -> datetime | None:
    """A transcript's ``timestamp``: epoch milliseconds or ISO 8601; None when it is neither."""
    try:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return datetime.fromtimestamp(value / 1000, tz=timezone.utc)
        if isinstance(value, str):
            return parse_iso_time(value)
    except (ValueError, OverflowError, OSError):
        return None
    return None


def _text_of(content) -> str:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    parts = [
        p["text"] for p in content
        if isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str)
    ]
    return "\n".join(parts)


# The preface OpenClaw writes before an inter-session message's text (its INTER_SESSION_PROMPT_PREFIX_BASE
# line and explanation, dist/input-provenance-*.mjs), seen in 2026.9.6 transcripts.
_INTER_SESSION_MARKER = re.compile(
    r"^\s*\[Inter-session message\][^\n]*\n(?:This content was routed by OpenClaw[^\n]*\n)?")


def parse_line(line: bytes, seq: int, stats: ReadStats) -> TranscriptEntry | SessionHeader | None:
    """Parse one JSONL line; returns None (and counts why) for anything that is not a memory.

    ``line`` None: a stored event its reader could not decode (``nova.ingest.transcripts_sqlite``), counted
    as ``undecodable``, apart from lines that really are blank."""
    if line is None:
        stats.skipped["undecodable"] += 1
        return None
    if not line.strip():
        stats.skipped["blank"] += 1
        return None
    if len(line) > _MAX_LINE_BYTES:
        stats.skipped["oversized"] += 1
        return None
    try:
        obj = json.loads(line)
    except (ValueError, UnicodeDecodeError, RecursionError):
        stats.skipped["malformed"] += 1
        return None
    if not isinstance(obj, dict):
        stats.skipped["malformed"] += 1
        return None
    kind = obj.get("type")
    if not isinstance(kind, str):
        stats.skipped["unknown_type"] += 1
        return None
    if kind == "session":
        sid = obj.get("id")
        parent = obj.get("parentSession")
        return SessionHeader(
            session_id=sid if isinstance(sid, str) else None,
            timestamp=_timestamp(obj.get("timestamp")),
            parent_session=parent if isinstance(parent, str) else None,
            raw=obj,
        )
    if kind in _NON_MEMORY_TYPES:
        stats.skipped[f"type:{kind}"] += 1
        return None
    if kind != "message":
        stats.skipped["unknown_type"] += 1
        return None
    message = obj.get("message")
    entry_id = obj.get("id")
    if not isinstance(message, dict) or not isinstance(entry_id, str) or not entry_id:
        stats.skipped["malformed"] += 1
        return None
    role = message.get("role")
    if role not in ("user", "assistant"):
        stats.skipped[f"role:{role if isinstance(role, str) else 'invalid'}"] += 1
        return None
    if role == "assistant" and message.get("provider") == "openclaw" and message.get("model") == "gateway-injected":
        # A reply the gateway wrote itself, no model (a plugin command's answer, chat.inject): NOVA's
        # /memory answer would otherwise be stored back as something the assistant said.
        stats.skipped["gateway_injected"] += 1
        return None
    provenance = message.get("provenance") if isinstance(message.get("provenance"), dict) else {}
    if role == "user" and provenance.get("kind") == "internal_system":
        # Input the gateway wrote itself (restart recovery, a progress card refresh): nobody said it.
        stats.skipped["internal_system"] += 1
        return None
    origin = None
    if role == "user" and provenance.get("kind") == "inter_session":
        source = provenance.get("sourceSessionKey")
        origin = source.strip()[:200] if isinstance(source, str) and source.strip() else "another session"
    text = strip_injected_blocks(_text_of(message.get("content")))
    if origin is not None:
        text = _INTER_SESSION_MARKER.sub("", text, count=1)  # OpenClaw's "[Inter-session message] ..." preface
    occurred = _timestamp(obj.get("timestamp")) or _timestamp(message.get("timestamp"))
    sender = channel = group_id = None
    if role == "user":
        env = parse_envelope(text)
        if env is not None:
            text, sender, channel, group_id = env.body.strip(), env.sender, env.channel, env.group_id
            occurred = env.sent_at or occurred
    if not text:
        stats.skipped["no_text"] += 1
        return None
    if is_synthetic_turn(text):
        stats.skipped["synthetic"] += 1
        return None
    if role == "user" and (remembered := remembered_text(text)) is not None:
        text = remembered  # "/remember X": the user's words are X (the service logged it live: its twin)
    parent = obj.get("parentId")
    return TranscriptEntry(
        entry_id=entry_id,
        seq=seq,
        role=role,
        text=text,
        occurred_at=occurred,
        parent_id=parent if isinstance(parent, str) else None,
        sender=sender,
        channel=channel,
        group_id=group_id,
        origin=origin,
    )


def _complete_lines(path: Path, offset: int) -> Iterator[tuple[bytes, int]]:
    """Yield ``(line, end_offset)`` for every complete line after ``offset``.

    A last line without a newline counts only if it parses as a JSON object: a writer
    mid-append leaves a prefix that does not, and we pick it up on the next read.
    """
    with path.open("rb") as fh:
        fh.seek(offset)
        pos = offset
        for line in fh:
            end = pos + len(line)
            if not line.endswith(b"\n"):
                try:
                    if not isinstance(json.loads(line), dict):
                        return
                except (ValueError, UnicodeDecodeError, RecursionError):
                    return
            yield line, end
            pos = end


def read_transcript(
    path: Path, offset: int = 0, line_no: int = 0, max_entries: int | None = None
) -> ReadResult:
    """Read complete lines from byte ``offset`` (the ``line_no``-th line) on.

    Stops after ``max_entries`` accepted entries so callers can commit in chunks.
    """
    lines = ((line, seq, end) for seq, (line, end) in enumerate(_complete_lines(path, offset), start=line_no))
    return collect_entries(lines, offset, line_no, max_entries)


def collect_entries(events: Iterable[tuple[bytes, int, int]], offset: int, line_no: int,
                    max_entries: int | None = None) -> ReadResult:
    """Parse ``(raw event, seq, position after it)`` triples into a ``ReadResult`` (any transcript store)."""
    stats = ReadStats()
    entries: list[TranscriptEntry] = []
    header = None
    end, next_seq = offset, line_no
    for raw, seq, raw_end in events:
        parsed = parse_line(raw, seq, stats)
        stats.lines += 1
        end, next_seq = raw_end, seq + 1
        if isinstance(parsed, SessionHeader):
            header = parsed
        elif parsed is not None:
            entries.append(parsed)
            stats.entries += 1
            if max_entries is not None and len(entries) >= max_entries:
                break
    return ReadResult(entries, header, end, next_seq, stats)
