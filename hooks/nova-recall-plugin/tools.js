// The agent asks NOVA on purpose: agent tools (docs/plugins/sdk-overview/tools-and-commands.md,
// api.registerTool) and a memory corpus supplement (docs/plugins/sdk-overview/infrastructure.md,
// api.registerMemoryCorpusSupplement; types MemoryCorpusSupplement / MemoryCorpusSearchResult /
// MemoryCorpusGetResult in the package's dist/*.d.ts) that OpenClaw's own memory_search consults
// when called with corpus "wiki" or "all", and memory_get with corpus "wiki" or "all".
//
// NOVA does not take the memory slot: OpenClaw's Markdown memory keeps working beside it.
// Every call goes to `nova serve` (/v1/memory/*, nova/serve/memory_routes.py), scoped to the
// calling agent and session key with NOVA's session-key filters (a sub-agent gets nothing unless
// configured), and fails open: an empty result within the budget when the service is down.
import { agentOf, call, disabled } from "../nova-lib/client.js";

const TOOL_BUDGET_MS = 3000; // a tool call is the model waiting on purpose; hooks get 300 ms
const CORPUS = "nova";
const DOWN = "NOVA memory is not answering right now; no memories were read. Answer without them.";

export function budget(api) {
  const configured = Number(api.pluginConfig?.toolBudgetMs);
  return Number.isFinite(configured) && configured > 0 ? configured : TOOL_BUDGET_MS;
}

// Sandboxed runs get nothing: memories come from transcripts, which OpenClaw keeps from sandboxed
// runs too (memory-core's session search honours the same flag).
export function scope(ctx) {
  if (ctx?.sandboxed) return undefined;
  const sessionKey = typeof ctx?.sessionKey === "string" && ctx.sessionKey ? ctx.sessionKey : undefined;
  const agentId = typeof ctx?.agentId === "string" && ctx.agentId ? ctx.agentId : agentOf(sessionKey);
  return sessionKey ? { sessionKey, ...(agentId ? { agentId } : {}) } : undefined;
}

/** One service call for a tool: the answer, or null (down, slow, refused, or no session). */
async function ask(api, route, who, body) {
  if (disabled() || !who) return null;
  const answer = await call("nova-tools", route, { ...who, ...body }, budget(api));
  return answer && typeof answer.status === "string" ? answer : null;
}

function toolResult(answer) {
  const text = answer === null ? DOWN
    : answer.status === "skipped" ? `NOVA memory is not available in this session (${answer.reason ?? "filtered"}).`
    : answer.text || answer.reason || answer.status;
  return { content: [{ type: "text", text }], details: answer ?? { status: "unavailable" } };
}

function timeArgs(params) {
  const out = {};
  for (const key of ["since", "until", "entity"]) {
    if (typeof params?.[key] === "string" && params[key].trim()) out[key] = params[key].trim();
  }
  if (Array.isArray(params?.kinds)) out.kinds = params.kinds.filter((k) => typeof k === "string");
  if (Number.isInteger(params?.maxResults) && params.maxResults > 0) out.maxResults = Math.min(params.maxResults, 50);
  return out;
}

const RECALL = {
  name: "nova_recall",
  label: "NOVA Recall",
  description:
    "Search NOVA's long-term memory of earlier conversations with this user: facts about people, pets, places," +
    " plans and preferences, and what was said when, each with its date and a citation of the conversation it" +
    " came from. Use it before answering questions about the user's past, people they know, or what happened" +
    " when. For a time range (\"between March and May 2024\") pass since/until as ISO dates; to narrow to one" +
    " person or thing pass entity. Results show a ref in brackets (e.g. [relationship:12]).",
  parameters: {
    type: "object",
    additionalProperties: false,
    required: ["query"],
    properties: {
      query: { type: "string", description: "What to remember, in plain words" },
      since: { type: "string", description: "Only memories from this date on (ISO 8601, e.g. 2024-03-01)" },
      until: { type: "string", description: "Only memories before this date (ISO 8601, e.g. 2024-06-01)" },
      entity: { type: "string", description: "Only memories that name this person, pet, place or thing" },
      kinds: {
        type: "array",
        items: { type: "string", enum: ["episode", "relationship", "entity"] },
        description: "episode: what was said in an exchange; relationship: a fact with its validity; entity: who/what",
      },
      maxResults: { type: "integer", minimum: 1, maximum: 50, description: "At most this many memories (default 8)" },
    },
  },
};

const ENTITY = {
  name: "nova_entity",
  label: "NOVA Entity",
  description:
    "Everything NOVA remembers about one person, pet, place, organisation or thing by name: what it is, its" +
    " other names, and the facts about it with dates, both current ones and ones no longer true (superseded)." +
    " Use it for \"what do you know about <name>?\" and before relying on an older fact.",
  parameters: {
    type: "object",
    additionalProperties: false,
    required: ["name"],
    properties: { name: { type: "string", description: "The name, or a nickname NOVA has seen" } },
  },
};

const FORGET = {
  name: "nova_forget",
  label: "NOVA Forget",
  description:
    "Forget one NOVA memory that the user says is wrong or wants gone. Pass the ref shown in brackets by" +
    " nova_recall or nova_entity (relationship:<id> or episode:<id>). Only when the user asks; it is recorded" +
    " and only the operator can restore it.",
  parameters: {
    type: "object",
    additionalProperties: false,
    required: ["ref"],
    properties: { ref: { type: "string", description: "relationship:<id> or episode:<id>" } },
  },
};

function tool(spec, run) {
  return { ...spec, async execute(_id, params) { return toolResult(await run(params ?? {})); } };
}

/** Register the agent tools and the memory corpus supplement (no-ops where the API lacks them). */
export function registerMemoryTools(api) {
  if (typeof api.registerTool === "function") {
    api.registerTool((ctx) => {
      const who = scope(ctx);
      return [
        tool(RECALL, (p) => ask(api, "/v1/memory/search", who, { query: String(p.query ?? ""), ...timeArgs(p) })),
        tool(ENTITY, (p) => ask(api, "/v1/memory/entity", who, { name: String(p.name ?? "") })),
      ];
    }, { names: [RECALL.name, ENTITY.name] });
    // Optional (tools.allow: ["nova_forget"]): a write the operator opts into.
    api.registerTool((ctx) => tool(FORGET, (p) => ask(api, "/v1/memory/forget", scope(ctx), { ref: String(p.ref ?? "") })),
      { name: FORGET.name, optional: true });
  }
  if (typeof api.registerMemoryCorpusSupplement === "function") {
    api.registerMemoryCorpusSupplement({
      async search(params) {
        const who = scope({ sessionKey: params?.agentSessionKey, agentId: params?.agentId, sandboxed: params?.sandboxed });
        if (typeof params?.query !== "string" || !params.query.trim()) return [];
        const answer = await ask(api, "/v1/memory/search", who, {
          query: params.query,
          ...(Number.isInteger(params.maxResults) && params.maxResults > 0 ? { maxResults: Math.min(params.maxResults, 50) } : {}),
        });
        if (answer?.status !== "ok" || !Array.isArray(answer.results)) return [];
        return answer.results.map((r) => ({
          corpus: CORPUS,
          path: r.ref,
          id: r.ref,
          title: `NOVA ${r.kind}`,
          kind: r.kind,
          score: r.score,
          snippet: r.citation ? `${r.text}\n\nSource: ${r.citation}` : r.text,
          citation: r.citation || r.ref,
          source: CORPUS,
          sourceType: "nova-memory",
          provenanceLabel: r.sources?.[0]?.session_key,
          updatedAt: r.validFrom ?? r.occurredAt ?? undefined,
        }));
      },
      async get(params) {
        const lookup = typeof params?.lookup === "string" ? params.lookup.trim() : "";
        if (!/^(nova:)?(relationship|episode|entry):/.test(lookup)) return null;
        const who = scope({ sessionKey: params?.agentSessionKey, agentId: params?.agentId, sandboxed: params?.sandboxed });
        const answer = await ask(api, "/v1/memory/get", who, { ref: lookup });
        if (answer?.status !== "ok") return null;
        const lines = answer.text.split("\n");
        const from = Number.isInteger(params.fromLine) && params.fromLine > 0 ? params.fromLine : 1;
        const count = Number.isInteger(params.lineCount) && params.lineCount > 0 ? params.lineCount : lines.length;
        const shown = lines.slice(from - 1, from - 1 + count);
        return {
          corpus: CORPUS,
          path: lookup,
          id: lookup,
          title: `NOVA ${lookup.replace(/^nova:/, "").split(":")[0]}`,
          content: shown.join("\n"),
          fromLine: from,
          lineCount: shown.length,
          sourceType: "nova-memory",
        };
      },
    });
  }
}
