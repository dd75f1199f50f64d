// End-to-end: the session page's tools (issue 18) on a real `stich serve`
// that builds apps in the local sandbox (scaffold provider, no model):
// "Fix problems" runs the rule-based fixer on a user's broken edit and
// makes a version with a change card; a throwing app shows the preview's
// error overlay with a link to the line; two versions compare; the device
// toggle changes the preview frame's width.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { launchBrowser, newPage, rpc, shot, startServer, stichBinary, stopServer, tmp } from "./harness.mjs";

// Builds wait on the npm install: minutes on a loaded machine, more with a cold cache.
const T = { timeout: 1_800_000 };
let browser;
let server;

before(async () => {
  const bin = stichBinary();
  browser = await launchBrowser();
  server = await startServer(bin, { data: join(tmp, "data-sessionpage"), builds: { uid: 64661 } });
});

after(async () => {
  await browser?.close();
  await stopServer(server);
});

/** edit replaces a file's text in the page's editor and saves it; it returns the saved version. */
async function edit(page, path, change) {
  await page.getByRole("tab", { name: /Code/ }).click();
  await page.locator(`.tree-row.file[data-path="${path}"]`).click();
  await page.locator(`.viewer[data-path="${path}"]`).waitFor();
  const id = page.url().split("/s/")[1];
  const before = (await rpc(server.url, "SessionService/GetFile", { sessionId: id, path })).file.content;
  await page.getByRole("button", { name: "Edit", exact: true }).click();
  const editor = page.getByLabel(`Edit ${path}`);
  await editor.waitFor();
  await editor.click();
  await page.keyboard.press("Control+A");
  await editor.evaluate((el, t) => {
    const data = new DataTransfer();
    data.setData("text/plain", t);
    el.dispatchEvent(new ClipboardEvent("paste", { clipboardData: data, bubbles: true, cancelable: true }));
  }, change(before));
  await page.getByTestId("save-file").click();
  const notice = page.getByTestId("saved-as").filter({ hasText: /Saved as version \d+/ });
  await notice.waitFor({ timeout: 60_000 });
  return Number(/version (\d+)/.exec(await notice.innerText())[1]);
}

describe("the session page", () => {
  it("fixes a broken edit on request, links a runtime error to its line, compares versions, sizes the preview", T, async () => {
    const page = await newPage(browser);
    await page.goto(server.url);
    await page.locator("#prompt").fill("a recipe tracker with ingredients and ratings");
    await page.locator("#prompt").press("Enter");
    await page.waitForURL(/\/s\/s-[a-z0-9.-]+$/);
    const id = page.url().split("/s/")[1];
    await page.getByTestId("phase").filter({ hasText: /^completed$/ }).waitFor({ timeout: 900_000 });
    await shot(page, "sp-10-desktop");

    // The developer counters sit in a Details popover.
    assert.equal(await page.getByTestId("counter-events").isVisible(), false, "the counters are folded away");
    await page.getByTestId("dev-details").locator("summary").click();
    await page.getByTestId("counter-events").waitFor();
    await shot(page, "sp-11-details");
    await page.getByTestId("dev-details").locator("summary").click();

    // A user's edit that uses a React hook without importing it: the
    // check reports it, and the page says the fixer did not run on it.
    const broken = await edit(page, "src/App.tsx", (s) => `${s}\nexport function useDoubled(n: number): number {\n  return useMemo(() => n * 2, [n]);\n}\n`);
    const offer = page.getByTestId("fix-offer");
    await offer.waitFor({ timeout: 300_000 });
    assert.match(await offer.innerText(), /Your edit has \d+ problems?\. The fixer did not run on it/);
    assert.ok(Number(await page.getByTestId("problem-count").getAttribute("data-count")) > 0, "the problem count shows the edit's problem");
    await shot(page, "sp-20-problems-fix-button");

    // Fix problems: the fixer imports the hook; a new version with a card.
    await page.getByTestId("fix-problems").click();
    const result = page.getByTestId("fix-result");
    await result.waitFor({ timeout: 300_000 });
    assert.match(await result.innerText(), new RegExp(`^Fixed: version ${broken + 1} changes 1 file`));
    const card = page.getByTestId("fix-bar").getByTestId("change-card");
    assert.equal(await card.getAttribute("data-version"), String(broken + 1));
    assert.equal(await card.locator('[data-testid="change-file"][data-path="src/App.tsx"]').count(), 1, "the card names the fixed file");
    assert.match(await card.getByTestId("change-fixes").innerText(), /useMemo/, "the card says what was fixed");
    const fixed = (await rpc(server.url, "SessionService/GetFile", { sessionId: id, path: "src/App.tsx" })).file.content;
    assert.match(fixed, /import[^;]*\buseMemo\b[^;]*from "react"/, "the fixer imported useMemo");
    const versions = (await rpc(server.url, "SessionService/ListVersions", { sessionId: id })).versions;
    assert.equal(versions.length, broken + 1, "the fix made one version");
    await page.getByTestId("problem-count").filter({ hasText: "no problems" }).waitFor({ timeout: 300_000 });
    await shot(page, "sp-30-fix-change-card");

    // Device sizes: the frame takes the phone's width, and the choice is
    // remembered by this browser.
    await page.getByRole("tab", { name: /Preview/ }).click();
    const frame = page.getByTestId("preview-frame");
    await frame.waitFor();
    const full = (await frame.boundingBox()).width;
    await page.getByTestId("device-phone").click();
    await page.waitForFunction(() => document.querySelector('[data-testid="preview-frame"]')?.getBoundingClientRect().width === 390);
    assert.ok(full > 390, `the desktop frame is wider than a phone (${full})`);
    await page.frameLocator('[data-testid="preview-frame"]').getByRole("heading", { name: "Recipe Tracker" }).waitFor({ timeout: 120_000 });
    await shot(page, "sp-60-phone");
    await page.reload();
    await page.getByRole("tab", { name: /Preview/ }).click();
    await page.getByTestId("device-phone").and(page.locator('[aria-pressed="true"]')).waitFor();
    await page.getByTestId("device-tablet").click();
    await page.waitForFunction(() => document.querySelector('[data-testid="preview-frame"]')?.getBoundingClientRect().width === 820);
    await page.getByTestId("device-desktop").click();
    await page.waitForFunction((w) => document.querySelector('[data-testid="preview-frame"]')?.getBoundingClientRect().width === w, full);
    // An app that throws at start: the preview shows the error over the
    // frame (never a blank preview), linked to the line.
    const throwing = await edit(page, "src/main.tsx", (s) => `if (window.location.pathname.length > 0) throw new Error("e2e-canary: the settings are missing");\n${s}`);
    await page.getByRole("tab", { name: /Preview/ }).click();
    const link = page.locator('[data-testid="preview-error-link"][data-file="src/main.tsx"]');
    await link.waitFor({ timeout: 300_000 });
    assert.match(await page.getByTestId("preview-error").innerText(), /e2e-canary: the settings are missing/);
    assert.equal(await link.getAttribute("data-line"), "1", "the link names the throwing line");
    await shot(page, "sp-40-error-overlay");
    await link.click();
    await page.locator('.viewer[data-path="src/main.tsx"][data-focus-line="1"]').waitFor();
    await page.locator('[data-testid="line-mark"][data-line="1"]').waitFor();
    await shot(page, "sp-41-error-line");

    // Any two versions compare: v1 with the throwing one.
    await page.getByRole("tab", { name: /Versions/ }).click();
    await page.getByTestId("compare-a").selectOption("1");
    await page.getByTestId("compare-b").selectOption(String(throwing));
    await page.getByTestId("compare").click();
    const diff = page.getByTestId("diff");
    await diff.waitFor();
    await diff.scrollIntoViewIfNeeded();
    assert.equal(await diff.getAttribute("data-from"), "1");
    assert.equal(await diff.getAttribute("data-to"), String(throwing));
    const paths = await diff.locator(".diff-file").evaluateAll((els) => els.map((e) => e.getAttribute("data-path")).sort());
    assert.deepEqual(paths, ["src/App.tsx", "src/main.tsx"], "v1 → the last version changed App.tsx (fix) and main.tsx (throw)");
    await shot(page, "sp-50-versions-compare");

    assert.deepEqual(
      page.errors.filter((e) => !/e2e-canary/.test(e)),
      [],
      "the UI logs no console errors",
    );
    await page.context().close();
  });
});
