"""The session profile: the memory block the session-init hook puts into the system prompt.

OpenClaw's ``agent:bootstrap`` hook (docs/automation/hooks/event-types.md) lets a handler add a
record ``{name, path, content, missing}`` to ``context.bootstrapFiles``; it lands in the system
prompt's project context, capped at 20,000 characters per file (``bootstrapMaxChars``). That
prefix is what providers cache, so the block must not change every turn: ``ProfileCache`` keeps
the block of a session byte-identical until the session id changes (start, reset), the session
is compacted, or the memories it shows changed materially.

What it shows, each item with its date:
- who the user is: current facts whose subject is the user (superseded ones are left out);
- the people, pets, places and things that matter now: most recently and most often mentioned;
- open threads: plans and intentions of the last weeks;
- recent episodes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg.types.json import Jsonb

from nova.memory.names import normalize_name
from nova.memory.prompt_tags import BLOCK_TAG, neutralise_tags
from nova.memory.texts import entity_text, relationship_text
from nova.memory.speakers import Speakers

__all__ = ["Profile", "build_profile", "ProfileCache", "PROFILE_FILE_NAME"]

PROFILE_FILE_NAME = "NOVA_MEMORY.md"
_PLAN = r"\m(plan|plans|planning|going to|gonna|will|want to|wants to|hope to|hopes to|thinking about|looking forward)\M"
_EPISODE_CHARS = 280
# An item supported by the given entry and by no other (params: agent, session, entry, twice).
_ONLY_FROM = ("(EXISTS (SELECT 1 FROM provenance p WHERE p.agent_id = %s AND p.item_kind = '{kind}'"
              "  AND p.item_id = {item} AND p.session_id = %s AND p.entry_id = %s)"
              " AND NOT EXISTS (SELECT 1 FROM provenance p WHERE p.agent_id = %s AND p.item_kind = '{kind}'"
              "  AND p.item_id = {item} AND (p.session_id, p.entry_id) <> (%s, %s)))")


@dataclass(frozen=True)
class Profile:
    """A rendered session profile and the memories it shows (``("relationship", id)`` …)."""

    text: str
    items: frozenset[tuple[str, int]]
    user_facts: frozenset[int] = frozenset()

    def differs_materially(self, newer: "Profile", min_changes: int) -> bool:
        """True when a fact about the user was added or superseded, or ``min_changes`` items changed."""
        if self.user_facts != newer.user_facts:
            return True
        return len(self.items ^ newer.items) >= min_changes


def build_profile(conn: psycopg.Connection, agent_id: str, speakers: Speakers, *, max_chars: int = 6000,
                  facts: int = 10, entities: int = 8, threads: int = 5, episodes: int = 5,
                  inbound: tuple[str, str] | None = None) -> Profile:
    """Render the profile of ``agent_id``'s memories; an empty ``text`` when there are none yet.

    ``inbound``: ``(session_id, entry_id)`` of the message the current turn answers; facts and
    episodes that only it supports are left out (the profile is what was known before the turn).
    """
    only_inbound = _ONLY_FROM.format(kind="relationship", item="r.id")
    only_inbound_episode = _ONLY_FROM.format(kind="episode", item="id")
    inbound_args = (agent_id, *(inbound or (None, None))) * 2
    user_norm = normalize_name(speakers.user)
    names = {normalize_name(speakers.user), normalize_name(speakers.assistant)}
    # Facts about the user: the user's own ("Dana lives in Lisbon"), and who and what is the user's
    # ("Priya is Dana's sister", "Biscuit is Dana's dog, a beagle": is_a facts whose object is the user).
    user_ids = [r[0] for r in conn.execute(
        "SELECT id FROM entities WHERE agent_id = %s AND norm_name = %s", (agent_id, user_norm))]
    fact_rows = conn.execute(
        "SELECT r.id, r.fact, r.valid_from, r.valid_to FROM relationships r"
        " WHERE r.agent_id = %s AND (r.subject_id = ANY(%s) OR (r.object_id = ANY(%s) AND r.predicate = 'is_a'))"
        "   AND r.valid_to IS NULL AND r.predicate NOT LIKE 'not\\_%%' AND NOT " + only_inbound +
        " ORDER BY r.valid_from DESC NULLS LAST, r.confidence DESC, r.id DESC LIMIT %s",
        (agent_id, user_ids, user_ids, *inbound_args, facts),
    ).fetchall()
    entity_rows = conn.execute(
        "SELECT e.id, e.name, e.kind, e.summary FROM entities e WHERE e.agent_id = %s AND NOT (e.norm_name = ANY(%s))"
        "   AND e.mention_count >= 2"
        " ORDER BY e.last_seen DESC NULLS LAST, e.mention_count DESC, e.id LIMIT %s",
        (agent_id, sorted(names), entities),
    ).fetchall()
    latest = conn.execute("SELECT max(occurred_at) FROM entries WHERE agent_id = %s", (agent_id,)).fetchone()[0]
    # The newest facts first (index range), the plan-words test on those only: a regex over every
    # relationship of a large store costs hundreds of milliseconds.
    thread_rows = [] if latest is None else conn.execute(
        "SELECT id, fact, valid_from, valid_to FROM (SELECT r.id, r.fact, r.valid_from, r.valid_to"
        "   FROM relationships r WHERE r.agent_id = %s AND r.valid_from >= %s::timestamptz - interval '30 days'"
        "   ORDER BY r.valid_from DESC, r.id DESC LIMIT 500) recent"
        " WHERE valid_to IS NULL AND fact ~* %s AND NOT (id = ANY(%s)) AND NOT " + _ONLY_FROM.format(
            kind="relationship", item="recent.id") +
        " ORDER BY valid_from DESC, id DESC LIMIT %s",
        (agent_id, latest, _PLAN, [r[0] for r in fact_rows], *inbound_args, threads),
    ).fetchall()
    episode_rows = conn.execute(
        "SELECT id, text FROM episodes WHERE agent_id = %s AND text <> '' AND NOT " + only_inbound_episode +
        " ORDER BY occurred_at DESC NULLS LAST, id DESC LIMIT %s",
        (agent_id, *inbound_args, episodes),
    ).fetchall()

    sections: list[tuple[str, list[str]]] = []
    if fact_rows:
        sections.append((f"About {speakers.user}", [relationship_text(f, vf, vt) for _, f, vf, vt in fact_rows]))
    if entity_rows:
        sections.append(("People and things that matter now", [entity_text(n, k, s) for _, n, k, s in entity_rows]))
    if thread_rows:
        sections.append(("Open threads", [relationship_text(f, vf, vt) for _, f, vf, vt in thread_rows]))
    if episode_rows:
        sections.append(("Recent episodes", [_shorten(t) for _, t in reversed(episode_rows)]))
    items = frozenset(
        [("relationship", r[0]) for r in fact_rows + thread_rows]
        + [("entity", r[0]) for r in entity_rows] + [("episode", r[0]) for r in episode_rows]
    )
    return Profile(_render(sections, max_chars), items, frozenset(r[0] for r in fact_rows))


def _shorten(text: str) -> str:
    flat = re.sub(r"\s+", " ", text).strip()
    return flat if len(flat) <= _EPISODE_CHARS else flat[: _EPISODE_CHARS - 1].rstrip() + "…"


def _render(sections: list[tuple[str, list[str]]], max_chars: int) -> str:
    if not sections:
        return ""
    head = (f"<{BLOCK_TAG}>\n# Long-term memory (NOVA)\n"
            "What you remember from earlier conversations. Dates are when things happened.\n")
    tail = f"</{BLOCK_TAG}>\n"
    out = head
    seen: set[str] = set()
    for title, lines in sections:
        lines = [neutralise_tags(line) for line in lines if not (line in seen or seen.add(line))]  # one fact, one line
        block = f"\n## {title}\n" + "".join(f"- {line}\n" for line in lines)
        while len(out) + len(block) + len(tail) > max_chars and lines:
            lines = lines[:-1]  # drop the least important lines of this section to fit the cap
            block = f"\n## {title}\n" + "".join(f"- {line}\n" for line in lines)
        if lines:
            out += block
    return out + tail


@dataclass
class _Held:
    session_id: str | None
    profile: Profile


class ProfileCache:
    """Keeps each session's profile stable: the same bytes until a refresh is due.

    A refresh is due when the session id differs from the held one (a new session or a
    reset), after ``invalidate`` (compaction) or a forget, and, only with ``min_changes`` > 0, when
    the freshly built profile differs materially (``Profile.differs_materially``). What was served lives in ``session_profiles``
    (sql/010) and nowhere else: a restarted service serves the same bytes. A profile served before
    the agent's last ``nova forget`` committed (``forgotten.forgotten_at``) is not served again, so
    a forget takes effect at the next bootstrap whatever transport the service listens on, and
    without locking these rows while it runs. One indexed read per bootstrap.
    """

    def __init__(self, min_changes: int = 0):
        self.min_changes = min_changes  # 0: never rebuilt mid-session (config.ServiceSettings.profile_min_changes)

    def settle(self, conn: psycopg.Connection, agent_id: str, session_key: str, session_id: str | None,
               fresh: Profile, built_at: datetime | None = None) -> tuple[Profile, str]:
        """The profile to serve and why: ``new``, ``reset``, ``changed`` or ``stable``.

        ``built_at``: when ``fresh`` started to be read from the store (the database's clock); it is
        stored as the profile's time, so a forget that committed while it was built makes it stale.
        Commits on ``conn`` when the served profile changed."""
        held = _load(conn, agent_id, session_key)
        if held is None:
            reason = "new"
        elif session_id is not None and held.session_id != session_id:
            reason = "reset"
        elif self.min_changes > 0 and held.profile.differs_materially(fresh, self.min_changes):
            reason = "changed"
        else:
            return held.profile, "stable"
        # A refresh without a session id from the hook keeps the one held.
        _save(conn, agent_id, session_key,
              _Held(session_id if session_id is not None else (held.session_id if held else None), fresh), built_at)
        return fresh, reason

    def invalidate(self, conn: psycopg.Connection, agent_id: str, session_key: str) -> bool:
        with conn.transaction():
            return conn.execute("DELETE FROM session_profiles WHERE agent_id = %s AND session_key = %s",
                                (agent_id, session_key)).rowcount > 0

    def invalidate_agent(self, conn: psycopg.Connection, agent_id: str) -> int:
        """Drop every held profile of ``agent_id`` (after ``nova forget``); returns how many."""
        with conn.transaction():
            return conn.execute("DELETE FROM session_profiles WHERE agent_id = %s", (agent_id,)).rowcount


def _load(conn: psycopg.Connection, agent_id: str, session_key: str) -> _Held | None:
    row = conn.execute(
        "SELECT session_id, text, items, user_facts FROM session_profiles p WHERE agent_id = %s AND session_key = %s"
        # A profile served before the agent's last forget committed (`nova forget`, or one memory
        # forgotten: nova.memory.forget_one) may show what it forgot.
        " AND served_at > GREATEST("
        "  (SELECT max(forgotten_at) FROM forgotten f WHERE f.agent_id = p.agent_id),"
        "  (SELECT max(forgotten_at) FROM forgotten_sessions s WHERE s.agent_id = p.agent_id),"
        "  (SELECT max(forgotten_at) FROM forgotten_memories m WHERE m.agent_id = p.agent_id), '-infinity')",
        (agent_id, session_key)).fetchone()
    conn.commit()
    if row is None:
        return None
    session_id, text, items, user_facts = row
    return _Held(session_id, Profile(text, frozenset((k, int(i)) for k, i in items), frozenset(user_facts)))


def _save(conn: psycopg.Connection, agent_id: str, session_key: str, held: _Held,
          built_at: datetime | None = None) -> None:
    """Store what is served, dated when it was built (not saved: a forget committed in between makes
    it stale; ``now()`` here was the save's own start)."""
    with conn.transaction():
        conn.execute(
            "INSERT INTO session_profiles (agent_id, session_key, session_id, text, items, user_facts, served_at)"
            " VALUES (%s, %s, %s, %s, %s, %s, coalesce(%s, now()))"
            " ON CONFLICT (agent_id, session_key) DO UPDATE SET session_id = EXCLUDED.session_id,"
            "  text = EXCLUDED.text, items = EXCLUDED.items, user_facts = EXCLUDED.user_facts,"
            "  served_at = EXCLUDED.served_at",
            (agent_id, session_key, held.session_id, held.profile.text,
             Jsonb(sorted([k, i] for k, i in held.profile.items)), sorted(held.profile.user_facts), built_at))
