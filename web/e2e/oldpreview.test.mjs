// End-to-end: an old version previewed before a rollback (issue 18). A
// real `stich serve` with the local sandbox builds the scaffold app; an
// edit saved makes version 2; the versions list previews version 1, built
// from its own files on an origin of its own, under a banner, while
// another tab keeps showing the current version; rolling back from the
// banner makes version 1's files current.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { appUrl, launchBrowser, newPage, rpc, shot, startServer, stichBinary, stopServer, tmp } from "./harness.mjs";

const PROMPT = "a recipe tracker with ingredients and ratings";
const T = { timeout: 1_800_000 }; // builds wait on the npm install: minutes on a loaded machine

let browser;
let server;

before(async () => {
  const bin = stichBinary();
  browser = await launchBrowser();
  server = await startServer(bin, { data: join(tmp, "data-oldpreview"), builds: { uid: 64661 } });
});

after(async () => {
  await browser?.close();
  await stopServer(server);
});

/**
 * watchErrors records a page's errors as newPage's page.errors does, less
 * the 503 of a preview origin's "being built" page (it answers 503 and
 * reloads itself by design while a version's build runs) and the 422 of a
 * version's "could not be built" page.
 */
function watchErrors(page) {
  const errs = [];
  const previewHost = new URL(server.previewBase).host;
  page.on("pageerror", (e) => errs.push(`pageerror: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() !== "error") return;
    const url = m.location().url ?? "";
    let host = "";
    try {
      host = new URL(url).host;
    } catch {
      // not a URL: kept
    }
    if (/status of (503|422)/.test(m.text()) && host.endsWith(`.${previewHost}`)) return;
    errs.push(`console: ${m.text()} (${url})`);
  });
  return errs;
}

/** saveWhenIdle saves a file, waiting while the session is busy (a save is refused then), up to 5 minutes. */
async function saveWhenIdle(id, path, content) {
  const deadline = Date.now() + 300_000;
  for (;;) {
    const base = (await rpc(server.url, "SessionService/GetFile", { sessionId: id, path })).file;
    try {
      return await rpc(server.url, "SessionService/SaveFile", { sessionId: id, path, content, baseSha256: base.sha256 });
    } catch (err) {
      if (!/wait for it to finish/.test(String(err)) || Date.now() > deadline) throw err;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

describe("previewing an old version", () => {
  it("previews version 1 after an edit made version 2, leaves the current preview alone, and rolls back", T, async () => {
    const page = await newPage(browser);
    const pageErrors = watchErrors(page);
    await page.goto(server.url);
    await page.locator("#prompt").fill(PROMPT);
    await page.locator("#prompt").press("Enter");
    await page.waitForURL(/\/s\/s-[a-z0-9.-]+$/);
    const id = page.url().split("/s/")[1];
    await page.getByTestId("phase").filter({ hasText: /^completed$/ }).waitFor({ timeout: 900_000 });

    // An edit saved: version 2, whose title differs from version 1's.
    const file = (await rpc(server.url, "SessionService/GetFile", { sessionId: id, path: "src/App.tsx" })).file;
    assert.ok(file.content.includes("{app.title}</h1>"), "App.tsx renders the title");
    const saved = await saveWhenIdle(id, "src/App.tsx", file.content.replace("{app.title}</h1>", "{app.title} (version two)</h1>"));
    assert.equal(saved.version?.number, 2, `the edit made version ${saved.version?.number}`);

    const frame = page.frameLocator('[data-testid="preview-frame"]');
    await page.getByRole("tab", { name: /Preview/ }).click();
    await frame.getByRole("heading", { name: "Recipe Tracker (version two)" }).waitFor({ timeout: 300_000 });

    // A second tab watching the session: it must keep the current version.
    const other = await newPage(browser);
    const otherErrors = watchErrors(other);
    await other.goto(page.url());
    await other.getByRole("tab", { name: /Preview/ }).click();
    const otherFrame = other.frameLocator('[data-testid="preview-frame"]');
    await otherFrame.getByRole("heading", { name: "Recipe Tracker (version two)" }).waitFor({ timeout: 120_000 });

    // Preview version 1 from the versions list.
    await page.getByRole("tab", { name: /Versions/ }).click();
    await page.locator('.version[data-version="1"]').getByTestId("preview-version").click();
    const banner = page.getByTestId("version-banner");
    await banner.filter({ hasText: /Previewing version 1 \(from / }).waitFor();
    // Version 1's own build, on its own origin: the title without the edit.
    await frame.getByRole("heading", { name: "Recipe Tracker", exact: true }).waitFor({ timeout: 600_000 });
    const src = new URL(await page.getByTestId("preview-frame").getAttribute("src"));
    const current = new URL(appUrl(server, id));
    assert.equal(src.host, `v1-${current.host}`, `version 1's frame opens ${src.href}`);
    assert.equal(await frame.getByRole("heading", { name: /version two/ }).count(), 0, "version 1's preview shows version 2's edit");
    await shot(page, "oldpreview-1-version1");

    // The other tab still shows the current version, after a reload too.
    await other.getByTestId("preview-reload").click();
    await otherFrame.getByRole("heading", { name: "Recipe Tracker (version two)" }).waitFor({ timeout: 120_000 });
    assert.equal(await other.getByTestId("version-banner").count(), 0, "the other tab shows no banner");

    // Back to current, and to version 1 again (its build is reused).
    await page.getByTestId("version-back").click();
    await frame.getByRole("heading", { name: "Recipe Tracker (version two)" }).waitFor({ timeout: 120_000 });
    assert.equal(await banner.count(), 0, "the banner stays after Back to current");
    await page.getByRole("tab", { name: /Versions/ }).click();
    await page.locator('.version[data-version="1"]').getByTestId("preview-version").click();
    await frame.getByRole("heading", { name: "Recipe Tracker", exact: true }).waitFor({ timeout: 120_000 });

    // Roll back from the banner: version 3 holds version 1's files and is
    // current; the banner goes and the preview shows the current build.
    // (Offered once the session is idle: the edit's check may still run.)
    await page.getByTestId("version-rollback").waitFor({ timeout: 300_000 });
    await page.getByTestId("version-rollback").click();
    await banner.waitFor({ state: "detached", timeout: 60_000 });
    const versions = (await rpc(server.url, "SessionService/ListVersions", { sessionId: id })).versions ?? [];
    assert.equal(versions.at(-1)?.number, 3, `versions after the rollback: ${JSON.stringify(versions.map((v) => v.number))}`);
    assert.match(versions.at(-1)?.reason ?? "", /rollback to version 1/);
    const now = (await rpc(server.url, "SessionService/GetFile", { sessionId: id, path: "src/App.tsx" })).file.content;
    assert.equal(now, file.content, "the rollback restored version 1's App.tsx");
    await page.getByRole("tab", { name: /Versions/ }).click();
    await page.locator('.version[data-version="3"]', { hasText: "current" }).waitFor({ timeout: 60_000 });
    await page.getByRole("tab", { name: /Preview/ }).click();
    await frame.getByRole("heading", { name: "Recipe Tracker", exact: true }).waitFor({ timeout: 300_000 });
    const after = new URL(await page.getByTestId("preview-frame").getAttribute("src"));
    assert.equal(after.host, current.host, "after the rollback the frame shows the current preview");
    await otherFrame.getByRole("heading", { name: "Recipe Tracker", exact: true }).waitFor({ timeout: 300_000 });
    await shot(page, "oldpreview-2-rolled-back");

    // A version that does not build shows its errors in the frame, not a
    // blank pane: version 4 breaks App.tsx, version 5 restores it.
    const broken = await saveWhenIdle(id, "src/App.tsx", `${file.content}\nexport const broken = (;\n`);
    const brokenNo = broken.version?.number;
    assert.ok(brokenNo > 3, `the broken edit made version ${brokenNo}`);
    await saveWhenIdle(id, "src/App.tsx", file.content);
    await page.getByRole("tab", { name: /Versions/ }).click();
    await page.locator(`.version[data-version="${brokenNo}"]`).getByTestId("preview-version").click();
    await banner.filter({ hasText: new RegExp(`Previewing version ${brokenNo} `) }).waitFor();
    await frame.getByText(`Version ${brokenNo} could not be built`).waitFor({ timeout: 600_000 });
    await frame.getByText(/src\/App\.tsx/).first().waitFor();
    await shot(page, "oldpreview-3-failed-version");
    await page.getByTestId("version-back").click();

    assert.deepEqual(pageErrors, [], "the UI logs no console errors");
    assert.deepEqual(otherErrors, [], "the other tab logs no console errors");
    await other.context().close();
    await page.context().close();
  });
});
