"""The block a hook puts in front of the model: tagged so extraction never stores it back."""

from __future__ import annotations

from nova.recall.items import RecallItem

__all__ = ["BLOCK_TAG", "render_block", "render_items"]

BLOCK_TAG = "nova-memory"  # extraction strips blocks with this tag: recalled text is never re-stored


def render_block(lines: list[str]) -> str:
    """The block a hook injects: tagged so it is never extracted back into memory."""
    if not lines:
        return ""
    body = "\n".join(f"- {line}" for line in lines)
    return f"<{BLOCK_TAG}>\nRelevant memories (NOVA):\n{body}\n</{BLOCK_TAG}>"


def render_items(items: list[RecallItem]) -> str:
    """The block a hook would inject for these items."""
    return render_block([i.text for i in items])
