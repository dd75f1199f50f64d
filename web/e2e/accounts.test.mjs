// End-to-end test of accounts (--auth multi) in Chromium: sign up, verify
// the e-mail through the link the log-only mailer wrote to the server's
// log, sign in, build an app; a second user who opens the app's URL gets
// the not-found page (not a blank one, and not the app). Then the owner
// makes the app public; the second user finds it in the gallery, reads it
// (read-only) and forks it into a private app of their own, which the
// first user in turn cannot open. Readers never see the owner's controls
// (rollback, chat, visibility). A signed-out visitor opens the gallery and
// reads the public app, with "Sign in to fork" instead of Fork; a private
// app shows them the sign-in page.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { launchBrowser, newPage, shot, startServer, stichBinary, stopServer, tmp } from "./harness.mjs";

const T = { timeout: 120_000 };
let browser;
let server;

before(async () => {
  browser = await launchBrowser();
  server = await startServer(stichBinary(), { data: join(tmp, "data-accounts"), extra: ["--auth", "multi"] });
});

after(async () => {
  await browser?.close();
  await stopServer(server);
});

/** verifyToken waits for the verification link e-mailed to email (the log-only mailer logs it). */
async function verifyToken(email) {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    for (let i = server.logs.length - 1; i >= 0; i--) {
      let rec;
      try {
        rec = JSON.parse(server.logs[i]);
      } catch {
        continue;
      }
      const m = rec.mail === "outgoing" && rec.to === email ? /\/verify\?token=([A-Za-z0-9_.-]+)/.exec(rec.body) : null;
      if (m) return m[1];
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no verification e-mail to ${email} in the log`);
}

/** signUp makes a verified account and returns a page signed in as it. */
async function signUp(email, password) {
  const page = await newPage(browser, { server, signedIn: false });
  await page.goto(`${server.url}/signup`);
  await page.getByLabel("E-mail").fill(email);
  await page.getByLabel("Password", { exact: true }).fill(password);
  await page.getByLabel("Password again").fill(password);
  await page.getByRole("button", { name: "Sign up" }).click();
  await page.getByTestId("sign-up-done").waitFor();
  await page.goto(`${server.url}/verify?token=${await verifyToken(email)}`);
  await page.getByText("Your e-mail is verified.").waitFor();
  await page.goto(`${server.url}/signin`);
  await page.getByLabel("E-mail").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "What should stich build?" }).waitFor();
  return page;
}

/** The pages and app of the first test, which the sharing test goes on with. */
let ann, bob, appPath, forkPath;

describe("accounts", () => {
  it("sign up, verify, build an app; another user gets not found", T, async () => {
    ann = await signUp("ann@example.com", "correct horse battery");
    await ann.locator("#prompt").fill("a recipe tracker");
    await ann.locator("#prompt").press("Enter");
    await ann.waitForURL(/\/s\/s-[a-z0-9.-]+$/);
    appPath = new URL(ann.url()).pathname;
    await ann.getByTestId("phase").filter({ hasText: /^completed$/ }).waitFor({ timeout: 60_000 });
    await ann.goto(`${server.url}/account`);
    await ann.getByTestId("account-email").filter({ hasText: "ann@example.com" }).waitFor();
    await shot(ann, "accounts-account-page");

    bob = await signUp("bob@example.com", "another good password");
    await bob.goto(`${server.url}${appPath}`);
    await bob.getByTestId("not-found").getByRole("heading", { name: "Session not found" }).waitFor();
    await shot(bob, "accounts-other-user-not-found");
    assert.equal(await bob.getByTestId("phase").count(), 0, "the other user sees nothing of the app");
    assert.deepEqual(ann.errors.filter((e) => !/401|Unauthorized/.test(e)), []);
  });

  it("the admin sees the users page and another user's sign-in in the audit log", T, async () => {
    // The node's owner is the admin; ann and bob signed up above.
    const admin = await newPage(browser, { server });
    await admin.goto(`${server.url}/apps`);
    await admin.getByRole("link", { name: "Users" }).click();
    await admin.getByRole("heading", { name: "Users" }).waitFor();
    await admin.getByTestId("user-row").filter({ hasText: "ann@example.com" }).waitFor({ timeout: 30_000 });
    await admin.getByTestId("user-row").filter({ hasText: "bob@example.com" }).waitFor({ timeout: 30_000 });
    await admin.getByRole("textbox", { name: "Account", exact: true }).fill("ann@example.com");
    await admin.getByRole("button", { name: "Show" }).click();
    await admin.getByTestId("audit-event").filter({ hasText: "Signed in" }).filter({ hasText: "ann@example.com" }).first().waitFor({ timeout: 30_000 });
    await shot(admin, "accounts-admin-users");
    assert.deepEqual(admin.errors, []);

    // A user sees no Users link, and the page refuses them.
    const bob = await newPage(browser, { server, signedIn: false });
    await bob.goto(`${server.url}/signin`);
    await bob.getByLabel("E-mail").fill("bob@example.com");
    await bob.getByLabel("Password").fill("another good password");
    await bob.getByRole("button", { name: "Sign in" }).click();
    await bob.getByRole("heading", { name: "What should stich build?" }).waitFor();
    await bob.goto(`${server.url}/account`);
    await bob.getByRole("heading", { name: "Security activity" }).waitFor();
    await bob.getByTestId("audit-event").filter({ hasText: "Signed in" }).first().waitFor({ timeout: 30_000 });
    assert.equal(await bob.getByRole("link", { name: "Users" }).count(), 0, "a user sees no Users link");
    await bob.goto(`${server.url}/users`);
    await bob.getByText(/admin role/).first().waitFor();
  });

  it("the owner makes the app public; another user finds it in the gallery and forks it", T, async () => {
    assert.ok(ann && bob && appPath, "the first test made the app");
    const appId = appPath.split("/").pop();
    bob.errors.length = 0; // the not-found page's 404s are the first test's
    await ann.goto(`${server.url}${appPath}`);
    await ann.getByTestId("phase").filter({ hasText: /^completed$/ }).waitFor({ timeout: 60_000 });
    await ann.getByTestId("visibility").selectOption({ label: "public" });
    // data-visibility changes once the server has answered.
    await ann.locator('[data-testid="visibility-state"][data-visibility="public"]').waitFor({ state: "attached" });
    await shot(ann, "sharing-owner-made-public");

    await bob.goto(`${server.url}/gallery`);
    const entry = bob.locator(`[data-testid="gallery"] li[data-id="${appId}"]`);
    await entry.waitFor();
    await shot(bob, "sharing-gallery");
    await entry.getByRole("link").click();
    await bob.waitForURL(`${server.url}${appPath}`);
    await bob.getByTestId("read-only").waitFor();
    await bob.getByTestId("phase").filter({ hasText: /^completed$/ }).waitFor({ timeout: 60_000 });
    assert.equal(await bob.getByTestId("visibility").count(), 0, "only the owner sees the visibility control");
    assert.equal(await bob.locator("#chat-input").count(), 0, "a reader has no chat input");
    await bob.getByTestId("chat-read-only").waitFor();
    await shot(bob, "sharing-read-only");

    await bob.getByTestId("fork").click();
    await bob.waitForURL((u) => /^\/s\/s-[a-z0-9.-]+$/.test(u.pathname) && u.pathname !== appPath);
    forkPath = new URL(bob.url()).pathname;
    await bob.getByTestId("forked-from").filter({ hasText: "version 1" }).waitFor();
    await bob.getByTestId("visibility").waitFor();
    assert.equal(await bob.getByTestId("read-only").count(), 0, "the fork is bob's own");
    await bob.getByTestId("phase").filter({ hasText: /^completed$/ }).waitFor({ timeout: 60_000 });
    await shot(bob, "sharing-fork");
    await bob.goto(`${server.url}/apps`);
    await bob.locator(`li[data-id="${forkPath.split("/").pop()}"]`).waitFor();

    // The fork is private: ann cannot open it.
    await ann.goto(`${server.url}${forkPath}`);
    await ann.getByTestId("not-found").getByRole("heading", { name: "Session not found" }).waitFor();
    assert.deepEqual(bob.errors.filter((e) => !/401|Unauthorized/.test(e)), []);
  });

  it("readers never see Rollback; the owner does", T, async () => {
    assert.ok(ann && bob && appPath, "the first tests made the public app");
    // A second version of ann's public app (a saved file), so that v1 could be rolled back to.
    await ann.goto(`${server.url}${appPath}`);
    await ann.getByTestId("phase").filter({ hasText: /^completed$/ }).waitFor({ timeout: 60_000 });
    const appId = appPath.split("/").pop();
    const status = await ann.evaluate(async (sessionId) => {
      const csrf = /(?:^|;\s*)stich_csrf=([^;]*)/.exec(document.cookie)?.[1] ?? "";
      const res = await fetch("/stich.v1.SessionService/SaveFile", {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": decodeURIComponent(csrf) },
        body: JSON.stringify({ sessionId, path: "src/extra.ts", content: "export const extra = 1;\n" }),
      });
      return res.status;
    }, appId);
    assert.equal(status, 200, "ann saves a file");
    await ann.getByRole("tab", { name: /^Versions/ }).click();
    await ann.locator('li.version[data-version="2"]').waitFor({ timeout: 60_000 });
    await ann.getByTestId("rollback").first().waitFor();

    await bob.goto(`${server.url}${appPath}`);
    await bob.getByTestId("read-only").waitFor();
    await bob.getByRole("tab", { name: /^Versions/ }).click();
    await bob.locator('li.version[data-version="2"]').waitFor({ timeout: 60_000 });
    assert.equal(await bob.getByTestId("rollback").count(), 0, "a reader sees no Rollback");
    assert.equal(await bob.getByRole("button", { name: /Roll back/ }).count(), 0, "a reader sees no Roll back button");
    assert.equal(await bob.getByRole("button", { name: /^(Stop|Resume|Edit)$/ }).count(), 0, "a reader sees no Stop, Resume or Edit");
    await shot(bob, "sharing-reader-versions");

    // Reader wording: the owner's doings are never "you" to bob (ann has no display name: neutral words).
    await bob.locator(".msg.user .who").first().waitFor();
    const who = await bob.locator(".msg.user .who").allInnerTexts();
    assert.ok(who.length > 0 && who.every((w) => w === "Owner"), `chat authors for a reader: ${JSON.stringify(who)}`);
    await bob.getByRole("tab", { name: /^Code/ }).click();
    await bob.locator('button.tree-row[data-path="src/extra.ts"]').click();
    await bob.locator(".viewer-title").filter({ hasText: "edited by the owner" }).waitFor({ timeout: 30_000 });
    const readerText = await bob.locator("main").innerText();
    assert.ok(!/edited by you|your edits/.test(readerText), "a reader sees no owner-only wording");
    assert.equal(await bob.getByTestId("counter-node").count(), 0, "a reader sees no node name");
    // The owner still reads "You" and "edited by you", and sees the node.
    await ann.getByRole("tab", { name: /^Code/ }).click();
    await ann.locator('button.tree-row[data-path="src/extra.ts"]').click();
    await ann.locator(".viewer-title").filter({ hasText: "edited by you" }).waitFor({ timeout: 30_000 });
    assert.equal(await ann.locator(".msg.user .who").first().innerText(), "You");
    assert.equal(await ann.getByTestId("counter-node").count(), 1, "the owner sees the node");
  });

  it("a signed-out visitor reads the public app from the gallery; a private one asks to sign in", T, async () => {
    assert.ok(appPath && forkPath, "the first tests made the public app and the private fork");
    const appId = appPath.split("/").pop();
    const visitor = await newPage(browser, { server, signedIn: false });
    await visitor.goto(`${server.url}/gallery`);
    const entry = visitor.locator(`[data-testid="gallery"] li[data-id="${appId}"]`);
    await entry.waitFor();
    assert.ok(!/@/.test(await entry.innerText()), "the gallery shows no e-mail");
    await shot(visitor, "anonymous-gallery");
    await entry.getByRole("link").click();
    await visitor.waitForURL(`${server.url}${appPath}`);
    await visitor.getByTestId("read-only").waitFor();
    await visitor.getByTestId("phase").filter({ hasText: /^completed$/ }).waitFor({ timeout: 60_000 });
    await visitor.getByTestId("sign-in-to-fork").waitFor();
    assert.equal(await visitor.getByTestId("fork").count(), 0, "no Fork button signed out");
    assert.equal(await visitor.getByTestId("visibility").count(), 0, "no visibility control");
    assert.equal(await visitor.locator("#chat-input").count(), 0, "no chat input");
    await visitor.getByRole("tab", { name: /^Versions/ }).click();
    await visitor.locator('li.version[data-version="2"]').waitFor({ timeout: 60_000 });
    assert.equal(await visitor.getByTestId("rollback").count(), 0, "a visitor sees no Rollback");
    await visitor.getByRole("tab", { name: /^Code/ }).click();
    await shot(visitor, "anonymous-read-only");

    // A private app (bob's fork): the sign-in page, never a blank one.
    await visitor.goto(`${server.url}${forkPath}`);
    await visitor.getByTestId("sign-in").waitFor();
    assert.equal(await visitor.getByTestId("phase").count(), 0, "nothing of the private app");
    // The visitor sees no node name either.
    await visitor.goto(`${server.url}${appPath}`);
    await visitor.getByTestId("read-only").waitFor();
    assert.equal(await visitor.getByTestId("counter-node").count(), 0, "a visitor sees no node name");
    const visitorText = await visitor.locator("main").innerText();
    assert.ok(!/edited by you|your edits/.test(visitorText), "a visitor sees no owner-only wording");
    // Sign in to fork leads to the sign-in page, and back to the app once signed in.
    await visitor.getByTestId("sign-in-to-fork").click();
    await visitor.getByTestId("sign-in").waitFor();
    assert.equal(new URL(visitor.url()).searchParams.get("next"), appPath, "the sign-in page knows where to return");
    await visitor.getByLabel("E-mail").fill("bob@example.com");
    await visitor.getByLabel("Password").fill("another good password");
    await visitor.getByRole("button", { name: "Sign in" }).click();
    await visitor.waitForURL(`${server.url}${appPath}`);
    await visitor.getByTestId("fork").waitFor();
    await shot(visitor, "sign-in-to-fork-returned");
    assert.deepEqual(visitor.errors.filter((e) => !/401|Unauthorized/.test(e)), []);

    // A return path off the origin is ignored: the home page (one sign-in: the others are unit tests,
    // and sign-ins are rate limited per e-mail and address).
    const p = await newPage(browser, { server, signedIn: false });
    await p.goto(`${server.url}/signin?next=${encodeURIComponent("//evil.com")}`);
    await p.getByLabel("E-mail").fill("ann@example.com");
    await p.getByLabel("Password").fill("correct horse battery");
    await p.getByRole("button", { name: "Sign in" }).click();
    await p.getByRole("heading", { name: "What should stich build?" }).waitFor();
    assert.equal(new URL(p.url()).origin, server.url, "next=//evil.com stays on the origin");
    assert.equal(new URL(p.url()).pathname, "/", "next=//evil.com returns home");
    await p.context().close();
  });
});
