// End-to-end tests of the browser UI against a real `stich serve`, in
// Debian's Chromium. `make web-test` runs them (after building the UI);
// screenshots go to the artifacts folder printed at the start.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  artifacts,
  connectStream,
  freePort,
  launchBrowser,
  newPage,
  ownerKey,
  rpc,
  shot,
  startServer,
  stichBinary,
  stopServer,
  tmp,
  unzip,
} from "./harness.mjs";
import { readFileSync } from "node:fs";

const PROMPT = "a recipe tracker with ingredients and ratings";
const T = { timeout: 60_000 };

let bin;
let browser;
let server;
const metrics = {};

console.log(`e2e artifacts (screenshots): ${artifacts}`);

before(async () => {
  bin = stichBinary();
  browser = await launchBrowser();
  server = await startServer(bin, { data: join(tmp, "data-main") });
});

after(async () => {
  await browser?.close();
  await stopServer(server);
  console.log(`e2e metrics: ${JSON.stringify(metrics)}`);
  console.log(`e2e artifacts (screenshots): ${artifacts}`);
});

/** facts reads the stream bookkeeping the session page exposes. */
async function facts(page) {
  const el = page.getByTestId("stream-facts");
  const [lastSeq, applied, duplicates, gaps, connects] = await Promise.all(
    ["data-last-seq", "data-applied", "data-duplicates", "data-gaps", "data-connects"].map((a) => el.getAttribute(a).then(Number)),
  );
  return { lastSeq, applied, duplicates, gaps, connects };
}

async function waitPhase(page, phase, timeout = 30_000) {
  await page.getByTestId("phase").filter({ hasText: new RegExp(`^${phase}$`) }).waitFor({ timeout });
}

/** createApp types a prompt on the home page and submits it with the keyboard. */
async function createApp(page, url, prompt = PROMPT) {
  await page.goto(url);
  const box = page.locator("#prompt");
  await box.waitFor();
  await box.fill(prompt);
  await box.press("Enter");
  await page.waitForURL(/\/s\/s-[a-z0-9.-]+$/);
  return page.url().split("/s/")[1];
}

/**
 * checkFilesMatchServer opens every file in the tree and compares what the
 * page shows with the server's SHA-256: nothing missing, nothing doubled.
 */
async function checkFilesMatchServer(page, url, id) {
  const { files } = await rpc(url, "SessionService/ListFiles", { sessionId: id });
  const rows = page.locator(".tree-row.file");
  assert.equal(await rows.count(), files.length, "file tree lists every file");
  assert.equal(await page.locator('.tree-row.file[data-state="mismatch"]').count(), 0, "no file failed its size check");
  for (const f of files) {
    await page.locator(`.tree-row.file[data-path="${f.path}"]`).click();
    await page.locator(`.viewer[data-path="${f.path}"]`).waitFor();
    const text = await page.locator(".viewer .code").textContent();
    assert.equal(createHash("sha256").update(text, "utf8").digest("hex"), f.sha256, `content of ${f.path} matches the server`);
  }
}

describe("stich web UI", () => {
  it("sign-in: a browser without a session sees the sign-in page; the printed link signs it in once", T, async () => {
    const page = await newPage(browser, { signedIn: false });
    await page.goto(server.url);
    await page.getByTestId("sign-in").getByRole("heading", { name: "Sign in to stich" }).waitFor();
    await shot(page, "00-sign-in");
    assert.ok(server.signInUrl, "the node prints a sign-in link");
    await page.goto(server.signInUrl);
    await page.waitForURL(`${server.url}/`);
    await page.locator("#prompt").waitFor();
    const cookies = await page.context().cookies(server.url);
    const session = cookies.find((c) => c.name === "stich_session");
    assert.ok(session?.httpOnly && session.sameSite === "Lax", "the session cookie is HttpOnly, SameSite=Lax");
    // The link works once.
    const again = await newPage(browser, { signedIn: false });
    const res = await again.goto(server.signInUrl);
    assert.equal(res.status(), 401);
    // A call without the CSRF token is refused even with the cookie.
    const noCsrf = await page.evaluate(async () => (await fetch("/stich.v1.SessionService/ListSessions", { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" })).status);
    assert.equal(noCsrf, 403);
    await again.context().close();
    await page.context().close();
  });

  it("home: time to interactive, provider label after the first app, keyboard", T, async () => {
    const page = await newPage(browser);
    const t0 = Date.now();
    await page.goto(server.url);
    await page.waitForFunction(() => {
      const el = document.querySelector("#prompt");
      return el instanceof HTMLTextAreaElement && !el.disabled && document.activeElement === el;
    });
    metrics.timeToInteractiveMs = Math.round(await page.evaluate(() => performance.now()));
    metrics.timeToInteractiveWallMs = Date.now() - t0;
    await page.getByRole("heading", { name: "What should stich build?" }).waitFor();
    await shot(page, "01-home");
    // Keyboard: on a page without autofocus the first Tab reaches the skip
    // link, which moves focus to the main content.
    await page.goto(`${server.url}/settings`);
    await page.getByRole("heading", { name: "Settings" }).waitFor();
    await page.keyboard.press("Tab");
    assert.equal(await page.evaluate(() => document.activeElement?.className), "skip");
    await page.keyboard.press("Enter");
    assert.equal(await page.evaluate(() => document.activeElement?.id), "main");
    assert.deepEqual(page.errors, []);
    await page.context().close();
  });

  let sessionId;
  it("creates an app from a prompt and watches the phases complete", T, async () => {
    const page = await newPage(browser);
    const watches = [];
    page.on("request", (r) => {
      if (r.url().endsWith("/stich.v1.SessionService/Watch")) watches.push(r.url());
    });
    const started = Date.now();
    sessionId = await createApp(page, server.url);
    await page.getByTestId("provider-label").filter({ hasText: "scaffold (no model)" }).waitFor();
    await waitPhase(page, "completed");
    metrics.generationInBrowserMs = Date.now() - started;
    // Timeline: every stage the scaffold goes through, with names and files.
    const items = page.locator(".phase-item");
    const kinds = await items.evaluateAll((els) => els.map((e) => e.querySelector(".badge")?.textContent));
    assert.equal(kinds[0], "planning");
    assert.ok(kinds.includes("generating") && kinds.includes("reviewing"), `phases: ${kinds}`);
    assert.equal(kinds.at(-1), "completed");
    assert.ok((await page.locator(".phase-item .phase-files").count()) >= 2, "phases list their files");
    assert.ok((await page.locator(".tree-row.file").count()) >= 15, "files appeared");
    assert.equal(await page.locator('.tree-row.file[data-state="streaming"]').count(), 0);
    const f = await facts(page);
    assert.equal(f.applied, f.lastSeq, "every event applied once, from seq 1");
    assert.equal(f.duplicates, 0);
    assert.equal(f.gaps, 0);
    await shot(page, "02-session-completed");

    // Open a file.
    await page.locator('.tree-row.file[data-path="src/App.tsx"]').click();
    await page.locator('.viewer[data-path="src/App.tsx"]').waitFor();
    assert.match(await page.locator(".viewer .code").textContent(), /export default function App/);
    await shot(page, "03-session-file");

    // Refine by chat.
    const before = f.lastSeq;
    const chat = page.locator("#chat-input");
    await chat.fill("also track a notes field");
    await chat.press("Enter");
    await page.locator('.msg[data-role="user"]', { hasText: "also track a notes field" }).waitFor();
    await page.locator('.msg[data-role="assistant"]').first().waitFor();
    await page.waitForFunction((n) => Number(document.querySelector('[data-testid="stream-facts"]')?.getAttribute("data-last-seq")) > n + 5, before);
    await waitPhase(page, "completed");
    await page.locator('.tree-row.file[data-path="src/types.ts"]').click();
    await page.locator('.viewer[data-path="src/types.ts"]').waitFor();
    assert.match(await page.locator(".viewer .code").textContent(), /notes/);
    const g = await facts(page);
    assert.equal(g.applied, g.lastSeq);
    assert.equal(g.duplicates + g.gaps, 0);
    const snap = await rpc(server.url, "SessionService/GetSession", { sessionId });
    assert.equal(Number(snap.session.lastSeq), g.lastSeq, "the page saw the whole log");
    await checkFilesMatchServer(page, server.url, sessionId);
    // Counters come from GetSession; they sit in the Details popover.
    await page.getByTestId("dev-details").locator("summary").click();
    await page.getByTestId("counter-messages").filter({ hasText: "1" }).waitFor();
    await page.getByTestId("counter-files-written").filter({ hasText: /^files written\s*\d{2,}$/ }).waitFor();
    await page.getByTestId("dev-details").locator("summary").click();
    assert.equal(watches.length, 1, "one event stream for the whole page");
    await page.locator('.tree-row.file[data-path="src/types.ts"]').click();
    await shot(page, "04-session-refined");

    // Versions: generation and refinement; what changed; roll back to v1.
    await page.getByRole("tab", { name: /Versions/ }).click();
    await page.locator(".version").nth(1).waitFor();
    assert.equal(await page.locator(".version").count(), 2);
    await page.getByRole("button", { name: "Changes from v1" }).click();
    const typesDiff = page.locator('.diff-file[data-path="src/types.ts"]');
    await typesDiff.waitFor();
    assert.match(await typesDiff.locator(".unified .add").allTextContents().then((l) => l.join("")), /notes: string;/);
    await shot(page, "05a-session-versions-diff");
    await page.getByRole("button", { name: "Roll back to v1" }).click();
    await page.getByRole("button", { name: "Yes, restore v1" }).click();
    await page.locator('.version[data-version="3"]', { hasText: "rollback to version 1" }).waitFor();
    await page.getByRole("tab", { name: /Code/ }).click();
    await page.locator('.tree-row.file[data-path="src/types.ts"]').click();
    await page.locator('.viewer[data-path="src/types.ts"]').waitFor();
    assert.doesNotMatch(await page.locator(".viewer .code").textContent(), /notes/);
    await checkFilesMatchServer(page, server.url, sessionId);
    const h = await facts(page);
    assert.equal(h.applied, h.lastSeq);
    assert.equal(h.duplicates + h.gaps, 0);

    // Keyboard: tabs move with arrow keys; the preview says builds are off
    // on this server (--sandbox off), and why.
    await page.getByRole("tab", { name: /Code/ }).focus();
    await page.keyboard.press("ArrowRight");
    await page.getByRole("tab", { name: /Versions/, selected: true }).waitFor();
    await page.keyboard.press("ArrowRight");
    await page.getByTestId("preview-off").filter({ hasText: "Builds and previews are off on this server" }).filter({ hasText: "--sandbox off" }).waitFor();
    await page.keyboard.press("ArrowRight");
    await page.getByRole("tab", { name: /Logs/, selected: true }).waitFor();
    await page.locator(".log.k-completed").first().waitFor();
    await shot(page, "05-session-logs");
    assert.deepEqual(page.errors, []);
    await page.context().close();
  });

  it("recent apps (from the server) are listed on the home page", T, async () => {
    const page = await newPage(browser);
    // localStorage is per context: create one here, then come back home.
    const id = await createApp(page, server.url, "a kanban board for my team");
    await waitPhase(page, "completed");
    await page.getByRole("link", { name: "New app" }).click();
    const item = page.locator(`.recent-item[data-id="${id}"]`);
    await item.locator(".badge", { hasText: "completed" }).waitFor();
    await page.getByTestId("provider-label").filter({ hasText: "scaffold (no model)" }).waitFor();
    await shot(page, "06-home-recent");
    await page.context().close();
  });

  it("apps: listed after creation, rename, download zips, delete with confirmation", { timeout: 90_000 }, async () => {
    const page = await newPage(browser);
    const id = await createApp(page, server.url, "a contact form with name and email");
    await waitPhase(page, "completed");

    // Versions tab: each version downloads as a zip named after the app.
    await page.getByRole("tab", { name: /Versions/ }).click();
    await page.getByTestId("download-current").waitFor();
    const [v1] = await Promise.all([page.waitForEvent("download"), page.getByRole("link", { name: "Download v1 as a zip" }).click()]);
    assert.match(v1.suggestedFilename(), /^[a-z0-9-]+-v1\.zip$/);

    // The app is in the list, newest first, with its phase.
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Apps" }).click();
    await page.getByRole("heading", { name: "Apps", exact: true }).waitFor();
    const row = page.locator(`.app-item[data-id="${id}"]`);
    await row.locator(".badge", { hasText: "completed" }).waitFor();
    assert.equal(await page.locator(".app-item").first().getAttribute("data-id"), id, "the newest app is first");
    await shot(page, "20-apps");

    // Rename with the keyboard: the button opens a focused field, Enter saves.
    await row.getByRole("button", { name: /^Rename / }).focus();
    await page.keyboard.press("Enter");
    const field = row.getByLabel("New title");
    await field.waitFor();
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute("aria-label") ?? document.activeElement?.id), `rename-${id}`);
    await field.fill("   ");
    await row.getByText("Type a title").waitFor();
    assert.equal(await row.getByRole("button", { name: "Save" }).isDisabled(), true, "an empty title cannot be saved");
    await field.fill("Contact Desk");
    await shot(page, "21-apps-rename");
    await field.press("Enter");
    await row.locator(".app-title", { hasText: "Contact Desk" }).waitFor();
    const listed = await rpc(server.url, "SessionService/ListSessions", {});
    assert.equal(listed.apps.find((a) => a.sessionId === id)?.title, "Contact Desk", "the server has the new title");
    // The session page is headed with the new title too.
    await row.getByRole("link", { name: /^Contact Desk/ }).click();
    await page.getByRole("heading", { level: 1, name: "Contact Desk" }).waitFor();
    await page.goBack();
    await row.locator(".app-title", { hasText: "Contact Desk" }).waitFor();

    // Download the current files: a zip of every file under contact-desk/, equal to GetFile.
    const [dl] = await Promise.all([page.waitForEvent("download"), row.getByRole("link", { name: "Download Contact Desk as a zip" }).click()]);
    assert.equal(dl.suggestedFilename(), "contact-desk.zip");
    const zipPath = join(artifacts, "contact-desk.zip");
    await dl.saveAs(zipPath);
    const entries = unzip(readFileSync(zipPath));
    const { files } = await rpc(server.url, "SessionService/ListFiles", { sessionId: id });
    assert.deepEqual(
      entries.map((e) => e.name),
      files.map((f) => `contact-desk/${f.path}`),
      "one entry per file, in path order, under the app's folder",
    );
    for (const f of files) {
      const { file } = await rpc(server.url, "SessionService/GetFile", { sessionId: id, path: f.path });
      const entry = entries.find((e) => e.name === `contact-desk/${f.path}`);
      assert.equal(entry.data.toString("utf8"), file.content, `${f.path} in the zip matches GetFile`);
    }

    // Delete asks first; Escape (or Cancel) keeps the app.
    await row.getByRole("button", { name: "Delete Contact Desk" }).click();
    const dialog = page.getByRole("dialog", { name: "Delete “Contact Desk”?" });
    await dialog.waitFor();
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), "Cancel", "focus starts on the safe choice");
    await shot(page, "22-apps-delete-confirm");
    await page.keyboard.press("Escape");
    await dialog.waitFor({ state: "hidden" });
    assert.equal(await row.count(), 1, "cancelled: the app is still listed");
    await rpc(server.url, "SessionService/GetSession", { sessionId: id });

    await row.getByRole("button", { name: "Delete Contact Desk" }).click();
    await dialog.getByRole("button", { name: "Delete for good" }).click();
    await row.waitFor({ state: "detached" });
    const gone = await fetch(`${server.url}/stich.v1.SessionService/GetSession`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${ownerKey(server.url)}` },
      body: JSON.stringify({ sessionId: id }),
    });
    assert.equal(gone.status, 404, "the deleted session answers NotFound");
    const after = await rpc(server.url, "SessionService/ListSessions", {});
    assert.ok(!after.apps.some((a) => a.sessionId === id), "the deleted app is not listed");

    // Phones: no sideways scrolling on the apps list.
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${server.url}/apps`);
    await page.locator(".app-item").first().waitFor();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `apps page scrolls sideways by ${overflow}px at 390 px`);
    await shot(page, "23-apps-mobile");
    assert.deepEqual(page.errors, []);

    // The deleted session's page says it is not found (the 404 is expected).
    await page.goto(`${server.url}/s/${id}`);
    await page.getByTestId("not-found").waitFor();
    await page.context().close();
  });

  it("responsive layouts and the dark theme", T, async () => {
    for (const [name, width, height, colorScheme] of [
      ["07-session-mobile", 390, 844, "light"],
      ["08-session-tablet", 900, 800, "light"],
      ["09-session-dark", 1440, 900, "dark"],
    ]) {
      const page = await newPage(browser, { width, height, colorScheme });
      await page.goto(`${server.url}/s/${sessionId}`);
      await waitPhase(page, "completed");
      assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), colorScheme);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 0, `${name}: page scrolls sideways by ${overflow}px`);
      await page.locator('.tree-row.file[data-path="src/App.tsx"]').click();
      await shot(page, name);
      if (width < 768) {
        // One pane at a time on a phone: switch to the conversation.
        await page.getByRole("button", { name: "Chat & phases" }).click();
        await page.locator("#chat-input").waitFor();
        await shot(page, "07b-session-mobile-chat");
      }
      assert.deepEqual(page.errors, []);
      await page.context().close();
    }
  });

  it("a session id that does not exist shows a readable not-found message", T, async () => {
    const page = await newPage(browser);
    await page.goto(`${server.url}/s/s-doesnotexist00000000`);
    const nf = page.getByTestId("not-found");
    await nf.waitFor();
    assert.match(await nf.textContent(), /Session not found/);
    assert.match(await nf.textContent(), /s-doesnotexist00000000/);
    await shot(page, "10-not-found");
    await page.goto(`${server.url}/s/not-a-session`);
    await page.getByText("This is not a session address").waitFor();
    await page.goto(`${server.url}/no/such/page`);
    await page.getByRole("heading", { name: "No such page" }).waitFor();
    await page.context().close();
  });

  it("cluster and settings pages", T, async () => {
    const page = await newPage(browser);
    await page.goto(`${server.url}/cluster`);
    await page.getByTestId("member-count").filter({ hasText: "1" }).waitFor();
    await page.locator("tr[data-member] .badge", { hasText: "healthy" }).waitFor();
    await page.getByRole("columnheader", { name: "session" }).waitFor();
    await shot(page, "11-cluster");
    await page.getByRole("link", { name: "Settings" }).click();
    await page.getByRole("heading", { name: "Settings" }).waitFor();
    await page.getByText(/^Node /).waitFor();
    await page.getByTestId("default-provider").filter({ hasText: "scaffold (no model)" }).waitFor();
    await page.locator('tr[data-provider="scaffold"]').getByText("default").waitFor();
    await page.getByTestId("no-model").waitFor();
    await page.getByRole("radio", { name: "dark", exact: true }).check();
    assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), "dark");
    await shot(page, "12-settings-dark");
    assert.deepEqual(page.errors, []);
    await page.context().close();
  });

  it("a huge file, a dropped stream and a gap (scripted stream in the browser)", T, async () => {
    // The server cannot be made to write a 2 MB file, so this page talks to a
    // scripted Watch: the first connection drops after 5 events, the second
    // skips seq 7 (a gap), the third completes. The page must ask for
    // after_seq 0, 5, 6 and end with every event exactly once.
    const page = await newPage(browser);
    const id = "s-scripted0000000000";
    const t = (n) => new Date(Date.UTC(2026, 10, 28, 10, 0, 0) + n * 100).toISOString();
    const big = "x".repeat(1023) + "\n";
    const bigChunks = Array.from({ length: 8 }, () => big.repeat(256)); // 8 × 256 KiB
    const events = [
      { generationStarted: { prompt: "a huge file", providerLabel: "scaffold (no model)" } },
      { phaseChanged: { phase: "PHASE_GENERATING", name: "Data" } },
      { fileStarted: { path: "data/huge.txt", purpose: "a very large file" } },
      ...bigChunks.map((data) => ({ fileChunk: { path: "data/huge.txt", data } })),
      { fileDone: { path: "data/huge.txt", size: String(big.length * 256 * 8) } },
      { phaseChanged: { phase: "PHASE_COMPLETED" } },
      { completed: { files: 1, phases: 1, durationMs: "800" } },
    ].map((e, i) => ({ seq: String(i + 1), time: t(i + 1), ...e }));
    const asked = [];
    await page.route("**/stich.v1.SessionService/Watch", async (route) => {
      const req = JSON.parse(route.request().postDataBuffer().subarray(5).toString());
      const after = Number(req.afterSeq ?? 0);
      asked.push(after);
      let msgs = events.filter((e) => Number(e.seq) > after);
      let error;
      if (asked.length === 1) {
        msgs = msgs.slice(0, 5);
        error = { code: "unavailable", message: "node is shutting down; reconnect with after_seq=5" };
      } else if (asked.length === 2) {
        msgs = msgs.filter((e) => e.seq !== "7");
      }
      await route.fulfill({ status: 200, headers: { "Content-Type": "application/connect+json" }, body: connectStream(msgs, error) });
    });
    await page.route("**/stich.v1.SessionService/GetSession", (route) =>
      route.fulfill({ status: 200, contentType: "application/json", body: JSON.stringify({ session: { id, phase: "PHASE_COMPLETED", lastSeq: String(events.length) } }) }),
    );
    await page.goto(`${server.url}/s/${id}`);
    await waitPhase(page, "completed");
    await page.waitForFunction((n) => Number(document.querySelector('[data-testid="stream-facts"]')?.getAttribute("data-last-seq")) === n, events.length);
    const f = await facts(page);
    assert.deepEqual(asked.slice(0, 3), [0, 5, 6], "reconnects ask for after_seq = last seq received");
    assert.equal(f.applied, events.length);
    assert.equal(f.gaps, 1);
    assert.equal(f.duplicates, 0);
    await page.locator('.tree-row.file[data-path="data/huge.txt"]').click();
    const notice = page.getByText(/This file is 2\.0 MB long; showing the first 256\.0 KB/);
    await notice.waitFor();
    assert.equal(await page.locator('.tree-row.file[data-state="mismatch"]').count(), 0);
    await shot(page, "13-huge-file");
    await page.getByRole("button", { name: "Show the whole file" }).click();
    await page.waitForFunction(() => (document.querySelector(".viewer .code")?.textContent?.length ?? 0) === 2 * 1024 * 1024);
    await page.context().close();
  });

  it("restart mid-stream: the page resumes without gaps or duplicates", { timeout: 180_000 }, async () => {
    // A server on a fixed port (the page reconnects to the same origin),
    // pacing chunks (50 ms: at 25 ms a loaded machine once finished the
    // generation before Stop could be clicked) so that the restart lands
    // mid-generation.
    const port = await freePort();
    const data = join(tmp, "data-restart");
    let srv = await startServer(bin, { data, http: `127.0.0.1:${port}`, chunkDelay: "50ms" });
    const page = await newPage(browser, { server: srv });
    try {
      const id = await createApp(page, srv.url);
      await page.waitForFunction(() => document.querySelectorAll(".tree-row.file").length >= 4);
      // Stop, then resume.
      const stop = page.getByRole("button", { name: "Stop", exact: true });
      const resume = page.getByRole("button", { name: "Resume", exact: true });
      await stop.click();
      await waitPhase(page, "stopped");
      assert.ok(await resume.isEnabled());
      assert.ok(await stop.isDisabled());
      await page.locator(".phase-item.ph-stopped").waitFor();
      await shot(page, "14a-session-stopped");
      await resume.click();
      await page.getByTestId("phase").filter({ hasText: /^(planning|generating|reviewing)$/ }).waitFor();
      await page.waitForFunction(() => document.querySelectorAll(".tree-row.file").length >= 6);
      const mid = await facts(page);
      assert.notEqual(await page.getByTestId("phase").textContent(), "completed", "generation still running at the restart");

      await stopServer(srv);
      await page.getByTestId("connection").and(page.locator('[data-state="waiting"]')).waitFor({ timeout: 15_000 });
      await shot(page, "14b-session-reconnecting");
      // While the server is away a message cannot be sent: the UI says so.
      const chat = page.locator("#chat-input");
      await chat.fill("add a due date");
      await chat.press("Enter");
      await page.locator(".chat .problem").filter({ hasText: "Could not reach the stich server" }).waitFor();
      await shot(page, "15-session-server-down");

      srv = await startServer(bin, { data, http: `127.0.0.1:${port}`, chunkDelay: "5ms" });
      await page.getByTestId("connection").and(page.locator('[data-state="live"]')).waitFor({ timeout: 20_000 });
      await waitPhase(page, "completed", 60_000);
      await page.waitForFunction(() => document.querySelectorAll('.tree-row.file[data-state="streaming"]').length === 0);
      const f = await facts(page);
      assert.ok(f.connects >= 2, `reconnected (${f.connects} connections)`);
      assert.ok(f.lastSeq > mid.lastSeq);
      assert.equal(f.applied, f.lastSeq, "seqs contiguous from 1: nothing missing");
      assert.equal(f.duplicates, 0, "nothing received twice");
      assert.equal(f.gaps, 0);
      const snap = await rpc(srv.url, "SessionService/GetSession", { sessionId: id });
      assert.equal(Number(snap.session.lastSeq), f.lastSeq);
      assert.ok(Number(snap.session.counters.resumes) >= 1, "the server resumed the interrupted generation");
      assert.ok((await page.locator(".log.k-resumed").count()) >= 1 || (await page.getByRole("tab", { name: /Logs/ }).count()) === 1);
      await checkFilesMatchServer(page, srv.url, id);
      await shot(page, "16-session-resumed");
      const errs = page.errors.filter((e) => !/Failed to load resource|net::ERR_CONNECTION_REFUSED/.test(e));
      assert.deepEqual(errs, []);
    } finally {
      await page.context().close();
      await stopServer(srv);
    }
  });

  it("server unreachable: creating an app says what happened and how to retry", T, async () => {
    const page = await newPage(browser);
    await page.goto(server.url);
    await page.locator("#prompt").fill("a todo list");
    await stopServer(server);
    await page.locator("#prompt").press("Enter");
    const problem = page.locator(".problem").filter({ hasText: "Could not reach the stich server" });
    await problem.waitFor();
    assert.match(await problem.textContent(), /stich serve/);
    await problem.getByRole("button", { name: "Retry" }).waitFor();
    await shot(page, "17-home-unreachable");
    await page.context().close();
  });
});
