// size-budget checks the first load of the built UI (web/dist): the entry
// script and the scripts index.html preloads, gzipped as Vite reports them,
// must stay within BUDGET_KB; and the code editor (CodeMirror, loaded when
// editing starts) must not be part of it. `make web-test` runs it after
// `make web`; it exits 1 with the figures when either fails.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

/** The committed budget, in kB (1000 bytes, as Vite prints sizes). */
export const BUDGET_KB = 136;

const dist = join(import.meta.dirname, "..", "dist");
const html = readFileSync(join(dist, "index.html"), "utf8");
const refs = [...html.matchAll(/<script[^>]+src="([^"]+\.js)"|<link[^>]+rel="modulepreload"[^>]+href="([^"]+\.js)"/g)].map((m) => m[1] ?? m[2]);
if (refs.length === 0) {
  console.error("size-budget: index.html loads no script; is web/dist built?");
  process.exit(1);
}
let total = 0;
let failed = false;
for (const ref of refs) {
  const body = readFileSync(join(dist, ref.replace(/^\//, "")));
  const gz = gzipSync(body).length;
  total += gz;
  console.log(`  ${ref}: ${(body.length / 1000).toFixed(2)} kB, gzip ${(gz / 1000).toFixed(2)} kB`);
  // CodeMirror's own class names: only its chunk has them.
  if (/CodeEditor-/.test(ref) || body.includes("cm-scroller")) {
    console.error(`size-budget: ${ref} is part of the first load and holds the code editor, which must load only when editing starts`);
    failed = true;
  }
}
console.log(`first-load JS: ${(total / 1000).toFixed(2)} kB gzip (budget ${BUDGET_KB} kB), ${refs.length} files`);
if (total > BUDGET_KB * 1000) {
  console.error(`size-budget: the first load is ${(total / 1000).toFixed(2)} kB gzip, over the budget of ${BUDGET_KB} kB: load more pages lazily (src/App.tsx)`);
  failed = true;
}
process.exit(failed ? 1 : 0);
