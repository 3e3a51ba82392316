"""Who speaks in an agent's entries: the display names of its two roles, and an entry's speaker and
addressee. Catch-up and live entries attribute entries with them, the session profile names the
user with them; the names come from the workspace files (``nova.ingest.workspace.load_speakers``).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Speakers", "entry_speakers", "origin_speaker"]


@dataclass(frozen=True)
class Speakers:
    """Display names for the two roles of an agent's direct conversations."""

    user: str = "User"
    assistant: str = "Assistant"
    user_known: bool = False
    assistant_known: bool = False


def entry_speakers(role: str, sender: str | None, speakers: Speakers) -> tuple[str, str]:
    """``(speaker, addressee)`` of an entry: the envelope's sender name when it is a name.

    A phone number or "(sender)" says less than the name in USER.md.
    """
    if role == "user":
        name = sender if sender and any(c.isalpha() for c in sender) and "(" not in sender else None
        return name or speakers.user, speakers.assistant
    return speakers.assistant, speakers.user


def origin_speaker(origin: str) -> str:
    """Who said a message another session sent: "agent ops" for a source key ``agent:ops:...``, else
    "another session". Never the user's name (nova.ingest.transcripts_jsonl.TranscriptEntry.origin)."""
    parts = origin.split(":")
    if len(parts) >= 3 and parts[0] == "agent" and parts[1]:
        return f"agent {parts[1][:64]}"
    return "another session"
