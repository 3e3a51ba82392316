// Hook round trips from Node through `nova serve` and back, using NOVA's real handlers.
// Driven by bench/bench_hooks.py, which starts the service and reads the JSON this prints.
// usage: node bench_hooks.mjs <repo> <json opts {requests, ingestSeconds, concurrency, queries[]}>
import path from "node:path";
import { pathToFileURL } from "node:url";

const [repo, raw] = process.argv.slice(2);
const opts = JSON.parse(raw);
const hooks = path.join(repo, "hooks");
const imp = (p) => import(pathToFileURL(path.join(hooks, p)).href);
const sessionInit = (await imp("session-init/handler.js")).default;
const memoryExtract = (await imp("memory-extract/handler.js")).default;
const semanticRecall = (await imp("semantic-recall/handler.js")).default;
const plugin = (await imp("nova-recall-plugin/index.js")).default;
const { call } = await imp("nova-lib/client.js");

let beforePromptBuild;
plugin.register({ pluginConfig: {}, on: (name, fn) => { if (name === "before_prompt_build") beforePromptBuild = fn; } });

function stats(ms) {
  const s = [...ms].sort((a, b) => a - b);
  const q = (p) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  return { n: s.length, p50: +q(0.5).toFixed(2), p95: +q(0.95).toFixed(2), p99: +q(0.99).toFixed(2),
           max: +s[s.length - 1].toFixed(2) };
}

async function timed(n, fn) {
  const ms = [];
  let failed = 0;
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const ok = await fn(i);
    ms.push(performance.now() - t0);
    if (!ok) failed++;
  }
  return { ...stats(ms), failed };
}

const queries = opts.queries;
const out = {};
// Warm-up: first requests pay for lazy imports and connection set-up.
for (let i = 0; i < 5; i++) await call("bench", "/v1/recall", { sessionKey: "agent:main:main", query: queries[i] }, 10000);

out.bootstrap = await timed(opts.requests, async (i) => {
  const ctx = { workspaceDir: "/tmp/bench-ws", bootstrapFiles: [], sessionKey: `agent:main:telegram:direct:${i}`,
                sessionId: `bench-${i}`, agentId: "main" };
  await sessionInit({ type: "agent", action: "bootstrap", sessionKey: ctx.sessionKey, context: ctx, messages: [] });
  return ctx.bootstrapFiles.length === 1;
});
out.recall = await timed(opts.requests, async (i) => {
  const r = await beforePromptBuild({ currentUserMessage: `${queries[i % queries.length]} (${i})`, prompt: "", messages: [] },
                                    { sessionKey: "agent:main:main", agentId: "main" });
  return Boolean(r?.prependContext);
});
// semantic-recall (message:received) precomputes; the plugin's next call for that message is a cache hit.
out.precompute = await timed(opts.requests, async (i) => {
  await semanticRecall({ type: "message", action: "received", sessionKey: `agent:main:telegram:direct:p${i}`,
                         context: { content: `${queries[i % queries.length]} [${i}]` } });
  return true;
});
out.recallCacheHit = await timed(opts.requests, async (i) => {
  const r = await beforePromptBuild({ currentUserMessage: `${queries[i % queries.length]} [${i}]`, prompt: "", messages: [] },
                                    { sessionKey: `agent:main:telegram:direct:p${i}`, agentId: "main" });
  return Boolean(r?.prependContext);
});
out.message = await timed(opts.requests, async (i) => {
  await memoryExtract({ type: "message", action: "received", sessionKey: "agent:main:main",
                        context: { content: `Bench note ${i}: ${queries[i % queries.length]}`, messageId: `bench-seq-${opts.runId}-${i}`,
                                   timestamp: Date.now() } });
  return true;
});

// Sustained ingestion: `concurrency` senders for `ingestSeconds`, every answer checked.
let accepted = 0, errors = 0, n = 0;
const stopAt = performance.now() + opts.ingestSeconds * 1000;
const sustainedStart = performance.now();
await Promise.all(Array.from({ length: opts.concurrency }, async (_, w) => {
  while (performance.now() < stopAt) {
    const i = n++;
    const a = await call("bench", "/v1/messages", { sessionKey: "agent:main:main",
      content: `Load message ${w}-${i}: ${queries[i % queries.length]}`, messageId: `bench-load-${opts.runId}-${w}-${i}`,
      timestamp: Date.now() }, 10000);
    if (a?.status === "queued") accepted++; else errors++;
  }
}));
out.sustained = { seconds: +((performance.now() - sustainedStart) / 1000).toFixed(1), accepted, errors,
                  acceptedPerS: +(accepted / ((performance.now() - sustainedStart) / 1000)).toFixed(1) };
process.stdout.write(JSON.stringify(out) + "\n");
