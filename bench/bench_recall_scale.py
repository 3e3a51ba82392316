#!/usr/bin/env python3
"""Recall latency and ingestion cost as the store grows: 10k → 100k → 1M memories.

For each scale the synthetic corpus of ``bench/synth_corpus.py`` is topped up to that many
memories (HNSW indexes rebuilt: build time and database size are reported), then:

- recall latency for the heavy agent ``main`` (80 % of the memories): ``--queries`` questions
  about its people, pets, places and times, query embeddings computed beforehand (the embedding
  cost, ~5-20 ms per sentence on 2 cores, is reported once, separately); p50/p95/p99 in ms;
- before measuring, recall's indexes and tables are prewarmed into the buffer cache as ``nova serve``
  does at start (seconds and MB reported), and recall runs its paths on two connections as the
  service does;
- ingestion cost: a ``--probe-turns`` transcript (120) caught up into agent ``main`` (extraction, entity
  resolution against everything already stored, embeddings), as entries/s.

Uses $NOVA_DATABASE_URL, else $NOVA_HOME with --keep-home, else a scratch embedded PostgreSQL under a
temporary NOVA_HOME. A store that already holds a scale's memories is measured without topping up
(re-measure after a change to recall: ``NOVA_HOME=<that dir> … --keep-home --scales 1000000``).
Prints a table; ``--json`` prints one JSON object. Disk: about 5 GB at 1M memories.

    .venv/bin/python bench/bench_recall_scale.py --scales 10000,100000,1000000
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import synth_corpus as sc  # noqa: E402
from nova.memory.extract import ExtractionInput  # noqa: E402
from nova.store.connection import prewarm_for_recall  # noqa: E402
from benchlib import percentile  # noqa: E402

QUESTIONS = ["Where does {a} live now?", "What is the name of {a}'s {pet}?", "Who works at {org}?",
             "What did I do in {city} last spring?", "When did {a} start learning {hobby}?",
             "Who is {b}'s sister?", "What happened with {org} in March 2025?", "Tell me about {a} and {b}."]
PROBE = ["I had coffee with {a} in {city} and we talked about {org}.", "{a} adopted a {pet} named {pet_name}.",
         "My friend {b} started learning {hobby} last week.", "We are planning a trip to {city} with {a} in June."]


def _probe_state(root: Path, scale: int, rng: random.Random, turns: int) -> Path:
    """A transcript of ``turns`` turns for agent ``main``: new per scale and per ``--seed``, so a re-run ingests it too."""
    sid = f"probe{scale}-{rng.randrange(10**6)}"
    sessions = root / sid / "agents" / "main" / "sessions"
    sessions.mkdir(parents=True)
    t0 = datetime(2026, 1, 1, tzinfo=timezone.utc) + timedelta(days=scale % 97)
    lines = [{"type": "session", "version": 3, "id": sid, "timestamp": t0.isoformat(), "cwd": "/w"}]
    for i in range(turns):
        text = sc._fill(rng.choice(PROBE), rng) if i % 2 == 0 else "Got it, noted."
        lines.append({"type": "message", "id": f"{sid}-{i}", "parentId": None,
                      "timestamp": (t0 + timedelta(minutes=i)).isoformat().replace("+00:00", "Z"),
                      "message": {"role": "user" if i % 2 == 0 else "assistant", "content": [{"type": "text", "text": text}]}})
    (sessions / f"{sid}.jsonl").write_text("".join(json.dumps(l) + "\n" for l in lines))
    (sessions / "sessions.json").write_text(json.dumps({"agent:main:main": {"sessionId": sid}}))
    return sessions.parent.parent.parent


def _memories(conn) -> int:
    return sum(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("episodes", "relationships", "entities"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scales", default="10000,100000,1000000", help="comma-separated memory counts (ascending)")
    ap.add_argument("--queries", type=int, default=300, help="recall queries per scale (default 300)")
    ap.add_argument("--keep-home", action="store_true", help="use $NOVA_HOME as it is (default: a new scratch home)")
    ap.add_argument("--seed", type=int, default=11, help="seed of the questions (another seed: queries the cache has not seen)")
    ap.add_argument("--probe-turns", type=int, default=120,
                    help="turns of the transcript caught up at each scale to measure ingestion (default 120)")
    ap.add_argument("--pending", type=float, default=0.0,
                    help="with the static tier: share of the newest memories still waiting for their dense vector"
                         " (recall then runs the static path too); default 0: a complete store")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    scales = [int(s) for s in args.scales.split(",")]
    if not os.environ.get("NOVA_DATABASE_URL") and not args.keep_home:
        os.environ["NOVA_HOME"] = tempfile.mkdtemp(prefix="nova-scale-")
    print(f"store: {os.environ.get('NOVA_DATABASE_URL') or os.environ.get('NOVA_HOME')}", file=sys.stderr)
    from nova.ingest.catchup import run_catchup
    from nova.config import load_settings
    from nova.recall.search import recall
    from nova.runtime import Runtime

    rt = Runtime(load_settings())
    rng = random.Random(args.seed)
    scratch = Path(tempfile.mkdtemp(prefix="nova-scale-probe-"))
    results = []
    try:
        with rt.store.connection() as conn:
            have = _memories(conn)
        embedder = rt.embedder
        questions = [sc._fill(rng.choice(QUESTIONS), rng) for _ in range(args.queries)]
        t = time.perf_counter()
        vectors = embedder.encode(questions)
        embed_ms = (time.perf_counter() - t) * 1000 / len(questions)
        projector = rt.projector
        # Load spaCy and the embedder now: the first scale's catch-up would otherwise pay for it.
        projector.extractor.extract_batch([ExtractionInput("Dana adopted a cat.", "user", "assistant", None)])
        projector.embedder.encode(["warm up"])
        for scale in scales:
            built = {"index_build_s": None, "load_s": None}
            if scale > have * 1.01:
                built = sc.generate(rt.store, embedder, rt.settings.embedding_model, scale - have, seed=scale,
                                    progress=lambda m: print(m, file=sys.stderr), pending=args.pending)
            with rt.store.connection() as conn, rt.store.spare_connection() as side:
                have = _memories(conn)
                size_mb = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0] / 2**20
                t = time.perf_counter()
                warmed = prewarm_for_recall(conn)   # what `nova serve` does at start
                prewarm_s = time.perf_counter() - t
                shared_buffers = conn.execute("SHOW shared_buffers").fetchone()[0]
                now = datetime(2026, 1, 1, tzinfo=timezone.utc)
                for q, v in list(zip(questions, vectors))[:20]:   # warm the caches
                    recall(conn, embedder, "main", q, query_vector=v, now=now, side_conn=side)
                lat = []
                for q, v in zip(questions, vectors):
                    t = time.perf_counter()
                    recall(conn, embedder, "main", q, query_vector=v, now=now, side_conn=side)
                    lat.append((time.perf_counter() - t) * 1000)
            report = run_catchup(rt.store, rt.settings, projector, _probe_state(scratch, scale, rng, args.probe_turns))
            results.append({
                "memories": have, "index_build_s": built["index_build_s"], "load_s": built["load_s"],
                "disk_mb": round(size_mb, 1),
                "prewarm": {"seconds": round(prewarm_s, 1), "mb": sum(b for _, b in warmed) // 2**20,
                            "shared_buffers": shared_buffers, "parallel_paths": side is not None},
                "recall_ms": {"p50": round(percentile(lat, 0.5), 1), "p95": round(percentile(lat, 0.95), 1),
                              "p99": round(percentile(lat, 0.99), 1), "max": round(max(lat), 1),
                              "mean": round(statistics.mean(lat), 1)},
                "ingest": {"entries": report.entries_new, "seconds": round(report.seconds, 2),
                           "entries_per_s": round(report.entries_new / report.seconds, 1) if report.seconds else None},
            })
            print(json.dumps(results[-1]), file=sys.stderr)
    finally:
        rt.close()
    out = {"query_embedding_ms": round(embed_ms, 1), "queries": len(questions), "scales": results}
    if args.json:
        print(json.dumps(out))
        return
    print(f"{len(questions)} queries per scale; query embedding {embed_ms:.1f} ms each (not included below)")
    print(f"{'memories':>10} {'p50':>7} {'p95':>7} {'p99':>7} {'max':>7}  {'index build':>11} {'disk':>9}"
          f"  {'prewarm':>16}  ingest")
    for r in results:
        l, i, w = r["recall_ms"], r["ingest"], r["prewarm"]
        print(f"{r['memories']:>10} {l['p50']:>7} {l['p95']:>7} {l['p99']:>7} {l['max']:>7}  {str(r['index_build_s']):>9} s"
              f" {r['disk_mb']:>6.0f} MB  {w['mb']:>5} MB in {w['seconds']:>4} s"
              f"  {i['entries']} entries in {i['seconds']} s ({i['entries_per_s']}/s)")


if __name__ == "__main__":
    main()
