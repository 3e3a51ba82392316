"""Time in recall: query expressions parsed into ranges, memories of that time preferred,
superseded facts shown as past."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from nova.ingest.catchup import run_catchup
from nova.recall.items import RecallTrace
from nova.recall.search import recall
from nova.recall.temporal import query_time

from conftest import write_transcript

NOW = datetime(2025, 10, 20, 12, tzinfo=timezone.utc)


def d(s: str | None):
    return None if s is None else datetime.fromisoformat(s).replace(tzinfo=timezone.utc)


@pytest.mark.parametrize("query,start,end", [
    ("What did I do last May?", "2025-05-01", "2025-06-01"),
    ("What did I do last October?", "2024-10-01", "2024-11-01"),      # the current month is not "last"
    ("Where was I two weeks ago?", "2025-10-06", "2025-10-13"),     # the week of Monday 6 October
    ("Who did I meet yesterday?", "2025-10-19", "2025-10-20"),
    ("What happened in May 2023?", "2023-05-01", "2023-06-01"),
    ("What did Caroline do in 2022?", "2022-01-01", "2023-01-01"),
    ("How was late June?", "2025-06-21", "2025-07-01"),
    ("What happened on 7 May 2023?", "2023-05-07", "2023-05-08"),
    ("What did we plan before June 2023?", None, "2023-06-01"),
    ("What changed since last summer?", "2025-06-01", None),
    ("What did she do after March 2024?", "2024-04-01", None),
    ("What did I do last weekend?", "2025-10-18", "2025-10-20"),
    ("Where did Caroline move from 4 years ago?", "2021-01-01", "2022-01-01"),   # "move from" is no "since"
])
def test_time_expressions_become_ranges(query, start, end):
    t = query_time(query, NOW)
    assert t is not None and (t.start, t.end) == (d(start), d(end)), t


@pytest.mark.parametrize("query", ["May I ask where Dana lives?", "What pets do I have?", "Who is Alice Brandt?",
                                   "What is 2 + 2?", "the maybe-may problem", ""])
def test_no_time_no_range(query):
    assert query_time(query, NOW) is None


@pytest.mark.parametrize("range_search", ["exhaustive", "nearest-pool"])
def test_recall_prefers_memories_of_the_asked_time_and_shows_superseded_facts_as_past(store, settings, projector,
                                                                                    embedder, tmp_path, monkeypatch,
                                                                                    range_search):
    import nova.recall.paths.time_range as time_path

    if range_search == "nearest-pool":  # how a wide range in a large store is searched
        monkeypatch.setattr(time_path, "_EXACT_TIME_ROWS", 0)
    state = tmp_path / "state"
    sessions = state / "agents" / "main" / "sessions"
    write_transcript(sessions / "a.jsonl", "a", [("user", "I live in Berlin."),
                                                 ("user", "Today I went kayaking on the lake with Ines.")],
                     start="2025-05-10T10:00:00Z", id_prefix="a")
    write_transcript(sessions / "b.jsonl", "b", [("user", "Today I went kayaking on the river with Tomas.")],
                     start="2025-08-14T10:00:00Z", id_prefix="b")
    write_transcript(sessions / "c.jsonl", "c", [("user", "I live in Hamburg now.")],
                     start="2025-09-01T10:00:00Z", id_prefix="c")
    run_catchup(store, settings, projector, state)
    with store.connection() as conn:
        for asked, who, other in (("last May", "Ines", "Tomas"), ("in August", "Tomas", "Ines")):
            trace = RecallTrace()
            items = recall(conn, embedder, "main", f"Who did I go kayaking with {asked}?", now=NOW, trace=trace,
                           budget_tokens=60)
            assert trace.time_range and trace.paths["time"], trace.time_range
            first = next(i.text for i in items if "kayak" in i.text)
            assert who in first and other not in first, [i.text for i in items]
        trace = RecallTrace()
        recall(conn, embedder, "main", "Where do I live?", now=NOW, trace=trace)
    # Every candidate fact as it would be shown (packing may prefer the episode that holds it).
    facts = [trace.texts[(k, i)] for k, i, _ in trace.paths["vector"] if k == "relationship"]
    berlin = [t for t in facts if "Berlin" in t]
    hamburg = [t for t in facts if "Hamburg" in t]
    assert berlin and all("no longer current since 1 September 2025" in t for t in berlin), facts
    assert hamburg and not any("no longer" in t for t in hamburg), facts


def test_a_changed_count_supersedes_the_old_one_in_recall_and_profile(store, settings, projector, embedder, tmp_path):
    """Knowledge that changes (issue 35): "I now have 3 aquariums" after "I have two aquariums" closes the
    older count (valid_to = when the new one was said); recall shows the old one as no longer current, the
    current one first, and the session profile shows only the current one. Other things' counts stay open."""
    from nova.memory.speakers import Speakers
    from nova.recall.profile import build_profile

    state = tmp_path / "state"
    sessions = state / "agents" / "main" / "sessions"
    write_transcript(sessions / "a.jsonl", "a", [("user", "I have two aquariums at home."),
                                                 ("user", "I have two bikes in the garage.")],
                     start="2025-03-01T10:00:00Z", id_prefix="a")
    write_transcript(sessions / "b.jsonl", "b", [("user", "I now have 3 aquariums.")], start="2025-06-01T10:00:00Z",
                     id_prefix="b")
    run_catchup(store, settings, projector, state)
    with store.connection() as conn:
        rows = dict(conn.execute("SELECT object_value, valid_to FROM relationships WHERE predicate = 'have'").fetchall())
        assert rows["two aquariums"] is not None and rows["two aquariums"].date().isoformat() == "2025-06-01", rows
        assert rows["3 aquariums"] is None and rows["two bikes"] is None, rows
        items = recall(conn, embedder, "main", "How many aquariums do I have?", now=NOW, kinds=frozenset({"relationship"}))
        texts = [i.text for i in items if "aquarium" in i.text]
        assert "3 aquariums" in texts[0] and not i_superseded(texts[0]), texts
        assert any("two aquariums" in t and "no longer current since 1 June 2025" in t for t in texts), texts
        profile = build_profile(conn, "main", Speakers())
    assert "3 aquariums" in profile.text and "two aquariums at home" not in _facts_section(profile.text), profile.text


def i_superseded(text: str) -> bool:
    return "no longer current" in text


def _facts_section(profile: str) -> str:
    """The profile up to its episodes (which quote what was said, as said)."""
    return profile.split("Recent", 1)[0]
