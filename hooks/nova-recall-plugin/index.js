// nova-recall: per-turn recall as an OpenClaw plugin (docs/plugins/hooks/prompt-and-session.md).
// before_prompt_build gets the current request: OpenClaw's embedded runner (the default runtime)
// passes `{prompt, messages}`, the Codex/Copilot harness adds `currentUserMessage`; OpenClaw's own
// active-memory plugin reads `currentUserMessage ?? prompt`, and so do we. The service strips
// channel envelopes and injected memory blocks from it, asks recall for the memories relevant to
// it (precomputed by the semantic-recall hook when the message matches) and returns them as
// `prependContext`, which lands in the user turn, after the cached system-prompt prefix.
// Runs OpenClaw starts itself (ctx.trigger heartbeat, cron, memory, overflow) get nothing.
// Needs plugins.entries.nova-recall.hooks.allowConversationAccess: true.
// Bounded by its budget and fail-open: on any problem it returns nothing and the turn proceeds.
// It also lets the agent ask NOVA on purpose (./tools.js): the agent tools and a memory corpus
// supplement for OpenClaw's own memory_search / memory_get.
import { agentOf, budgetMs, call, configure, disabled } from "../nova-lib/client.js";
import { registerMemoryCommands } from "./commands.js";
import { registerMemoryTools } from "./tools.js";

// Where the block goes (NOVA's recall_injection, in the service's answer): the before_prompt_build
// result fields of PluginHookBeforePromptBuildResult (dist/cli-backend.types-*.d.ts). prependContext and
// appendContext land in the current user message, after the cached prefix; appendSystemContext in the
// system prompt, which then changes every turn the block does (docs/hooks.md: what a turn costs).
const INJECTION = { prepend: "prependContext", append: "appendContext", system: "appendSystemContext" };

// EmbeddedRunTrigger values of runs no person asked for (dist/agent-harness-runtime-*.d.ts).
const SYSTEM_TRIGGERS = new Set(["heartbeat", "cron", "memory", "overflow"]);
// InputProvenanceKind values (dist/*.d.ts INPUT_PROVENANCE_KIND_VALUES) of input no user of this session wrote.
const FOREIGN_INPUT = new Set(["inter_session", "internal_system"]);

export default {
  id: "nova-recall",
  name: "NOVA recall",
  description: "NOVA memories for the current message, prepended to the turn",
  register(api) {
    configure(api.pluginConfig);
    const configured = Number(api.pluginConfig?.budgetMs);
    const budget = Number.isFinite(configured) && configured > 0 ? configured : budgetMs("recall");
    registerMemoryTools(api);
    registerMemoryCommands(api);
    api.on("before_prompt_build", async (event, ctx) => {
      try {
        if (disabled()) return undefined;
        if (SYSTEM_TRIGGERS.has(ctx?.trigger)) return undefined;
        // Input another session sent (sessions_send, agent-to-agent replies) or the gateway wrote: its
        // reply goes back to that session, so the user's memories stay out of it. ctx.trigger stays
        // "user" for those; the typed origin is ctx.inputProvenance (docs/plugins/hooks/prompt-and-session.md).
        if (FOREIGN_INPUT.has(ctx?.inputProvenance?.kind)) return undefined;
        // An explicit empty currentUserMessage means no textual request: no recall.
        const query = typeof event?.currentUserMessage === "string" ? event.currentUserMessage : event?.prompt;
        const sessionKey = ctx?.sessionKey;
        if (typeof query !== "string" || !query.trim() || typeof sessionKey !== "string") return undefined;
        const answer = await call("nova-recall", "/v1/recall", {
          sessionKey,
          agentId: typeof ctx.agentId === "string" ? ctx.agentId : agentOf(sessionKey),
          query,
        }, budget);
        ctx?.hookInvocation?.assertActive?.();
        if (answer?.status !== "ok" || typeof answer.block !== "string" || !answer.block) return undefined;
        return { [INJECTION[answer.injection] ?? "prependContext"]: answer.block };
      } catch (e) {
        console.warn(`[nova:nova-recall] ${e?.message ?? e}; continuing without NOVA`);
        return undefined;
      }
    });
  },
};
