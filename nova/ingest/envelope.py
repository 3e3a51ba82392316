"""Channel envelopes and injected blocks: what OpenClaw wraps around inbound text.

OpenClaw prefixes inbound user text with ``[<Channel> <From> [+elapsed] [host] [ip] <timestamp>] ``
(``formatAgentEnvelope`` in openclaw dist/envelope-*.mjs). The timestamp is
``Mon 2023-05-08 13:56:00 UTC`` (zoned), ``Mon 2023-05-08T13:56:00Z`` (UTC mode), or absent.
Direct chats may add ``<Sender>: `` before the body. None of this is memory: it becomes the
entry's channel, sender and time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from nova.memory.prompt_tags import INJECTED_TAGS, strip_stray_tags

__all__ = ["Envelope", "parse_envelope", "strip_injected_blocks", "is_synthetic_turn", "remembered_text"]

_TS = (
    r"(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) )?"
    r"(?P<date>\d{4}-\d{2}-\d{2})[ T](?P<time>\d{2}:\d{2}(?::\d{2})?)"
    r"(?:Z| (?P<tz>[A-Za-z]{1,5}(?:[+-]\d{1,2}(?::?\d{2})?)?|[+-]\d{2}:?\d{2}))?"
)
_ENVELOPE = re.compile(
    r"^\[(?P<channel>[A-Za-z][\w.-]*)(?: (?P<from>[^\]\n]*?))? " + _TS + r"\]\s?",
)
_ELAPSED = re.compile(r"\s\+\d+\s?[a-z]+$")
_ID_MARK = re.compile(r"\s+id:\S.*$", re.IGNORECASE)
_HANDLE = re.compile(r"\s*\(@[^)]*\)\s*$")
_SPEAKER_LABEL = re.compile(r"^[^\s:][^:\n]{0,63}: ")  # "Marco: …", a group member's label before the body

# Zone abbreviations and their UTC offsets in hours. OpenClaw's envelope writes the zone as
# Intl.DateTimeFormat's short name for the host's locale: "GMT+10" in most locales (read by offset
# below), an abbreviation in some ("AEST"). An abbreviation not listed here gives no time at all, and
# the entry keeps its transcript timestamp (always UTC): read as UTC, "AEST" was 10 hours off. IST is
# India's (the common reading; Israel and Ireland write IST too, and an operator there sees it here).
_TZ_OFFSETS = {
    "UTC": 0, "GMT": 0, "Z": 0, "WET": 0, "WEST": 1, "BST": 1, "IST": 5.5, "CET": 1, "CEST": 2,
    "MET": 1, "MEST": 2, "EET": 2, "EEST": 3, "MSK": 3, "TRT": 3, "GST": 4, "PKT": 5, "NPT": 5.75,
    "ICT": 7, "WIB": 7, "HKT": 8, "SGT": 8, "PHT": 8, "AWST": 8, "JST": 9, "KST": 9, "ACST": 9.5,
    "ACDT": 10.5, "AEST": 10, "AEDT": 11, "NZST": 12, "NZDT": 13, "HST": -10, "AKST": -9, "AKDT": -8,
    "PST": -8, "PDT": -7, "MST": -7, "MDT": -6, "CST": -6, "CDT": -5, "EST": -5, "EDT": -4,
    "AST": -4, "ADT": -3, "NST": -3.5, "NDT": -2.5, "BRT": -3, "ART": -3,
}

# Memory blocks injected into prompts (NOVA's own and OpenClaw memory plugins'): extracting
# them again would store recalled memories as new ones (mem0#4573).
_INJECTED = re.compile(
    r"<(" + "|".join(map(re.escape, INJECTED_TAGS)) + r")\b[^>]*>.*?</\1\s*>\s*",
    re.DOTALL | re.IGNORECASE,
)


# buildRuntimeLine (dist/system-prompt-params-*.mjs): "Runtime: agent=main | session=… | …",
# appended after a blank line to the first prompt of a session.
_RUNTIME_LINE = re.compile(r"\n\s*\nRuntime: agent=[^\n]*\s*$")

# Turns OpenClaw writes itself, not the user or the model: the prompts of its internal wakes
# (INTERNAL_WAKE_TRANSCRIPT_PROMPTS in dist/heartbeat-*.mjs: heartbeat polls, exec completions,
# cron wakes, session events) and the bare acknowledgements a model gives them (HEARTBEAT_TOKEN,
# SILENT_REPLY_TOKEN in dist/tokens-*.mjs). None of them is a memory.
_WAKE_PROMPT = re.compile(
    r"^\[OpenClaw (?:heartbeat poll|exec completion|cron wake|session event)\]")
_SILENT_REPLIES = frozenset({"HEARTBEAT_OK", "NO_REPLY", "no_reply"})


@dataclass(frozen=True)
class Envelope:
    channel: str
    sender: str | None
    sent_at: datetime | None
    body: str
    # A group chat's id: OpenClaw labels a group "<label> id:<groupId>" and puts the speaker's own
    # label before the body ("Marco: …"; formatInboundFromLabel / formatInboundEnvelope in
    # dist/envelope-*.mjs). A direct chat's body label is the sender's, which is stripped above.
    group_id: str | None = None


def _envelope_time(date: str, time: str, tz: str | None) -> datetime | None:
    """The envelope's wall-clock date and time with its GMT/UTC offset, as UTC; None when unreadable
    or in a zone not in ``_TZ_OFFSETS``."""
    try:
        fmt = "%Y-%m-%d %H:%M:%S" if time.count(":") == 2 else "%Y-%m-%d %H:%M"
        wall = datetime.strptime(f"{date} {time}", fmt)
    except ValueError:
        return None
    offset = 0.0
    if tz:
        m = re.fullmatch(r"(?:GMT|UTC)?([+-])(\d{1,2}):?(\d{2})?", tz)
        if m:
            offset = (1 if m.group(1) == "+" else -1) * (int(m.group(2)) + int(m.group(3) or 0) / 60)
        elif tz.upper() in _TZ_OFFSETS:
            offset = _TZ_OFFSETS[tz.upper()]
        else:
            return None  # an unknown zone: the transcript entry's own timestamp is used
    return (wall - timedelta(hours=offset)).replace(tzinfo=timezone.utc)


def parse_envelope(text: str) -> Envelope | None:
    """Split an inbound envelope off ``text``; None when the text has none.

    Example: ``[Telegram Caroline (@caroline) Mon 2023-05-08 13:56:00 UTC] Hi`` →
    channel ``Telegram``, sender ``Caroline``, sent_at 2023-05-08T13:56Z, body ``Hi``.
    """
    m = _ENVELOPE.match(text)
    if not m:
        return None
    sender = (m.group("from") or "").strip()
    sender = _ELAPSED.sub("", sender)
    marked = _ID_MARK.search(sender)
    sender = _ID_MARK.sub("", sender)
    sender = _HANDLE.sub("", sender).strip() or None
    body = text[m.end():]
    group_id = None
    if sender and body.startswith(sender + ": "):
        body = body[len(sender) + 2:]
    elif body.startswith("(self): "):
        body = body[len("(self): "):]
    elif marked and _SPEAKER_LABEL.match(body):
        group_id = marked.group(0).strip()[3:].split()[0]
    return Envelope(
        channel=m.group("channel"),
        sender=sender,
        sent_at=_envelope_time(m.group("date"), m.group("time"), m.group("tz")),
        body=body,
        group_id=group_id,
    )


def strip_injected_blocks(text: str) -> str:
    """Remove injected memory blocks (``<nova-memory>…</nova-memory>`` and the like), then any
    stray tag of theirs (stored, one would close a block that recall renders it into), and the
    runtime line OpenClaw appends to a session's first prompt (``Runtime: agent=… | session=…``)."""
    return _RUNTIME_LINE.sub("", strip_stray_tags(_INJECTED.sub("", text))).strip()


def is_synthetic_turn(text: str) -> bool:
    """True for a turn OpenClaw itself wrote (a heartbeat poll and the like, or its bare
    acknowledgement ``HEARTBEAT_OK`` / ``NO_REPLY``), or one of NOVA's own slash commands
    (``/memory ...``, ``/forget ...``, a bare ``/remember``; answered by the nova-recall plugin without
    a model): not something anyone told the agent. ``/remember <text>`` is not: see ``remembered_text``."""
    flat = text.strip()
    return (flat in _SILENT_REPLIES or _WAKE_PROMPT.match(flat) is not None
            or (_NOVA_COMMAND.match(flat) is not None and remembered_text(flat) is None))


def remembered_text(text: str) -> str | None:
    """The text of ``/remember <text>`` (the nova-recall plugin's command), what the user asked NOVA to
    remember: the entry is that text, from the command's own transcript entry. None for anything else."""
    m = _REMEMBER.match(text.strip())
    return m.group(1).strip() if m else None


# The nova-recall plugin's commands (hooks/nova-recall-plugin/commands.js).
_NOVA_COMMAND = re.compile(r"^/(?:memory|forget|remember)(?:\s|$)", re.IGNORECASE)
_REMEMBER = re.compile(r"^/remember\s+(\S.*)$", re.IGNORECASE | re.DOTALL)
