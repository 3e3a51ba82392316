#!/usr/bin/env python3
"""Benchmark the hook round trip: Node (NOVA's real handlers) → nova serve → back, at 10k and 100k memories.

For each scale: fills a fresh embedded store with a synthetic corpus (bench/synth_corpus.py,
grown in place from one scale to the next), starts ``nova serve`` on a Unix socket, and runs
bench/bench_hooks.mjs with the Node from the e2e cache (scripts/openclaw-e2e-setup.sh).
Prints p50/p95/p99 (ms) for the bootstrap path (session-init), per-turn recall (the plugin's
before_prompt_build, computed and precomputed), message ingestion (memory-extract), sustained
messages/s accepted, how fast the worker extracts them, and the service's RSS.

Targets (2 cores): bootstrap and per-turn recall p95 ≤ 50 ms at 100k, ingestion ≥ 50 msg/s, RSS ≤ 1 GiB.
Usage: bench/bench_hooks.py [--scales 10000,100000] [--requests 200] [--ingest-seconds 20] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

QUERIES = ["Who moved to {city}?", "What does {first} do at {org}?", "Which pet did {first} adopt?",
           "When did {first} start learning {hobby}?", "Who is {first}'s sister?", "Where does {first} {last} live?",
           "What happened at {org} last week?", "Tell me about the trip to {city}.", "Is {org} hiring?"]


def _queries(n: int, seed: int = 3) -> list[str]:
    from synth_corpus import CITIES, FIRST, HOBBIES, LAST, ORGS

    rng = random.Random(seed)
    return [rng.choice(QUERIES).format(city=rng.choice(CITIES), first=rng.choice(FIRST), last=rng.choice(LAST),
                                       org=rng.choice(ORGS), hobby=rng.choice(HOBBIES)) for _ in range(n)]


class RssSampler(threading.Thread):
    """Samples a process's resident set size (VmRSS) every half second."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.samples, self.stop = pid, [], threading.Event()

    def run(self):
        while not self.stop.wait(0.5):
            try:
                for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        self.samples.append(int(line.split()[1]) / 1024)
            except OSError:
                return


def _wait_health(sock: Path, proc: subprocess.Popen, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"nova serve exited: {proc.stdout.read()}")
        if sock.exists() and _get(sock, "/v1/health") is not None:
            return
        time.sleep(0.5)
    raise SystemExit("nova serve did not start")


def _get(sock: Path, route: str) -> dict | None:
    from nova.serve.client import get_json

    return get_json(sock, route)


def bench_scale(home: Path, state: Path, node: Path, args, queries: list[str]) -> dict:
    env = dict(os.environ, NOVA_HOME=str(home), OPENCLAW_STATE_DIR=str(state), NOVA_SOCKET=str(home / "nova.sock"),
               NOVA_BOOTSTRAP_BUDGET_MS="5000", NOVA_RECALL_BUDGET_MS="5000", NOVA_MESSAGE_BUDGET_MS="10000")
    env.pop("NOVA_DATABASE_URL", None)
    proc = subprocess.Popen([sys.executable, "-m", "nova.cli", "serve"], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    sock = home / "nova.sock"
    try:
        _wait_health(sock, proc)
        rss = RssSampler(proc.pid)
        rss.start()
        projected0 = _get(sock, "/v1/health")["projected"]
        opts = {"requests": args.requests, "ingestSeconds": args.ingest_seconds, "concurrency": 8, "queries": queries,
                "runId": f"{os.getpid()}-{time.time_ns()}"}
        run = subprocess.run([str(node), str(ROOT / "bench" / "bench_hooks.mjs"), str(ROOT), json.dumps(opts)],
                             env=env, capture_output=True, text=True, timeout=3600)
        if run.returncode != 0:
            raise SystemExit(f"bench_hooks.mjs failed: {run.stderr[-2000:]}")
        result = json.loads(run.stdout.strip().splitlines()[-1])
        # How fast the worker turns the queued messages into memories (extraction + embeddings).
        t0, h = time.monotonic(), _get(sock, "/v1/health")
        start_projected = h["projected"]
        while h["queued"] > 0 and time.monotonic() - t0 < 1800:
            time.sleep(1)
            h = _get(sock, "/v1/health")
        drain_s = time.monotonic() - t0
        total = h["projected"] - projected0
        result["extraction"] = {"projected": total, "failed": h["failed"],
                                "drain_s_after_load": round(drain_s, 1),
                                "backlog_at_end_of_load": h["projected"] - start_projected + h["queued"]}
        rss.stop.set()
        rss.join()
        result["rss_mb"] = {"max": round(max(rss.samples), 1), "end": round(rss.samples[-1], 1)}
        return result
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scales", default="10000,100000", help="memory counts, ascending (default 10000,100000)")
    ap.add_argument("--requests", type=int, default=200, help="requests per path and scale (default 200)")
    ap.add_argument("--ingest-seconds", type=int, default=20, help="length of the sustained-ingestion run")
    ap.add_argument("--keep", type=Path, default=None, help="keep the benchmark store in this dir")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args()
    scales = sorted(int(s) for s in args.scales.split(","))

    setup = subprocess.run(["bash", str(ROOT / "scripts" / "openclaw-e2e-setup.sh")], capture_output=True, text=True)
    if setup.returncode != 0:
        raise SystemExit(setup.stderr)
    node = Path(setup.stdout.strip().splitlines()[-1]) / "node_modules" / ".bin" / "node"

    work = args.keep or Path(tempfile.mkdtemp(prefix="nova-bench-hooks-"))
    home, state = work / "home", work / "state"
    shutil.copytree(ROOT / "examples" / "openclaw-state", state, dirs_exist_ok=True)
    os.environ["NOVA_HOME"] = str(home)
    os.environ.pop("NOVA_DATABASE_URL", None)
    from synth_corpus import generate

    from nova.config import load_settings
    from nova.runtime import Runtime

    queries = _queries(500)
    report, have = {}, 0
    for scale in scales:
        rt = Runtime(load_settings())
        corpus = generate(rt.store, rt.embedder, rt.settings.embedding_model, scale - have, seed=scale,
                          progress=lambda m: print(m, file=sys.stderr))
        rt.close()
        have = scale
        print(f"corpus at {scale}: {corpus}", file=sys.stderr)
        result = bench_scale(home, state, node, args, queries)
        result["corpus"] = corpus
        report[str(scale)] = result
        if not args.json:
            _print(scale, result)
    if args.json:
        print(json.dumps(report, indent=2))
    if args.keep is None:
        shutil.rmtree(work, ignore_errors=True)


def _print(scale: int, r: dict) -> None:
    print(f"\n== {scale:,} memories (index build {r['corpus']['index_build_s']} s, disk {r['corpus']['disk_mb']} MB)")
    for path, label in (("bootstrap", "bootstrap (session-init)"), ("recall", "per-turn recall (plugin)"),
                        ("precompute", "precompute (semantic-recall)"), ("recallCacheHit", "per-turn recall, precomputed"),
                        ("message", "message ingestion (memory-extract)")):
        s = r[path]
        print(f"  {label:<36} p50 {s['p50']:>7.1f}  p95 {s['p95']:>7.1f}  p99 {s['p99']:>7.1f} ms"
              f"  (n={s['n']}, failed {s['failed']})")
    s, e = r["sustained"], r["extraction"]
    print(f"  sustained ingestion: {s['acceptedPerS']} msg/s accepted over {s['seconds']} s ({s['errors']} errors);"
          f" extraction backlog drained {e['drain_s_after_load']} s after the load ({e['projected']} projected,"
          f" {e['failed']} failed)")
    print(f"  service RSS: max {r['rss_mb']['max']} MB, at end {r['rss_mb']['end']} MB")


if __name__ == "__main__":
    main()
