"""The advisory locks every writer takes: one per agent for its derived rows (catch-up, re-extraction,
forget, the service's ingest worker), one per session while an inbound message is logged.
docs/operations.md has the rules."""

from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from typing import Iterator

import psycopg

__all__ = ["agent_lock", "try_agent_xact_lock", "wait_agent_xact_lock", "session_log_lock", "WRITER_WAIT_S", "OPERATOR_WAIT_S"]

log = logging.getLogger(__name__)

_AGENT_LOCK_SQL = "hashtext('nova-catchup:' || %s)"
_AGENT_LOCK_POLL_S = 0.05
# How long catch-up, re-extraction and forget wait for an agent's lock before reporting it busy:
# long enough for the service's ingest worker to finish a batch (under a second at batch 16).
WRITER_WAIT_S = 5.0
# nova forget and nova reextract, run by an operator, wait this long for a catch-up of the agent
# (nova watch or cron) to finish its run before giving up with "try again".
OPERATOR_WAIT_S = 120.0


@contextmanager
def agent_lock(conn: psycopg.Connection, agent: str, wait_s: float = 0.0) -> Iterator[bool]:
    """The session-level advisory lock that lets one writer at a time (catch-up, re-extraction,
    forget, and the service's ingest worker through ``try_agent_xact_lock``; on any host sharing the
    database) write ``agent``'s derived rows; yields False when another still holds it after ``wait_s``
    seconds. One lock per agent is the whole lock order: no two writers of an agent's entities,
    episodes and relationships ever interleave, so they can neither deadlock nor project one entry twice.

    ``wait_s`` lets a command wait out the ingest worker, which holds the lock for one batch
    (under a second); catch-up runs minutes, so a second catch-up does not wait for it.

    The unlock runs after a rollback of whatever the body left open: on a connection whose
    transaction failed, the unlock itself would fail, hide the body's error and leave the lock held
    by a pooled connection, so that no writer could take that agent again until it closed. If even
    that fails (the server is gone) the connection is closed, which releases the lock, and the pool
    replaces it."""
    deadline = time.monotonic() + wait_s
    while True:
        got = conn.execute(f"SELECT pg_try_advisory_lock({_AGENT_LOCK_SQL})", (agent,)).fetchone()[0]
        conn.commit()
        if got or time.monotonic() >= deadline:
            break
        time.sleep(_AGENT_LOCK_POLL_S)
    if not got:
        yield False
        return
    try:
        yield True
    finally:
        try:
            conn.rollback()
            conn.execute(f"SELECT pg_advisory_unlock({_AGENT_LOCK_SQL})", (agent,))
            conn.commit()
        except psycopg.Error as err:
            log.warning("releasing the lock on agent %s failed (%s); closing the connection releases it", agent, err)
            conn.close()


def try_agent_xact_lock(conn: psycopg.Connection, agent: str) -> bool:
    """Take ``agent_lock``'s lock until the current transaction ends, if no other writer holds it.

    For the ingest worker: it never waits on a catch-up, a re-extraction or a forget (minutes
    long); it leaves its entries pending and tries again later."""
    return conn.execute(f"SELECT pg_try_advisory_xact_lock({_AGENT_LOCK_SQL})", (agent,)).fetchone()[0]


def wait_agent_xact_lock(conn: psycopg.Connection, agent: str, wait_s: float) -> bool:
    """``try_agent_xact_lock``, tried again for up to ``wait_s`` seconds (as ``agent_lock`` waits);
    False when another writer still holds the agent."""
    deadline = time.monotonic() + wait_s
    while not try_agent_xact_lock(conn, agent):
        if time.monotonic() >= deadline:
            return False
        time.sleep(_AGENT_LOCK_POLL_S)
    return True


def session_log_lock(conn: psycopg.Connection, agent: str, session_key: str) -> None:
    """Wait for the lock, held until the current transaction ends, under which an inbound user
    message of this session is logged: by the memory-extract hook (a live entry) or by catch-up
    (the transcript line, adopting its live twin). Each looks for the other's row and then inserts
    its own; serialised, one always sees the other, so a message is never logged twice. Both hold it
    for one short transaction (no extraction runs under it)."""
    conn.execute("SELECT pg_advisory_xact_lock(hashtext('nova-entry-log:' || %s || ':' || %s))", (agent, session_key))
