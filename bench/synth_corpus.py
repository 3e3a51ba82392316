#!/usr/bin/env python3
"""Fill a NOVA store with a synthetic corpus of N memories, for latency and scale benchmarks.

Realistic in shape, not in meaning: several agents (one heavy, the rest small), people with
aliases, pets, places and organisations, months of dated episodes (one entry each, with a
per-entry retrieval key), relationships about them with valid_from, and provenance on every row.
Texts are unique; embeddings come from a pool of really embedded template sentences plus noise
(embedding 1M texts would take hours on 2 cores), so vector search does real HNSW work.

Memories split: 40% episodes, 50% relationships, 10% entities; 80% belong to agent ``main``.
Rows go in with COPY, then the HNSW indexes are (re)built; index build time and disk size are
printed. Usage: bench/synth_corpus.py --memories 100000 [--agents 5] [--seed 7]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

FIRST = ["Dana", "Priya", "Tobias", "Amara", "Lukas", "Mei", "Omar", "Sofia", "Jonas", "Aiko", "Mateo", "Nora",
         "Ravi", "Elena", "Kwame", "Ines", "Hugo", "Yara", "Felix", "Lena", "Diego", "Hana", "Ivan", "Zoe"]
LAST = ["Okafor", "Brandt", "Silva", "Novak", "Tanaka", "Haddad", "Kowalski", "Moreau", "Lindqvist", "Osei",
        "Fischer", "Costa", "Ivanova", "Nakamura", "Reyes", "Berg"]
CITIES = ["Hamburg", "Lisbon", "Osaka", "Nairobi", "Toronto", "Lyon", "Krakow", "Austin", "Porto", "Bergen"]
ORGS = ["Lindqvist Labs", "Heron Analytics", "Bluebird Health", "Northwind", "Acme Robotics", "Tidewater Bank"]
PETS = [("beagle", "Waffles"), ("greyhound", "Biscuit"), ("cat", "Miso"), ("parrot", "Kiwi"), ("guinea pig", "Oscar")]
HOBBIES = ["the cello", "bouldering", "sourdough baking", "chess", "marathon running", "pottery", "birdwatching"]
FACTS = ["{a} works at {org}", "{a} lives in {city}", "{a} adopted a {pet} named {pet_name}", "{a} is {b}'s sister",
         "{a} started learning {hobby}", "{a} moved to {city}", "{a} leads the project at {org}", "{a} visits {city} in spring"]
TURNS = ["I went to {city} with {b} and we tried {hobby}.", "{b} told me {org} is hiring again.",
         "My {pet} {pet_name} got sick, so I stayed home.", "We finally finished the roadmap at {org}.",
         "I'm thinking about moving to {city} next year.", "{b} and I signed up for {hobby} classes.",
         "Remind me to call {b} about the {city} trip.", "The demo at {org} went really well today."]
REPLIES = ["That sounds great, tell me more.", "Noted, I'll remember that.", "How did {b} take it?",
           "Good luck with {hobby}!", "I hope {pet_name} feels better soon."]


def _fill(template: str, rng: random.Random) -> str:
    pet, pet_name = rng.choice(PETS)
    return template.format(a=f"{rng.choice(FIRST)} {rng.choice(LAST)}", b=rng.choice(FIRST), org=rng.choice(ORGS),
                           city=rng.choice(CITIES), pet=pet, pet_name=pet_name, hobby=rng.choice(HOBBIES))


def generate(store, embedder, model: str, memories: int, agents: int = 5, seed: int = 7, pool_size: int = 3000,
             progress=print, pending: float = 0.0) -> dict:
    """Insert about ``memories`` rows; returns counts, seconds, index build time and disk size.

    With the static tier (``embedder.static``) every row also gets a static vector (of the same pool
    sentence), and a ``pending`` share of each agent's newest rows has no dense vector yet (the state
    between ingest and the dense pass: recall's static path then has work to do)."""
    from pgvector.psycopg import register_vector

    from nova.store.migrations import ensure_static_indexes, ensure_vector_indexes

    rng = random.Random(seed)
    nrng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    pool_texts = [_fill(rng.choice(FACTS + TURNS), rng) for _ in range(pool_size)]
    pool = np.asarray(embedder.encode(pool_texts), dtype=np.float32)
    progress(f"embedded a pool of {pool_size} sentences in {time.perf_counter() - t0:.1f} s")

    static_pool = np.asarray(embedder.static.encode(pool_texts), dtype=np.float32) if embedder.static else None
    picks: list[int] = []

    def vector() -> np.ndarray:
        picks.append(rng.randrange(pool_size))
        v = pool[picks[-1]] + nrng.normal(0, 0.04, pool.shape[1]).astype(np.float32)
        return v / np.linalg.norm(v)

    def static_vector() -> np.ndarray | None:
        """The static vector of the sentence the last ``vector()`` drew (None without the static tier)."""
        if static_pool is None:
            return None
        v = static_pool[picks[-1]] + nrng.normal(0, 0.04, static_pool.shape[1]).astype(np.float32)
        return v / np.linalg.norm(v)

    names = ["main"] + [f"agent{i}" for i in range(1, agents)]
    weights = [0.8] + [0.2 / max(1, agents - 1)] * (agents - 1)
    share = {a: int(memories * w) for a, w in zip(names, weights)}
    start = datetime(2025, 1, 1, tzinfo=timezone.utc)
    counts = {"entries": 0, "episodes": 0, "relationships": 0, "entities": 0}
    with store.connection() as conn:
        register_vector(conn)
        with conn.transaction():
            conn.execute("SET LOCAL synchronous_commit = off")
            # Drop the HNSW indexes while loading: building once at the end is far faster.
            hnsw = [r[0] for r in conn.execute("SELECT indexname FROM pg_indexes WHERE indexdef ILIKE '%%hnsw%%'")]
            for name in hnsw:
                conn.execute(f'DROP INDEX IF EXISTS "{name}"')
            next_entity = conn.execute("SELECT coalesce(max(id), 0) + 1 FROM entities").fetchone()[0]
            next_episode = conn.execute("SELECT coalesce(max(id), 0) + 1 FROM episodes").fetchone()[0]
            next_rel = conn.execute("SELECT coalesce(max(id), 0) + 1 FROM relationships").fetchone()[0]
            for agent in names:
                n = share[agent]
                n_entities, n_episodes = max(10, n // 10), int(n * 0.4)
                n_rels = n - n_entities - n_episodes
                sid = f"synth-{agent}-{seed}"
                key = f"agent:{agent}:main"
                conn.execute("INSERT INTO sessions (agent_id, session_id, session_key, key_source) VALUES"
                             " (%s, %s, %s, 'default') ON CONFLICT DO NOTHING", (agent, sid, key))
                times = [start + timedelta(minutes=7 * i) for i in range(n_episodes)]
                ents = list(range(next_entity, next_entity + n_entities))
                episodes = range(next_episode, next_episode + n_episodes)
                rels = range(next_rel, next_rel + n_rels)

                def some_entry() -> str:
                    return f"s{rng.randrange(n_episodes)}"

                _copy(conn, "entries", "agent_id, session_id, entry_id, seq, session_key, role, speaker, addressee,"
                      " text, occurred_at, source_file",
                      ((agent, sid, f"s{i}", i, key, "user", "Dana Okafor", "Nova",
                        _fill(rng.choice(TURNS), rng) + f" (#{i})", times[i], "synthetic") for i in range(n_episodes)))
                _copy(conn, "entry_extraction", "agent_id, session_id, entry_id, status",
                      ((agent, sid, f"s{i}", "done") for i in range(n_episodes)))
                fresh = lambda i, total: i >= total * (1 - pending)  # the newest rows: dense vector pending
                _copy(conn, "entities", "id, agent_id, kind, name, norm_name, summary, embedding, static_embedding,"
                      " tokens, first_seen, last_seen, mention_count, extractor_version",
                      ((e, agent, "person", name, name.lower(), _fill(rng.choice(FACTS), rng),
                        None if fresh(i, n_entities) else dense, static_vector(), 20, seen, seen, rng.randint(1, 40), 1)
                       for i, e in enumerate(ents)
                       for name, seen, dense in [(f"{rng.choice(FIRST)} {rng.choice(LAST)} {seed}-{i}",
                                                  times[rng.randrange(n_episodes)], vector())]),
                      types=["int8", "text", "text", "text", "text", "text", "vector", "vector", "int4", "timestamptz",
                             "timestamptz", "int4", "int4"])
                _copy(conn, "entity_aliases", "agent_id, alias_norm, entity_id, alias",
                      ((agent, f"alias {e}", e, f"Alias {e}") for e in ents[: len(ents) // 3]))
                _copy(conn, "episodes", "id, agent_id, session_id, session_key, anchor_entry_id, first_seq, last_seq,"
                      " has_reply, text, occurred_at, tokens, extractor_version",
                      ((ep, agent, sid, key, f"s{i}", i, i, True,
                        f"[{times[i]:%d %B %Y}] Dana Okafor: {_fill(rng.choice(TURNS), rng)}\n"
                        f"Nova: {_fill(rng.choice(REPLIES), rng)}", times[i], 45, 1) for i, ep in enumerate(episodes)))
                _copy(conn, "episode_keys", "agent_id, session_id, entry_id, episode_id, embedding, static_embedding",
                      ((agent, sid, f"s{i}", ep, None if fresh(i, n_episodes) else dense, static_vector())
                       for i, ep in enumerate(episodes) for dense in [vector()]),
                      types=["text", "text", "text", "int8", "vector", "vector"])
                _copy(conn, "relationships", "id, agent_id, subject_id, predicate, object_value, object_key, fact,"
                      " valid_from, confidence, embedding, static_embedding, tokens, extractor_version",
                      ((r, agent, rng.choice(ents), "synthetic", fact, fact.lower(), fact,
                        times[rng.randrange(n_episodes)], 0.8, None if fresh(i, n_rels) else dense, static_vector(), 14, 1)
                       for i, r in enumerate(rels)
                       for fact, dense in [(_fill(rng.choice(FACTS), rng) + f" (#{i})", vector())]),
                      types=["int8", "text", "int8", "text", "text", "text", "text", "timestamptz", "float4",
                             "vector", "vector", "int4", "int4"])
                _copy(conn, "provenance", "agent_id, item_kind, item_id, session_id, entry_id",
                      [*((agent, "episode", ep, sid, f"s{i}") for i, ep in enumerate(episodes)),
                       *((agent, "relationship", r, sid, some_entry()) for r in rels),
                       *((agent, "entity", e, sid, some_entry()) for e in ents)])
                next_entity += n_entities
                next_episode += n_episodes
                next_rel += n_rels
                counts["entries"] += n_episodes
                counts["episodes"] += n_episodes
                counts["relationships"] += n_rels
                counts["entities"] += n_entities
                progress(f"  {agent}: {n_episodes} episodes, {n_rels} relationships, {n_entities} entities")
            for table, seq_col in (("entities", "id"), ("episodes", "id"), ("relationships", "id")):
                conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', '{seq_col}'), (SELECT max(id) FROM {table}))")
        load_s = time.perf_counter() - t0
        t1 = time.perf_counter()
        conn.execute("SET maintenance_work_mem = '1GB'")  # the HNSW graph fits in memory: a much faster build
        conn.commit()
        ensure_vector_indexes(conn, model, embedder.dim)
        if embedder.static is not None:
            ensure_static_indexes(conn, embedder.static.name, embedder.static.dim)
        conn.execute("ANALYZE")
        conn.commit()
        index_s = time.perf_counter() - t1
        size = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
    return {**counts, "memories": counts["episodes"] + counts["relationships"] + counts["entities"],
            "load_s": round(load_s, 1), "index_build_s": round(index_s, 1), "disk_mb": round(size / 2**20, 1)}


def _copy(conn, table: str, columns: str, rows, types: list[str] | None = None) -> None:
    """COPY ``rows`` into ``table``; binary (``types`` per column) when rows hold vectors."""
    binary = " WITH (FORMAT BINARY)" if types else ""
    with conn.cursor().copy(f"COPY {table} ({columns}) FROM STDIN{binary}") as cp:
        if types:
            cp.set_types(types)
        for row in rows:
            cp.write_row(row)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--memories", type=int, default=10_000, help="how many memories to add (default 10000)")
    ap.add_argument("--agents", type=int, default=5, help="agents to spread them over (default 5)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--pending", type=float, default=0.0,
                    help="share of each agent's newest rows without their dense vector yet (static tier)")
    args = ap.parse_args()
    from nova.config import load_settings
    from nova.runtime import Runtime

    rt = Runtime(load_settings())
    try:
        print(generate(rt.store, rt.embedder, rt.settings.embedding_model, args.memories, args.agents, args.seed,
                       pending=args.pending))
    finally:
        rt.close()


if __name__ == "__main__":
    main()
