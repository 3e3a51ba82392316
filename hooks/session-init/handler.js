// session-init: agent:bootstrap → POST /v1/bootstrap, then append NOVA_MEMORY.md to
// context.bootstrapFiles ({name, path, content, missing}; docs/automation/hooks/event-types.md).
// session:compact:after → POST /v1/sessions/refresh so the next run rebuilds the profile.
import path from "node:path";
import { budgetMs, call, disabled } from "../nova-lib/client.js";

const FILE_NAME = "NOVA_MEMORY.md";

export default async function sessionInit(event) {
  try {
    if (disabled() || !event?.sessionKey) return;
    if (event.type === "session" && event.action === "compact:after") {
      await call("session-init", "/v1/sessions/refresh", { sessionKey: event.sessionKey }, budgetMs("bootstrap"));
      return;
    }
    if (event.type !== "agent" || event.action !== "bootstrap") return;
    const ctx = event.context;
    if (!ctx || !Array.isArray(ctx.bootstrapFiles) || typeof ctx.workspaceDir !== "string") return;
    const answer = await call("session-init", "/v1/bootstrap", {
      sessionKey: ctx.sessionKey ?? event.sessionKey,
      agentId: typeof ctx.agentId === "string" ? ctx.agentId : undefined,
      sessionId: typeof ctx.sessionId === "string" ? ctx.sessionId : undefined,
    }, budgetMs("bootstrap"));
    if (answer?.status !== "ok" || typeof answer.content !== "string" || !answer.content.trim()) return;
    const record = { name: FILE_NAME, path: path.join(ctx.workspaceDir, FILE_NAME), content: answer.content, missing: false };
    const at = ctx.bootstrapFiles.findIndex((f) => f?.name === FILE_NAME);
    if (at >= 0) ctx.bootstrapFiles[at] = record;
    else ctx.bootstrapFiles.push(record);
  } catch (e) {
    console.warn(`[nova:session-init] ${e?.message ?? e}; continuing without NOVA`);
  }
}
