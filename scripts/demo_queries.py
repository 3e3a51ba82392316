#!/usr/bin/env python3
"""Write a few recall queries per agent of an OpenClaw state dir: OUT/<agentId>.jsonl.

Uses the questions of the state dir's qa.jsonl when it has one (LoCoMo and the sample in
examples/ do), and generic questions otherwise.
Usage: demo_queries.py STATE_DIR OUT_DIR [--per-agent N]
"""

import argparse
import json
from pathlib import Path

from nova.ingest.sources import list_agents

GENERIC = ["What do you know about me?", "What am I working on?", "What happened recently?"]

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("state_dir", type=Path)
ap.add_argument("out_dir", type=Path)
ap.add_argument("--per-agent", type=int, default=3)
args = ap.parse_args()

qa = args.state_dir / "qa.jsonl"
questions: dict[str, list[str]] = {}
if qa.is_file():
    for q in map(json.loads, qa.read_text().splitlines()):
        if q.get("category") in (1, 2, 4):
            questions.setdefault(q["agent"], []).append(q["question"])
for agent in list_agents(args.state_dir):
    chosen = questions.get(agent) or GENERIC
    lines = [json.dumps({"id": i, "query": q}) for i, q in enumerate(chosen[: args.per_agent], 1)]
    (args.out_dir / f"{agent}.jsonl").write_text("\n".join(lines) + "\n")
