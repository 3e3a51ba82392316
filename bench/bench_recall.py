#!/usr/bin/env python3
"""Recall against the raw-turn baseline, on any OpenClaw state directory with a ``qa.jsonl`` (the dev
sets beside the repo: ../shared/data/locomo-dev, locomo-dev2, longmemeval-dev): what reaches the
model from NOVA and from raw turns, with the margin, per category. Recall runs as NOVA ships it: the
configured item limit and token budget (``recall_limit`` 20, ``recall_budget_tokens`` 1000) unless
--limit / --budget say otherwise.

Both blocks are held to one budget, counted one way: the tokens of the text the model reads, under
the embedding model's tokenizer (all-MiniLM-L6-v2's, the one NOVA's packer counts with). NOVA's block
is scored as rendered (``render_items``: headers, dates and speakers included) on the longest run of
its items, best first, that fits; the baseline is packed line by line. (NOVA's packer counts its items'
own text, so the rendered block can run past the budget; items past it are not scored.)

Per question, averaged per category and overall, for NOVA and for the baseline:
- evidence recall: the share of its evidence entry ids among the entries the block came from
  (NOVA: the provenance, ``sources``, of the items scored; baseline: the turns packed);
- answer-token recall: the share of the gold answer's content words (lower-cased words that are not
  spaCy stop words) in the block. Preference questions (LongMemEval's single-session-preference)
  count by evidence only: their answers describe a reply.
Beside them, the answer-token recall of the evidence turns themselves, unbudgeted ("in evidence"): what a
block holding exactly the right turns carries. An answer that is worked out ("8 meals", "three months",
"2019") is not in any turn, so a block scores above it only by words met elsewhere.
Also the answer-token recall of both with the budget counted at 4 characters a token (``chars4``), the
blocks' mean sizes in both counts, and items recalled from the noise sessions (sub-agent and cron
transcripts about "zxqv" that the default filters keep out: should be 0).

The baseline is what OpenClaw's own ``memory_search`` gives for free, computed here in the same run on
the same entries and budget: every transcript entry NOVA logged (envelope stripped, secrets redacted),
as "[<date>] <speaker>: <text>", ranked by all-MiniLM-L6-v2 cosine and Okapi BM25 (rank_bm25) each
min-max normalised over the agent's turns and fused 0.7 / 0.3, packed best first while the block fits.

A question's ``asked_at`` (LongMemEval) is when recall runs (``recall(as_of=…)``): time expressions in it
count from then and nothing said later is used. Without one, times count from the agent's last entry.

Usage: bench/bench_recall.py [--data DIR]... [--budget N] [--limit N] [--categories 1,2] [--fresh] [--json]
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
from datetime import datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DEV_SETS = [ROOT.parent / "shared" / "data" / name for name in ("locomo-dev", "locomo-dev2", "longmemeval-dev")]
LOCOMO_CATEGORY = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop", 5: "adversarial"}
PREFERENCE = "single-session-preference"  # answers describe a good reply: scored by evidence only
FUSION = (0.7, 0.3)  # dense, BM25: OpenClaw memory_search's hybrid weights (vectorWeight / textWeight)


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


class RawTurns:
    """The baseline for one agent: its logged turns, their MiniLM vectors and a BM25 index."""

    def __init__(self, conn, embedder, agent: str):
        from rank_bm25 import BM25Okapi

        rows = conn.execute("SELECT entry_id, coalesce(speaker, role), text, occurred_at FROM entries"
                            " WHERE agent_id = %s ORDER BY session_id, seq", (agent,)).fetchall()
        self.ids = [r[0] for r in rows]
        self.lines = [f"[{r[3]:%-d %B %Y}] {r[1]}: {r[2]}" if r[3] else f"{r[1]}: {r[2]}" for r in rows]
        self.line_of = dict(zip(self.ids, self.lines))
        self.vectors = np.asarray(embedder.encode(self.lines), dtype=np.float32)
        self.bm25 = BM25Okapi([_tokens(line) for line in self.lines])
        self.costs = {"tokens": embedder.count_tokens(self.lines),
                      "chars4": [(len(line) + 1) / 4 for line in self.lines]}  # +1: the newline between lines

    def block(self, query: str, query_vector: np.ndarray, budget: int, count: str = "tokens") -> tuple[set[str], str]:
        """(entry ids packed, the block's text) for ``query`` within ``budget``, counted as ``count``:
        "tokens" (the embedding model's tokenizer) or "chars4" (4 characters a token)."""
        fused = FUSION[0] * _minmax(self.vectors @ query_vector) + FUSION[1] * _minmax(
            np.asarray(self.bm25.get_scores(_tokens(query))))
        packed, used, cost = [], 0, self.costs[count]
        for i in np.argsort(-fused, kind="stable"):
            if used + cost[i] <= budget:
                packed.append(i)
                used += cost[i]
        return {self.ids[i] for i in packed}, "\n".join(self.lines[i] for i in packed)


def _tokens(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def _minmax(scores: np.ndarray) -> np.ndarray:
    span = scores.max() - scores.min() if len(scores) else 0
    return (scores - scores.min()) / span if span > 0 else np.zeros_like(scores, dtype=np.float64)


def _mean(values: list[float]) -> float | None:
    return round(statistics.mean(values), 4) if values else None


def bench(rt, data: Path, budget: int, limit: int, categories: set[int] | None, dense: str) -> dict:
    from nova.ingest.catchup import run_catchup
    from nova.recall.block import render_items
    from nova.recall.search import recall
    from spacy.lang.en.stop_words import STOP_WORDS

    report = run_catchup(rt.store, rt.settings, rt.projector, data)
    fill_s, filled = _fill_dense(rt, dense)
    rows = [json.loads(line) for line in (data / "qa.jsonl").read_text().splitlines() if line.strip()]
    typed = any("question_type" in q for q in rows)
    cats = categories or ({q["category"] for q in rows} if typed else {1, 2, 3, 4})
    # Questions without evidence ids cannot be scored by evidence recall (2 of 233 on locomo-dev).
    questions = [q for q in rows if q["category"] in cats and q.get("evidence")]
    name_of = {q["category"]: q.get("question_type") or LOCOMO_CATEGORY.get(q["category"], str(q["category"]))
               for q in questions}

    def words(text) -> set[str]:
        return {w for w in re.findall(r"[a-z0-9]+", str(text).lower()) if w not in STOP_WORDS}

    def share(wanted: set[str], block: str) -> float:
        return len(wanted & words(block)) / len(wanted)

    scores: dict[str, dict[int, list[float]]] = {k: defaultdict(list) for k in (
        "nova_evidence", "nova_answer", "nova_answer4", "raw_evidence", "raw_answer", "raw_answer4", "in_evidence")}
    sizes: dict[str, list[float]] = defaultdict(list)
    latencies, noise_items = [], 0
    vectors = rt.embedder.encode([q["question"] for q in questions])
    baselines: dict[str, RawTurns] = {}
    count = {"tokens": lambda text: rt.embedder.count_tokens([text])[0], "chars4": lambda text: len(text) / 4}

    def fitting(items, unit: str) -> tuple[list, str]:
        """The longest run of ``items``, best first, whose rendered block fits the budget counted as ``unit``,
        and that block."""
        for k in range(len(items), 0, -1):
            block = render_items(items[:k])
            if count[unit](block) <= budget:
                return items[:k], block
        return [], render_items([])

    with rt.store.connection() as conn, rt.store.spare_connection() as side:
        last = dict(conn.execute("SELECT agent_id, max(occurred_at) FROM entries GROUP BY 1").fetchall())
        recall(conn, rt.embedder, questions[0]["agent"], "warm up", budget_tokens=budget)
        for q, vec in zip(questions, vectors, strict=True):
            agent, cat = q["agent"], q["category"]
            asked = datetime.fromisoformat(q["asked_at"].replace("Z", "+00:00")) if q.get("asked_at") else None
            started = time.perf_counter()
            items = recall(conn, rt.embedder, agent, q["question"], limit=limit, budget_tokens=budget,
                           query_vector=vec, now=asked or last.get(agent), as_of=asked, side_conn=side)
            latencies.append((time.perf_counter() - started) * 1000)
            noise_items += sum("zxqv" in i.text.lower() for i in items)
            (scored, block), (_, block4) = fitting(items, "tokens"), fitting(items, "chars4")
            sizes["nova_rendered_tokens"].append(count["tokens"](render_items(items)))
            sizes["nova_tokens"].append(count["tokens"](block))
            sizes["nova_items_cut"].append(len(items) - len(scored))
            evidence = set(q["evidence"])
            scores["nova_evidence"][cat].append(len(evidence & {s["entry_id"] for i in scored for s in i.sources})
                                                / len(evidence))
            if agent not in baselines:
                baselines[agent] = RawTurns(conn, rt.embedder, agent)
            query_vector = np.asarray(vec, dtype=np.float32)
            raw_ids, raw_block = baselines[agent].block(q["question"], query_vector, budget)
            _, raw_block4 = baselines[agent].block(q["question"], query_vector, budget, "chars4")
            sizes["raw_tokens"].append(count["tokens"](raw_block))
            scores["raw_evidence"][cat].append(len(evidence & raw_ids) / len(evidence))
            wanted = words(q["answer"])
            if wanted and name_of[cat] != PREFERENCE:  # an answer of stop words only ("no") has nothing to find
                scores["nova_answer"][cat].append(share(wanted, block))
                scores["nova_answer4"][cat].append(share(wanted, block4))
                scores["raw_answer"][cat].append(share(wanted, raw_block))
                scores["raw_answer4"][cat].append(share(wanted, raw_block4))
                in_evidence = "\n".join(baselines[agent].line_of.get(e, "") for e in sorted(evidence))
                scores["in_evidence"][cat].append(share(wanted, in_evidence))

    def overall(key: str) -> float | None:
        return _mean([v for vs in scores[key].values() for v in vs])

    def margin(a, b):
        return None if a is None or b is None else round(a - b, 4)

    per_category = {}
    for cat in sorted(scores["nova_evidence"]):
        row = {"n": len(scores["nova_evidence"][cat]), "answer_n": len(scores["nova_answer"][cat])}
        for key in scores:
            row[key] = _mean(scores[key][cat])
        row["evidence_margin"] = margin(row["nova_evidence"], row["raw_evidence"])
        row["answer_margin"] = margin(row["nova_answer"], row["raw_answer"])
        per_category[f"{cat} {name_of[cat]}"] = row
    lat = sorted(latencies)
    figures = {
        "data": str(data), "questions": len(questions), "budget_tokens": budget, "limit": limit,
        "nova": {"evidence_recall": overall("nova_evidence"), "answer_token_recall": overall("nova_answer"),
                 "answer_token_recall_chars4": overall("nova_answer4")},
        "baseline": {"evidence_recall": overall("raw_evidence"), "answer_token_recall": overall("raw_answer"),
                     "answer_token_recall_chars4": overall("raw_answer4")},
        "answer_token_recall_in_evidence": overall("in_evidence"),
        "per_category": per_category,
        "mean_block_tokens": {k: round(statistics.mean(v), 1) for k, v in sizes.items()},
        "noise_items_recalled": noise_items,
        "tiers": rt.settings.embedding_tiers, "dense": dense,
        "dense_fill": {"texts": filled, "seconds": round(fill_s, 2)},
        "ingest": {"entries_new": report.entries_new, "seconds": round(report.seconds, 2),
                   "entries_per_s": round(report.entries_new / report.seconds, 1) if report.entries_new else None},
        "recall_ms_excluding_query_embedding": {"p50": round(lat[len(lat) // 2], 1),
                                                "p95": round(lat[int(len(lat) * 0.95)], 1), "max": round(lat[-1], 1)},
    }
    figures["evidence_margin"] = margin(figures["nova"]["evidence_recall"], figures["baseline"]["evidence_recall"])
    figures["answer_margin"] = margin(figures["nova"]["answer_token_recall"], figures["baseline"]["answer_token_recall"])
    return figures


def _fmt(v) -> str:
    return "  -  " if v is None else f"{v:.3f}" if v >= 0 or isinstance(v, float) else str(v)


def _signed(v) -> str:
    return "   -  " if v is None else f"{v:+.3f}"


def print_figures(f: dict) -> None:
    print(f"{Path(f['data']).name} @ {f['budget_tokens']} tokens, {f['limit']} items, {f['questions']} questions"
          f" (ingest {f['ingest']['entries_new']} entries in {f['ingest']['seconds']} s, {f['ingest']['entries_per_s']} entries/s)")
    print(f"  {'category':<30} {'n':>4}  {'evidence: NOVA  raw  margin':<30} {'answer tokens: NOVA  raw  margin'}"
          "  in evidence")
    rows = list(f["per_category"].items()) + [("all", {
        "n": f["questions"], "nova_evidence": f["nova"]["evidence_recall"], "raw_evidence": f["baseline"]["evidence_recall"],
        "evidence_margin": f["evidence_margin"], "nova_answer": f["nova"]["answer_token_recall"],
        "raw_answer": f["baseline"]["answer_token_recall"], "answer_margin": f["answer_margin"],
        "in_evidence": f["answer_token_recall_in_evidence"]})]
    for name, r in rows:
        print(f"  {name:<30} {r['n']:>4}  {_fmt(r['nova_evidence']):>14} {_fmt(r['raw_evidence'])} {_signed(r['evidence_margin'])}"
              f"      {_fmt(r['nova_answer']):>19} {_fmt(r['raw_answer'])} {_signed(r['answer_margin'])}"
              f"  {_fmt(r['in_evidence']):>11}")
    b = f["mean_block_tokens"]
    print(f"  blocks (mean tokens): NOVA {b['nova_tokens']} scored of {b['nova_rendered_tokens']} rendered"
          f" ({b['nova_items_cut']} items a question past the budget), raw {b['raw_tokens']};"
          f" noise-session items recalled: {f['noise_items_recalled']}")
    n4, r4 = f["nova"]["answer_token_recall_chars4"], f["baseline"]["answer_token_recall_chars4"]
    print(f"  answer tokens with the budget at 4 chars a token: NOVA {_fmt(n4)}, raw {_fmt(r4)},"
          f" margin {_signed(None if n4 is None or r4 is None else round(n4 - r4, 4))}")
    r = f["recall_ms_excluding_query_embedding"]
    print(f"  recall latency p50 {r['p50']} ms, p95 {r['p95']} ms, max {r['max']} ms")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, action="append",
                    help="an OpenClaw state dir with qa.jsonl (repeatable; default: the three dev sets beside the repo)")
    ap.add_argument("--budget", type=int, default=None, help="token budget per question (default: what NOVA ships)")
    ap.add_argument("--limit", type=int, default=None, help="max items per question (default: what NOVA ships)")
    ap.add_argument("--categories", default=None,
                    help="comma-separated categories (default: 1-4 on LoCoMo, all on sets with question_type)")
    ap.add_argument("--fresh", action="store_true", help="wipe NOVA_HOME first (measures a full ingest)")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON, one object per data set")
    ap.add_argument("--dense", choices=("complete", "half", "none"), default="complete",
                    help="with the static tier (the default): recall after the dense pass filled every dense vector"
                         " (what catch-up leaves), half of each agent's, or none")
    args = ap.parse_args()
    sets = args.data or DEV_SETS
    missing = [d for d in sets if not (d / "qa.jsonl").is_file()]
    if missing:
        print(f"error: no qa.jsonl in {', '.join(map(str, missing))}: the dev sets live in shared/data beside the"
              " repo (benchmarks only; the tests own their data), or pass --data DIR", file=sys.stderr)
        return 2

    os.environ.setdefault("NOVA_HOME", "/tmp/nova-bench-recall")
    home = Path(os.environ["NOVA_HOME"])
    if args.fresh and home.exists() and not os.environ.get("NOVA_DATABASE_URL"):
        shutil.rmtree(home)
    from nova.config import load_settings
    from nova.runtime import Runtime

    rt = Runtime(load_settings())
    budget = args.budget or rt.settings.recall_budget_tokens
    limit = args.limit or rt.settings.recall_limit
    categories = {int(c) for c in args.categories.split(",")} if args.categories else None
    try:
        for data in sets:
            print(f"bench: {data} …", file=sys.stderr)
            figures = bench(rt, data, budget, limit, categories, args.dense)
            print(json.dumps(figures)) if args.json else print_figures(figures)
            sys.stdout.flush()
    finally:
        rt.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
