// Functions from the pinned OpenClaw package's dist/, for the e2e drivers.
//
// dist chunks have hashed names and minified export aliases: a function is found by its chunk's
// name prefix and its original name in the chunk's export list (stable within the pinned version).
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

/** `{name: function}` for each of `names`, from the first `<pkg>/dist/<prefix>*.mjs` exporting all of them. */
export async function loadFromDist(pkg, prefix, names) {
  const dist = path.join(pkg, "dist");
  for (const file of fs.readdirSync(dist).filter((f) => f.startsWith(prefix) && f.endsWith(".mjs"))) {
    const src = fs.readFileSync(path.join(dist, file), "utf8");
    const m = /export \{([^}]*)\};?\s*$/.exec(src);
    if (!m) continue;
    const aliases = Object.fromEntries(m[1].split(",").map((s) => s.trim().split(/\s+as\s+/)).map(([n, a]) => [n, a ?? n]));
    if (!names.every((n) => n in aliases)) continue;
    const mod = await import(pathToFileURL(path.join(dist, file)).href);
    return Object.fromEntries(names.map((n) => [n, mod[aliases[n]]]));
  }
  throw new Error(`no dist chunk ${prefix}* exports ${names.join(", ")}`);
}
