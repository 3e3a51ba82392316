// Real agent turns through a running OpenClaw gateway, the way an operator's client sends them.
//
// Uses OpenClaw's own gateway client (callGateway, from the pinned package's dist) in one process,
// so a turn costs what the gateway does, not a CLI start-up: for each turn `chat.send`
// (the path that fires message:received) then `agent.wait` until the run ends.
//
// usage: node gateway_turns.mjs <openclaw package dir> <json: {turns: [{sessionKey, message}], timeoutMs}>
// OPENCLAW_STATE_DIR names the state dir (its openclaw.json gives the gateway's port).
// Prints one JSON line per turn: {sessionKey, runId, status, sentAt, ackAt, endedAt, reply, ack (chat.send's answer)}.
import fs from "node:fs";
import path from "node:path";
import { randomUUID } from "node:crypto";
import { loadFromDist } from "./openclaw_dist.mjs";

const [pkg, rawArgs] = process.argv.slice(2);
const args = JSON.parse(rawArgs ?? "{}");

const { callGateway } = await loadFromDist(pkg, "call-", ["callGateway"]);
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
    endedAt: done.endedAt ?? Date.now(), reply: done.terminalReply?.text ?? null, ack,
  }));
}
// {historyOf: sessionKey}: then the session's chat history as the gateway shows it (chat.history),
// which holds what a command (api.registerCommand) answered without a model run.
if (args.historyOf) {
  console.log(JSON.stringify({ history: await call("chat.history", { sessionKey: args.historyOf, limit: 50 }) }));
}
process.exit(0);
