// End-to-end check of NOVA's hooks and plugin inside the real OpenClaw (npm openclaw@2026.9.6).
//
// Loads the hooks with OpenClaw's own loader (prepareInternalHooks, managed hooks dir
// <state>/hooks), emits message:received through OpenClaw's producer (emitMessageReceivedHooks),
// resolves a run's bootstrap context through OpenClaw's pipeline (resolveBootstrapContextForRun:
// agent:bootstrap hooks, session filters, size caps), and loads the recall plugin with
// OpenClaw's plugin loader, running before_prompt_build through its hook runner.
//
// usage: node openclaw_e2e.mjs <openclaw package dir> <step> <json args>
// Prints one JSON object. OPENCLAW_STATE_DIR must point at the state dir (set before import).
import fs from "node:fs";
import path from "node:path";
import { loadFromDist } from "./openclaw_dist.mjs";

const [pkg, step, rawArgs] = process.argv.slice(2);
const args = JSON.parse(rawArgs ?? "{}");

const load = (prefix, names) => loadFromDist(pkg, prefix, names);

const stateDir = process.env.OPENCLAW_STATE_DIR;
const config = JSON.parse(fs.readFileSync(path.join(stateDir, "openclaw.json"), "utf8"));
const workspaceDir = args.workspaceDir;

async function loadHooks() {
  const { prepareInternalHooks } = await load("loader-", ["prepareInternalHooks"]);
  const prepared = await prepareInternalHooks(config, workspaceDir, { managedHooksDir: path.join(stateDir, "hooks") });
  prepared.commit();
  return prepared.loadedCount;
}

const steps = {
  async hooks() {
    const { getRegisteredEventKeys } = await load("internal-hooks-", ["getRegisteredEventKeys"]);
    const loaded = await loadHooks();
    return { loaded, events: getRegisteredEventKeys().sort() };
  },
  async message() {
    await loadHooks();
    const { emitMessageReceivedHooks } = await load("dispatch-from-config-", ["emitMessageReceivedHooks"]);
    const t0 = performance.now();
    // Fields as a channel turn carries them (MsgContext); OpenClaw maps them to the hook context.
    for (const [i, m] of args.messages.entries()) {
      emitMessageReceivedHooks({
        ctx: { From: m.from ?? "+15550001111", To: "+15550002222", Body: m.text, RawBody: m.text,
               SessionKey: args.sessionKey, MessageSid: m.id ?? `msg-${Date.now()}-${i}`, Timestamp: m.ts,
               SenderName: m.senderName, Provider: "whatsapp", Surface: "whatsapp", OriginatingChannel: "whatsapp" },
        sessionKey: args.sessionKey,
        timestamp: m.ts,
      });
    }
    const emitMs = performance.now() - t0;
    // The hooks are fire-and-forget; let their requests finish before the process exits.
    await new Promise((r) => setTimeout(r, args.settleMs ?? 3000));
    return { emitted: args.messages.length, emitMs };
  },
  async bootstrap() {
    await loadHooks();
    const { resolveBootstrapContextForRun } = await load("bootstrap-files-", ["resolveBootstrapContextForRun"]);
    const t0 = performance.now();
    const { bootstrapFiles, contextFiles } = await resolveBootstrapContextForRun({
      workspaceDir, config, sessionKey: args.sessionKey, sessionId: args.sessionId, agentId: args.agentId,
    });
    const ms = performance.now() - t0;
    const nova = contextFiles.find((f) => path.basename(f.path ?? "") === "NOVA_MEMORY.md" || f.name === "NOVA_MEMORY.md");
    return { ms, files: bootstrapFiles.map((f) => f.name), nova: nova ? (nova.content ?? "") : null,
             written: fs.existsSync(path.join(workspaceDir, "NOVA_MEMORY.md")) };
  },
  async bootstrapHook() {
    // Only the agent:bootstrap dispatch (what a slow handler would stall), timed on its own.
    await loadHooks();
    const { createInternalHookEvent, triggerInternalHook } = await load("internal-hooks-", ["createInternalHookEvent", "triggerInternalHook"]);
    const context = { workspaceDir, bootstrapFiles: [], cfg: config, sessionKey: args.sessionKey,
                      sessionId: args.sessionId, agentId: args.agentId };
    const event = createInternalHookEvent("agent", "bootstrap", args.sessionKey, context);
    const t0 = performance.now();
    await triggerInternalHook(event);
    const ms = performance.now() - t0;
    const nova = event.context.bootstrapFiles.find((f) => f.name === "NOVA_MEMORY.md");
    return { ms, nova: nova ? nova.content : null };
  },
  async plugin() {
    const { loadOpenClawPlugins } = await load("loader-runtime-load-", ["loadOpenClawPlugins"]);
    const { createHookRunner } = await load("hooks-", ["createHookRunner"]);
    const registry = await loadOpenClawPlugins({ config, workspaceDir, onlyPluginIds: ["nova-recall"], cache: false });
    const record = registry.plugins.find((p) => p.id === "nova-recall");
    const runner = createHookRunner(registry, { catchErrors: true });
    const t0 = performance.now();
    const result = await runner.runBeforePromptBuild(
      { prompt: args.query, messages: [], currentUserMessage: args.query },
      { agentId: args.agentId, sessionKey: args.sessionKey },
    );
    const ms = performance.now() - t0;
    return { ms, status: record?.status ?? null, error: record?.error ?? null,
             hooks: registry.typedHooks?.filter((h) => h.pluginId === "nova-recall").map((h) => h.hookName) ?? [],
             prependContext: result?.prependContext ?? null };
  },
};

const out = await steps[step]();
process.stdout.write(JSON.stringify(out) + "\n");
process.exit(0);
