// Harness for the end-to-end tests: a real `stich serve` process and
// Debian's Chromium driven by playwright-core.
import { spawn, execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, mkdirSync, existsSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { inflateRawSync } from "node:zlib";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = resolve(here, "..", "..");

/** tmp is this run's scratch folder (binary, data folders). */
export const tmp = mkdtempSync(join(tmpdir(), "stich-e2e-"));

/** artifacts is where screenshots go (STICH_E2E_ARTIFACTS, else under tmp). */
export const artifacts = process.env.STICH_E2E_ARTIFACTS ? resolve(process.env.STICH_E2E_ARTIFACTS) : join(tmp, "artifacts");
mkdirSync(artifacts, { recursive: true });

/**
 * stichBinary returns STICH_BIN, or builds ./cmd/stich into tmp (the UI in
 * web/dist must be built first: `npm run build`).
 */
export function stichBinary() {
  if (process.env.STICH_BIN) return resolve(process.env.STICH_BIN);
  if (!existsSync(join(repoRoot, "web", "dist", "index.html"))) {
    throw new Error("web/dist/index.html is missing: run `npm run build` (or `make web`) before the e2e tests");
  }
  const bin = join(tmp, "stich");
  execFileSync("go", ["build", "-o", bin, "./cmd/stich"], { cwd: repoRoot, stdio: "inherit" });
  return bin;
}

/** freePort asks the OS for a free loopback port. */
export function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once("error", rej);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

/**
 * startServer runs `stich serve` and resolves once its JSON log says
 * "stich is ready", with the URL and preview origin from that line.
 * Builds and previews are off unless builds names a sandbox uid: then apps
 * are installed in a sandbox folder kept between runs (a warm npm cache).
 * extra flags go last (the last value of a flag wins).
 */
export function startServer(bin, { data, http = "127.0.0.1:0", chunkDelay = "5ms", builds, extra = [] }) {
  const args = ["serve", "--data", data, "--http", http, "--log-format", "json", "--scaffold-chunk-delay", chunkDelay, "--shutdown-grace", "10s",
    "--preview-http", "127.0.0.1:0", ...extra];
  if (builds) {
    args.push("--sandbox", "local", "--sandbox-dir", "/var/tmp/stich-test/e2e-sandbox", "--sandbox-uid", String(builds.uid), "--sandbox-uids", "4");
  } else {
    args.push("--sandbox", "off");
  }
  args.push(...extra);
  const proc = spawn(bin, args, { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, XDG_CONFIG_HOME: configDir } });
  const logs = [];
  const exited = new Promise((res) => proc.once("exit", (code, signal) => res({ code, signal })));
  return new Promise((res, rej) => {
    const timer = setTimeout(() => {
      proc.kill("SIGKILL");
      rej(new Error(`stich serve did not become ready in 30 s:\n${logs.join("\n")}`));
    }, 30_000);
    createInterface({ input: proc.stderr }).on("line", (line) => {
      logs.push(line);
      let rec;
      try {
        rec = JSON.parse(line);
      } catch {
        return;
      }
      if (rec.msg === "stich is ready") {
        clearTimeout(timer);
        const server = { url: rec.url, previewBase: rec.preview_domain, signInUrl: rec.sign_in_url, proc, logs, exited };
        primaryServer ??= server;
        res(server);
      }
    });
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      rej(new Error(`stich serve exited (${code ?? signal}) before it was ready:\n${logs.join("\n")}`));
    });
  });
}

/**
 * appUrl is the preview URL of session id on server: each app has an
 * origin of its own, http://LABEL.preview.localhost:PORT/, where LABEL is
 * the id with its region dot written "--" (Chromium resolves *.localhost
 * to loopback).
 */
export function appUrl(server, id) {
  const base = new URL(server.previewBase);
  return `${base.protocol}//${id.replace(".", "--")}.${base.host}/`;
}

/**
 * previewEntry asks server's API, as its owner, for a ticket to session
 * id's preview and returns the URL that opens it (the preview origin
 * takes the ticket, sets its own cookie and redirects to the app): a
 * preview answers only a browser that came through such a URL.
 */
export async function previewEntry(server, id) {
  const res = await fetch(`${server.url}/api/sessions/${encodeURIComponent(id)}/preview-ticket`, {
    method: "POST",
    headers: { Authorization: `Bearer ${ownerKey(server.url)}` },
  });
  if (!res.ok) throw new Error(`preview ticket of ${id}: ${res.status} ${await res.text()}`);
  return (await res.json()).url;
}

/** configDir is the config folder of the servers started here: they save their owner's API key in it. */
const configDir = join(tmp, "config");
let primaryServer;

/** ownerKey is the API key the server at url saved for its owner (as the CLI finds it). */
export function ownerKey(url) {
  const u = new URL(url);
  return readFileSync(join(configDir, "stich", "keys", `${u.hostname}_${u.port}`), "utf8").trim();
}

/** signIn gives a browser context the session cookies of the server's owner (its API key serves as a browser session). */
export async function signIn(context, server) {
  const key = ownerKey(server.url);
  const csrf = createHash("sha256").update(`stich csrf\0${key}`).digest("hex").slice(0, 32);
  await context.addCookies([
    { name: "stich_session", value: key, url: server.url, httpOnly: true, sameSite: "Lax" },
    { name: "stich_csrf", value: csrf, url: server.url, sameSite: "Strict" },
  ]);
}

/** stopServer sends SIGTERM and waits for the process to exit (SIGKILL after 20 s). */
export async function stopServer(server) {
  if (!server || server.proc.exitCode !== null || server.proc.signalCode !== null) return;
  server.proc.kill("SIGTERM");
  const t = setTimeout(() => server.proc.kill("SIGKILL"), 20_000);
  await server.exited;
  clearTimeout(t);
}

export const chromiumPath = process.env.CHROMIUM ?? "/usr/bin/chromium";

export function launchBrowser() {
  return chromium.launch({
    executablePath: chromiumPath,
    args: ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
}

/**
 * newPage opens a page that records console errors and failed requests, so
 * tests can assert the UI stayed clean (CSP violations show up there too).
 */
export async function newPage(browser, { width = 1280, height = 800, colorScheme = "light", server = primaryServer, signedIn = true } = {}) {
  const context = await browser.newContext({ viewport: { width, height }, colorScheme });
  if (signedIn && server) await signIn(context, server);
  const page = await context.newPage();
  page.errors = [];
  page.on("pageerror", (e) => page.errors.push(`pageerror: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error") page.errors.push(`console: ${m.text()}`);
  });
  return page;
}

export async function shot(page, name) {
  const path = join(artifacts, `${name}.png`);
  await page.screenshot({ path, fullPage: false });
  return path;
}

/** rpc calls a unary Connect method with JSON. */
export async function rpc(url, method, body) {
  const res = await fetch(`${url}/stich.v1.${method}`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${ownerKey(url)}` },
    body: JSON.stringify(body),
  });
  const json = await res.json();
  if (!res.ok) throw new Error(`${method}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

/** envelope frames one Connect streaming message (flags byte, big-endian length, JSON). */
export function envelope(obj, flags = 0) {
  const data = Buffer.from(JSON.stringify(obj));
  const head = Buffer.alloc(5);
  head.writeUInt8(flags, 0);
  head.writeUInt32BE(data.length, 1);
  return Buffer.concat([head, data]);
}

/** connectStream builds a Connect server-stream body: messages, then the end-of-stream frame. */
export function connectStream(messages, error) {
  return Buffer.concat([...messages.map((m) => envelope(m)), envelope(error ? { error } : {}, 2)]);
}

/**
 * unzip reads a zip file's entries (stored or deflated) through its central
 * directory: [{ name, data: Buffer, modified: Date }], in the zip's order.
 * Enough for checking stich's downloads without an unzip dependency.
 */
export function unzip(buf) {
  let eocd = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 22 - 65535); i--) {
    if (buf.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error("not a zip: no end of central directory");
  const count = buf.readUInt16LE(eocd + 10);
  let p = buf.readUInt32LE(eocd + 16);
  const out = [];
  for (let n = 0; n < count; n++) {
    if (buf.readUInt32LE(p) !== 0x02014b50) throw new Error(`bad central directory entry ${n}`);
    const method = buf.readUInt16LE(p + 10);
    const time = buf.readUInt16LE(p + 12);
    const date = buf.readUInt16LE(p + 14);
    const csize = buf.readUInt32LE(p + 20);
    const nameLen = buf.readUInt16LE(p + 28);
    const extraLen = buf.readUInt16LE(p + 30);
    const commentLen = buf.readUInt16LE(p + 32);
    const local = buf.readUInt32LE(p + 42);
    const name = buf.subarray(p + 46, p + 46 + nameLen).toString("utf8");
    const lNameLen = buf.readUInt16LE(local + 26);
    const lExtraLen = buf.readUInt16LE(local + 28);
    const start = local + 30 + lNameLen + lExtraLen;
    const raw = buf.subarray(start, start + csize);
    const data = method === 0 ? raw : method === 8 ? inflateRawSync(raw) : null;
    if (!data) throw new Error(`${name}: unsupported compression method ${method}`);
    const modified = new Date(Date.UTC(1980 + (date >> 9), ((date >> 5) & 15) - 1, date & 31, time >> 11, (time >> 5) & 63, (time & 31) * 2));
    out.push({ name, data, modified });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return out;
}
