"""How a memory reads when it is put in front of the agent (and what it costs in tokens).

The same text is embedded, full-text indexed and counted at write time, so the recall
budget is exact: what is counted is what is injected.
"""

from __future__ import annotations

import re
from datetime import datetime

from nova.memory.dates import format_day

__all__ = ["episode_text", "relationship_text", "entity_text"]


def episode_text(occurred_at: datetime | None, lines: list[tuple[str, str]]) -> str:
    """``[8 May 2023] Caroline: ...`` then one line per further entry of the exchange."""
    body = "\n".join(f"{speaker}: {text}" for speaker, text in lines)
    return f"[{format_day(occurred_at)}] {body}" if occurred_at else body


def relationship_text(fact: str, valid_from: datetime | None, valid_to: datetime | None) -> str:
    text = fact
    if valid_from is not None and not re.search(r"\b(19|20)\d{2}\b", fact):
        text = f"{fact} ({format_day(valid_from)})"
    if valid_to is not None:
        text = f"{text} [no longer current since {format_day(valid_to)}]"
    return text


def entity_text(name: str, kind: str, summary: str | None, aliases: list[str] | None = None) -> str:
    aka = [a for a in aliases or [] if a.lower() != name.lower()]
    head = f"{name} ({kind}{', aka ' + ', '.join(aka[:3]) if aka else ''})"
    return f"{head}: {summary}" if summary else head
