"""``nova recall --as-of``: recall as if asked at a moment, nothing said after it used, and relative
times in the query counted from it; also per ``--queries`` line (``as_of``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from conftest import ROOT
from nova.ingest.catchup import run_catchup


def _recall(env, *args) -> list[dict]:
    done = subprocess.run([sys.executable, "-m", "nova.cli", "recall", "--agent", "main", "--json", *args], env=env,
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_nothing_said_after_as_of_is_recalled(store, settings, projector, state_dir, tmp_path):
    run_catchup(store, settings, projector, state_dir)
    env = {**os.environ, "NOVA_HOME": str(settings.home), "NOVA_DATABASE_URL": settings.database_url}
    question = "Where does Dana live now?"
    # The move to Hamburg was said on 12 March 2026 (the WhatsApp session).
    now = _recall(env, question)[0]["items"]
    assert any("Hamburg" in i["text"] for i in now)
    before = _recall(env, question, "--as-of", "2026-03-10T00:00:00Z")[0]["items"]
    assert before and not any("Hamburg" in i["text"] for i in before)
    for item in before:
        assert all(s.get("occurred_at") is None or s["occurred_at"] < "2026-03-10" for s in item.get("sources", []))
    queries = tmp_path / "q.jsonl"
    queries.write_text(json.dumps({"id": 1, "query": question, "as_of": "2026-03-10"}) + "\n"
                       + json.dumps({"id": 2, "query": question}) + "\n")
    lines = _recall(env, "--queries", str(queries))
    assert [line["id"] for line in lines] == [1, 2]
    assert not any("Hamburg" in i["text"] for i in lines[0]["items"])
    assert any("Hamburg" in i["text"] for i in lines[1]["items"])
    bad = subprocess.run([sys.executable, "-m", "nova.cli", "recall", "--agent", "main", question, "--as-of", "soon"],
                         env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert bad.returncode == 2 and "--as-of" in bad.stderr
