"""The tags of memory blocks put into prompts, and how stored text is kept from forging them.

A recalled memory is text someone said, so it may hold ``</nova-memory>``: rendered verbatim it
would close NOVA's block early and whatever follows would reach the model outside it, and the
catch-up that reads the prompt back would strip only up to that tag and store the rest of the
block as new memories. So every tag-like ``<nova-memory …>`` / ``</nova-memory>`` (and the tags
of other memory plugins' blocks, which the ingest side strips too) is taken out of text on its way
in (``strip_stray_tags``) and neutralised on its way into a prompt (``neutralise_tags``): its angle
brackets become ‹ › (U+2039/U+203A), which no parser of these tags reads as a tag.
"""

from __future__ import annotations

import re

__all__ = ["BLOCK_TAG", "INJECTED_TAGS", "neutralise_tags", "strip_stray_tags"]

BLOCK_TAG = "nova-memory"  # extraction strips blocks with this tag: recalled text is never re-stored
# Memory blocks injected into prompts, NOVA's own and OpenClaw memory plugins' (mem0#4573).
INJECTED_TAGS = (BLOCK_TAG, "relevant-memories", "relevant_memories", "memory-context")

# A tag of one of those names, opening or closing, with any attributes, spaces or case; also one cut
# off before its ">" (the text may end there).
_TAG = re.compile(r"<\s*(/?)\s*(" + "|".join(map(re.escape, INJECTED_TAGS)) + r")\b([^<>]{0,200})(>?)",
                  re.IGNORECASE)


def neutralise_tags(text: str) -> str:
    """``text`` with every memory-block tag's brackets replaced by ‹ ›; the rest unchanged.

    Example: ``"a </nova-memory> b"`` → ``"a ‹/nova-memory› b"``."""
    return _TAG.sub(lambda m: f"‹{m.group(1)}{m.group(2)}{m.group(3)}{'›' if m.group(4) else ''}", text)


def strip_stray_tags(text: str) -> str:
    """``text`` without memory-block tags (what is left once whole blocks are stripped)."""
    return _TAG.sub("", text)
