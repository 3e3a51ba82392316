// Builds an OpenClaw SQLite transcript store the way OpenClaw 2026.9.6 lays it out, for tests.
//
//   node openclaw_sqlite_store.mjs <openclaw package dir>  < spec.json
//
// The schema is OpenClaw's own OPENCLAW_AGENT_SCHEMA_SQL, imported from the package's dist/,
// executed by Node's built-in SQLite (the engine OpenClaw itself uses), in WAL mode.
// Compressed events and cold archives use node:zlib's zstd, as OpenClaw does.
//
// spec: {
//   db: "<state>/agents/<id>/agent/openclaw-agent.sqlite",
//   sessions: [{ sessionId, sessionKey, generation?, events: [<event object>...],
//                compressFrom?: <seq>,     // events from this seq on go to event_zstd
//                cold?: "file" | "sqlite" }],  // move the session to a cold archive
//   holdMs?: <n>   // then hold a write transaction open this long (prints "holding")
// }
// Idempotent per session: events are appended after the session's current last seq.
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import crypto from "node:crypto";
import { DatabaseSync } from "node:sqlite";

const pkg = process.argv[2];
const spec = JSON.parse(fs.readFileSync(0, "utf8"));

async function openclawSchema() {
  const dist = path.join(pkg, "dist");
  for (const name of fs.readdirSync(dist).filter((n) => n.startsWith("openclaw-agent-board-schema-") && n.endsWith(".mjs"))) {
    const mod = await import(path.join(dist, name));
    const found = Object.values(mod).filter((v) => typeof v === "string" && v.includes("CREATE TABLE IF NOT EXISTS transcript_events"));
    if (found.length) return found.sort((a, b) => b.length - a.length)[0];
  }
  throw new Error(`OPENCLAW_AGENT_SCHEMA_SQL not found under ${dist}`);
}

fs.mkdirSync(path.dirname(spec.db), { recursive: true });
const db = new DatabaseSync(spec.db);
db.exec("PRAGMA journal_mode = WAL");
db.exec(await openclawSchema());
const now = Date.now();

for (const s of spec.sessions) {
  const entry = JSON.stringify({ sessionId: s.sessionId, updatedAt: now });
  db.prepare(
    "INSERT INTO session_nodes (session_key, current_session_id, entry_json, updated_at) VALUES (?, ?, ?, ?)" +
      " ON CONFLICT(session_key) DO UPDATE SET current_session_id = excluded.current_session_id",
  ).run(s.sessionKey, s.sessionId, entry, now);
  db.prepare(
    "INSERT OR IGNORE INTO session_windows (session_id, session_key, reason, created_at, updated_at) VALUES (?, ?, 'initial', ?, ?)",
  ).run(s.sessionId, s.sessionKey, now, now);
  {
    db.prepare(
      "INSERT INTO transcript_rewrite_watermarks (session_id, generation, updated_at) VALUES (?, ?, ?)" +
        " ON CONFLICT(session_id) DO UPDATE SET generation = excluded.generation",
    ).run(s.sessionId, s.generation ?? "g1", now);
  }
  let seq = (db.prepare("SELECT max(seq) AS m FROM transcript_events WHERE session_id = ?").get(s.sessionId).m ?? -1) + 1;
  const insertPlain = db.prepare("INSERT INTO transcript_events (session_id, seq, event_json, created_at, event_utf8_bytes) VALUES (?, ?, ?, ?, ?)");
  const insertZstd = db.prepare(
    "INSERT INTO transcript_events (session_id, seq, event_json, created_at, event_zstd, event_utf8_bytes, navigation_json) VALUES (?, ?, NULL, ?, ?, ?, ?)",
  );
  const navigation = JSON.stringify({
    version: 1, report: { kind: "canonical" }, navigation: {}, reset: {}, model: {}, modelBytes: 0,
    modelWithoutCheckpointBytes: 0, withoutCustomDataBytes: 0,
  });
  for (const event of s.events) {
    const json = JSON.stringify(event);
    const bytes = Buffer.byteLength(json);
    if (s.compressFrom !== undefined && seq >= s.compressFrom && event.type !== "session") {
      const packed = zlib.zstdCompressSync(Buffer.from(json), { params: { [zlib.constants.ZSTD_c_compressionLevel]: 1 } });
      try {
        insertZstd.run(s.sessionId, seq, now, packed, bytes, navigation);
      } catch {
        // This SQLite lacks a function the CHECK needs: store plain, the reader is the same.
        insertPlain.run(s.sessionId, seq, json, now, bytes);
      }
    } else {
      insertPlain.run(s.sessionId, seq, json, now, bytes);
    }
    seq++;
  }
  if (s.cold) {
    const generation = s.generation ?? "g1";
    const rows = db.prepare(
      "SELECT seq, coalesce(event_json, NULL) AS event_json, event_zstd, created_at FROM transcript_events WHERE session_id = ? ORDER BY seq",
    ).all(s.sessionId);
    const lines = [JSON.stringify({ kind: "header", version: 1, sessionId: s.sessionId, generation })];
    let raw = 0;
    for (const r of rows) {
      const ev = r.event_json ?? zlib.zstdDecompressSync(r.event_zstd).toString("utf8");
      raw += Buffer.byteLength(ev);
      lines.push(JSON.stringify({ kind: "event", row: { seq: r.seq, event_json: ev, created_at: r.created_at } }));
    }
    const archive = zlib.zstdCompressSync(Buffer.from(lines.join("\n") + "\n"));
    const sha = crypto.createHash("sha256").update(archive).digest("hex");
    const name = `${sha}.jsonl.zst`;
    if (s.cold === "file") {
      const dir = path.join(path.dirname(path.dirname(spec.db)), "sessions", "cold");
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, name), archive);
    }
    db.prepare(
      "INSERT INTO session_transcript_cold_archives (session_id, generation, archive_name, archive_sha256, event_count," +
        " raw_bytes, archive_bytes, last_seq, archived_at, storage, archive_blob) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    ).run(s.sessionId, generation, name, sha, rows.length, raw + rows.length - 1, archive.length, rows.at(-1).seq, now,
      s.cold, s.cold === "sqlite" ? archive : null);
    db.prepare("DELETE FROM transcript_events WHERE session_id = ?").run(s.sessionId);
  }
}

if (spec.holdMs) {
  db.exec("BEGIN IMMEDIATE");
  db.prepare("UPDATE session_windows SET updated_at = ? WHERE rowid = (SELECT min(rowid) FROM session_windows)").run(now + 1);
  process.stdout.write("holding\n");
  await new Promise((r) => setTimeout(r, spec.holdMs));
  db.exec("COMMIT");
}
db.close();
process.stdout.write("ok\n");
