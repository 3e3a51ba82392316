#!/usr/bin/env python3
"""Turn latency through a real OpenClaw gateway with NOVA on, off, and with nova serve down.

Starts ``openclaw gateway run`` (npm openclaw@2026.9.6, from scripts/openclaw-e2e-setup.sh) on a
loopback port with a stub OpenAI-compatible model that answers at once (tests/e2e/gateway.py), and
sends real turns (``chat.send`` + ``agent.wait``) to the main session, in three conditions:

- ``off``:  NOVA's hooks and plugin not installed (the gateway as it is without NOVA);
- ``on``:   ``nova install-hooks`` + ``nova serve`` over an embedded store holding a synthetic
            corpus (bench/synth_corpus.py, ``--memories``, 80 % of it the main agent's);
- ``down``: installed, ``nova serve`` stopped (every hook fails open).

With ``on`` and ``down`` it also times agent tool calls (``--tool-calls`` turns per tool): the stub
model calls ``nova_recall`` and ``memory_search`` (``corpus: "all"``) through OpenClaw's ``tool_call``,
and the round trip is from the model request that got the call to the next one, holding the result.

Per turn it reports two times, both measured on this machine's clock: **turn** (``chat.send``
sent to the run's end, from ``agent.wait``) and **to model** (``chat.send`` sent to the moment
the model request reached the stub: OpenClaw's preparation plus NOVA's hooks, bootstrap and
per-turn recall, which is what NOVA can add to a turn). "NOVA adds" is the median of ``on``
minus the median of ``off``. Every process started is stopped at the end.

It also reports what NOVA adds to each model request in the ``on`` session: tokens (4 characters a
token) of its per-turn block and of its session profile in the system prompt, mean and p95, and the
prefix's stability: how many consecutive requests extend the previous one byte for byte before the
current user message (what a provider's prompt cache needs), per condition.

Usage: bench/bench_gateway.py [--turns 30] [--memories 10000] [--tool-calls 20] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests" / "e2e"))

from benchlib import percentile  # noqa: E402
from gateway import Gateway, StubProvider, free_port, write_config  # noqa: E402

MESSAGES = [
    "My sister Priya adopted a greyhound named Waffles.", "What breed is Priya's dog?",
    "I started learning the cello in March.", "Which instrument am I learning?",
    "My brother Tomas moved to Lisbon for a job at the harbour.", "Where does Tomas work now?",
    "We are planning a trip to Kyoto next spring.", "Where are we going next spring?",
    "Dana Okafor leads Project Heron at work.", "Who leads Project Heron?",
]


def _nova(env: dict, *args: str) -> None:
    done = subprocess.run([sys.executable, "-m", "nova.cli", *args], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=600)
    if done.returncode != 0:
        raise SystemExit(f"nova {' '.join(args)} failed: {done.stderr[-2000:]}")


def _serve(env: dict) -> subprocess.Popen:
    from nova.serve.client import get_json

    proc = subprocess.Popen([sys.executable, "-m", "nova.cli", "serve"], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sock = Path(env["NOVA_HOME"]) / "nova.sock"
    deadline = time.monotonic() + 180
    while not (sock.exists() and get_json(sock, "/v1/health", timeout=5)):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("nova serve did not start")
        time.sleep(0.3)
    return proc


def _stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


def _run(gateway: Gateway, stub: StubProvider, turns: int, session: str) -> dict:
    """``turns`` turns (one warm-up first, not counted); p50/p95 of both times in ms."""
    gateway.turns([(session, "Hello!")])
    sent = [(session, MESSAGES[i % len(MESSAGES)]) for i in range(turns)]
    results = gateway.turns(sent, timeout_s=60 + 30 * turns)
    turn_ms, model_ms, failed, requests = [], [], 0, []
    for r in results:
        # The send time is taken before chat.send on the same clock (1 ms: its rounding); a wider slack
        # took in the previous turn's request when turns run back to back (19 of 30 turns "failed").
        seen = [q for q in stub.since(r["sentAt"] / 1000 - 0.001) if q.at <= r["endedAt"] / 1000 + 0.05]
        if r["status"] != "ok" or len(seen) != 1:
            failed += 1
            continue
        turn_ms.append(r["endedAt"] - r["sentAt"])
        model_ms.append(seen[0].at * 1000 - r["sentAt"])
        requests.append(seen[0])
    blocks = sum(1 for q in stub.since(results[0]["sentAt"] / 1000) if "<nova-memory>" in q.user_turn)

    def stats(xs):
        return {"p50": round(percentile(xs, 0.5), 1), "p95": round(percentile(xs, 0.95), 1)}

    return {"turns": len(results), "failed": failed, "turn_ms": stats(turn_ms), "to_model_ms": stats(model_ms),
            "turns_with_nova_block": blocks, **_what_requests_carry(requests)}


def _nova_text(text: str) -> str:
    """Every <nova-memory> block in ``text``, joined."""
    return "".join(re.findall(r"<nova-memory>.*?</nova-memory>", text, flags=re.S))


def _prefix(request) -> list[str]:
    """The request's messages before the last user message a person wrote, with OpenClaw's own
    "Current date:" line (it turns at midnight) normalised: what a provider's prompt cache keys on."""
    messages = request.body["messages"]
    last = max(i for i, m in enumerate(messages) if m["role"] == "user"
               and "OPENCLAW_INTERNAL_CONTEXT" not in json.dumps(m.get("content")))
    return [re.sub(r"(?m)^Current date: \S+$", "", json.dumps(m, sort_keys=True)) for m in messages[:last]]


def _what_requests_carry(requests: list) -> dict:
    """Tokens NOVA adds per model request, at 4 characters a token (the provider's tokenizer is not
    known here): its per-turn block in the user's message and its session profile in the system prompt;
    mean and p95 over the session's requests. And the prefix: the share of consecutive requests whose
    messages before the current user message extend the previous request's byte for byte (a provider's
    prompt cache hits then), and whether the system prompt held still."""
    turn = [len(_nova_text(q.user_turn)) / 4 for q in requests]
    profile = [len(_nova_text(q.system)) / 4 for q in requests]
    extends = [_prefix(b)[:len(_prefix(a))] == _prefix(a) for a, b in zip(requests, requests[1:])]
    systems = {re.sub(r"(?m)^Current date: \S+$", "", q.system) for q in requests}

    def summary(xs):
        return {"mean": round(sum(xs) / len(xs), 1) if xs else 0.0, "p95": round(percentile(xs, 0.95), 1) if xs else 0.0}

    return {"nova_tokens_block": summary(turn), "nova_tokens_profile": summary(profile),
            "nova_tokens_total": summary([a + b for a, b in zip(turn, profile)]),
            "prefix_extends": f"{sum(extends)}/{len(extends)}", "system_prompts": len(systems)}


TOOL_CALLS = {  # what the stub model calls through OpenClaw's tool_call (Tool Search, the default)
    "nova_recall": {"query": "What breed is Priya's dog?"},
    "memory_search": {"query": "What breed is Priya's dog?", "corpus": "all"},
}


def _tool_round_trips(gateway: Gateway, stub: StubProvider, calls: int, session: str) -> dict:
    """Per tool, ``calls`` turns whose model calls it; the round trip is from the model request that
    got the tool call to the next one, holding the result: OpenClaw running the tool (the plugin,
    nova serve and back) plus reading the stub's stream. p50/p95 in ms."""
    out = {}
    for tool, args in TOOL_CALLS.items():
        results = []
        for i in range(calls):  # one turn per call: a tool turn's two model requests stay apart from the next turn's
            stub.call_tool("tool_call", {"id": tool, "args": args})
            results += gateway.turns([(session, f"Tool turn {i}: {args['query']}")])
        trips, failed, why = [], 0, []
        for r in results:
            seen = [q for q in stub.since(r["sentAt"] / 1000 - 0.001) if q.at <= r["endedAt"] / 1000 + 0.05]
            if r["status"] != "ok" or len(seen) != 2:
                failed += 1
                why.append(f"{r['status']}/{len(seen)} requests")
                continue
            trips.append((seen[1].at - seen[0].at) * 1000)
        out[tool] = {"calls": calls, "failed": failed, "why_failed": sorted(set(why)), "p50": round(percentile(trips, 0.5), 1) if trips else None,
                     "p95": round(percentile(trips, 0.95), 1) if trips else None}
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--turns", type=int, default=30, help="measured turns per condition (default 30)")
    ap.add_argument("--memories", type=int, default=10000, help="synthetic memories in the store (default 10000)")
    ap.add_argument("--tool-calls", type=int, default=20,
                    help="turns per agent tool (nova_recall, memory_search corpus all), on and down (default 20)")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args()

    setup = subprocess.run(["bash", str(ROOT / "scripts" / "openclaw-e2e-setup.sh")], capture_output=True, text=True)
    if setup.returncode != 0:
        raise SystemExit(setup.stderr)
    base = Path(setup.stdout.strip().splitlines()[-1]) / "node_modules"
    work = Path(tempfile.mkdtemp(prefix="nova-bench-gateway-"))
    state, home = work / "state", work / "home"
    stub = StubProvider()
    write_config(state, free_port(), stub.port)
    env = {k: v for k, v in os.environ.items() if k not in ("NOVA_DATABASE_URL", "NOVA_SOCKET")}
    env.update(NOVA_HOME=str(home), OPENCLAW_STATE_DIR=str(state))
    os.environ.update(NOVA_HOME=str(home))
    os.environ.pop("NOVA_DATABASE_URL", None)

    from synth_corpus import generate

    from nova.config import load_settings
    from nova.runtime import Runtime

    rt = Runtime(load_settings())
    corpus = generate(rt.store, rt.embedder, rt.settings.embedding_model, args.memories, seed=args.memories,
                      progress=lambda m: print(m, file=sys.stderr))
    rt.close()
    gateway = Gateway(base / ".bin" / "node", base / "openclaw", env, work / "gateway.log")
    report = {"memories": corpus.get("memories", args.memories), "turns_per_condition": args.turns}
    service = None
    try:
        gateway.start()
        print("condition off: NOVA not installed", file=sys.stderr)
        report["off"] = _run(gateway, stub, args.turns, "agent:main:main")

        _nova(env, "install-hooks")
        service = _serve(env)
        gateway.restart()  # hooks and plugins load at gateway start
        print("condition on: hooks installed, nova serve running", file=sys.stderr)
        report["on"] = _run(gateway, stub, args.turns, "agent:main:direct:bench-on")
        if args.tool_calls:
            report["tools_on"] = _tool_round_trips(gateway, stub, args.tool_calls, "agent:main:direct:bench-tools-on")

        _stop(service)
        service = None
        print("condition down: hooks installed, nova serve stopped", file=sys.stderr)
        report["down"] = _run(gateway, stub, args.turns, "agent:main:direct:bench-down")
        if args.tool_calls:
            report["tools_down"] = _tool_round_trips(gateway, stub, args.tool_calls, "agent:main:direct:bench-tools-down")
    finally:
        if service is not None:
            _stop(service)
        gateway.stop()
        stub.close()
    report["nova_adds_ms"] = {k: round(report["on"][k]["p50"] - report["off"][k]["p50"], 1)
                              for k in ("turn_ms", "to_model_ms")}
    report["nova_adds_p95_ms"] = {k: round(report["on"][k]["p95"] - report["off"][k]["p95"], 1)
                                  for k in ("turn_ms", "to_model_ms")}
    shutil.rmtree(work, ignore_errors=True)
    if args.json:
        print(json.dumps(report))
        return 0
    print(f"{args.turns} turns per condition, {report['memories']} memories (80 % the main agent's)")
    print(f"{'condition':10} {'turn p50':>9} {'turn p95':>9} {'to model p50':>13} {'to model p95':>13} "
          f"{'failed':>7} {'with block':>11}")
    for cond in ("off", "on", "down"):
        r = report[cond]
        print(f"{cond:10} {r['turn_ms']['p50']:9.0f} {r['turn_ms']['p95']:9.0f} {r['to_model_ms']['p50']:13.0f}"
              f" {r['to_model_ms']['p95']:13.0f} {r['failed']:7d} {r['turns_with_nova_block']:11d}")
    print(f"NOVA adds (median on - median off): turn {report['nova_adds_ms']['turn_ms']:.0f} ms,"
          f" to model {report['nova_adds_ms']['to_model_ms']:.0f} ms;"
          f" at p95 (p95 on - p95 off): turn {report['nova_adds_p95_ms']['turn_ms']:.0f} ms,"
          f" to model {report['nova_adds_p95_ms']['to_model_ms']:.0f} ms")
    on = report["on"]
    print(f"tokens NOVA adds per request (4 chars a token), mean / p95: block {on['nova_tokens_block']['mean']:.0f}"
          f" / {on['nova_tokens_block']['p95']:.0f}, profile {on['nova_tokens_profile']['mean']:.0f}"
          f" / {on['nova_tokens_profile']['p95']:.0f}, total {on['nova_tokens_total']['mean']:.0f}"
          f" / {on['nova_tokens_total']['p95']:.0f}")
    for cond in ("off", "on", "down"):
        r = report[cond]
        print(f"prefix, {cond:4}: {r['prefix_extends']} consecutive requests extend the previous one byte for byte;"
              f" {r['system_prompts']} distinct system prompt(s)")
    for cond in ("tools_on", "tools_down"):
        for tool, r in report.get(cond, {}).items():
            print(f"tool round trip, nova serve {cond[6:]:4} {tool:14} p50 {r['p50']} ms  p95 {r['p95']} ms"
                  f"  ({r['calls']} calls, {r['failed']} failed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
