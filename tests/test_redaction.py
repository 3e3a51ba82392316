"""Secrets never become memories: redaction rules, properties, and a planted-secret corpus end to end."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

import pytest
from hypothesis import given, strategies as st

from nova.config import RedactionSettings
from nova.memory.redact import Redactor

from conftest import ROOT, runtime_with, write_transcript
from test_forget import rows_mentioning

# (secret as it would be pasted, kind it must be replaced by). Built from parts so that this
# file itself does not look like a leak to scanners.
SECRETS = [
    ("sk-proj-" + "Q7xL2mN9pR4tV8wY1zA3bC5d", "api_key"),
    ("sk-ant-api03-" + "h7Gk2LmQ9pXr4TvW8yZ1aB3cD5eF6g", "api_key"),
    ("ghp_" + "1a2B3c4D5e6F7g8H9i0JkLmNoPqRsTuVwXyZ", "github_token"),
    ("github_pat_" + "11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzAB", "github_token"),
    ("AKIA" + "IOSFODNN7EXAMPLQ", "aws_access_key"),
    ("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9." + "eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ."
     + "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c", "json_web_token"),
    ("xoxb-" + "2048203485-1028374659-AbCdEfGhIjKlMnOpQrStUvWx", "slack_token"),
    ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n"
     "AAAAAAABAAAAMwAAAAtzc2gtZWQyNTUxOQAAACB\n-----END OPENSSH PRIVATE KEY-----", "private_key"),
    ("9f86d081884c7d659a2feaa0c55ad015" + "a3bf4f1b2b0b822cd15d6c15b0f00a08", "high_entropy_string"),
    ("Zx8Qv2Lr7Tn4Wk9Bp3Hs6Jd1Fg5Mc0Ya", "high_entropy_string"),
]
CONTEXTS = [  # the secret's own kind names it in prose; in a header it may be named as the header's value
    "Here is my key {s} please keep it safe",
    "export TOKEN={s}",
    "curl -H 'Authorization: Bearer {s}' https://api.example.com",
]
SECRET_VALUES = ["hunter2!Pw", "db-Passw0rd-77", "S3cr3t-Pass-2024"]


@pytest.fixture(scope="module")
def redactor():
    return Redactor()


@pytest.mark.parametrize("secret,kind", SECRETS, ids=[k + str(i) for i, (_, k) in enumerate(SECRETS)])
def test_each_kind_is_replaced_by_a_typed_placeholder(redactor, secret, kind):
    for i, template in enumerate(CONTEXTS):
        text = template.format(s=secret)
        out, kinds = redactor.redact(text)
        assert secret not in out and secret.split("\n")[0] not in out
        assert kind in kinds if i < 2 else "[REDACTED:" in out, out
        assert redactor(out) == out   # idempotent


@pytest.mark.parametrize("text,kind,gone", [
    ("our db is postgres://admin:{p}@db.internal:5432/app", "url_password", True),
    ("my password is {p} for the router", "password", True),
    ("wifi passphrase: {p}", "password", True),
    ("Authorization: Basic dXNlcjpwYXNzd29yZDEyMw==", "authorization", False),
])
def test_passwords_in_urls_prose_and_headers(redactor, text, kind, gone):
    for p in SECRET_VALUES:
        out, kinds = redactor.redact(text.format(p=p))
        assert kind in kinds, out
        if gone:
            assert p not in out


def test_ordinary_conversation_is_left_alone(redactor):
    for text in [
        "Caroline went to the LGBTQ support group yesterday and it was so powerful.",
        "The password policy says twelve characters; my password is too short apparently.",
        "Meeting id 3f2a6c1e-8b4d-4e2f-9a7c-1d2e3f4a5b6c, see https://example.com/docs/getting-started",
        "I bought tokens for the arcade and a bearer bond. Commit abc1234 fixed it.",
        "/home/melanie/projects/painting-2023/final_version_really_final.png",
    ]:
        assert redactor.redact(text) == (text, {}), text


def test_extra_patterns_and_bad_patterns():
    r = Redactor(RedactionSettings(extra_patterns={"employee id": r"EMP-(?P<secret>\d{6})"}))
    assert r("badge EMP-123456 at the door") == "badge EMP-[REDACTED:employee_id] at the door"
    with pytest.raises(ValueError, match="not a valid regex"):
        RedactionSettings(extra_patterns={"broken": "(unclosed"})
    assert Redactor(RedactionSettings(enabled=False))(SECRETS[0][0]) == SECRETS[0][0]


@given(before=st.text(max_size=80), after=st.text(max_size=80), pick=st.integers(0, len(SECRETS) - 1))
def test_a_planted_secret_never_survives_and_redaction_is_idempotent(before, after, pick):
    r = _shared()
    secret = SECRETS[pick][0]
    text = f"{before} {secret} {after}"
    out = r(text)
    assert secret not in out
    assert r(out) == out


@given(text=st.text(max_size=400))
def test_any_text_redacts_without_error(text):
    out = _shared()(text)
    assert isinstance(out, str) and _shared()(out) == out


_SHARED: list[Redactor] = []


def _shared() -> Redactor:
    if not _SHARED:
        _SHARED.append(Redactor())
    return _SHARED[0]


def _planted(i: int) -> str:
    secret, _ = SECRETS[i % len(SECRETS)]
    return secret


def test_planted_secrets_reach_no_table_recall_profile_or_log(store, settings, projector, embedder, tmp_path, caplog):
    """Secrets pasted into transcripts (catch-up) and live messages (the service) are stored nowhere."""
    from fastapi.testclient import TestClient

    from nova.ingest.catchup import run_catchup
    from nova.serve.app import create_app

    planted = [s for s, _ in SECRETS] + SECRET_VALUES
    live = [f"new credentials just in: {s} (from Priya)" for s, _ in SECRETS] + [
        f"Priya says the vault password is {SECRET_VALUES[2]}", f"mirror at https://priya:{SECRET_VALUES[0]}@git.example.org/x"]
    state = tmp_path / "state"
    sessions = state / "agents" / "main" / "sessions"
    turns = []
    for i, (secret, _) in enumerate(SECRETS):
        turns.append(("user", f"Priya asked me to keep this for the deploy: {secret}"))
        turns.append(("assistant", f"Stored. For reference the value was {secret}."))
    turns.append(("user", f"Our staging database is postgres://bob:{SECRET_VALUES[0]}@db:5432/x and my password is {SECRET_VALUES[1]}"))
    write_transcript(sessions / "s.jsonl", "s", turns, start="2025-04-01T09:00:00Z")
    (sessions / "sessions.json").write_text(json.dumps({"agent:main:main": {"sessionId": "s"}}))

    caplog.set_level(logging.DEBUG)
    env = dict(os.environ, NOVA_DATABASE_URL=settings.database_url, NOVA_HOME=str(tmp_path / "home"))
    log_file = tmp_path / "catchup.log"
    done = subprocess.run([sys.executable, "-m", "nova.cli", "-v", "catchup", "--cron", "--log-file", str(log_file),
                           "--openclaw-dir", str(state)], env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    summary = json.loads(log_file.read_text().split("catch-up ", 1)[1].splitlines()[0])
    assert sum(summary["secrets_redacted"].values()) >= len(planted)

    rt = runtime_with(settings, embedder, projector, openclaw_dir=state)
    with TestClient(create_app(rt, worker_projector=projector)) as client:
        for i, content in enumerate(live):
            r = client.post("/v1/messages", json={"sessionKey": "agent:main:main", "messageId": f"m{i}",
                                                   "content": content})
            assert r.status_code == 202 and r.json()["status"] == "queued", r.text
        assert client.app.state.nova.worker.drain(120)
        outputs = [client.post("/v1/bootstrap", json={"sessionKey": "agent:main:main"}).text]
        for q in ["what credentials did Priya give me?", "deploy key", "staging database password", live[0]]:
            outputs.append(client.post("/v1/recall", json={"sessionKey": "agent:main:main", "query": q}).text)
    rt.close()
    run_catchup(store, settings, projector, state)  # adopts the live entries; nothing new to redact
    recall_cli = subprocess.run([sys.executable, "-m", "nova.cli", "recall", "--agent", "main", "--json",
                                 "what did Priya ask me to keep for the deploy?"],
                                env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert recall_cli.returncode == 0, recall_cli.stderr
    outputs.append(recall_cli.stdout)
    assert "REDACTED" in "".join(outputs)  # the memories are there, with placeholders

    logs = caplog.text + done.stderr + log_file.read_text() + recall_cli.stderr
    with store.connection() as conn:
        assert conn.execute("SELECT count(*) FROM entries WHERE text LIKE '%[REDACTED:%'").fetchone()[0] >= len(SECRETS)
        for secret in planted:
            for piece in {secret, secret.split("\n")[1] if "\n" in secret else secret}:
                assert rows_mentioning(conn, piece) == {}, piece
                assert piece not in "".join(outputs) and piece not in logs


def test_reextraction_redacts_entries_logged_before_redaction(store, settings, projector, tmp_path):
    from nova.ingest.catchup import run_catchup
    from nova.memory.reextract import Scope, reextract

    state = tmp_path / "state"
    sessions = state / "agents" / "main" / "sessions"
    secret = SECRETS[2][0]
    write_transcript(sessions / "s.jsonl", "s", [("user", f"Priya's GitHub token is {secret} for the CI."),
                                                 ("assistant", "Got it.")])
    (sessions / "sessions.json").write_text(json.dumps({"agent:main:main": {"sessionId": "s"}}))
    old = settings.model_copy(update={"redaction": RedactionSettings(enabled=False)})  # an older NOVA
    run_catchup(store, old, projector, state)
    with store.connection() as conn:
        assert rows_mentioning(conn, secret)
    reextract(store, projector, Scope(), redactor=Redactor(settings.redaction))
    with store.connection() as conn:
        assert rows_mentioning(conn, secret) == {}
        assert conn.execute("SELECT text FROM entries WHERE role = 'user'").fetchone()[0] == \
            "Priya's GitHub token is [REDACTED:github_token] for the CI."
