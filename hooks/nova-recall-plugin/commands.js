// Slash commands that answer without a model call (api.registerCommand, OpenClaw
// docs/plugins/sdk-overview/tools-and-commands.md: "Custom command (bypasses the LLM)").
//   /memory <query>  what NOVA would recall for the query: each memory with its date and source
//   /memory          the session profile (NOVA_MEMORY.md) this session is served
// Scoped to the session's agent; the service refuses sessions its filters exclude (sub-agents, cron,
// groups) like every other route. Bounded by the tool budget; with the service down the answer says so.
import { agentOf, call, disabled } from "../nova-lib/client.js";

const DOWN = "NOVA is not running (nova serve did not answer), so there is nothing to show.";
const DEFAULT_BUDGET_MS = 3000;

function budget(api) {
  const configured = Number(api.pluginConfig?.toolBudgetMs);
  return Number.isFinite(configured) && configured > 0 ? configured : DEFAULT_BUDGET_MS;
}

/** The session the command was sent in: {sessionKey, agentId, sessionId?}, or null. */
function who(ctx) {
  const sessionKey = typeof ctx?.sessionKey === "string" && ctx.sessionKey ? ctx.sessionKey : null;
  if (!sessionKey) return null;
  const agentId = typeof ctx.agentId === "string" && ctx.agentId ? ctx.agentId : agentOf(sessionKey);
  return { sessionKey, ...(agentId ? { agentId } : {}), ...(typeof ctx.sessionId === "string" ? { sessionId: ctx.sessionId } : {}) };
}

async function memory(api, ctx) {
  const session = who(ctx);
  if (disabled()) return { text: "NOVA is disabled in this gateway." };
  if (!session) return { text: "NOVA: this command needs a conversation session." };
  const query = String(ctx?.args ?? "").trim();
  const { sessionId, ...scope } = session;
  const answer = query
    ? await call("nova-command", "/v1/memory/search", { ...scope, query }, budget(api))
    : await call("nova-command", "/v1/bootstrap", { ...scope, ...(sessionId ? { sessionId } : {}) }, budget(api));
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
