"""Forgetting one memory on request (``nova forget --memory``, the ``nova_forget`` agent tool).

A user says "that is wrong, forget it" about one relationship or one episode. Unlike ``nova forget``
(nova.memory.forget), no transcript entry leaves the entry log: the memory's row goes at once, and a
rule (table ``forgotten_memories``, sql/013) keeps projection and re-extraction from making it again
out of the entries that remain:

- a **relationship** is matched by the sha256 of its fact text: the same fact stated again, in any
  entry, is not stored (an extractor that words it differently makes a new memory);
- an **episode** by the sha256 of each ``<session_id>/<entry_id>`` of its exchange: those entries
  join no episode again (their facts and entities stay, each its own memory).

What the memory did to other rows is not undone in place: the summary it gave an entity, the older
fact it closed (valid_to), the kind it gave an entity, the exchange a later reply joined. The agent is
marked for a rebuild (table ``rebuild_pending``, sql/017), which re-derives them as a clean build of the
entries with the rule would: ``nova forget --memory`` runs it at once, and the next catch-up runs it
for the agent tool, ``/forget`` and the UI (``nova.memory.reextract.rebuild_pending``). Until then the
forgotten memory is gone from recall, and an entity that took its summary from it has none.

The rule row holds hashes, who asked (``via``: cli | tool | ui, and the tool's session key) and when;
never content. ``restore_memory`` deletes a rule and marks the agent for a rebuild, which brings the
memory back.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

import psycopg

from nova.memory.embed import ingest_vectors
from nova.memory.entities import aliases_of
from nova.memory.texts import entity_text
from nova.store.locks import wait_agent_xact_lock

__all__ = ["MemoryBusy", "MemoryRef", "ForgottenMemory", "ForgottenMemoryRules", "forget_memory", "restore_memory", "mark_rebuild", "fact_hash",
           "entry_hash", "MEMORY_KINDS"]

MEMORY_KINDS = ("relationship", "episode")
_REF = re.compile(r"^(?:nova:)?(relationship|episode):([0-9]{1,18})$")


@dataclass(frozen=True)
class MemoryRef:
    """One memory of a store: ``relationship:<id>`` or ``episode:<id>`` (the ids ``nova recall --json``
    shows as ``ref`` and the agent tools cite; serial, so only meaningful in the store that made them)."""

    kind: str
    id: int

    @classmethod
    def parse(cls, text: str) -> "MemoryRef":
        """``relationship:12`` or ``episode:7`` (a leading ``nova:`` is allowed).

        Raises:
            ValueError: anything else, with the accepted forms.
        """
        m = _REF.match(text.strip())
        if not m:
            raise ValueError(f"not a memory reference: {text!r} (expected relationship:<id> or episode:<id>)")
        return cls(m.group(1), int(m.group(2)))

    def __str__(self) -> str:
        return f"{self.kind}:{self.id}"


@dataclass
class ForgottenMemory:
    ref: MemoryRef
    text: str            # what was forgotten (for the operator's eyes; never stored)
    rules: int           # rule rows written (1 for a fact, one per entry of an exchange)
    entities_reworded: int = 0   # entities whose summary was this fact


def fact_hash(fact: str) -> str:
    return hashlib.sha256(fact.strip().encode()).hexdigest()


def entry_hash(session_id: str, entry_id: str) -> str:
    return hashlib.sha256(f"{session_id}/{entry_id}".encode()).hexdigest()


class ForgottenMemoryRules:
    """An agent's forgotten-memory rules, read once per projection batch (a few rows per agent)."""

    def __init__(self, facts: set[str] | None = None, entries: set[str] | None = None):
        self._facts, self._entries = facts or set(), entries or set()

    @classmethod
    def load(cls, conn: psycopg.Connection, agent_id: str) -> "ForgottenMemoryRules":
        rules = cls()
        for kind, key_hash in conn.execute(
                "SELECT kind, key_hash FROM forgotten_memories WHERE agent_id = %s", (agent_id,)):
            (rules._facts if kind == "fact" else rules._entries).add(key_hash)
        return rules

    def covers_fact(self, fact: str) -> bool:
        return bool(self._facts) and fact_hash(fact) in self._facts

    def covers_entry(self, session_id: str, entry_id: str) -> bool:
        return bool(self._entries) and entry_hash(session_id, entry_id) in self._entries


class MemoryBusy(RuntimeError):
    """Another writer (a rebuild: forget, merge, split, re-extraction, catch-up) holds the agent."""


def forget_memory(conn: psycopg.Connection, embedder, agent_id: str, ref: MemoryRef, *, via: str,
                  session_key: str | None = None, wait_s: float = 2.0) -> ForgottenMemory | None:
    """Delete ``ref`` of ``agent_id`` with its provenance and record the rule, in one transaction; a
    relationship goes with every other of the same fact text (the rule covers them all).
    An entity whose summary was the forgotten fact loses the summary (and is re-embedded with
    ``embedder``). Returns None when the agent has no such memory (another agent's id included).

    It takes the agent's writer lock (``nova.store.locks``) for its transaction, waiting at most
    ``wait_s`` seconds: behind a rebuild it would otherwise block on the rows the rebuild holds, then
    find the id gone (the rebuild makes the memory again under a new one) and answer "not found",
    while each waiting call held a connection of the service's pool.

    Raises:
        ValueError: ``via`` is not cli, tool or ui (``nova ui``).
        MemoryBusy: another writer still holds the agent after ``wait_s`` (try again when it is done).
    """
    if via not in ("cli", "tool", "ui"):
        raise ValueError(f"via must be cli, tool or ui, not {via!r}")
    with conn.transaction():
        if not wait_agent_xact_lock(conn, agent_id, wait_s):
            raise MemoryBusy(f"a rebuild of agent {agent_id} is running (forget, merge, split, re-extraction"
                             " or catch-up); try again when it is done")
        if ref.kind == "relationship":
            row = conn.execute("SELECT fact FROM relationships WHERE agent_id = %s AND id = %s",
                               (agent_id, ref.id)).fetchone()
            if row is None:
                return None
            text = row[0]
            hashes = [("fact", fact_hash(text))]
            # The rule matches the text, so a rebuild makes no row of it: nor may the forget leave one
            # ("I keep my shoes in locker 12" is keep and keep_in, one text).
            ids = [r[0] for r in conn.execute(
                "DELETE FROM relationships WHERE agent_id = %s AND fact = %s RETURNING id", (agent_id, text))]
            reworded = [r[0] for r in conn.execute(
                "UPDATE entities SET summary = NULL, summary_session_id = NULL, summary_entry_id = NULL"
                " WHERE agent_id = %s AND summary = %s RETURNING id", (agent_id, text))]
        else:
            row = conn.execute("DELETE FROM episodes WHERE agent_id = %s AND id = %s RETURNING text",
                               (agent_id, ref.id)).fetchone()
            if row is None:
                return None
            text, ids = row[0], [ref.id]
            hashes = [("entry", entry_hash(s, e)) for s, e in conn.execute(
                "SELECT session_id, entry_id FROM provenance WHERE agent_id = %s AND item_kind = 'episode'"
                " AND item_id = %s", (agent_id, ref.id))]
            reworded = []
        conn.execute("DELETE FROM provenance WHERE agent_id = %s AND item_kind = %s AND item_id = ANY(%s)",
                     (agent_id, ref.kind, ids))
        # A profile held for a session may quote the memory: gone in the same commit.
        conn.execute("DELETE FROM session_profiles WHERE agent_id = %s", (agent_id,))
        for kind, key_hash in hashes:
            conn.execute(
                # At the clock's time, as nova forget records its scopes: profiles served before the
                # commit are older than it and are rebuilt (nova.recall.profile).
                "INSERT INTO forgotten_memories (agent_id, kind, key_hash, via, session_key, forgotten_at)"
                " VALUES (%s, %s, %s, %s, %s, clock_timestamp()) ON CONFLICT (agent_id, kind, key_hash)"
                " DO UPDATE SET forgotten_at = clock_timestamp(), via = EXCLUDED.via, session_key = EXCLUDED.session_key",
                (agent_id, kind, key_hash, via, session_key))
        mark_rebuild(conn, agent_id, "forget --memory")
        if reworded:
            rows = conn.execute(f"SELECT e.id, e.name, e.kind, {aliases_of('e')} FROM entities e"
                                " WHERE e.agent_id = %s AND e.id = ANY(%s)", (agent_id, reworded)).fetchall()
            texts = [entity_text(name, kind, None, aliases) for _id, name, kind, aliases in rows]
            dense, static = ingest_vectors(embedder, texts)
            for (eid, *_), vec, svec, tokens in zip(rows, dense, static, embedder.count_tokens(texts), strict=True):
                conn.execute("UPDATE entities SET embedding = %s, static_embedding = %s, tokens = %s"
                             " WHERE id = %s AND agent_id = %s", (vec, svec, tokens, eid, agent_id))
    return ForgottenMemory(ref, text, len(hashes), len(reworded))


def restore_memory(conn: psycopg.Connection, agent_id: str, rule_ids: list[int]) -> int:
    """Delete forgotten-memory rules by id (``nova forget --list-memories`` shows them); returns how
    many went. The memories come back at the agent's next rebuild (marked: ``rebuild_pending``)."""
    with conn.transaction():
        n = conn.execute("DELETE FROM forgotten_memories WHERE agent_id = %s AND id = ANY(%s)",
                         (agent_id, rule_ids)).rowcount
        if n:
            mark_rebuild(conn, agent_id, "restore --memory")
        return n


def mark_rebuild(conn: psycopg.Connection, agent_id: str, reason: str) -> None:
    """Mark ``agent_id`` for a rebuild (table ``rebuild_pending``), inside the caller's transaction."""
    conn.execute("INSERT INTO rebuild_pending (agent_id, reason) VALUES (%s, %s) ON CONFLICT (agent_id) DO NOTHING",
                 (agent_id, reason))
