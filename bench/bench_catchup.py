#!/usr/bin/env python3
"""Catch-up figures: throughput to searchable, the dense pass, no-op cost over many files, watcher
latency and idle CPU.

1. Throughput, per state dir (default: both LoCoMo dev sets; models loaded beforehand, load time
   reported apart), with the tiers NOVA ships (``embedding_tiers`` static+dense):
   - catch-up to searchable: entries/s until the last projection committed (every memory then has
     its static vector: full text, graph, time and static-vector recall find it);
   - the dense pass after it (``nova.memory.dense_fill``): texts/s, and as a ratio to the dense
     model's own batched texts/s measured in the same run on the same texts;
   - the same catch-up with the dense model alone (``--compare-dense``, the default; its own
     embedded PostgreSQL), for the speed-up.
   Extraction workers as shipped (``extraction_workers``, default one per core but one); the figures
   name how many were forked and how many entries they parsed.
   ``--synthetic N``: also an OpenClaw state dir of N entries (the dev sets' sessions copied under
   new session ids into agent ``main``), whole backfill wall time: to searchable, then dense.
2. No-op: a second catch-up over --files synthetic transcript files that are all read already
   (in-process time, and the whole `nova catchup --cron` command).
3. Watcher: --samples appends to a live transcript while `watch_state_dir` runs; latency from
   the write to the entry being a queryable memory (its episode key written), p50/p95/max.
4. Idle CPU of the watcher over 10 s without events.

Targets (issue 18, this 2-core machine): >= 150 entries/s to searchable, dense pass >= 0.8 x the dense
model's batched texts/s; (issue 4) no-op <= 1 s, watcher p95 <= 2 s.

Usage: bench/bench_catchup.py [--data DIR]... [--synthetic N] [--no-compare-dense] [--files 1000]
       [--samples 40] [--json]
Scratch data goes under a temporary NOVA_HOME that is removed afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from benchlib import percentile, scratch_dir  # noqa: E402  (bench/ is on the path when run as a script)


def write_files(state: Path, n: int) -> None:
    from conftest import write_transcript

    sessions = state / "agents" / "main" / "sessions"
    for i in range(n):
        write_transcript(sessions / f"f{i:05d}.jsonl", f"f{i:05d}",
                         [("user", f"Note {i}: the blue folder is in drawer {i % 7}.")], id_prefix=f"f{i}-")


def throughput(rt, projector, data: Path, dense_rt) -> dict:
    """Catch-up of ``data`` to searchable, the dense pass after it, the dense model's own batched rate on
    the same texts, and (``dense_rt``) the same catch-up with the dense model alone."""
    from nova.ingest.catchup import run_catchup
    from nova.memory.dense_fill import _pending

    report = run_catchup(rt.store, rt.settings, projector, data)
    with rt.store.connection() as conn:
        texts = [r[3] for r in _pending(conn, "embedding", None, 1_000_000)]
    started = time.perf_counter()
    fill = rt.fill_dense()
    fill_s = time.perf_counter() - started
    sample = texts[:2000]
    started = time.perf_counter()
    rt.embedder.encode(sample)  # the dense model alone, batched, on texts the pass encoded
    model_rate = len(sample) / (time.perf_counter() - started)
    out = {"entries": report.entries_new, "searchable_s": round(report.seconds, 2),
           "searchable_entries_per_s": round(report.entries_new / report.seconds, 1),
           "extraction_workers": report.extraction_workers, "extracted_by_workers": report.extracted_ahead,
           "dense_texts": fill.dense if fill else 0, "dense_s": round(fill_s, 2),
           "dense_texts_per_s": round((fill.dense if fill else 0) / fill_s, 1) if fill_s else None,
           "dense_model_texts_per_s": round(model_rate, 1),
           "dense_pass_vs_model": round((fill.dense if fill else 0) / fill_s / model_rate, 2) if fill_s else None,
           "complete_s": round(report.seconds + fill_s, 2)}
    if dense_rt is not None:
        dense_projector = dense_rt.projector
        dense_projector.extractor.extract_batch([])
        dense_rt.embedder.encode(["warm up"])
        alone = run_catchup(dense_rt.store, dense_rt.settings, dense_projector, data)
        out["dense_only_s"] = round(alone.seconds, 2)
        out["dense_only_entries_per_s"] = round(alone.entries_new / alone.seconds, 1)
        out["searchable_speedup"] = round(alone.seconds / report.seconds, 2)
    print(f"{data.name}: {out}", file=sys.stderr)
    return out


def synthetic_state(dest: Path, sources: list[Path], entries: int) -> Path:
    """An OpenClaw state dir of about ``entries`` entries for agent ``main``: the transcripts of
    ``sources`` copied again and again under new session and entry ids (their own session keys are
    unknown there, so catch-up files them under the main session)."""
    files = sorted(f for src in sources for f in (src / "agents").glob("*/sessions/*.jsonl*"))
    sessions = dest / "agents" / "main" / "sessions"
    sessions.mkdir(parents=True)
    written, copy = 0, 0
    while written < entries:
        for f in files:
            lines = [json.loads(line) for line in f.read_text().splitlines() if line.strip()]
            out = []
            for obj in lines:
                if obj.get("type") == "session":
                    obj["id"] = f"synth{copy:04d}-{obj['id']}"
                elif "id" in obj:
                    obj["id"] = f"c{copy}-{obj['id']}"
                    if obj.get("parentId"):
                        obj["parentId"] = f"c{copy}-{obj['parentId']}"
                    written += obj.get("type") == "message"
                out.append(json.dumps(obj))
            (sessions / f"synth{copy:04d}-{f.name.split('.jsonl')[0]}.jsonl").write_text("\n".join(out) + "\n")
            if written >= entries:
                break
        copy += 1
    return dest


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, action="append",
                    help="OpenClaw state dir to catch up (repeatable; default: locomo-dev and locomo-dev2)")
    ap.add_argument("--synthetic", type=int, default=0, help="also a synthetic state dir of this many entries")
    ap.add_argument("--no-compare-dense", dest="compare_dense", action="store_false",
                    help="skip the dense-model-only catch-up")
    ap.add_argument("--files", type=int, default=1000, help="transcript files for the no-op figure")
    ap.add_argument("--samples", type=int, default=40, help="appends for the watcher latency")
    ap.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    args = ap.parse_args()
    args.data = args.data or [ROOT.parent / "shared" / "data" / d for d in ("locomo-dev", "locomo-dev2")]
    for data in args.data:
        if not (data / "agents").is_dir():
            print(f"error: no OpenClaw state dir at {data}; pass --data", file=sys.stderr)
            return 2

    scratch = scratch_dir("nova-bench-catchup-")
    os.environ["NOVA_HOME"] = str(scratch / "home")
    os.environ.pop("NOVA_DATABASE_URL", None)
    from nova.ingest.catchup import run_catchup
    from nova.config import load_settings
    from nova.runtime import Runtime
    from nova.ingest.watch import watch_state_dir

    figures: dict = {}
    rt = Runtime(load_settings())
    dense_rt = Runtime(load_settings(home=scratch / "home-dense", embedding_tiers="dense")) if args.compare_dense else None
    try:
        t0 = time.perf_counter()
        projector = rt.projector
        projector.extractor.extract_batch([])  # spaCy loads lazily too
        rt.embedder.encode(["warm up"])
        rt.embedder.static.encode(["warm up"])
        figures["model_load_s"] = round(time.perf_counter() - t0, 2)
        figures["tiers"] = rt.settings.embedding_tiers
        figures["throughput"] = {}
        sources = {d.name: d for d in args.data}
        if args.synthetic:
            sources[f"synthetic-{args.synthetic}"] = synthetic_state(scratch / "synthetic", args.data, args.synthetic)
        for name, data in sources.items():
            figures["throughput"][name] = throughput(rt, projector, data, dense_rt)

        state = scratch / "state"
        write_files(state, args.files)
        run_catchup(rt.store, rt.settings, projector, state)
        rt.fill_dense()  # as `nova catchup` leaves it: the no-op command then has no dense vectors to fill
        noop = run_catchup(rt.store, rt.settings, projector, state)
        env = dict(os.environ)
        started = time.perf_counter()
        cli = subprocess.run([str(ROOT / ".venv" / "bin" / "nova"), "catchup", "--cron", "--openclaw-dir", str(state)],
                             env=env, capture_output=True, text=True)
        figures["noop"] = {
            "files": noop.files_seen, "in_process_s": round(noop.seconds, 3),
            "command_s": round(time.perf_counter() - started, 2), "command_exit": cli.returncode,
        }

        stop = threading.Event()
        live = state / "agents" / "main" / "sessions" / "live.jsonl"
        from conftest import write_transcript

        write_transcript(live, "live", [("user", "Starting the live session.")], id_prefix="l0-")
        watcher = threading.Thread(target=watch_state_dir, daemon=True, kwargs=dict(
            settings=rt.settings, store=rt.store, projector=projector, state_dir=state, stop=stop))
        watcher.start()
        time.sleep(3)
        latencies = []
        with rt.store.connection() as conn:
            for i in range(args.samples):
                eid = f"w{i}"
                line = json.dumps({"type": "message", "id": eid, "parentId": None, "timestamp": "2026-11-23T10:00:00Z",
                                   "message": {"role": "user", "content": [{"type": "text", "text":
                                               f"Reminder {i}: Maya's recital is on Friday at {i % 12 + 1} pm."}]}})
                t_write = time.perf_counter()
                with live.open("a") as fh:
                    fh.write(line + "\n")
                while True:
                    got = conn.execute("SELECT 1 FROM episode_keys WHERE agent_id = 'main' AND entry_id = %s",
                                       (eid,)).fetchone()
                    conn.commit()
                    if got:
                        break
                    if time.perf_counter() - t_write > 30:
                        raise SystemExit(f"watcher did not ingest {eid} within 30 s")
                    time.sleep(0.01)
                latencies.append(time.perf_counter() - t_write)
                time.sleep(0.3)
        figures["watcher_latency_s"] = {
            "samples": len(latencies), "p50": round(percentile(latencies, 0.5), 3), "p95": round(percentile(latencies, 0.95), 3),
            "max": round(max(latencies), 3), "mean": round(statistics.mean(latencies), 3),
        }
        cpu0, wall0 = time.process_time(), time.perf_counter()
        time.sleep(10)
        figures["watcher_idle_cpu_percent"] = round(100 * (time.process_time() - cpu0) / (time.perf_counter() - wall0), 2)
        stop.set()
        watcher.join(30)
    finally:
        rt.close()
        if dense_rt is not None:
            dense_rt.close()

    rates = [t["searchable_entries_per_s"] for t in figures["throughput"].values()]
    figures["targets_met"] = {
        "searchable>=150/s": min(rates) >= 150,
        "dense_pass>=0.8x": min(t["dense_pass_vs_model"] for t in figures["throughput"].values()) >= 0.8,
        "noop<=1s": figures["noop"]["in_process_s"] <= 1.0,
        "watcher_p95<=2s": figures["watcher_latency_s"]["p95"] <= 2.0,
    }
    if args.json:
        print(json.dumps(figures))
    else:
        for key, value in figures.items():
            print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
