"""Re-extraction from the entry log: same rows every time, old rows visible until commit, resumable."""

from __future__ import annotations

import threading

import psycopg
import pytest

from nova.ingest.catchup import run_catchup
from nova.memory.projection import Projector
from nova.memory.reextract import Scope, reextract

from conftest import write_transcript


def memories(store, agent=None) -> dict[str, list]:
    """Derived rows by content (ids differ between rebuilds)."""
    cond = "WHERE agent_id = %(a)s" if agent else ""
    with store.connection() as conn:
        q = lambda sql: sorted(tuple(r) for r in conn.execute(sql, {"a": agent}))
        return {
            "entities": q(f"SELECT agent_id, kind, name, summary, mention_count, extractor_version FROM entities {cond}"),
            "relationships": q(f"SELECT agent_id, predicate, fact, valid_from, valid_to, extractor_version FROM relationships {cond}"),
            "episodes": q(f"SELECT agent_id, session_id, first_seq, last_seq, text, tokens FROM episodes {cond}"),
            "episode_keys": q(f"SELECT agent_id, session_id, entry_id FROM episode_keys {cond}"),
            "provenance": q(f"SELECT agent_id, item_kind, session_id, entry_id FROM provenance {cond}"),
            "pending": q(f"SELECT agent_id, entry_id FROM entry_extraction {cond} {'AND' if agent else 'WHERE'} status <> 'done'"),
        }


@pytest.fixture
def two_agents(store, settings, projector, tmp_path):
    state = tmp_path / "state"
    for agent, who in (("main", "Ana"), ("ops", "Ben")):
        sessions = state / "agents" / agent / "sessions"
        write_transcript(sessions / "a.jsonl", "a", [
            ("user", f"My sister {who} lives in Lisbon."), ("assistant", "Nice!"),
            ("user", "I started learning the cello in March."), ("assistant", "Great."),
        ], start="2025-01-10T10:00:00Z", id_prefix="a")
        write_transcript(sessions / "b.jsonl", "b", [
            ("user", f"{who} moved to Porto last week."), ("user", "I work at Acme as a welder."),
        ], start="2025-06-01T10:00:00Z", id_prefix="b")
        (sessions / "sessions.json").write_text(
            f'{{"agent:{agent}:main": {{"sessionId": "a"}}, "agent:{agent}:telegram:direct:9": {{"sessionId": "b"}}}}')
    run_catchup(store, settings, projector, state)
    return state


def test_rebuild_gives_the_same_rows_every_time(store, projector, two_agents):
    original = memories(store)
    assert original["relationships"] and original["episodes"]
    first = reextract(store, projector, Scope())
    assert first.projection.done == 12 and first.projection.failed == 0
    assert memories(store) == original
    reextract(store, projector, Scope())
    assert memories(store) == original


def test_dry_run_and_partial_scopes_touch_only_their_scope(store, projector, two_agents):
    original = memories(store)
    dry = reextract(store, projector, Scope(agents=("main",)), dry_run=True)
    assert dry.dry_run and dry.agents[0].entries == 6
    assert memories(store) == original
    ops = memories(store, "ops")
    part = reextract(store, projector, Scope(agents=("main",), session_key="agent:*:telegram:*"))
    assert part.agents[0].entries == 2
    assert memories(store, "ops") == ops
    assert memories(store) == original
    since = reextract(store, projector, Scope(since=__import__("datetime").datetime.fromisoformat("2025-05-01T00:00:00+00:00")))
    assert [c.entries for c in since.agents] == [2, 2]
    assert memories(store) == original
    with pytest.raises(ValueError, match="ghost"):
        reextract(store, projector, Scope(agents=("ghost",)))


def test_old_memories_stay_queryable_until_the_rebuild_commits(store, settings, projector, two_agents):
    before = memories(store, "main")
    started, release = threading.Event(), threading.Event()

    class Paused(Projector):
        def project(self, conn, agent_id, entries, ahead=None, **order):
            stats = super().project(conn, agent_id, entries, **order)
            started.set()
            assert release.wait(60)
            return stats

    worker = threading.Thread(target=reextract, args=(store, Paused(projector.extractor, projector.embedder),
                                                      Scope(agents=("main",))), kwargs={"chunk": 3})
    worker.start()
    assert started.wait(60)
    with psycopg.connect(settings.database_url) as conn:  # another session, like recall's
        seen = conn.execute("SELECT count(*) FROM relationships WHERE agent_id = 'main'").fetchone()[0]
    release.set()
    worker.join(60)
    assert seen == len(before["relationships"])
    assert memories(store, "main") == before


class Interrupted(BaseException):
    pass


def test_an_interrupted_rebuild_resumes_with_the_agents_it_had_not_finished(store, projector, two_agents):
    original = memories(store)

    class DiesOnOps(Projector):
        def project(self, conn, agent_id, entries, ahead=None, **order):
            if agent_id == "ops":
                raise Interrupted()
            return super().project(conn, agent_id, entries, **order)

    with pytest.raises(Interrupted):
        reextract(store, DiesOnOps(projector.extractor, projector.embedder), Scope())
    assert memories(store) == original          # main committed (same rows), ops rolled back (old rows)
    resumed = reextract(store, projector, Scope())
    assert [(c.agent_id, c.skipped) for c in resumed.agents] == [("main", True), ("ops", False)]
    assert memories(store) == original
    with store.connection() as conn:
        assert conn.execute("SELECT count(*) FROM reextract_progress").fetchone()[0] == 0


def test_a_rebuild_gives_the_same_rows_whatever_its_chunks(store, settings, projector, tmp_path, dialogue_state):
    """A rebuild projects the agent's entries in one order (``REBUILD_ORDER``), however it cuts them
    into chunks. Before, each chunk was re-sorted session by session: a fact said in two sessions got
    the valid_from of whichever the chunk put first, so chunks of 7 and of 256 gave other rows (37 of
    the tests' corpus's relationships)."""
    import shutil

    state = tmp_path / "state"
    shutil.copytree(dialogue_state / "agents" / "friends-1", state / "agents" / "friends-1")
    run_catchup(store, settings, projector, state)
    reextract(store, projector, Scope(), chunk=256)
    whole = memories(store)
    reextract(store, projector, Scope(), chunk=7)
    assert memories(store) == whole
