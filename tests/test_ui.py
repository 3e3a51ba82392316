"""The memory browser (``nova ui``) tested as a person would use it: a real ``nova ui`` process on the
store ``nova catchup`` makes of the tests' own corpus (tests/dialogue_corpus.py), driven by Playwright in Debian's Chromium with JavaScript
off. It searches, opens a provenance trail, merges two entities, splits a wrong name off one and
forgets a memory, then checks each effect in the store, in ``nova recall`` and after ``nova
reextract``. Every page is screenshotted; with ``NOVA_UI_SHOTS=docs/ui`` the shots are written there
for the docs (what the docs show is what that run saw), else a test run leaves the tree untouched.

Then what a person must not be able to do: see another agent's memories, write without the token,
or change anything with bad input (each a 4xx, the store unchanged)."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import unquote

import httpx
import pytest

from conftest import ROOT
from dialogue_corpus import questions as corpus_questions

SHOTS = os.environ.get("NOVA_UI_SHOTS")  # a folder, relative to the repo: docs/ui refreshes the docs' shots
AGENT, OTHER = "friends-1", "friends-2"
# Daniel (the user, "Dan" to his friend) talks with Jennifer, whom he also calls "Jenny".
USER, NICKNAME, FRIEND, OTHER_NAME = "Daniel", "Dan", "Jennifer", "Jenny"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def dev_store(settings, dialogue_state):
    """The corpus's conversations caught up by the CLI into the test's database; the env for more commands."""
    env = {**os.environ, "NOVA_HOME": str(settings.home), "NOVA_DATABASE_URL": settings.database_url,
           "NOVA_TELEMETRY_SAMPLE_RATE": "1"}
    done = subprocess.run([sys.executable, "-m", "nova.cli", "catchup", "--openclaw-dir", str(dialogue_state)], env=env,
                          cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    return env, dialogue_state


@pytest.fixture
def ui(dev_store):
    """A running ``nova ui``: (base URL, token, env); stopped by its pid afterwards."""
    env, state = dev_store
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "nova.cli", "ui", "--port", str(port), "--openclaw-dir", str(state)],
                            env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        line, deadline = "", time.monotonic() + 180
        while "open http" not in line:
            assert time.monotonic() < deadline and proc.poll() is None, f"nova ui did not start: {line}"
            line = proc.stdout.readline()
        url = re.search(r"(http://\S+)", line).group(1)
        yield url.split("/?token=")[0], url.split("token=")[1], env
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _nova(env, *args) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "nova.cli", *args], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    return done


def _recall_texts(env, query: str) -> list[str]:
    return [i["text"] for i in json.loads(_nova(env, "recall", query, "--agent", AGENT, "--json").stdout)["items"]]


def _one(store, sql: str, *params):
    with store.connection() as conn:
        return conn.execute(sql, params).fetchall()


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium")
    assert chromium, "Chromium is missing: scripts/test.sh installs it (scripts/install-browser.sh)"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        yield b
        b.close()


def _shot(page, name: str) -> None:
    png = page.screenshot()
    assert png.startswith(b"\x89PNG"), name
    if SHOTS:
        folder = ROOT / SHOTS
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{name}.png").write_bytes(png)


def test_an_operator_searches_follows_provenance_and_curates(ui, browser, store, dialogue_state):
    base, token, env = ui
    page = browser.new_page(viewport={"width": 1200, "height": 900}, java_script_enabled=False)
    page.goto(f"{base}/?token={token}")
    assert page.url == f"{base}/"  # the token left the address bar for a cookie
    assert page.get_by_role("link", name=AGENT).is_visible() and page.get_by_role("link", name=OTHER).is_visible()
    # Each agent's row shows its store figures (the query `nova status` runs), checked against the store;
    # a fresh catch-up leaves no failed, dead or stale (older extractor) rows.
    row = page.locator("tr", has=page.get_by_role("link", name=AGENT)).locator("td").all_inner_texts()
    (entries, episodes), = _one(store, "SELECT (SELECT count(*) FROM entries WHERE agent_id = %s),"
                                " (SELECT count(*) FROM episodes WHERE agent_id = %s)", AGENT, AGENT)
    assert (row[1], row[3], row[5], row[6]) == (str(entries), str(episodes), "0 / 0", "0"), row
    _shot(page, "agents")

    # Search: the page shows what `nova recall` gives for the same question, item for item.
    question = f"When did {USER} go to the pottery workshop?"
    assert question in {q["question"] for q in corpus_questions(dialogue_state, AGENT)}
    page.get_by_role("link", name=AGENT).click()
    page.get_by_role("searchbox").fill(question)
    page.get_by_role("button", name="Recall").click()
    shown = [" ".join(t.split()) for t in page.locator(".item > div:first-child").all_inner_texts()]
    expected = [" ".join(t.split()) for t in _recall_texts(env, question)]
    assert expected and [re.sub(r"^(relationship|episode|entity) ", "", t) for t in shown] == expected
    first = page.locator(".item").first
    first_ref = re.match(r"\S+:\d+", first.locator(".meta").inner_text()).group(0)
    first.locator("details.why summary").click()
    first.locator("details.provenance summary").click()
    assert "RRF score" in first.locator("details.why").inner_text()
    quote = first.locator("details.provenance .quote").first
    link = quote.get_by_role("link", name="in context")
    session_id, entry_id = map(unquote, re.search(r"/entry/([^/]+)/([^/?]+)$", link.get_attribute("href")).groups())
    said = _one(store, "SELECT text FROM entries WHERE agent_id = %s AND session_id = %s AND entry_id = %s",
                AGENT, session_id, entry_id)[0][0]
    assert " ".join(said.split()) in " ".join(quote.inner_text().split())
    _shot(page, "search")

    # The provenance trail: the source entry among its neighbours, and the memories made from it.
    link.click()
    assert " ".join(said.split()) in " ".join(page.locator(".quote.here").inner_text().split())
    assert page.locator(".quote").count() > 1
    assert first_ref in page.locator("table").inner_text()  # the memory is among those made from the entry
    _shot(page, "entry")

    # Timeline by person.
    user = _one(store, "SELECT id FROM entities WHERE agent_id = %s AND name = %s", AGENT, USER)[0][0]
    page.goto(f"{base}/a/{AGENT}/timeline")
    page.locator("select[name=person]").select_option(str(user))
    page.get_by_role("button", name="Filter").click()
    assert f"person={user}" in page.url and page.locator(".item").count() > 0
    _shot(page, "timeline")

    # Merge: "Jenny" is Jennifer under another name. The entity page offers it; one click merges.
    page.goto(f"{base}/a/{AGENT}/entities?name={FRIEND[:3].lower()}")
    _shot(page, "entities")
    page.get_by_role("link", name=FRIEND, exact=True).click()
    page.get_by_role("button", name=f"Merge into {FRIEND}").and_(page.get_by_title(re.compile(f"^{OTHER_NAME} and"))).click()
    assert "/job/" in page.url and page.locator("progress").count() == 1  # the rebuild's page, reloading itself
    someone = _one(store, "SELECT min(id) FROM entities WHERE agent_id = %s AND id <> %s", AGENT, user)[0][0]
    second = httpx.post(f"{base}/a/{AGENT}/entity/{user}/merge", data={"token": token, "other": str(someone)},
                        headers={"authorization": f"Bearer {token}"})
    assert second.status_code == 409  # one rebuild at a time
    page.wait_for_url(re.compile(r"/entity/\d+\?note="), timeout=300_000)
    assert "Merged entity" in page.locator(".note").inner_text()
    assert OTHER_NAME in page.locator("table").nth(1).inner_text()  # among Jennifer's names now
    _shot(page, "entity")
    assert _one(store, "SELECT count(*) FROM entities WHERE agent_id = %s AND name = %s", AGENT, OTHER_NAME)[0][0] == 0
    merged_into = _one(store, "SELECT e.name FROM entity_aliases a JOIN entities e ON e.id = a.entity_id"
                              " WHERE a.agent_id = %s AND a.alias = %s", AGENT, OTHER_NAME)
    assert merged_into == [(FRIEND,)]

    # Split: "Dan" is someone else than Daniel here.
    page.goto(f"{base}/a/{AGENT}/entity/{_one(store, 'SELECT id FROM entities WHERE agent_id = %s AND name = %s', AGENT, USER)[0][0]}")
    page.locator("form", has=page.locator(f"input[name=alias][value={NICKNAME}]")).get_by_role("button").click()
    page.wait_for_url(re.compile(r"/entity/\d+\?note="), timeout=300_000)
    assert f"Split '{NICKNAME}'" in page.locator(".note").inner_text()
    assert page.locator("h1").inner_text().split()[0] == NICKNAME
    assert _one(store, "SELECT e.name FROM entity_aliases a JOIN entities e ON e.id = a.entity_id"
                       " WHERE a.agent_id = %s AND a.alias = %s", AGENT, NICKNAME) == [(NICKNAME,)]

    # Forget: the first fact recalled for the question goes, and recall no longer returns it.
    page.goto(f"{base}/a/{AGENT}/search?q={question}")
    fact = page.locator(".item", has=page.locator(".tag", has_text="relationship")).first
    gone_text = re.sub(r"^relationship\s*", "", fact.locator("div").first.inner_text().strip())
    gone_id = int(re.search(r"relationship:(\d+)", fact.locator(".meta").inner_text()).group(1))
    fact.get_by_role("button", name="Forget").click()
    assert f"Forgot relationship:{gone_id}" in page.locator(".note").inner_text()
    assert gone_text not in _recall_texts(env, question)
    assert not _one(store, "SELECT 1 FROM relationships WHERE agent_id = %s AND id = %s", AGENT, gone_id)

    # The audit: three curations, ids and counts only.
    page.goto(f"{base}/a/{AGENT}/audit")
    assert page.locator("tr").count() == 4
    _shot(page, "audit")
    for (target, actor) in _one(store, "SELECT target::text, actor FROM curation_audit WHERE agent_id = %s", AGENT):
        assert not re.search(rf"{FRIEND[:4]}|{OTHER_NAME}|{USER}|pottery", target + actor), target

    # Health: the figures, and a latency chart of the searches above (sampled at 1 in this test).
    page.goto(f"{base}/a/{AGENT}/health")
    assert page.locator("svg.chart rect").count() >= 1 and "transcript entries" in page.inner_text("main")
    _shot(page, "health")

    # A re-extraction from the entry log keeps all three curations.
    _nova(env, "reextract", "--agent", AGENT)
    assert _one(store, "SELECT e.name FROM entity_aliases a JOIN entities e ON e.id = a.entity_id"
                       " WHERE a.agent_id = %s AND a.alias IN (%s, %s) ORDER BY a.alias", AGENT, NICKNAME, OTHER_NAME) \
        == sorted([(NICKNAME,), (FRIEND,)])
    assert _one(store, "SELECT count(*) FROM entities WHERE agent_id = %s AND name = %s", AGENT, OTHER_NAME)[0][0] == 0
    assert gone_text not in _recall_texts(env, question)
    assert not _one(store, "SELECT 1 FROM relationships WHERE agent_id = %s AND fact = %s", AGENT, gone_text)


def _counts(store) -> dict:
    with store.connection() as conn:
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                for t in ("entities", "entity_aliases", "relationships", "episodes", "entity_rules", "curation_audit",
                          "forgotten_memories")}


def test_the_page_keeps_agents_apart_and_refuses_bad_writes(ui, store):
    base, token, _env = ui
    other_entity, other_fact, other_entry = _one(
        store, "SELECT (SELECT min(id) FROM entities WHERE agent_id = %s), (SELECT min(id) FROM relationships"
               " WHERE agent_id = %s), (SELECT session_id || '/' || entry_id FROM entries WHERE agent_id = %s LIMIT 1)",
        OTHER, OTHER, OTHER)[0]
    mine = _one(store, "SELECT min(id), max(id) FROM entities WHERE agent_id = %s", AGENT)[0]
    before = _counts(store)
    web = httpx.Client(base_url=base, follow_redirects=False, timeout=60)
    authed = httpx.Client(base_url=base, follow_redirects=False, timeout=60, headers={"authorization": f"Bearer {token}"})

    # No token, a wrong token, another Host: refused.
    assert web.get(f"/a/{AGENT}/search").status_code == 401
    assert web.get(f"/?token={token}x").status_code == 401
    assert authed.get("/", headers={"host": "nova.example.com"}).status_code == 421

    # Another agent's memories are not reachable from this agent's pages.
    assert authed.get(f"/a/{AGENT}/entity/{other_entity}").status_code == 404
    assert authed.get(f"/a/{AGENT}/entry/{other_entry}").status_code == 404
    page = authed.get(f"/a/{AGENT}/search", params={"q": "What did Katherine and Rebecca talk about?"})
    assert page.status_code == 200
    sessions = {s for (s,) in _one(store, "SELECT DISTINCT session_id FROM entries WHERE agent_id = %s", AGENT)}
    linked = {unquote(s) for s in re.findall(rf"/a/{AGENT}/entry/([^/]+)/", page.text)}
    assert linked and linked <= sessions
    assert authed.get(f"/a/{AGENT}/timeline", params={"person": other_entity}).text.count('class="item"') == 0

    form = {"token": token}
    # Every write needs the token in its form; bad input gets a 4xx; none changes anything.
    assert authed.post(f"/a/{AGENT}/forget", data={"ref": f"relationship:{other_fact}"}).status_code == 403
    assert authed.post(f"/a/{AGENT}/forget", data=form | {"ref": f"relationship:{other_fact}"}).status_code == 404
    assert authed.post(f"/a/{AGENT}/forget", data=form | {"ref": "fact 12"}).status_code == 400
    assert authed.post(f"/a/{AGENT}/forget", content=b"{}", headers={"content-type": "application/json"}).status_code == 400
    assert authed.post(f"/a/{AGENT}/entity/{mine[0]}/merge", data={"other": mine[1]}).status_code == 403
    assert web.post(f"/a/{AGENT}/entity/{mine[0]}/merge", data=form | {"other": mine[1]}).status_code == 401
    assert authed.post(f"/a/{AGENT}/entity/{mine[0]}/merge", data=form | {"other": "abc"}).status_code == 400
    assert authed.post(f"/a/{AGENT}/entity/{mine[0]}/merge", data=form | {"other": mine[0]}).status_code == 400
    assert authed.post(f"/a/{AGENT}/entity/{mine[0]}/merge", data=form | {"other": other_entity}).status_code == 404
    assert authed.post(f"/a/{AGENT}/entity/{mine[0]}/split", data=form | {"alias": "nobody at all"}).status_code == 400
    assert authed.post(f"/a/{AGENT}/entity/{mine[0]}/split", data=form | {"alias": ""}).status_code == 400
    assert authed.get(f"/a/{AGENT}/entity/x").status_code == 422
    assert authed.get(f"/a/{AGENT}/timeline", params={"before": "yesterday"}).status_code == 400
    assert authed.get(f"/a/{AGENT}/search", params={"q": "x" * 2001}).status_code == 400
    assert authed.get("/a/no-such-agent/search").status_code == 404
    assert authed.get(f"/a/{AGENT}/job/0123456789ab").status_code == 404
    assert _counts(store) == before
