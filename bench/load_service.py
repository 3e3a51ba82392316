#!/usr/bin/env python3
"""Load test of ``nova serve`` on its Unix socket: several client processes, a fixed request rate.

Starts a service on NOVA_DATABASE_URL (or the embedded default), catches up the given OpenClaw
state dir first so recall has memories, then sends a mix of bootstrap, message and recall
requests (each client process its own sessions) at ``--rate`` requests/s for ``--seconds``.
Prints throughput, p50/p95/p99 latency per kind, errors, and the service's RSS over time; with
``--json`` the same as one JSON object. Exit 1 when any request failed.

    .venv/bin/python bench/load_service.py --state ../shared/data/locomo-dev --rate 50 --seconds 60
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

from benchlib import percentile  # noqa: E402  (bench/ is on the path when run as a script)

PHRASES = ["I finally finished the painting of the lake.", "My sister's beagle learned a new trick.",
           "We booked the trip to Lisbon for June.", "The pottery class moved to Thursdays.",
           "I'm thinking about adopting a second cat.", "Work has been hectic with the product launch."]
QUERIES = ["What did I paint recently?", "Where are we travelling in June?", "Tell me about my sister's dog.",
           "When is pottery class?", "What pets do I have?"]


class _Unix(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float):
        super().__init__("nova", timeout=timeout)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


def request(worker: int, n: int, key: str, rng: random.Random) -> tuple[str, str, dict]:
    """The ``n``-th request of a client: ``(kind, route, body)``, bootstrap, message and recall in turn."""
    kind = ("bootstrap", "message", "recall")[n % 3]
    if kind == "bootstrap":
        return kind, "/v1/bootstrap", {"sessionKey": key, "sessionId": f"load-{worker}"}
    if kind == "message":
        return kind, "/v1/messages", {"sessionKey": key, "messageId": f"load-{worker}-{n}",
                                      "content": f"{rng.choice(PHRASES)} ({worker}.{n})"}
    return kind, "/v1/recall", {"sessionKey": key, "query": rng.choice(QUERIES)}


def post(sock: str, route: str, body: dict) -> tuple[int, str | None]:
    """POST ``body`` as JSON to ``route`` of the service on ``sock``: ``(HTTP status, error)``, status 0 on error."""
    try:
        conn = _Unix(sock, timeout=10)
        conn.request("POST", route, json.dumps(body), {"content-type": "application/json"})
        resp = conn.getresponse()
        resp.read()
        conn.close()
        return resp.status, None
    except OSError as err:
        return 0, str(err)


def _client(sock: str, agent: str, worker: int, rate: float, seconds: float, start_at: float, out) -> None:
    rng = random.Random(worker)
    key = f"agent:{agent}:telegram:direct:load{worker}"
    results = []
    n = 0
    while True:
        due = start_at + n / rate
        if due - start_at >= seconds:
            break
        delay = due - time.time()
        if delay > 0:
            time.sleep(delay)
        kind, route, body = request(worker, n, key, rng)
        t0 = time.perf_counter()
        status, error = post(sock, route, body)
        results.append((kind, (time.perf_counter() - t0) * 1000, status, error))
        n += 1
    out.put(results)


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def run(state: Path, rate: float, seconds: float, clients: int, home: Path, env: dict) -> dict:
    from nova.serve.client import get_json

    sock = home / "nova.sock"
    env = dict(env, NOVA_HOME=str(home), OPENCLAW_STATE_DIR=str(state))
    subprocess.run([sys.executable, "-m", "nova.cli", "catchup", "--cron"], env=env, cwd=ROOT, check=False,
                   stdout=subprocess.DEVNULL)
    agent = sorted(p.name for p in (state / "agents").iterdir() if p.is_dir())[0]
    svc = subprocess.Popen([sys.executable, "-m", "nova.cli", "serve"], env=env, cwd=ROOT,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 180
        while get_json(sock, "/v1/health", timeout=2) is None:
            if svc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"nova serve did not start: {svc.stderr.read()[-2000:]}")
            time.sleep(0.3)
        out = mp.Queue()
        start_at = time.time() + 1.0
        procs = [mp.Process(target=_client, args=(str(sock), agent, w, rate / clients, seconds, start_at, out))
                 for w in range(clients)]
        for p in procs:
            p.start()
        rss = []
        while time.time() < start_at + seconds:
            rss.append((round(time.time() - start_at, 1), round(_rss_mb(svc.pid), 1)))
            time.sleep(1.0)
        results = [r for _ in procs for r in out.get(timeout=120)]
        for p in procs:
            p.join(30)
        health = get_json(sock, "/v1/health", timeout=10) or {}
        drained_at = time.monotonic()
        while (health.get("queued") or 0) > 0 and time.monotonic() - drained_at < 120:
            time.sleep(0.5)
            health = get_json(sock, "/v1/health", timeout=10) or {}
        rss.append(("drained", round(_rss_mb(svc.pid), 1)))
    finally:
        svc.send_signal(signal.SIGTERM)
        svc.wait(60)
    errors = [r for r in results if r[3] or not 200 <= r[2] < 300]
    by_kind = {}
    for kind in ("bootstrap", "message", "recall"):
        lat = [r[1] for r in results if r[0] == kind]
        by_kind[kind] = {"n": len(lat), "p50_ms": round(percentile(lat, 0.5), 1), "p95_ms": round(percentile(lat, 0.95), 1),
                         "p99_ms": round(percentile(lat, 0.99), 1), "max_ms": round(max(lat, default=0), 1)}
    samples = [m for t, m in rss if t != "drained"]
    warm = samples[len(samples) // 2:] or samples   # the first half loads models, pools and caches
    return {
        "rate_target": rate, "seconds": seconds, "clients": clients, "requests": len(results),
        "throughput_rps": round(len(results) / seconds, 1), "errors": len(errors),
        "error_examples": [f"{k} {s} {e}" for k, _, s, e in errors[:5]], "latency": by_kind,
        "rss_mb": {"start": samples[0] if samples else 0, "half_time": warm[0] if warm else 0,
                   "end": samples[-1] if samples else 0, "max": max(samples, default=0), "drained": rss[-1][1]},
        "rss_growth_second_half_mb": round((samples[-1] - warm[0]) if warm else 0, 1),
        "extraction": {"projected": health.get("projected"), "failed": health.get("failed"), "queued": health.get("queued")},
        "rss_series": rss,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--state", type=Path, default=ROOT / "examples" / "openclaw-state",
                    help="OpenClaw state dir to catch up first (default: the bundled example)")
    ap.add_argument("--rate", type=float, default=50, help="requests per second in all (default 50)")
    ap.add_argument("--seconds", type=float, default=60, help="how long to send (default 60)")
    ap.add_argument("--clients", type=int, default=4, help="client processes (default 4)")
    ap.add_argument("--home", type=Path, default=None, help="NOVA_HOME for the service (default: a temp dir)")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args()
    home = args.home or Path(tempfile.mkdtemp(prefix="nova-load-"))
    report = run(args.state.resolve(), args.rate, args.seconds, args.clients, home, dict(os.environ))
    if args.json:
        print(json.dumps(report))
    else:
        print(f"{report['requests']} requests in {args.seconds:.0f} s from {args.clients} processes:"
              f" {report['throughput_rps']} req/s (target {args.rate}), errors {report['errors']}")
        for kind, s in report["latency"].items():
            print(f"  {kind:9} n={s['n']:5}  p50 {s['p50_ms']:7.1f}  p95 {s['p95_ms']:7.1f}  p99 {s['p99_ms']:7.1f}"
                  f"  max {s['max_ms']:7.1f} ms")
        r = report["rss_mb"]
        print(f"  service RSS MB: start {r['start']}, at half time {r['half_time']}, end {r['end']},"
              f" max {r['max']}, after draining {r['drained']} (growth over the second half {report['rss_growth_second_half_mb']})")
        print(f"  extraction: {report['extraction']}")
    sys.exit(1 if report["errors"] else 0)


if __name__ == "__main__":
    main()
