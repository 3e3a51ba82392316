// NOVA hook client: one bounded HTTP round trip to `nova serve`, never a throw.
//
// Shared by the three hooks and the recall plugin; dependency-free (Node built-ins only).
// Where the service is and how long each hook may wait come from config.json beside this file
// (written by `nova install-hooks` from NOVA's settings), overridden by the environment:
//   NOVA_SOCKET  Unix socket (default $NOVA_HOME/nova.sock)   NOVA_URL  http://127.0.0.1:7645 (TCP mode)
//   NOVA_TOKEN   bearer token for TCP mode           NOVA_HOOKS_DISABLED=1  turn every hook off
// Every call resolves within its budget: to the service's JSON answer, or to null when the
// service is down, slow, or answers garbage (one log line), so OpenClaw proceeds without NOVA.
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));

function readConfig() {
  // Beside this file for the hooks; the plugin loader runs a bundled copy elsewhere, so also
  // look where `nova install-hooks` put it in the state dir.
  const stateDir = process.env.OPENCLAW_STATE_DIR ?? path.join(process.env.HOME ?? "", ".openclaw");
  for (const file of [path.join(here, "config.json"), path.join(stateDir, "hooks", "nova-lib", "config.json")]) {
    try {
      return JSON.parse(fs.readFileSync(file, "utf8"));
    } catch {
      // next candidate
    }
  }
  return {};
}

const config = readConfig();
const budgets = { bootstrap: 300, recall: 300, message: 1000, ...(config.budgetsMs ?? {}) };

/** Settings from the plugin's `plugins.entries.nova-recall.config` win over config.json. */
export function configure(overrides) {
  for (const key of ["socket", "url", "tokenFile"]) {
    if (typeof overrides?.[key] === "string" && overrides[key]) config[key] = overrides[key];
  }
}

function readToken() {
  if (process.env.NOVA_TOKEN) return process.env.NOVA_TOKEN;
  if (!config.tokenFile) return undefined;
  try {
    return fs.readFileSync(config.tokenFile, "utf8").trim();
  } catch {
    return undefined;
  }
}

function target() {
  const url = process.env.NOVA_URL ?? config.url;
  if (url) {
    const u = new URL(url);
    return { host: u.hostname, port: Number(u.port || 80), token: readToken() };
  }
  const home = process.env.NOVA_HOME ?? path.join(process.env.HOME ?? "", ".local/share/nova");
  return { socketPath: process.env.NOVA_SOCKET ?? config.socket ?? path.join(home, "nova.sock") };
}

const lastLogged = new Map();
function logOnce(hook, message) {
  // One line per hook and cause per minute: a dead service must not flood the gateway log.
  const key = `${hook}:${message}`;
  const now = Date.now();
  if (now - (lastLogged.get(key) ?? 0) < 60_000) return;
  lastLogged.set(key, now);
  console.warn(`[nova:${hook}] ${message}; continuing without NOVA`);
}

// Calls that got no usable answer, per agent and hook, sent with the next call (header
// x-nova-missed) so `nova status` can show them once the service answers again.
const missed = new Map();
const NOT_CONNECTED = new Set(["ENOENT", "ECONNREFUSED", "EACCES", "ENOTSOCK", "EHOSTUNREACH"]);
function addMissed(agent, hook, n) {
  if (!agent) return;
  const hooks = missed.get(agent) ?? {};
  hooks[hook] = (hooks[hook] ?? 0) + n;
  missed.set(agent, hooks);
}
function takeMissed() {
  if (missed.size === 0) return undefined;
  const report = Object.fromEntries(missed);
  missed.clear();
  return report;
}
function giveBack(report) {
  for (const [agent, hooks] of Object.entries(report ?? {})) {
    for (const [hook, n] of Object.entries(hooks)) addMissed(agent, hook, n);
  }
}

export function budgetMs(kind) {
  const value = Number(process.env[`NOVA_${kind.toUpperCase()}_BUDGET_MS`] ?? budgets[kind]);
  return Number.isFinite(value) && value > 0 ? value : 300;
}

export function disabled() {
  return process.env.NOVA_HOOKS_DISABLED === "1";
}

/** POST `body` as JSON to `route`; resolves to the parsed answer or null, within `budget` ms. */
export function call(hook, route, body, budget) {
  return new Promise((resolve) => {
    let settled = false;
    const agent = body?.agentId ?? agentOf(body?.sessionKey);
    let report;
    const finish = (value, problem, undelivered = false) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (problem) {
        logOnce(hook, problem);
        if (undelivered) giveBack(report); // no connection: the service never saw the report
        addMissed(agent, hook, 1);
      }
      resolve(value);
    };
    let request;
    const timer = setTimeout(() => {
      finish(null, `no answer within ${budget} ms`);
      request?.destroy();
    }, budget);
    try {
      const payload = JSON.stringify(body);
      const { token, ...where } = target();
      report = takeMissed();
      request = http.request(
        {
          ...where,
          path: route,
          method: "POST",
          headers: {
            "content-type": "application/json",
            "content-length": Buffer.byteLength(payload),
            ...(token ? { authorization: `Bearer ${token}` } : {}),
            ...(report ? { "x-nova-missed": JSON.stringify(report) } : {}),
          },
        },
        (response) => {
          const chunks = [];
          response.on("data", (c) => chunks.push(c));
          response.on("error", (e) => finish(null, `read failed: ${e.message}`));
          response.on("end", () => {
            if (response.statusCode >= 400) {
              return finish(null, `service answered ${response.statusCode}`);
            }
            try {
              const parsed = JSON.parse(Buffer.concat(chunks).toString("utf8"));
              finish(parsed && typeof parsed === "object" ? parsed : null, parsed && typeof parsed === "object" ? null : "service answered a non-object");
            } catch {
              finish(null, "service answered invalid JSON");
            }
          });
        },
      );
      request.on("error", (e) =>
        finish(null, `service unreachable (${e.code ?? e.message})`, NOT_CONNECTED.has(e.code)));
      request.end(payload);
    } catch (e) {
      finish(null, `request failed: ${e?.message ?? e}`, true);
    }
  });
}

/** The agent id in `agent:<id>:…` keys (message events carry no agentId). */
export function agentOf(sessionKey) {
  const m = /^agent:([^:]+):/.exec(sessionKey ?? "");
  return m ? m[1] : undefined;
}
