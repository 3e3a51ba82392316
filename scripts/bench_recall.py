#!/usr/bin/env python3
"""Recall on LoCoMo (../shared/data/locomo-dev, locomo-dev2): what reaches the model, with ingest time
and recall latency. Recall runs as NOVA ships it: the configured item limit and token budget
(``recall_limit`` 20, ``recall_budget_tokens`` 1000) unless --limit / --budget say otherwise.

Per question (categories 1-4 by default), averaged per category and overall:
- evidence recall: the share of its evidence entry ids covered by the provenance (``sources``) of
  the items recalled. Provenance can credit a turn whose words are not in the block (a fact merged
  from many entries carries all their provenance), so also:
- answer-token recall: the share of the gold answer's content words (lower-cased words that are not
  spaCy stop words) present in the block the hook would inject (``render_items``);
- the same within the budget counted independently of the embedding model's tokenizer: the block
  cut to the items that fit ``budget`` tokens at 4 characters a token (``answer_token_recall_chars4``).
Also: the block's mean size in both counts, and items recalled from the noise sessions (sub-agent and
cron transcripts about "zxqv" that the default filters keep out: should be 0).
See shared/data/locomo-dev/README.md; the raw-turn hybrid baseline there is 0.727 evidence recall at 1,000 tokens.

Usage: scripts/bench_locomo.py [--data DIR] [--budget N] [--limit N] [--fresh] [--json]
Uses $NOVA_HOME (default: a scratch dir under /tmp that --fresh wipes first).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CATEGORY = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop", 5: "adversarial"}


def _fill_dense(rt, dense: str) -> tuple[float, int]:
    """The dense pass after catch-up: every pending vector, half of each agent's, or none."""
    from nova.memory.dense_fill import fill_vectors, pending_dense

    if dense == "none":
        return 0.0, 0
    started, filled = time.perf_counter(), 0
    with rt.store.connection() as conn:
        for agent, n in pending_dense(conn).items():
            stats = fill_vectors(conn, rt.embedder, agent_id=agent, batch=rt.settings.dense_fill_batch,
                                 max_rows=None if dense == "complete" else n // 2)
            filled += stats.dense
    return time.perf_counter() - started, filled


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "locomo-dev")
    ap.add_argument("--budget", type=int, default=None, help="token budget per question (default: what NOVA ships)")
    ap.add_argument("--limit", type=int, default=None, help="max items per question (default: what NOVA ships)")
    ap.add_argument("--categories", default="1,2,3,4")
    ap.add_argument("--fresh", action="store_true", help="wipe NOVA_HOME first (measures a full ingest)")
    ap.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    ap.add_argument("--dense", choices=("complete", "half", "none"), default="complete",
                    help="with the static tier (NOVA_EMBEDDING_TIERS=static+dense, the default): recall after the"
                         " dense pass filled every dense vector (what catch-up leaves), half of each agent's, or none")
    args = ap.parse_args()

    os.environ.setdefault("NOVA_HOME", "/tmp/nova-bench-locomo")
    home = Path(os.environ["NOVA_HOME"])
    if args.fresh and home.exists() and not os.environ.get("NOVA_DATABASE_URL"):
        shutil.rmtree(home)
    qa_path = args.data / "qa.jsonl"
    if not qa_path.is_file():
        print(f"error: no {qa_path}; pass --data", file=sys.stderr)
        return 2

    from nova.ingest.catchup import run_catchup
    from nova.runtime import Runtime
    from nova.config import load_settings
    from nova.recall.block import render_items
    from nova.recall.search import recall
    from spacy.lang.en.stop_words import STOP_WORDS

    rt = Runtime(load_settings())
    budget = args.budget or rt.settings.recall_budget_tokens
    limit = args.limit or rt.settings.recall_limit
    t0 = time.perf_counter()
    projector = rt.projector
    load_s = time.perf_counter() - t0
    report = run_catchup(rt.store, rt.settings, projector, args.data)
    ingest_s = report.seconds
    fill_s, filled = _fill_dense(rt, args.dense)

    cats = {int(c) for c in args.categories.split(",")}
    # Questions without evidence ids cannot be scored by evidence recall (2 of 233 here).
    questions = [q for q in map(json.loads, qa_path.read_text().splitlines())
                 if q["category"] in cats and q.get("evidence")]
    per_cat: dict[int, list[float]] = defaultdict(list)
    answer_cat: dict[int, list[float]] = defaultdict(list)
    answer4_cat: dict[int, list[float]] = defaultdict(list)
    latencies, tokens_used, chars4_used, noise_items = [], [], [], 0

    def words(text) -> set[str]:
        return {w for w in re.findall(r"[a-z0-9]+", str(text).lower()) if w not in STOP_WORDS}

    def share(wanted: set[str], block: str) -> float:
        return len(wanted & words(block)) / len(wanted)

    vectors = rt.embedder.encode([q["question"] for q in questions])
    with rt.store.connection() as conn, rt.store.spare_connection() as side:
        # Relative times in a question ("last year") count from the conversation's last turn, not today.
        now = dict(conn.execute("SELECT agent_id, max(occurred_at) FROM entries GROUP BY 1").fetchall())
        recall(conn, rt.embedder, questions[0]["agent"], "warm up", budget_tokens=budget)
        for q, vec in zip(questions, vectors, strict=True):
            started = time.perf_counter()
            items = recall(conn, rt.embedder, q["agent"], q["question"], limit=limit,
                           budget_tokens=budget, query_vector=vec, now=now.get(q["agent"]), side_conn=side)
            latencies.append((time.perf_counter() - started) * 1000)
            got = {s["entry_id"] for i in items for s in i.sources}
            evidence = set(q["evidence"])
            per_cat[q["category"]].append(len(evidence & got) / len(evidence))
            tokens_used.append(sum(i.tokens for i in items))
            block = render_items(items)
            fits = next((k for k in range(len(items), -1, -1) if len(render_items(items[:k])) / 4 <= budget), 0)
            chars4_used.append(len(block) / 4)
            noise_items += sum("zxqv" in i.text.lower() for i in items)
            wanted = words(q["answer"])
            if wanted:  # an answer of stop words only ("no") has nothing to find
                answer_cat[q["category"]].append(share(wanted, block))
                answer4_cat[q["category"]].append(share(wanted, render_items(items[:fits])))
    t = time.perf_counter()
    rt.embedder.encode([q["question"] for q in questions[:50]])
    embed_ms = (time.perf_counter() - t) * 1000 / min(50, len(questions))
    rt.close()

    allv = [v for vs in per_cat.values() for v in vs]
    all_answer = [v for vs in answer_cat.values() for v in vs]
    all_answer4 = [v for vs in answer4_cat.values() for v in vs]
    lat = sorted(latencies)
    figures = {
        "questions": len(allv),
        "evidence_recall": round(statistics.mean(allv), 4),
        "answer_token_recall": round(statistics.mean(all_answer), 4),
        "answer_token_recall_chars4": round(statistics.mean(all_answer4), 4),
        "per_category": {f"{c} {CATEGORY[c]}": {"n": len(v), "recall": round(statistics.mean(v), 4),
                                                "answer_n": len(answer_cat[c]),
                                                "answer_token_recall": round(statistics.mean(answer_cat[c]), 4),
                                                "answer_token_recall_chars4": round(statistics.mean(answer4_cat[c]), 4)}
                         for c, v in sorted(per_cat.items())},
        "budget_tokens": budget,
        "limit": limit,
        "mean_tokens_used": round(statistics.mean(tokens_used), 1),
        "mean_block_tokens_chars4": round(statistics.mean(chars4_used), 1),
        "noise_items_recalled": noise_items,
        "tiers": rt.settings.embedding_tiers, "dense": args.dense,
        "dense_fill": {"texts": filled, "seconds": round(fill_s, 2)},
        "ingest": {"entries_new": report.entries_new, "seconds": round(ingest_s, 2),
                   "entries_per_s": round(report.entries_new / ingest_s, 1) if report.entries_new else None,
                   "model_load_s": round(load_s, 2)},
        "recall_ms_excluding_query_embedding": {"p50": round(lat[len(lat) // 2], 1), "p95": round(lat[int(len(lat) * 0.95)], 1),
                                                "max": round(lat[-1], 1)},
        "query_embedding_ms": round(embed_ms, 1),
    }
    if args.json:
        print(json.dumps(figures))
    else:
        print(f"LoCoMo @ {budget} tokens, {limit} items, {len(allv)} questions: evidence recall"
              f" {figures['evidence_recall']:.3f} (raw-turn baseline on locomo-dev 0.727), answer-token recall"
              f" {figures['answer_token_recall']:.3f} ({figures['answer_token_recall_chars4']:.3f} at 4 chars a token)")
        for name, v in figures["per_category"].items():
            print(f"  {name:<16} n={v['n']:<4} evidence {v['recall']:.3f}  answer tokens {v['answer_token_recall']:.3f}"
                  f" ({v['answer_token_recall_chars4']:.3f})")
        print(f"  mean block: {figures['mean_tokens_used']} tokens, {figures['mean_block_tokens_chars4']} at 4 chars a token;"
              f" noise-session items recalled: {noise_items}")
        ing = figures["ingest"]
        print(f"ingest: {ing['entries_new']} new entries in {ing['seconds']} s ({ing['entries_per_s']} entries/s), model load {ing['model_load_s']} s")
        r = figures["recall_ms_excluding_query_embedding"]
        print(f"recall latency: p50 {r['p50']} ms, p95 {r['p95']} ms, max {r['max']} ms (+ query embedding {figures['query_embedding_ms']} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
