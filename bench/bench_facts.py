#!/usr/bin/env python3
"""Facts per transcript entry, by role, and the share the fact-hygiene oracle reads as clean statements,
on any OpenClaw state dir (default: the three dev sets in ../shared/data).

The oracle is tests/test_fact_hygiene.py's (spaCy's parse of the fact's own text: a full clause, a named
subject, nothing before it but time, place or discourse phrases, no condition, no modal), plus the
attribution rule: a fact about the user made from an assistant's words is not clean. Turns are those
catch-up keeps (the default session filters), up to --turns per agent, drawn with a fixed seed, and
extracted as catch-up extracts them (with their role: an assistant's long reply is not parsed).

Usage: .venv/bin/python bench/bench_facts.py [--data DIR]... [--turns 200] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
DEV_SETS = [ROOT.parent / "shared" / "data" / name for name in ("locomo-dev", "locomo-dev2", "longmemeval-dev")]


def measure(extractor, data: Path, per_agent: int) -> dict:
    from test_fact_hygiene import _clean, _sample

    inputs = []
    for sessions in sorted((data / "agents").glob("*/sessions")):
        inputs += _sample(data, sessions.parent.name)[:per_agent]
    started = time.perf_counter()
    results = extractor.extract_batch(inputs)
    seconds = time.perf_counter() - started
    by_role: dict[str, dict] = defaultdict(lambda: {"entries": 0, "chars": 0, "facts": 0, "clean": 0, "junk": []})
    pending = []
    for item, result in zip(inputs, results, strict=True):
        row = by_role[item.role]
        row["entries"] += 1
        row["chars"] += len(item.text)
        for fact in result.facts:
            if fact.predicate == "is_a":  # "Oscar is a guinea pig": a description, not a clause (as the test)
                continue
            row["facts"] += 1
            attributed = item.role == "assistant" and fact.subject == item.addressee
            pending.append((row, fact, attributed))
    for (row, fact, attributed), doc in zip(pending, extractor.nlp.pipe(f.text for _, f, _ in pending), strict=True):
        if not attributed and _clean(doc, fact.subject):
            row["clean"] += 1
        elif len(row["junk"]) < 5:
            row["junk"].append(fact.text[:120])
    return {"data": str(data), "extract_seconds": round(seconds, 2),
            "roles": {role: {"entries": r["entries"], "facts_per_entry": round(r["facts"] / r["entries"], 3),
                             "clean_share": round(r["clean"] / r["facts"], 3) if r["facts"] else None,
                             "chars_per_entry": round(r["chars"] / r["entries"]), "junk_examples": r["junk"]}
                      for role, r in sorted(by_role.items())}}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, action="append", help="an OpenClaw state dir (repeatable)")
    ap.add_argument("--turns", type=int, default=200, help="turns per agent at most (default 200)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    sets = args.data or DEV_SETS
    missing = [d for d in sets if not (d / "agents").is_dir()]
    if missing:
        print(f"error: no agents/ in {', '.join(map(str, missing))}: pass --data DIR (an OpenClaw state dir)",
              file=sys.stderr)
        return 2
    from nova.memory.spacy_extractor import SpacyExtractor

    extractor = SpacyExtractor()
    for data in sets:
        figures = measure(extractor, data, args.turns)
        if args.json:
            print(json.dumps(figures))
            continue
        print(f"{data.name} (extraction {figures['extract_seconds']} s)")
        for role, r in figures["roles"].items():
            print(f"  {role:<10} {r['entries']:>5} entries, {r['chars_per_entry']:>5} chars each:"
                  f" {r['facts_per_entry']:.2f} facts per entry, clean {r['clean_share']}")
            for junk in r["junk_examples"]:
                print(f"      not clean: {junk}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
