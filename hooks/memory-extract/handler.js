// memory-extract: message:received → POST /v1/messages (docs/automation/hooks/event-types.md,
// "Message context"). Fire-and-forget for OpenClaw; bounded and silent on failure.
import { budgetMs, call, disabled } from "../nova-lib/client.js";

export default async function memoryExtract(event) {
  try {
    if (disabled() || event?.type !== "message" || event.action !== "received") return;
    const ctx = event.context ?? {};
    if (!event.sessionKey || typeof ctx.content !== "string" || !ctx.content.trim()) return;
    await call("memory-extract", "/v1/messages", {
      sessionKey: event.sessionKey,
      content: ctx.content,
      senderName: typeof ctx.metadata?.senderName === "string" ? ctx.metadata.senderName : undefined,
      messageId: ctx.messageId == null ? undefined : String(ctx.messageId),
      channelId: typeof ctx.channelId === "string" ? ctx.channelId : undefined,
      timestamp: typeof ctx.timestamp === "number" && Number.isFinite(ctx.timestamp) ? ctx.timestamp : undefined,
    }, budgetMs("message"));
  } catch (e) {
    console.warn(`[nova:memory-extract] ${e?.message ?? e}; continuing without NOVA`);
  }
}
