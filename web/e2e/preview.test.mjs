// End-to-end test of previews: a real `stich serve` with the local sandbox
// builds the scaffold app; the Preview tab shows it in an iframe served
// from the preview origin, and neither the page nor the app logs an error.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { appUrl, launchBrowser, newPage, ownerKey, previewEntry, rpc, shot, startServer, stichBinary, stopServer, tmp } from "./harness.mjs";

const PROMPT = "a recipe tracker with ingredients and ratings";
// A cold npm cache (the first run on a fresh machine) downloads the app's
// dependencies once.
const T = { timeout: 1_800_000 }; // builds wait on the npm install: minutes on a loaded machine

/** watchAll reads a session's events up to idle (Connect server stream, JSON envelopes). */
async function watchAll(url, sessionId) {
  const msg = Buffer.from(JSON.stringify({ sessionId, untilIdle: true }));
  const head = Buffer.alloc(5);
  head.writeUInt32BE(msg.length, 1);
  const res = await fetch(`${url}/stich.v1.SessionService/Watch`, {
    method: "POST",
    headers: { "Content-Type": "application/connect+json", Authorization: `Bearer ${ownerKey(url)}` },
    body: Buffer.concat([head, msg]),
  });
  const buf = Buffer.from(await res.arrayBuffer());
  const events = [];
  for (let i = 0; i + 5 <= buf.length; ) {
    const flags = buf[i];
    const n = buf.readUInt32BE(i + 1);
    const body = JSON.parse(buf.subarray(i + 5, i + 5 + n).toString());
    if (flags & 2) {
      if (body.error) throw new Error(`watch: ${JSON.stringify(body.error)}`);
    } else {
      events.push(body);
    }
    i += 5 + n;
  }
  return events;
}

let browser;
let server;

before(async () => {
  const bin = stichBinary();
  browser = await launchBrowser();
  server = await startServer(bin, { data: join(tmp, "data-preview"), builds: { uid: 64661 } });
});

after(async () => {
  await browser?.close();
  await stopServer(server);
});

describe("previews", () => {
  it("shows the generated app in the Preview tab, from its own origin, with no console errors", T, async () => {
    assert.ok(server.previewBase, "the server announces a preview origin");
    assert.notEqual(new URL(server.previewBase).hostname, new URL(server.url).hostname, "previews are a site apart");

    const page = await newPage(browser);
    // Console errors of the app inside the iframe count too.
    const appErrors = [];
    page.on("console", (m) => {
      if (m.type() === "error" && m.location().url.includes(new URL(server.previewBase).host)) appErrors.push(m.text());
    });
    await page.goto(server.url);
    const box = page.locator("#prompt");
    await box.fill(PROMPT);
    await box.press("Enter");
    await page.waitForURL(/\/s\/s-[a-z0-9.-]+$/);
    const id = page.url().split("/s/")[1];
    await page.getByTestId("phase").filter({ hasText: /^completed$/ }).waitFor({ timeout: 900_000 });

    await page.getByRole("tab", { name: /Preview/ }).click();
    const frame = page.frameLocator('[data-testid="preview-frame"]');
    await frame.getByRole("heading", { name: "Recipe Tracker" }).waitFor({ timeout: 30_000 });
    // The frame opens the app through a ticket the UI got from the API
    // (the preview origin never sees the UI's cookie).
    const src = await page.getByTestId("preview-frame").getAttribute("src");
    const entry = new URL(src);
    assert.equal(`${entry.origin}${entry.pathname}`, `${appUrl(server, id)}__stich/enter`, `frame src ${src}`);
    assert.match(entry.searchParams.get("ticket") ?? "", /^v1\./, `frame src ${src}`);
    await shot(page, "20-preview-tab");

    // Reload keeps it working.
    await page.getByTestId("preview-reload").click();
    await frame.getByRole("heading", { name: "Recipe Tracker" }).waitFor({ timeout: 30_000 });

    // Edit a file in the browser: saving makes a new version, and the
    // preview is rebuilt with the edit.
    await page.getByRole("tab", { name: /Code/ }).click();
    await page.locator('.tree-row.file[data-path="src/App.tsx"]').click();
    await page.getByRole("button", { name: "Edit" }).click();
    const editor = page.getByRole("textbox", { name: "Edit src/App.tsx" });
    await editor.waitFor();
    const source = (await rpc(server.url, "SessionService/GetFile", { sessionId: id, path: "src/App.tsx" })).file.content;
    assert.ok(source.includes("{app.title}</h1>"), "App.tsx renders the title");
    // The editor is CodeMirror (contenteditable): select all, paste, and
    // save at once. A save pressed before React re-rendered the new draft
    // used to save the old text ("No change to save.", seen in CI): the
    // editor now hands its current text to the save.
    await editor.click();
    await page.keyboard.press("Control+A");
    await paste(editor, source.replace("{app.title}</h1>", "{app.title} (edited in the browser)</h1>"));
    await page.keyboard.press("Control+s");
    const notice = page.getByTestId("saved-as");
    try {
      await notice.filter({ hasText: /Saved as version 2/ }).waitFor({ timeout: 30_000 });
    } catch {
      await shot(page, "preview-save-failed");
      assert.fail(`saving the edit reported: ${(await notice.count()) ? await notice.innerText() : "nothing"}`);
    }
    // The notice reports the check's result once it ran, not before.
    await page.getByTestId("check-result").filter({ hasText: /^Checked: / }).waitFor({ timeout: 60_000 });
    await shot(page, "22-file-saved");
    await page.getByRole("tab", { name: /Preview/ }).click();
    await frame.getByRole("heading", { name: "Recipe Tracker (edited in the browser)" }).waitFor({ timeout: 60_000 });

    // Without a ticket the preview origin answers a page saying to open
    // the app from stich, never the app.
    const stranger = await newPage(browser);
    const refused = await stranger.goto(appUrl(server, id));
    assert.equal(refused.status(), 403);
    await stranger.getByText(/Open the app from stich/).waitFor();
    assert.equal(await stranger.getByRole("heading", { name: /Recipe Tracker/ }).count(), 0, "the app was served without a ticket");
    await stranger.context().close();

    // The app on its own, as "open in a new tab" shows it (a fresh ticket).
    const app = await newPage(browser);
    await app.goto(await previewEntry(server, id));
    assert.equal(app.url(), appUrl(server, id), "the ticket URL redirects to the app's root");
    await app.getByRole("heading", { name: "Recipe Tracker (edited in the browser)" }).waitFor();
    await app.getByText("Add recipe").first().waitFor();
    await shot(app, "21-preview-app");
    assert.deepEqual(app.errors, [], "the app logs no console errors and throws nothing");
    assert.deepEqual(appErrors, [], "the app in the iframe logs no console errors");
    assert.deepEqual(page.errors, [], "the UI logs no console errors");
    await app.context().close();
    await page.context().close();
  });

  it("shows the preview after the first phase, before the app is complete, and each check's sub-steps with their times", T, async () => {
    const page = await newPage(browser);
    // Records whether the preview frame was ever on screen while the
    // session was not complete (a MutationObserver misses no render).
    await page.addInitScript(() => {
      window.__earlyPreview = false;
      new MutationObserver(() => {
        const frame = document.querySelector('[data-testid="preview-frame"]');
        const phase = document.querySelector('[data-testid="phase"]');
        if (frame && phase && phase.textContent.trim() !== "completed") window.__earlyPreview = true;
      }).observe(document, { subtree: true, childList: true, characterData: true, attributes: true });
    });
    await page.goto(server.url);
    const box = page.locator("#prompt");
    await box.fill("a countdown timer for workouts");
    await box.press("Enter");
    await page.waitForURL(/\/s\/s-[a-z0-9.-]+$/);
    const id = page.url().split("/s/")[1];
    await page.getByRole("tab", { name: /Preview/ }).click();
    // The first phase's check shows its sub-steps in the timeline.
    await page.locator('.timeline .check-step[data-step="typecheck"]').first().waitFor({ timeout: 900_000 });
    await page.getByTestId("phase").filter({ hasText: /^completed$/ }).waitFor({ timeout: 900_000 });
    await shot(page, "23-check-steps");
    assert.ok(await page.evaluate(() => window.__earlyPreview), "the preview frame was shown before the session completed");
    const steps = page.locator(".timeline .check-step");
    const texts = await steps.allInnerTexts();
    for (const name of ["type-checking", "bundling"]) {
      assert.ok(texts.some((t) => t.includes(name)), `no "${name}" step in the timeline: ${JSON.stringify(texts)}`);
    }
    for (const t of texts) assert.match(t, /\d+(\.\d+)? (ms|s|min)/, `a step without its time: ${JSON.stringify(t)}`);
    assert.equal(await page.locator('.timeline .check-step[data-state="running"]').count(), 0, "a step still runs after completion");

    // In the log, the first preview precedes the second phase: it was
    // built from the first phase's files.
    const events = await watchAll(server.url, id);
    const firstPreview = events.findIndex((e) => e.previewReady);
    const secondPhase = events.findIndex((e) => e.phaseChanged?.phase === "PHASE_GENERATING" && e.phaseChanged?.index === 1);
    assert.ok(firstPreview >= 0 && secondPhase > firstPreview, `first preview at event ${firstPreview}, the second phase at ${secondPhase}`);
    const ended = events.filter((e) => e.checkStep?.ended).map((e) => e.checkStep.step);
    for (const s of ["typecheck", "bundle"]) assert.ok(ended.includes(s), `no ended ${s} step in the log: ${ended}`);
    assert.deepEqual(page.errors, [], "the UI logs no console errors");
    await page.context().close();
  });

  it("keeps apps apart: no shared storage or cookies, no API calls, no reports into another app", T, async () => {
    // Two apps, built from the warm npm cache.
    const ids = [];
    for (const prompt of ["a recipe tracker with ingredients and ratings", "a recipe tracker for desserts"]) {
      ids.push((await rpc(server.url, "SessionService/CreateSession", { prompt })).sessionId);
    }
    const [a, b] = ids.map((id) => appUrl(server, id));
    assert.notEqual(new URL(a).origin, new URL(b).origin, "each app has its own origin");
    const page = await newPage(browser);
    const open = async (id) => {
      // A ticket opens the app's origin; the not-ready page reloads itself
      // (with the origin's cookie) until the preview is built.
      await page.goto(await previewEntry(server, id));
      await page.getByRole("heading", { name: /Recipe Tracker/ }).first().waitFor({ timeout: 900_000 });
    };

    // The user is signed in to the UI (a cookie on the API's origin).
    await page.goto(server.url);
    await page.evaluate(() => {
      document.cookie = "stich_user=secret-session; path=/; SameSite=Lax";
    });

    await open(ids[0]);
    await page.evaluate(() => {
      localStorage.setItem("stich-test-secret", "from A");
      document.cookie = "stich_test_a=from-A; path=/";
    });
    const fromA = await page.evaluate(
      async ({ api, other }) => {
        const out = {};
        const attempt = async (name, fn) => {
          try {
            out[name] = await fn();
          } catch (e) {
            out[name] = `refused: ${e.name}`;
          }
        };
        // The API, with the user's cookies.
        await attempt("api", async () => {
          const r = await fetch(`${api}/stich.v1.SessionService/ListSessions`, {
            method: "POST",
            credentials: "include",
            headers: { "Content-Type": "application/json" },
            body: "{}",
          });
          return `status ${r.status}: ${await r.text()}`;
        });
        await attempt("apiNoCors", async () => {
          const r = await fetch(`${api}/stich.v1.SessionService/ListSessions`, { method: "POST", mode: "no-cors", credentials: "include", body: "{}" });
          return `type ${r.type}`;
        });
        // Another app's reporter (its token) and its report endpoint.
        await attempt("otherReporter", async () => (await fetch(`${other}__stich/reporter.js`)).text());
        const mine = await (await fetch("/__stich/reporter.js")).text();
        const token = /token=([0-9a-f]+)/.exec(mine)?.[1] ?? "";
        await attempt("otherReport", async () => {
          const r = await fetch(`${other}__stich/report?token=${token}`, {
            method: "POST",
            mode: "no-cors",
            headers: { "Content-Type": "text/plain" },
            body: JSON.stringify({ kind: "error", message: "stich-test injected into another app" }),
          });
          return `type ${r.type}`;
        });
        await attempt("otherScript", () =>
          new Promise((res, rej) => {
            const s = document.createElement("script");
            s.src = `${other}__stich/reporter.js`;
            s.onload = () => res("loaded");
            s.onerror = () => rej(new Error("blocked"));
            document.head.append(s);
          }),
        );
        out.cookies = document.cookie;
        return out;
      },
      { api: server.url, other: b },
    );
    for (const k of ["api", "apiNoCors", "otherReporter", "otherReport", "otherScript"]) {
      assert.match(String(fromA[k]), /^refused/, `${k} from app A: ${fromA[k]}`);
    }
    assert.doesNotMatch(fromA.cookies, /stich_user/, "app A sees the UI's cookie");

    // App A's own reporter does reach session A (its build's token, its
    // own origin).
    await page.evaluate(() => console.error("stich-test own report"));
    let own = false;
    for (const deadline = Date.now() + 60_000; !own && Date.now() < deadline; ) {
      own = JSON.stringify(await watchAll(server.url, ids[0])).includes("stich-test own report");
      if (!own) await new Promise((r) => setTimeout(r, 250));
    }
    assert.ok(own, "app A's own error report did not reach session A");

    await open(ids[1]);
    const inB = await page.evaluate(() => ({ secret: localStorage.getItem("stich-test-secret"), cookies: document.cookie }));
    assert.equal(inB.secret, null, "app B reads app A's localStorage");
    assert.doesNotMatch(inB.cookies, /stich_test_a|stich_user/, "app B reads another origin's cookies");

    // B's log holds no report A tried to inject.
    const snap = await rpc(server.url, "SessionService/GetSession", { sessionId: ids[1] });
    assert.ok(snap.session, "session B exists");
    const events = await watchAll(server.url, ids[1]);
    assert.ok(events.some((e) => e.previewReady), "session B's log holds its preview");
    assert.ok(!JSON.stringify(events).includes("stich-test injected"), "a report from app A reached app B's session");
    await page.context().close();
  });
});

/**
 * paste pastes text into an editor as the clipboard would (CodeMirror
 * handles the paste event itself; typing a whole file through the
 * browser's own editing could leave markup CodeMirror then replaces).
 */
async function paste(editor, text) {
  await editor.evaluate((el, t) => {
    const data = new DataTransfer();
    data.setData("text/plain", t);
    el.dispatchEvent(new ClipboardEvent("paste", { clipboardData: data, bubbles: true, cancelable: true }));
  }, text);
}
