"""What extraction produces from one transcript entry, and the ``Extractor`` protocol: the seam for
another extractor (an LLM-backed one later). Anything that turns ``ExtractionInput`` into
``Extraction`` can replace ``nova.memory.spacy_extractor.SpacyExtractor``, the one NOVA ships.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from nova.memory.dates import TimeRange

__all__ = ["ExtractionInput", "Mention", "Fact", "Extraction", "Extractor", "EXTRACTOR_VERSION"]

# Bump when extraction output changes, so operators can see which rows are stale.
EXTRACTOR_VERSION = 11  # 11: a "?" inside a statement (quoted, bracketed) leaves it a statement
# 10: an assistant's reply past LONG_REPLY_CHARS is not parsed (was: its opening)
# 9: questions and requests without a "?" ("Can you recommend ...") state nothing
# 8: self-introductions ("I'm Jenny", "call me Jen") alias the speaker; lowercase speaker names; a verb after an adverb takes the third person
# 7: an assistant's reply is read up to ASSISTANT_READ_CHARS; 6: approximate lengths date a lasting state ("for about 10 years now": since ~YEAR)
# 5: what is to come is dated ahead ("any plans for the weekend?")


@dataclass(frozen=True)
class ExtractionInput:
    text: str
    speaker: str        # who said it (resolves "I", "my")
    addressee: str      # who it was said to (resolves "you", "your")
    said_at: datetime | None
    role: str = "user"  # the transcript message's role (an assistant's long reply is not parsed: ``reading``)


@dataclass(frozen=True)
class Mention:
    name: str
    kind: str   # person, place, organization, project, pet, tool, preference, event, work, handle, tag, url, file, title, group
    strong: bool = False  # kind came from a pattern ("named X", "working on X"), not a guess


@dataclass(frozen=True)
class Fact:
    subject: str
    subject_kind: str
    predicate: str
    text: str                    # natural-language fact, names and dates resolved
    object_name: str | None = None
    object_kind: str | None = None
    object_value: str | None = None
    valid_from: datetime | None = None
    confidence: float = 0.7


@dataclass
class Extraction:
    annotated_text: str                  # the entry text with relative dates resolved inline
    mentions: list[Mention] = field(default_factory=list)
    facts: list[Fact] = field(default_factory=list)
    times: list[tuple[str, TimeRange]] = field(default_factory=list)
    speaker_aliases: list[str] = field(default_factory=list)  # names the speaker gives themself ("I'm Jenny")


class Extractor(Protocol):
    version: int

    def extract_batch(self, items: list[ExtractionInput]) -> list[Extraction]:
        """One ``Extraction`` per input, in order. Raises on a failure of the whole batch."""
        ...
