// Slash commands that answer without a model call (api.registerCommand, OpenClaw
// docs/plugins/sdk-overview/tools-and-commands.md: "Custom command (bypasses the LLM)").
//   /memory <query>  what NOVA would recall for the query: each memory with its date and source
//   /memory          the session profile (NOVA_MEMORY.md) this session is served
// Scoped to the session's agent; the service refuses sessions its filters exclude (sub-agents, cron,
// groups) like every other route. The tools' scope and budget (./tools.js); with the service down the answer says so.
import { call, disabled } from "../nova-lib/client.js";
import { budget, scope } from "./tools.js";

const DOWN = "NOVA is not running (nova serve did not answer), so there is nothing to show.";

async function memory(api, ctx) {
  const session = scope(ctx); // the tools' scope: {sessionKey, agentId}
  if (disabled()) return { text: "NOVA is disabled in this gateway." };
  if (!session) return { text: "NOVA: this command needs a conversation session." };
  const query = String(ctx?.args ?? "").trim();
  const sessionId = typeof ctx.sessionId === "string" ? { sessionId: ctx.sessionId } : {};
  const answer = query
    ? await call("nova-command", "/v1/memory/search", { ...session, query }, budget(api))
    : await call("nova-command", "/v1/bootstrap", { ...session, ...sessionId }, budget(api));
  if (!answer || typeof answer.status !== "string") return { text: DOWN };
  if (answer.status === "skipped") {
    return { text: `NOVA keeps no memories of this session (${answer.reason ?? "filtered"}).` };
  }
  if (query) return { text: answer.text || `NOVA has no memories for ${JSON.stringify(query)}.` };
  return { text: answer.content ? `NOVA session profile (${answer.name}):\n${answer.content}` : "NOVA has no profile for this session yet." };
}

/** Register the commands (a no-op where the API lacks registerCommand). */
export function registerMemoryCommands(api) {
  if (typeof api.registerCommand !== "function") return;
  api.registerCommand({
    name: "memory",
    description: "NOVA: what it would recall for a query, with dates and sources; without one, this session's profile",
    acceptsArgs: true,
    handler: (ctx) => memory(api, ctx),
  });
}
