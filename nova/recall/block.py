"""The block a hook puts in front of the model: tagged so extraction never stores it back."""

from __future__ import annotations

from functools import lru_cache

from nova.memory.prompt_tags import BLOCK_TAG, neutralise_tags
from nova.recall.items import RecallItem

__all__ = ["BLOCK_TAG", "render_block", "render_items", "frame_tokens"]


def render_block(lines: list[str]) -> str:
    """The block a hook injects: tagged so it is never extracted back into memory. A tag inside a
    line is neutralised (``nova.memory.prompt_tags``), so the block is always exactly one block."""
    if not lines:
        return ""
    body = "\n".join(f"- {neutralise_tags(line)}" for line in lines)
    return f"<{BLOCK_TAG}>\nRelevant memories (NOVA):\n{body}\n</{BLOCK_TAG}>"


def render_items(items: list[RecallItem]) -> str:
    """The block a hook would inject for these items."""
    return render_block([i.text for i in items])


@lru_cache(maxsize=4)
def frame_tokens(embedder) -> tuple[int, int]:
    """What the block costs beyond its items' own text, under ``embedder``'s tokenizer (the one item
    tokens are counted with): ``(the frame: tag lines and header, once; each line's "- ")``. Recall spends
    its budget on the block as injected, so these come out of it."""
    text = "x"
    alone, as_line, framed = embedder.count_tokens([text, f"- {text}", render_block([text])])
    return framed - as_line, as_line - alone
