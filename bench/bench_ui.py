#!/usr/bin/env python3
"""Memory browser figures (``nova ui``, issue 20): page load time per page (p50, p95) and page weight
on a large store, as an operator gets them.

1. A synthetic OpenClaw state dir of --entries entries for agent ``main`` (the LoCoMo dev sets'
   transcripts copied under new ids: ``bench_catchup.synthetic_state``), caught up by the CLI as
   shipped (``nova catchup``: to searchable, then the dense pass). ``--store DIR`` reuses a NOVA_HOME
   built by an earlier run (kept with ``--keep``).
2. ``nova ui`` started on it; every page fetched --samples times with a client on loopback (wall time
   from request to the last byte; one unmeasured request per page first): agents, search (the dev
   sets' questions, at the shipped recall defaults), entry (their first sources), timeline (first page,
   a person, a session, the page after), entities (all, by kind, by name), entity (the most and the
   least mentioned), health, audit.
3. ``--curate``: one merge through the page (a POST, as the browser sends it), which rebuilds the
   agent from its entries: its wall time.

Usage: bench/bench_ui.py [--entries 100000] [--samples 20] [--store DIR] [--keep] [--curate] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from bench_catchup import synthetic_state  # noqa: E402
from benchlib import percentile, scratch_dir  # noqa: E402

DEV_SETS = [ROOT.parent / "shared" / "data" / name for name in ("locomo-dev", "locomo-dev2")]


def nova(env: dict, *args: str, timeout: float = 7200) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "nova.cli", *args], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)
    if done.returncode != 0:
        raise SystemExit(f"nova {' '.join(args)} failed: {done.stderr[-2000:]}")
    return done


def start_ui(env: dict, state: Path) -> tuple[subprocess.Popen, str, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "nova.cli", "ui", "--port", str(port), "--openclaw-dir", str(state)],
                            env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    line, deadline = "", time.monotonic() + 300
    while "open http" not in line:
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            raise SystemExit(f"nova ui did not start: {line}")
        line = proc.stdout.readline()
    url = re.search(r"(http://\S+)", line).group(1)
    return proc, url.split("/?token=")[0], url.split("token=")[1]


def measure(client, paths: list[str], samples: int) -> dict:
    """``samples`` timed GETs cycling over ``paths`` after one untimed GET of each."""
    for p in paths:
        r = client.get(p)
        if r.status_code != 200:
            raise SystemExit(f"GET {p}: {r.status_code} {r.text[:300]}")
    times, sizes = [], []
    for k in range(samples):
        started = time.perf_counter()
        r = client.get(paths[k % len(paths)])
        times.append((time.perf_counter() - started) * 1000)
        sizes.append(len(r.content))
    return {"p50_ms": round(percentile(times, 0.5), 1), "p95_ms": round(percentile(times, 0.95), 1),
            "max_ms": round(max(times), 1), "kb_mean": round(sum(sizes) / len(sizes) / 1024, 1),
            "kb_max": round(max(sizes) / 1024, 1), "samples": samples}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--entries", type=int, default=100_000, help="synthetic transcript entries (agent main)")
    ap.add_argument("--samples", type=int, default=20, help="timed requests per page")
    ap.add_argument("--store", type=Path, help="reuse this NOVA_HOME (made by an earlier --keep run)")
    ap.add_argument("--keep", action="store_true", help="keep the NOVA_HOME and say where")
    ap.add_argument("--curate", action="store_true", help="also time one merge (a rebuild of the agent)")
    ap.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    args = ap.parse_args()
    import httpx

    if args.store:
        home = args.store
    else:
        home = Path(os.environ.get("TMPDIR", "/tmp")) / f"nova-bench-ui-{os.getpid()}" if args.keep \
            else scratch_dir("nova-bench-ui-")
        home.mkdir(parents=True, exist_ok=True)
    state = home / "openclaw"
    env = {**os.environ, "NOVA_HOME": str(home)}
    env.pop("NOVA_DATABASE_URL", None)
    figures: dict = {"entries": args.entries}
    if not state.is_dir():
        synthetic_state(state, DEV_SETS, args.entries)
        started = time.perf_counter()
        nova(env, "catchup", "--openclaw-dir", str(state))
        figures["catchup_s"] = round(time.perf_counter() - started, 1)
        print(f"caught up {args.entries} entries in {figures['catchup_s']} s", file=sys.stderr)
    questions = [json.loads(line)["question"] for d in DEV_SETS for line in (d / "qa.jsonl").read_text().splitlines()]
    proc, base, token = start_ui(env, state)
    try:
        client = httpx.Client(base_url=base, cookies={"nova_ui": token}, timeout=600)
        from nova.config import load_settings
        from nova.store.connection import open_store

        os.environ["NOVA_HOME"] = str(home)
        store = open_store(load_settings(), migrate=False)
        with store.connection() as conn:
            counts = conn.execute("SELECT (SELECT count(*) FROM entries), (SELECT count(*) FROM entities),"
                                  " (SELECT count(*) FROM episodes), (SELECT count(*) FROM relationships)").fetchone()
            top, least = conn.execute("SELECT (SELECT id FROM entities WHERE agent_id = 'main' ORDER BY mention_count"
                                      " DESC LIMIT 1), (SELECT id FROM entities WHERE agent_id = 'main' ORDER BY"
                                      " mention_count, id LIMIT 1)").fetchone()
            key = conn.execute("SELECT session_key FROM sessions WHERE agent_id = 'main' LIMIT 1").fetchone()[0]
            kind = conn.execute("SELECT kind FROM entities WHERE agent_id = 'main' GROUP BY 1 ORDER BY count(*) DESC"
                                " LIMIT 1").fetchone()[0]
        figures["store"] = dict(zip(("entries", "entities", "episodes", "relationships"), counts))
        figures["store"]["memories"] = sum(counts[1:])
        a = "/a/main"
        searches = [f"{a}/search?{httpx.QueryParams(q=q)}" for q in questions[: max(args.samples, 20)]]
        first = client.get(searches[0]).text
        entries = sorted(set(re.findall(r'href="(/a/main/entry/[^"]+)"', first)))[:20] or [f"{a}/search"]
        cursor = re.search(r'href="/a/main/timeline\?([^"]+)"', client.get(f"{a}/timeline").text)
        pages = {
            "agents": ["/"],
            "search": searches,
            "entry": entries,
            "timeline": [f"{a}/timeline", f"{a}/timeline?person={top}", f"{a}/timeline?{httpx.QueryParams(session=key)}"]
            + ([f"{a}/timeline?{cursor.group(1).replace('&amp;', '&')}"] if cursor else []),
            "entities": [f"{a}/entities", f"{a}/entities?kind={kind}", f"{a}/entities?name=mel"],
            "entity": [f"{a}/entity/{top}", f"{a}/entity/{least}"],
            "health": [f"{a}/health"],
            "audit": [f"{a}/audit"],
        }
        figures["pages"] = {}
        for name, paths in pages.items():
            figures["pages"][name] = measure(client, paths, args.samples)
            print(f"{name}: {figures['pages'][name]}", file=sys.stderr)
        if args.curate:
            with store.connection() as conn:
                other = conn.execute("SELECT id FROM entities WHERE agent_id = 'main' AND id <> %s ORDER BY"
                                     " mention_count, id LIMIT 1", (top,)).fetchone()[0]
            started = time.perf_counter()
            r = client.post(f"{a}/entity/{top}/merge", data={"token": token, "other": str(other)})
            figures["merge_s"] = round(time.perf_counter() - started, 1)
            figures["merge_status"] = r.status_code
            print(f"merge (rebuild of {counts[0]} entries): {figures['merge_s']} s, HTTP {r.status_code}", file=sys.stderr)
        store.close()
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    if args.keep:
        print(f"kept the store in {home} (--store {home})", file=sys.stderr)
    print(json.dumps(figures) if args.json else "\n".join(
        [f"store: {figures['store']}"] + [f"{n:>9}: p50 {f['p50_ms']} ms, p95 {f['p95_ms']} ms, max {f['max_ms']} ms,"
                                          f" {f['kb_mean']} KB mean ({f['kb_max']} KB max)"
                                          for n, f in figures["pages"].items()]
        + ([f"merge: {figures['merge_s']} s (HTTP {figures['merge_status']})"] if "merge_s" in figures else [])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
