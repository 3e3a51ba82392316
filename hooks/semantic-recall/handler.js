// semantic-recall: message:received → POST /v1/recall/precompute. The service keeps the result
// for the session's next before_prompt_build / agent:bootstrap.
import { budgetMs, call, disabled } from "../nova-lib/client.js";

export default async function semanticRecall(event) {
  try {
    if (disabled() || event?.type !== "message" || event.action !== "received") return;
    const content = event.context?.content;
    if (!event.sessionKey || typeof content !== "string" || !content.trim()) return;
    // Not awaited by OpenClaw, so a little more time than an awaited recall is harmless.
    await call("semantic-recall", "/v1/recall/precompute", { sessionKey: event.sessionKey, query: content },
      budgetMs("recall") + 1000);
  } catch (e) {
    console.warn(`[nova:semantic-recall] ${e?.message ?? e}; continuing without NOVA`);
  }
}
