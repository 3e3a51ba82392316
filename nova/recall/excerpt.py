"""Excerpts: a long episode recalled as the sentences that answer the query, not as the whole exchange.

An episode is a user turn and the replies to it. On LoCoMo-shaped chat that is a few short lines; on a
user-assistant transcript (LongMemEval) it is a question and a ~2,000-character answer, ~600 tokens:
two such episodes spend the block's budget, and the line that holds the answer is one of forty. So an
episode longer than ``EXCERPT_ABOVE`` of the budget is recalled as an excerpt: its sentences ranked
by meaning (the static tier's cosine to the query; without that tier, the dense model's for the sentences
holding most of the query's words) and by
words (the share of the query's content words they hold), the two rankings fused by reciprocal rank
(RRF, k=60, as the recall paths are), the best taken until the excerpt would pass that size, then
put back in transcript order under the episode's date, each with its speaker, "…" where sentences
were left out. The item's provenance is the entries its sentences came from.

Source: the per-entry texts are ``episode_keys.key_text`` ("<speaker>: <annotated text>", what the
episode's turn embeddings were made from), or the entry log's text for keys older than that column.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from nova.memory.dates import format_day

__all__ = ["excerpt_long_episodes", "EXCERPT_ABOVE", "DENSE_SCORED"]

# An episode over this share of the budget is excerpted to at most that size: 150 tokens of the default
# 1,000. A LoCoMo exchange is 50-150 tokens (19 of 1,090 are over 150), a LongMemEval one mostly 100-900. Chosen
# on all three dev sets (bench/bench_recall.py, docs/benchmarks.md): at 0.10 LoCoMo's exchanges are cut
# too and locomo-dev loses answer tokens (0.827 -> 0.816); at 0.15 and 0.20 the LoCoMo sets are unchanged.
EXCERPT_ABOVE = 0.15
_RRF_K = 60
# Sentences the dense model scores at recall when there is no static tier (``_meaning``): a latency bound
# (about 50-100 ms of MiniLM on two cores), not tuned on recall figures.
DENSE_SCORED = 24
# Sentence ends, and line breaks (an assistant's markdown lists: one item a line).
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[A-Z0-9*#-])|\s*\n+\s*")
_BULLET = re.compile(r"^(?:[-*•+]|#+)\s+")  # a markdown list item's or heading's mark (numbers stay: "1) ...")


def excerpt_long_episodes(conn, agent_id: str, details: dict, embedder, query: str, lexemes: Sequence[str],
                          budget: int) -> None:
    """Replace, in ``details`` (``nova.recall.details.item_details``), each episode over ``EXCERPT_ABOVE *
    budget`` tokens by its excerpt for ``query`` (``lexemes``: its words as full text indexes them,
    ``RecallQuery.lexemes``):
    ``text``, ``tokens`` (the embedding model's tokenizer) and ``sources`` change; the embedding (its best
    turn's, for MMR) does not. ``embedder``: the dense ``Embedder``; its static tier scores the sentences
    when it has one (sub-millisecond), else the dense model scores the ``DENSE_SCORED`` with most of the
    query's words (``_meaning``). Reads the agent's rows only."""
    limit = max(1, int(budget * EXCERPT_ABOVE))
    long_ids = [key[1] for key, d in details.items() if key[0] == "episode" and d["tokens"] > limit
                and not d.get("excerpt")]
    if not long_ids:
        return
    turns: dict[int, list[tuple[str, str, str]]] = defaultdict(list)
    for episode_id, session_id, entry_id, text in conn.execute(
        "SELECT p.item_id, p.session_id, p.entry_id, coalesce(k.key_text, en.speaker || ': ' || en.text)"
        " FROM provenance p JOIN entries en USING (agent_id, session_id, entry_id)"
        " LEFT JOIN episode_keys k ON k.agent_id = p.agent_id AND k.session_id = p.session_id"
        "  AND k.entry_id = p.entry_id"
        " WHERE p.agent_id = %s AND p.item_kind = 'episode' AND p.item_id = ANY(%s) ORDER BY p.item_id, en.seq",
        (agent_id, long_ids),
    ):
        turns[episode_id].append((session_id, entry_id, text))
    sentences = {eid: _sentences(rows) for eid, rows in turns.items()}
    flat = [s for eid in long_ids for s in sentences.get(eid, [])]
    if not flat:
        return
    words_held = _word_shares(conn, lexemes, [s[3] for s in flat])
    meaning = _meaning(embedder, query, [s[3] for s in flat], words_held)
    sizes = embedder.count_tokens([s[3] for s in flat])  # one tokenizer call for every sentence
    start = 0
    excerpts = {}
    for eid in long_ids:
        mine = sentences.get(eid, [])
        if not mine:
            continue
        span = slice(start, start + len(mine))
        start += len(mine)
        excerpts[eid] = _excerpt(mine, _fused(meaning[span], words_held[span]), sizes[span], limit)
    texts = [(eid, details[("episode", eid)].get("occurred_at"), lines) for eid, (lines, _) in excerpts.items()]
    rendered = [_render(at, lines) for _, at, lines in texts]
    for (eid, _, _), text, tokens in zip(texts, rendered, embedder.count_tokens(rendered), strict=True):
        d = details[("episode", eid)]
        d.update(text=text, tokens=tokens, excerpt=True,
                 sources=[s for s in d["sources"] if (s["session_id"], s["entry_id"]) in excerpts[eid][1]])


def _meaning(embedder, query: str, sentences: list[str], words_held: np.ndarray) -> np.ndarray:
    """Each sentence's cosine to the query: the static tier's for all of them (sub-millisecond); without
    that tier (``embedding_tiers = "dense"``) the dense model's for the ``DENSE_SCORED`` sentences holding
    most of the query's words only, the rest ranked below them. All of a LongMemEval episode's sentences
    took the dense model 0.3-2 s on two cores, past the recall hook's 300 ms budget (it failed open and
    the turn got no memories); 24 take ~50-100 ms."""
    if getattr(embedder, "static", None) is not None:
        vectors = embedder.static.encode([query] + sentences)
        return vectors[1:] @ vectors[0]
    scored = np.argsort(-np.round(words_held, 4), kind="stable")[:DENSE_SCORED]
    vectors = embedder.encode([query] + [sentences[i] for i in scored])
    meaning = np.full(len(sentences), -2.0)  # below any cosine
    meaning[scored] = vectors[1:] @ vectors[0]
    return meaning


def _word_shares(conn, lexemes: Sequence[str], sentences: list[str]) -> np.ndarray:
    """The share of the query's lexemes (English stems, stop words out: as full text indexes them) each sentence holds."""
    wanted = set(lexemes)
    if not wanted:
        return np.zeros(len(sentences))
    held = conn.execute("SELECT tsvector_to_array(to_tsvector('english', s)) FROM unnest(%s::text[]) WITH ORDINALITY t(s, n)"
                        " ORDER BY n", (sentences,)).fetchall()
    return np.array([len(wanted & set(lexemes)) / len(wanted) for (lexemes,) in held])


def _sentences(rows: list[tuple[str, str, str]]) -> list[tuple[int, tuple[str, str], str, str]]:
    """``(turn index, (session_id, entry_id), speaker, sentence)`` for each sentence of an episode's turns, in order."""
    out = []
    for n, (session_id, entry_id, text) in enumerate(rows):
        speaker, _, said = text.partition(": ")
        for sentence in _SENTENCE_END.split(said):
            sentence = _BULLET.sub("", sentence).strip()
            if sentence:
                out.append((n, (session_id, entry_id), speaker, sentence))
    return out


def _fused(meaning: np.ndarray, words: np.ndarray) -> np.ndarray:
    """RRF of the sentences' two rankings (meaning, words); ties by position (earlier first)."""
    score = np.zeros(len(meaning))
    for ranking in (meaning, words):
        order = np.argsort(-np.round(ranking, 4), kind="stable")
        score[order] += 1.0 / (_RRF_K + 1 + np.arange(len(order)))
    return score


def _excerpt(sentences, score: np.ndarray, sizes: list[int], limit: int):
    """The best sentences while they fit ``limit`` tokens (``sizes``: each sentence's; the best one always):
    ``(lines, {(session, entry)})`` where ``lines`` are ``(speaker, [sentence, or None for the sentences left
    out])`` per turn, in order."""
    chosen, used = [], 0
    for i in np.argsort(-score, kind="stable"):
        if chosen and used + sizes[i] + 2 > limit:
            continue
        chosen.append(int(i))
        used += sizes[i] + 2  # the speaker or the gap mark beside it: about two tokens
    lines: list[tuple[str, list[str | None]]] = []
    kept = set(chosen)
    last_turn = None
    for i in sorted(kept):
        turn, _, speaker, sentence = sentences[i]
        if turn != last_turn:
            lines.append((speaker, [None] if i > 0 and sentences[i - 1][0] == turn else []))
            last_turn = turn
        lines[-1][1].append(sentence)
        if i + 1 < len(sentences) and sentences[i + 1][0] == turn and i + 1 not in kept:
            lines[-1][1].append(None)  # sentences of this turn left out after it
    return lines, {sentences[i][1] for i in chosen}


def _render(at, lines) -> str:
    body = "\n".join(f"{speaker}: " + " ".join("…" if p is None else p for p in parts) for speaker, parts in lines)
    return f"[{format_day(at)}] {body}" if at else body
