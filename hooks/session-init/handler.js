// session-init: agent:bootstrap → POST /v1/bootstrap, then append NOVA_MEMORY.md to
// context.bootstrapFiles ({name, path, content, missing}; docs/automation/hooks/event-types.md).
// session:compact:after → POST /v1/sessions/refresh so the next run rebuilds the profile.
//
// The block sits in the system prompt, whose prefix the provider caches. When the service does
// not answer in time (down, restarting, busy), the block this gateway process last served to the
// same session (same session id) is served again: failing open to nothing would change the
// system prompt twice (without the block, then with it again) and miss the cache both times.
import path from "node:path";
import { budgetMs, call, disabled } from "../nova-lib/client.js";

const FILE_NAME = "NOVA_MEMORY.md";
const MAX_HELD = 1000; // sessions whose last block is kept in this process
const lastServed = new Map(); // sessionKey → { sessionId, content }

function remember(sessionKey, sessionId, content) {
  lastServed.delete(sessionKey);
  lastServed.set(sessionKey, { sessionId, content });
  if (lastServed.size > MAX_HELD) lastServed.delete(lastServed.keys().next().value); // oldest first
}

export default async function sessionInit(event) {
  try {
    if (disabled() || !event?.sessionKey) return;
    if (event.type === "session" && event.action === "compact:after") {
      lastServed.delete(event.sessionKey);
      await call("session-init", "/v1/sessions/refresh", { sessionKey: event.sessionKey }, budgetMs("bootstrap"));
      return;
    }
    if (event.type !== "agent" || event.action !== "bootstrap") return;
    const ctx = event.context;
    if (!ctx || !Array.isArray(ctx.bootstrapFiles) || typeof ctx.workspaceDir !== "string") return;
    const sessionKey = ctx.sessionKey ?? event.sessionKey;
    const sessionId = typeof ctx.sessionId === "string" ? ctx.sessionId : undefined;
    const answer = await call("session-init", "/v1/bootstrap", {
      sessionKey,
      agentId: typeof ctx.agentId === "string" ? ctx.agentId : undefined,
      sessionId,
    }, budgetMs("bootstrap"));
    let content;
    if (answer === null) {
      const held = lastServed.get(sessionKey);
      content = held && held.sessionId === sessionId ? held.content : undefined; // a new session starts fresh
    } else if (answer.status === "ok" && typeof answer.content === "string") {
      content = answer.content;
      remember(sessionKey, sessionId, content);
    } else {
      lastServed.delete(sessionKey); // skipped by the filters, or nothing to show
    }
    if (typeof content !== "string" || !content.trim()) return;
    const record = { name: FILE_NAME, path: path.join(ctx.workspaceDir, FILE_NAME), content, missing: false };
    const at = ctx.bootstrapFiles.findIndex((f) => f?.name === FILE_NAME);
    if (at >= 0) ctx.bootstrapFiles[at] = record;
    else ctx.bootstrapFiles.push(record);
  } catch (e) {
    console.warn(`[nova:session-init] ${e?.message ?? e}; continuing without NOVA`);
  }
}
