#!/usr/bin/env python3
"""Evidence recall on LoCoMo (../shared/data/locomo-dev), with ingest time and recall latency.

Evidence recall: for each question (categories 1-4 by default), the share of its evidence
entry ids covered by the provenance (``sources``) of the items recalled within the token
budget; averaged per category and overall. See shared/data/locomo-dev/README.md.
The raw-turn hybrid baseline there is 0.727 at 1,000 tokens.

Usage: scripts/bench_locomo.py [--data DIR] [--budget 1000] [--fresh] [--json]
Uses $NOVA_HOME (default: a scratch dir under /tmp that --fresh wipes first).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CATEGORY = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop", 5: "adversarial"}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "locomo-dev")
    ap.add_argument("--budget", type=int, default=1000, help="token budget per question")
    ap.add_argument("--limit", type=int, default=50, help="max items per question")
    ap.add_argument("--categories", default="1,2,3,4")
    ap.add_argument("--fresh", action="store_true", help="wipe NOVA_HOME first (measures a full ingest)")
    ap.add_argument("--json", action="store_true", help="print the figures as one JSON object")
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
    from nova.recall.search import recall

    rt = Runtime(load_settings())
    t0 = time.perf_counter()
    projector = rt.projector
    load_s = time.perf_counter() - t0
    report = run_catchup(rt.store, rt.settings, projector, args.data)
    ingest_s = report.seconds

    cats = {int(c) for c in args.categories.split(",")}
    # Questions without evidence ids cannot be scored by evidence recall (2 of 233 here).
    questions = [q for q in map(json.loads, qa_path.read_text().splitlines())
                 if q["category"] in cats and q.get("evidence")]
    per_cat: dict[int, list[float]] = defaultdict(list)
    latencies, tokens_used = [], []
    vectors = rt.embedder.encode([q["question"] for q in questions])
    with rt.store.connection() as conn, rt.store.spare_connection() as side:
        # Relative times in a question ("last year") count from the conversation's last turn, not today.
        now = dict(conn.execute("SELECT agent_id, max(occurred_at) FROM entries GROUP BY 1").fetchall())
        recall(conn, rt.embedder, questions[0]["agent"], "warm up", budget_tokens=args.budget)
        for q, vec in zip(questions, vectors, strict=True):
            started = time.perf_counter()
            items = recall(conn, rt.embedder, q["agent"], q["question"], limit=args.limit,
                           budget_tokens=args.budget, query_vector=vec, now=now.get(q["agent"]), side_conn=side)
            latencies.append((time.perf_counter() - started) * 1000)
            got = {s["entry_id"] for i in items for s in i.sources}
            evidence = set(q["evidence"])
            per_cat[q["category"]].append(len(evidence & got) / len(evidence))
            tokens_used.append(sum(i.tokens for i in items))
    t = time.perf_counter()
    rt.embedder.encode([q["question"] for q in questions[:50]])
    embed_ms = (time.perf_counter() - t) * 1000 / min(50, len(questions))
    rt.close()

    allv = [v for vs in per_cat.values() for v in vs]
    lat = sorted(latencies)
    figures = {
        "questions": len(allv),
        "evidence_recall": round(statistics.mean(allv), 4),
        "per_category": {f"{c} {CATEGORY[c]}": {"n": len(v), "recall": round(statistics.mean(v), 4)} for c, v in sorted(per_cat.items())},
        "budget_tokens": args.budget,
        "mean_tokens_used": round(statistics.mean(tokens_used), 1),
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
        print(f"LoCoMo evidence recall @ {args.budget} tokens: {figures['evidence_recall']:.3f} over {len(allv)} questions (baseline 0.727)")
        for name, v in figures["per_category"].items():
            print(f"  {name:<16} n={v['n']:<4} recall {v['recall']:.3f}")
        print(f"  mean tokens used {figures['mean_tokens_used']}")
        ing = figures["ingest"]
        print(f"ingest: {ing['entries_new']} new entries in {ing['seconds']} s ({ing['entries_per_s']} entries/s), model load {ing['model_load_s']} s")
        r = figures["recall_ms_excluding_query_embedding"]
        print(f"recall latency: p50 {r['p50']} ms, p95 {r['p95']} ms, max {r['max']} ms (+ query embedding {figures['query_embedding_ms']} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
