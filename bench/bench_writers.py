#!/usr/bin/env python3
"""The service under load while nova reextract and nova forget run on the same agent.

Fills a fresh store with ``--memories`` synthetic memories (bench/synth_corpus.py; 80 % of
them agent ``main``'s, each episode with its entry in the log), moves every 20th entry of
``main`` to a second session key, starts ``nova serve`` and sends bootstrap, message and recall
requests at ``--rate`` (bench/load_service.py's clients) through three phases: idle,
``nova reextract --agent main`` and ``nova forget --agent main --session-key <that key>``
(which rebuilds the other 95 %). Prints p50/p95/p99 and errors per endpoint and phase, and how
long each command took. Uses NOVA_DATABASE_URL's server when set (a new database on it), else
an embedded one in a temp NOVA_HOME.

    .venv/bin/python bench/bench_writers.py --memories 10000
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchlib import percentile  # noqa: E402
from load_service import post, request  # noqa: E402

FORGET_KEY = "agent:main:telegram:direct:bench"


def _client(sock: str, worker: int, rate: float, stop: str, log: str) -> None:
    """Bootstrap, message and recall in turn at ``rate``/s until the file ``stop`` exists; one line per request."""
    import random

    rng, key, n, t_start = random.Random(worker), f"agent:main:telegram:direct:load{worker}", 0, time.time()
    with open(log, "w") as out:
        while not os.path.exists(stop):
            delay = t_start + n / rate - time.time()
            if delay > 0:
                time.sleep(delay)
            kind, route, body = request(worker, n, key, rng)
            t0 = time.time()
            status, _error = post(sock, route, body)
            out.write(json.dumps([kind, t0, (time.time() - t0) * 1000, status]) + "\n")
            out.flush()
            n += 1


def _database(env: dict) -> str | None:
    base = env.get("NOVA_DATABASE_URL")
    if not base:
        return None
    import psycopg

    name = "bench_" + uuid.uuid4().hex[:10]
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return psycopg.conninfo.make_conninfo(base, dbname=name)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--memories", type=int, default=10_000, help="synthetic memories (default 10000)")
    ap.add_argument("--rate", type=float, default=20, help="requests per second in all (default 20)")
    ap.add_argument("--idle", type=float, default=30, help="seconds of load before the first command (default 30)")
    ap.add_argument("--clients", type=int, default=2, help="client processes (default 2)")
    args = ap.parse_args()
    home = Path(tempfile.mkdtemp(prefix="nova-writers-"))
    env = dict(os.environ, NOVA_HOME=str(home))
    dsn = _database(env)
    if dsn:
        env["NOVA_DATABASE_URL"] = dsn
    subprocess.run([sys.executable, str(ROOT / "bench/synth_corpus.py"), "--memories", str(args.memories)],
                   env=env, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    moved = subprocess.run([sys.executable, "-c", (
        "from nova.config import load_settings; from nova.store.connection import open_store\n"
        "with open_store(load_settings()) as s, s.connection() as c:\n"
        f"    n = c.execute(\"UPDATE entries SET session_key = '{FORGET_KEY}' WHERE agent_id = 'main'"
        " AND seq % 20 = 0\").rowcount\n"
        "    print(n, c.execute(\"SELECT count(*) FROM entries WHERE agent_id = 'main'\").fetchone()[0])")],
        env=env, cwd=ROOT, check=True, capture_output=True, text=True).stdout.split()
    print(f"{args.memories} memories; agent main: {moved[1]} entries, {moved[0]} of them under {FORGET_KEY}")

    from nova.serve.client import get_json

    sock = home / "nova.sock"
    svc = subprocess.Popen([sys.executable, "-m", "nova.cli", "serve"], env=env, cwd=ROOT,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    phases: list[tuple[str, float, float]] = []
    try:
        deadline = time.monotonic() + 180
        while get_json(sock, "/v1/health", timeout=2) is None:
            if svc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("nova serve did not start")
            time.sleep(0.3)
        stop = home / "stop"
        logs = [home / f"client{w}.jsonl" for w in range(args.clients)]
        procs = [mp.Process(target=_client, args=(str(sock), w, args.rate / args.clients, str(stop), str(logs[w])))
                 for w in range(args.clients)]
        t_idle = time.time()
        for p in procs:
            p.start()
        time.sleep(args.idle)
        phases.append(("idle", t_idle, time.time()))
        for name, cmd in (("reextract", ["reextract", "--agent", "main"]),
                          ("forget", ["forget", "--agent", "main", "--session-key", FORGET_KEY, "--yes"])):
            t0 = time.time()
            done = subprocess.run([sys.executable, "-m", "nova.cli", *cmd], env=env, cwd=ROOT, capture_output=True,
                                  text=True)
            phases.append((name, t0, time.time()))
            last = (done.stdout.strip().splitlines() or [done.stderr[-300:]])[-1]
            print(f"nova {' '.join(cmd)}: exit {done.returncode} in {time.time() - t0:.1f} s; {last}")
        stop.touch()
        for p in procs:
            p.join(30)
    finally:
        svc.send_signal(signal.SIGTERM)
        svc.wait(60)
    rows = [json.loads(line) for f in logs for line in f.read_text().splitlines()]
    print(f"{len(rows)} requests at {args.rate}/s from {args.clients} processes; ms p50 / p95 / p99, errors (non-2xx):")
    for name, lo, hi in phases:
        print(f"  during {name} ({hi - lo:.0f} s):")
        for kind in ("bootstrap", "message", "recall"):
            part = [r for r in rows if r[0] == kind and lo <= r[1] < hi]
            lat = [r[2] for r in part]
            errors = sum(1 for r in part if not 200 <= r[3] < 300)
            print(f"    {kind:9} n={len(lat):5}  {percentile(lat, 0.5):7.1f} / {percentile(lat, 0.95):7.1f} /"
                  f" {percentile(lat, 0.99):7.1f}   errors {errors}")


if __name__ == "__main__":
    main()
