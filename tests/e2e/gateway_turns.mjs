// Real agent turns through a running OpenClaw gateway, the way an operator's client sends them.
//
// Uses OpenClaw's own gateway client (callGateway, from the pinned package's dist) in one process,
// so a turn costs what the gateway does, not a CLI start-up: for each turn `chat.send`
// (the path that fires message:received) then `agent.wait` until the run ends.
//
// usage: node gateway_turns.mjs <openclaw package dir> <json: {turns: [{sessionKey, message}], timeoutMs}>
// OPENCLAW_STATE_DIR names the state dir (its openclaw.json gives the gateway's port).
// Prints one JSON line per turn: {sessionKey, runId, status, sentAt, ackAt, endedAt, reply}.
import fs from "node:fs";
import path from "node:path";
import { randomUUID } from "node:crypto";
import { pathToFileURL } from "node:url";

const [pkg, rawArgs] = process.argv.slice(2);
const args = JSON.parse(rawArgs ?? "{}");
const dist = path.join(pkg, "dist");

// dist chunks have hashed names and minified export aliases: find the chunk by its name prefix
// and the alias by the original name in its export list (stable within the pinned version).
async function load(prefix, names) {
  for (const file of fs.readdirSync(dist).filter((f) => f.startsWith(prefix) && f.endsWith(".mjs"))) {
    const src = fs.readFileSync(path.join(dist, file), "utf8");
    const m = /export \{([^}]*)\};?\s*$/.exec(src);
    if (!m) continue;
    const aliases = Object.fromEntries(m[1].split(",").map((s) => s.trim().split(/\s+as\s+/)).map(([n, a]) => [n, a ?? n]));
    if (!names.every((n) => n in aliases)) continue;
    const mod = await import(pathToFileURL(path.join(dist, file)).href);
    return Object.fromEntries(names.map((n) => [n, mod[aliases[n]]]));
  }
  throw new Error(`no dist chunk ${prefix}* exports ${names.join(", ")}`);
}

const { callGateway } = await load("call-", ["callGateway"]);
const config = JSON.parse(fs.readFileSync(path.join(process.env.OPENCLAW_STATE_DIR, "openclaw.json"), "utf8"));
const timeoutMs = args.timeoutMs ?? 60000;
const call = (method, params, ms = 15000) =>
  callGateway({ method, params, config, timeoutMs: ms, clientName: "cli", mode: "cli" });

for (const turn of args.turns) {
  const runId = randomUUID();
  const sentAt = Date.now();
  const ack = await call("chat.send", { sessionKey: turn.sessionKey, message: turn.message, idempotencyKey: runId });
  const ackAt = Date.now();
  const done = await call("agent.wait", { runId: ack.runId ?? runId, timeoutMs }, timeoutMs + 5000);
  console.log(JSON.stringify({
    sessionKey: turn.sessionKey, runId: ack.runId ?? runId, status: done.status, sentAt, ackAt,
    endedAt: done.endedAt ?? Date.now(), reply: done.terminalReply?.text ?? null,
  }));
}
process.exit(0);
