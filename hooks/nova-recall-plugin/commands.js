// Slash commands that answer without a model call (api.registerCommand, OpenClaw
// docs/plugins/sdk-overview/tools-and-commands.md: "Custom command (bypasses the LLM)").
//   /memory <query>    what NOVA would recall for the query: each memory with its date and source
//   /memory            the session profile (NOVA_MEMORY.md) this session is served
//   /remember <text>   the text as the user's own words, remembered now (its provenance: this
//                      command's transcript entry, which catch-up reads as <text>)
//   /forget <query>    the matching memories, numbered; then /forget 2, /forget 1 3 or /forget all
//                      forgets them (nova forget --memory's rule: they are not made again)
// Scoped to the session's agent; the service refuses sessions its filters exclude (sub-agents, cron,
// groups) like every other route, and /remember and /forget are refused in a sub-agent's session
// whatever the filters say. The tools' scope and budget (./tools.js); with the service down the answer says so.
import { call, disabled } from "../nova-lib/client.js";
import { budget, scope } from "./tools.js";

const DOWN = "NOVA is not running (nova serve did not answer), so there is nothing to show.";
// Memories a /forget <query> lists, facts first: eight in all, like the nova_recall tool's default page.
const LISTED = { relationship: 5, episode: 3 };
const LISTING_TTL_MS = 15 * 60 * 1000; // "/forget 2" refers to a listing this recent
const LISTINGS_KEPT = 500; // sessions whose last /forget listing is held (oldest dropped first)

// The last /forget listing per agent and session: [{ref, text}], so "/forget 2" names what was shown.
const listings = new Map();

function skippedText(answer) {
  return `NOVA keeps no memories of this session (${answer.reason ?? "filtered"}).`;
}

function session(ctx) {
  const who = scope(ctx); // the tools' scope: {sessionKey, agentId}
  if (disabled()) return { refused: "NOVA is disabled in this gateway." };
  if (!who) return { refused: "NOVA: this command needs a conversation session." };
  return { who };
}

async function memory(api, ctx) {
  const { who, refused } = session(ctx);
  if (refused) return { text: refused };
  const query = String(ctx?.args ?? "").trim();
  const sessionId = typeof ctx.sessionId === "string" ? { sessionId: ctx.sessionId } : {};
  const answer = query
    ? await call("nova-command", "/v1/memory/search", { ...who, query }, budget(api))
    : await call("nova-command", "/v1/bootstrap", { ...who, ...sessionId }, budget(api));
  if (!answer || typeof answer.status !== "string") return { text: DOWN };
  if (answer.status === "skipped") return { text: skippedText(answer) };
  if (query) return { text: answer.text || `NOVA has no memories for ${JSON.stringify(query)}.` };
  return { text: answer.content ? `NOVA session profile (${answer.name}):\n${answer.content}` : "NOVA has no profile for this session yet." };
}

function userSession(ctx) {
  const found = session(ctx);
  if (found.who && found.who.sessionKey.includes(":subagent:")) {
    return { refused: "NOVA: a sub-agent's session cannot change the user's memories." };
  }
  return found;
}

async function remember(api, ctx) {
  const { who, refused } = userSession(ctx);
  if (refused) return { text: refused };
  const text = String(ctx?.args ?? "").trim();
  if (!text) return { text: "Usage: /remember <what NOVA should remember>" };
  const answer = await call("nova-command", "/v1/memory/remember", { ...who, text: text.slice(0, 4000) }, budget(api));
  if (!answer || typeof answer.status !== "string") {
    return { text: "NOVA is not running (nova serve did not answer): nothing was remembered now. Catch-up reads this command from the transcript when NOVA runs again." };
  }
  if (answer.status === "skipped") return { text: skippedText(answer) };
  if (answer.status === "busy") return { text: `NOVA is busy (${answer.reason}); catch-up will remember it from the transcript.` };
  return { text: answer.text };
}

function listingKey(who) {
  return `${who.agentId ?? ""}\u0000${who.sessionKey}`;
}

function keepListing(who, items) {
  const key = listingKey(who);
  listings.delete(key);
  listings.set(key, { at: Date.now(), items });
  while (listings.size > LISTINGS_KEPT) listings.delete(listings.keys().next().value);
}

// "/forget 2", "/forget 1 3", "/forget 1,3" or "/forget all": a pick from the last listing, not words to list.
const PICK = /^(?:all|\d+(?:[\s,]+\d+)*)$/i;

/** The listed memories a pick (``PICK``) names; [] when a number is not on the listing. */
function chosen(args, listing) {
  if (/^all$/i.test(args)) return listing.items;
  const numbers = [...new Set(args.split(/[\s,]+/).map(Number))];
  if (numbers.some((n) => n < 1 || n > listing.items.length)) return [];
  return numbers.map((n) => listing.items[n - 1]);
}

async function forget(api, ctx) {
  const { who, refused } = userSession(ctx);
  if (refused) return { text: refused };
  const args = String(ctx?.args ?? "").trim();
  if (!args) return { text: "Usage: /forget <words> lists matching memories; then /forget 2, /forget 1 3 or /forget all." };
  if (PICK.test(args)) {
    const listing = listings.get(listingKey(who));
    if (!listing || Date.now() - listing.at >= LISTING_TTL_MS) {
      return { text: "Nothing listed to forget: first /forget <words> to list the memories." };
    }
    const picked = chosen(args, listing);
    if (!picked.length) return { text: `Pick a number from 1 to ${listing.items.length}, or all.` };
    const lines = [];
    for (const item of picked) {
      const answer = await call("nova-command", "/v1/memory/forget", { ...who, ref: item.ref }, budget(api));
      if (!answer || typeof answer.status !== "string") { lines.push(DOWN); break; }
      lines.push(answer.status === "forgotten" ? `Forgotten: [${item.ref}] ${item.text}`
        : answer.status === "not_found" ? `Already gone: [${item.ref}] ${item.text}`
        : answer.status === "skipped" ? skippedText(answer)
        : `Not forgotten (${answer.reason ?? answer.status}): [${item.ref}] ${item.text}`);
    }
    listings.delete(listingKey(who));
    return { text: lines.join("\n") };
  }
  // Facts and episodes asked apart: recall leaves out a fact whose episode it shows, and forgetting the
  // episode alone would leave the fact to be recalled.
  const answers = await Promise.all(Object.entries(LISTED).map(([kind, maxResults]) =>
    call("nova-command", "/v1/memory/search", { ...who, query: args, maxResults, kinds: [kind] }, budget(api))));
  if (answers.some((a) => !a || typeof a.status !== "string")) return { text: DOWN };
  if (answers[0].status === "skipped") return { text: skippedText(answers[0]) };
  const results = answers.flatMap((a) => (Array.isArray(a.results) ? a.results : []))
    .filter((r) => /^(relationship|episode):\d+$/.test(r.ref));
  if (!results.length) return { text: `NOVA has no memories for ${JSON.stringify(args)}.` };
  const items = results.map((r) => ({ ref: r.ref, text: String(r.text ?? "").replace(/\s+/g, " ").slice(0, 200) }));
  keepListing(who, items);
  const lines = [`NOVA memories for ${JSON.stringify(args)}:`];
  results.forEach((r, i) => {
    lines.push(`${i + 1}. [${r.ref}] ${items[i].text}`);
    if (r.citation) lines.push(`   Source: ${r.citation}`);
  });
  lines.push("Forget with /forget <number> (several: /forget 1 3), or /forget all. Nothing is forgotten yet.");
  return { text: lines.join("\n") };
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
  api.registerCommand({
    name: "remember",
    description: "NOVA: remember this text as something you said",
    acceptsArgs: true,
    handler: (ctx) => remember(api, ctx),
  });
  api.registerCommand({
    name: "forget",
    description: "NOVA: list memories matching words, then /forget <number> or /forget all to forget them",
    acceptsArgs: true,
    handler: (ctx) => forget(api, ctx),
  });
}
