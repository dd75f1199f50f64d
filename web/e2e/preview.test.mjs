// End-to-end test of previews: a real `stich serve` with the local sandbox
// builds the scaffold app; the Preview tab shows it in an iframe served
// from the preview origin, and neither the page nor the app logs an error.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { launchBrowser, newPage, rpc, shot, startServer, stichBinary, stopServer, tmp } from "./harness.mjs";

const PROMPT = "a recipe tracker with ingredients and ratings";
// A cold npm cache (the first run on a fresh machine) downloads the app's
// dependencies once.
const T = { timeout: 240_000 };

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
    assert.ok(server.previewUrl, "the server announces a preview origin");
    assert.notEqual(new URL(server.previewUrl).origin, new URL(server.url).origin, "previews have their own origin");

    const page = await newPage(browser);
    // Console errors of the app inside the iframe count too.
    const appErrors = [];
    page.on("console", (m) => {
      if (m.type() === "error" && m.location().url.startsWith(server.previewUrl)) appErrors.push(m.text());
    });
    await page.goto(server.url);
    const box = page.locator("#prompt");
    await box.fill(PROMPT);
    await box.press("Enter");
    await page.waitForURL(/\/s\/s-[a-z0-9.-]+$/);
    const id = page.url().split("/s/")[1];
    await page.getByTestId("phase").filter({ hasText: /^completed$/ }).waitFor({ timeout: 200_000 });

    await page.getByRole("tab", { name: /Preview/ }).click();
    const frame = page.frameLocator('[data-testid="preview-frame"]');
    await frame.getByRole("heading", { name: "Recipe Tracker" }).waitFor({ timeout: 30_000 });
    const src = await page.getByTestId("preview-frame").getAttribute("src");
    assert.equal(src, `${server.previewUrl}/preview/${id}/`);
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
    // The editor is CodeMirror (contenteditable): select all and paste.
    await editor.click();
    await page.keyboard.press("Control+A");
    await paste(editor, source.replace("{app.title}</h1>", "{app.title} (edited in the browser)</h1>"));
    await page.keyboard.press("Control+s");
    await page.getByTestId("saved-as").filter({ hasText: /Saved as version 2/ }).waitFor();
    // The notice reports the check's result once it ran, not before.
    await page.getByTestId("check-result").filter({ hasText: /^Checked: / }).waitFor({ timeout: 60_000 });
    await shot(page, "22-file-saved");
    await page.getByRole("tab", { name: /Preview/ }).click();
    await frame.getByRole("heading", { name: "Recipe Tracker (edited in the browser)" }).waitFor({ timeout: 60_000 });

    // The app on its own, as "open in a new tab" shows it.
    const app = await newPage(browser);
    await app.goto(src);
    await app.getByRole("heading", { name: "Recipe Tracker (edited in the browser)" }).waitFor();
    await app.getByText("Add recipe").first().waitFor();
    await shot(app, "21-preview-app");
    assert.deepEqual(app.errors, [], "the app logs no console errors and throws nothing");
    assert.deepEqual(appErrors, [], "the app in the iframe logs no console errors");
    assert.deepEqual(page.errors, [], "the UI logs no console errors");
    await app.context().close();
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
