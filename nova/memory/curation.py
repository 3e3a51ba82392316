"""Curation by the operator (``nova ui``): forget one memory, merge two entities, split a wrong alias
off an entity. Each is recorded in ``curation_audit`` (who, when, what: ids and counts, no content)
and survives ``nova reextract``:

- **forget** is ``nova.memory.forget_one``'s rule (a fact's hash, an exchange's entries' hashes);
- **merge** and **split** write entity rules (``nova.memory.entity_rules``) that entity resolution
  applies, then rebuild the agent from the entry log with them, in one transaction under the agent's
  lock: what the page shows afterwards is exactly what every later re-extraction makes. A rebuild is
  the whole agent (extraction at catch-up speed: about 3 s for a LoCoMo conversation of 400 entries);
  recall keeps answering from the old rows until it commits.

Entity ids are serial and a rebuild renumbers them: results name the entity to show afterwards by
its new id.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import psycopg

from nova.memory.forget_one import ForgottenMemory, MemoryRef, forget_memory
from nova.memory.names import normalize_name
from nova.memory.projection import Projector
from nova.memory.redact import Redactor
from nova.memory.reextract import rebuild_whole_agent
from nova.store.locks import OPERATOR_WAIT_S, agent_lock

__all__ = ["Curated", "CurationBusy", "forget", "check_merge", "merge_entities", "check_split", "split_alias",
           "audit_rows"]


class CurationBusy(RuntimeError):
    """Another writer (a catch-up, a re-extraction) held the agent's lock for longer than the wait."""


@dataclass
class Curated:
    action: str                 # merge | split
    agent: str
    entity_id: int | None       # the entity to show now: the merged one, or the alias split off
    entries: int                # entries re-extracted
    seconds: float


@dataclass(frozen=True)
class _Entity:
    id: int
    kind: str
    norm: str
    name: str
    aliases: tuple[str, ...]    # normalised


def _entity(conn, agent: str, entity_id: int) -> _Entity:
    row = conn.execute(
        "SELECT id, kind, norm_name, name, array(SELECT alias_norm FROM entity_aliases a WHERE a.agent_id = e.agent_id"
        " AND a.entity_id = e.id ORDER BY alias_norm) FROM entities e WHERE e.agent_id = %s AND e.id = %s",
        (agent, entity_id)).fetchone()
    if row is None:
        raise LookupError(f"agent {agent} has no entity {entity_id}")
    return _Entity(row[0], row[1], row[2], row[3], tuple(row[4]))


def _audit(conn, agent: str, action: str, actor: str, target: dict) -> None:
    conn.execute("INSERT INTO curation_audit (agent_id, action, actor, target) VALUES (%s, %s, %s, %s)",
                 (agent, action, actor, json.dumps(target)))


def forget(store, embedder, agent: str, ref: MemoryRef, *, actor: str) -> ForgottenMemory | None:
    """Forget ``ref`` of ``agent`` (``forget_memory``, via ``ui``) and audit it, in one transaction.
    Returns None when the agent has no such memory (nothing is written)."""
    with store.connection() as conn, conn.transaction():
        gone = forget_memory(conn, embedder, agent, ref, via="ui")
        if gone is not None:
            _audit(conn, agent, "forget", actor, {"ref": str(ref), "rules": gone.rules})
    return gone


def check_merge(conn, agent: str, keep_id: int, other_id: int) -> tuple[_Entity, _Entity]:
    """The two entities of a merge, checked: ``(keep, other)``.

    Raises:
        LookupError: the agent has no such entity.
        ValueError: the two ids are the same entity.
    """
    if keep_id == other_id:
        raise ValueError("an entity cannot be merged into itself")
    return _entity(conn, agent, keep_id), _entity(conn, agent, other_id)


def merge_entities(store, projector: Projector, agent: str, keep_id: int, other_id: int, *, actor: str,
                   redactor: Redactor | None = None, workers: int | None = None, progress=None,
                   wait_s: float = OPERATOR_WAIT_S) -> Curated:
    """Make ``other_id`` and ``keep_id`` one entity, known by ``keep_id``'s name: every name ``other_id``
    was seen under resolves to it from now on (rules), and the agent is rebuilt with the rules.

    Raises:
        LookupError: the agent has no such entity.
        ValueError: the two ids are the same entity.
        CurationBusy: another writer kept the agent's lock past ``wait_s`` seconds.

    ``progress(agent, n)``: called as each chunk of ``n`` entries is rebuilt.
    """
    def rules(conn) -> dict:
        keep, other = check_merge(conn, agent, keep_id, other_id)
        names = sorted(({other.norm} | set(other.aliases)) - {keep.norm})
        # Merges into `other` now go to `keep` (a chain stays one step), and a name merged here is
        # no longer split off `keep`.
        conn.execute("UPDATE entity_rules SET entity_kind = %s, entity_norm = %s, entity_name = %s"
                     " WHERE agent_id = %s AND action = 'merge' AND entity_kind = %s AND entity_norm = %s",
                     (keep.kind, keep.norm, keep.name, agent, other.kind, other.norm))
        conn.execute("DELETE FROM entity_rules WHERE agent_id = %s AND alias_norm = ANY(%s)"
                     " AND (action = 'merge' OR (entity_kind, entity_norm) = (%s, %s))",
                     (agent, names, keep.kind, keep.norm))
        conn.cursor().executemany(
            "INSERT INTO entity_rules (agent_id, action, alias_norm, entity_kind, entity_norm, entity_name)"
            " VALUES (%s, 'merge', %s, %s, %s, %s)", [(agent, n, keep.kind, keep.norm, keep.name) for n in names])
        _audit(conn, agent, "merge", actor, {"kept": keep_id, "merged": other_id, "names": len(names)})
        return {"kind": keep.kind, "norm": keep.norm}

    return _curate(store, projector, agent, "merge", rules, redactor, workers, progress, wait_s)


def check_split(conn, agent: str, entity_id: int, alias: str) -> _Entity:
    """The entity a split takes ``alias`` off, checked.

    Raises:
        LookupError: the agent has no such entity.
        ValueError: ``alias`` is not one of the entity's names, or is its own name.
    """
    norm = normalize_name(alias)
    entity = _entity(conn, agent, entity_id)
    if norm == entity.norm:
        raise ValueError(f"{alias!r} is the entity's own name: split off one of its other names")
    if norm not in entity.aliases:
        raise ValueError(f"{alias!r} is not a name of entity {entity_id}")
    return entity


def split_alias(store, projector: Projector, agent: str, entity_id: int, alias: str, *, actor: str,
                redactor: Redactor | None = None, workers: int | None = None, progress=None,
                wait_s: float = OPERATOR_WAIT_S) -> Curated:
    """Take the name ``alias`` off ``entity_id``: mentions of it become an entity of their own from now on
    (a rule), and the agent is rebuilt with the rule.

    Raises:
        LookupError: the agent has no such entity.
        ValueError: ``alias`` is not one of the entity's names, or is its own name.
        CurationBusy: another writer kept the agent's lock past ``wait_s`` seconds.

    ``progress(agent, n)``: called as each chunk of ``n`` entries is rebuilt.
    """
    norm = normalize_name(alias)

    def rules(conn) -> dict:
        entity = check_split(conn, agent, entity_id, alias)
        conn.execute("DELETE FROM entity_rules WHERE agent_id = %s AND action = 'merge' AND alias_norm = %s",
                     (agent, norm))
        conn.execute(
            "INSERT INTO entity_rules (agent_id, action, alias_norm, entity_kind, entity_norm, entity_name)"
            " VALUES (%s, 'split', %s, %s, %s, %s) ON CONFLICT DO NOTHING",
            (agent, norm, entity.kind, entity.norm, entity.name))
        _audit(conn, agent, "split", actor, {"entity": entity_id})
        return {"alias": norm}

    return _curate(store, projector, agent, "split", rules, redactor, workers, progress, wait_s)


def _curate(store, projector, agent, action, write_rules, redactor, workers, progress, wait_s) -> Curated:
    started = time.monotonic()
    projector.prepare()  # the models load before the lock and the transaction, not under them
    with store.connection() as conn, agent_lock(conn, agent, wait_s) as locked:
        if not locked:
            raise CurationBusy(f"a catch-up or re-extraction is working on agent {agent} (waited {wait_s:.0f} s);"
                               " try again when it is done")
        with conn.transaction():
            shown = write_rules(conn)
            rebuilt = rebuild_whole_agent(conn, projector, agent, progress, redactor, workers)
            entity_id = _entity_after(conn, agent, shown)
    return Curated(action, agent, entity_id, rebuilt, time.monotonic() - started)


def _entity_after(conn, agent: str, shown: dict) -> int | None:
    """The rebuilt entity a merge kept (by its kind and name) or a split made (by the alias)."""
    if "norm" in shown:
        row = conn.execute("SELECT id FROM entities WHERE agent_id = %s AND norm_name = %s ORDER BY kind = %s DESC, id"
                           " LIMIT 1", (agent, shown["norm"], shown["kind"])).fetchone()
    else:
        row = conn.execute("SELECT entity_id FROM entity_aliases WHERE agent_id = %s AND alias_norm = %s"
                           " ORDER BY entity_id LIMIT 1", (agent, shown["alias"])).fetchone()
    return row[0] if row else None


def audit_rows(conn: psycopg.Connection, agent: str, limit: int = 200) -> list[dict]:
    """The agent's curation audit, newest first: ``{"at", "action", "actor", "target"}``."""
    return [{"at": at, "action": action, "actor": actor, "target": target} for at, action, actor, target in conn.execute(
        "SELECT at, action, actor, target FROM curation_audit WHERE agent_id = %s ORDER BY at DESC, id DESC LIMIT %s",
        (agent, limit))]
