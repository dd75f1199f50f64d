// End-to-end: refinements respect the user's edits and report what they
// changed (issue 18). A real `stich serve` (scaffold provider, no builds)
// and Chromium.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { launchBrowser, newPage, rpc, shot, startServer, stichBinary, stopServer, tmp } from "./harness.mjs";

const T = { timeout: 120_000 };
let browser;
let server;

before(async () => {
  const bin = stichBinary();
  browser = await launchBrowser();
  server = await startServer(bin, { data: join(tmp, "data-refine") });
});

after(async () => {
  await browser?.close();
  await stopServer(server);
});

async function waitPhase(page, phase, timeout = 60_000) {
  await page.getByTestId("phase").filter({ hasText: new RegExp(`^${phase}$`) }).waitFor({ timeout });
}

/** refine sends a chat message and waits for its change card (the n-th). */
async function refine(page, text, n) {
  const box = page.locator("#chat-input");
  await box.fill(text);
  await box.press("Enter");
  await page.getByTestId("change-card").nth(n - 1).waitFor({ timeout: 60_000 });
  await waitPhase(page, "completed");
  return page.getByTestId("change-card").nth(n - 1);
}

/** cardFiles lists the paths a change card names. */
async function cardFiles(card) {
  return card.getByTestId("change-file").evaluateAll((els) => els.map((e) => e.getAttribute("data-path")).sort());
}

async function versions(id) {
  const r = await rpc(server.url, "SessionService/ListVersions", { sessionId: id });
  return r.versions ?? [];
}

/** diffPaths lists the files version n changed, from the server. */
async function diffPaths(id, n) {
  const r = await rpc(server.url, "SessionService/DiffVersions", { sessionId: id, from: n - 1, to: n });
  return (r.files ?? []).map((f) => f.path).sort();
}

describe("refinements and the user's edits", () => {
  it("an edit survives a refinement, the card names every file, a no-op makes no version", T, async () => {
    const page = await newPage(browser);
    const scripts = [];
    page.on("response", async (r) => {
      if (r.url().endsWith(".js")) scripts.push({ url: r.url(), body: await r.text().catch(() => "") });
    });
    await page.goto(server.url);
    await page.locator("#prompt").fill("a recipe tracker with ingredients and ratings");
    await page.locator("#prompt").press("Enter");
    await page.waitForURL(/\/s\/s-[a-z0-9.-]+$/);
    const id = page.url().split("/s/")[1];
    await waitPhase(page, "completed");

    // A first refinement: what it rewrites is what the next one rewrites too.
    const first = await refine(page, "also track a notes field", 1);
    const firstFiles = await cardFiles(first);
    assert.ok(firstFiles.length > 0, "the first refinement changed files");
    const v1 = Number(await first.getAttribute("data-version"));
    assert.deepEqual(firstFiles, await diffPaths(id, v1), "the card names every file the version changed");
    const target = firstFiles.find((p) => /\.(tsx?|jsx?)$/.test(p) && p.startsWith("src/"));
    assert.ok(target, `a source file among ${firstFiles}`);

    // Edit it in the page. The editor (CodeMirror) is not part of the
    // first load: no script so far holds it; Edit loads it.
    await page.locator(`.tree-row.file[data-path="${target}"]`).click();
    await page.locator(`.viewer[data-path="${target}"]`).waitFor();
    assert.ok(scripts.length > 0, "the page loaded its scripts");
    for (const s of scripts) assert.ok(!/cm-editor|CodeEditor-/.test(s.url) && !s.body.includes("cm-editor"), `${s.url} holds no editor code before editing`);
    const loadedBefore = scripts.length;
    await page.getByRole("button", { name: "Edit", exact: true }).click();
    const mine = "// kept by the user: issue 18\n";
    const editor = page.getByLabel(`Edit ${target}`);
    await editor.waitFor();
    const before = (await rpc(server.url, "SessionService/GetFile", { sessionId: id, path: target })).file.content;
    assert.ok(scripts.slice(loadedBefore).some((s) => s.body.includes("cm-editor")), "editing loaded the editor's chunk");
    assert.equal(await editor.getAttribute("contenteditable"), "true", "the editor is CodeMirror's, not a text box");
    // Tab indents inside the editor instead of leaving it.
    await editor.click();
    await page.keyboard.press("Control+End");
    await page.keyboard.press("Tab");
    assert.equal(
      await page.evaluate(() => document.activeElement?.shadowRoot?.activeElement?.getAttribute("data-testid")),
      "code-editor",
      "Tab stays in the editor",
    );
    await setEditorText(page, target, before + mine);
    await page.getByTestId("save-file").click();
    await page.getByTestId("saved-as").filter({ hasText: /Saved as version/ }).waitFor();
    // The notice reports the check's actual outcome: this server runs none.
    await page.getByTestId("check-result").filter({ hasText: "Not checked: this server runs no builds." }).waitFor();
    const afterSave = (await versions(id)).length;

    // The second refinement rewrites the edited file: the edit survives.
    const second = await refine(page, "also track a servings field", 2);
    const now = (await rpc(server.url, "SessionService/GetFile", { sessionId: id, path: target })).file.content;
    assert.ok(now.includes(mine), `${target} keeps the user's edit after the refinement`);
    const secondFiles = await cardFiles(second);
    const v2 = Number(await second.getAttribute("data-version"));
    assert.equal(v2, afterSave + 1, "the refinement made one version");
    assert.deepEqual(secondFiles, await diffPaths(id, v2), "the card names every file the version changed");
    const notDone = await second.getByTestId("change-not-done").count();
    if (!secondFiles.includes(target)) {
      // Not merged: then the card must say the edits were kept.
      assert.equal(notDone, 1, "the card says the edit was kept rather than applied");
      assert.match(await second.getByTestId("change-not-done").textContent(), new RegExp(`kept your edits in ${target.replace(/[.]/g, "\\.")}`));
    }
    // Each file of the card links to its diff in the Versions tab.
    const linked = secondFiles.at(-1);
    await second.locator(`[data-testid="change-file"][data-path="${linked}"] button`).click();
    await page.locator(`.diff-file[data-path="${linked}"][open]`).waitFor();
    await shot(page, "refine-change-card");

    // The same request again changes nothing: no version.
    const third = await refine(page, "also track a servings field", 3);
    assert.equal(await third.getAttribute("data-files"), "0", "the repeated request changed no file");
    assert.equal(await third.getAttribute("data-version"), "0", "the card names no version");
    assert.equal((await versions(id)).length, v2, "a no-op refinement makes no version");
    assert.match(await third.textContent(), /no new version/);
    assert.deepEqual(page.errors, []);

    // The server goes away; leaving the session page and coming back
    // (in-app navigation) shows the last-seen log, not a blank page.
    await page.waitForTimeout(1500); // the cache is written at most once a second
    await page.getByRole("tab", { name: /Code/ }).click();
    const files = await page.locator(".tree-row.file").count();
    assert.ok(files > 0, "the file tree lists the files");
    await stopServer(server);
    await page.goBack();
    await page.locator("#prompt").waitFor();
    await page.goForward();
    await page.getByTestId("connection").filter({ hasText: /server unreachable|connection lost/ }).waitFor({ timeout: 20_000 });
    await page.getByTestId("phase").filter({ hasText: /^completed$/ }).waitFor();
    assert.equal(await page.getByTestId("change-card").count(), 3, "the chat still shows the change cards");
    await page.getByRole("tab", { name: /Code/ }).click();
    assert.equal(await page.locator(".tree-row.file").count(), files, "the file tree is still there");
    await shot(page, "refine-offline");
    await page.context().close();
  });
});

/**
 * setEditorText replaces the editor's text as a person would: select all,
 * paste (CodeMirror handles the paste event itself).
 */
async function setEditorText(page, path, text) {
  const editor = page.getByLabel(`Edit ${path}`);
  await editor.click();
  await page.keyboard.press("Control+A");
  await editor.evaluate((el, t) => {
    const data = new DataTransfer();
    data.setData("text/plain", t);
    el.dispatchEvent(new ClipboardEvent("paste", { clipboardData: data, bubbles: true, cancelable: true }));
  }, text);
}
