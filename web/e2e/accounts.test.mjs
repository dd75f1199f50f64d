// End-to-end test of accounts (--auth multi) in Chromium: sign up, verify
// the e-mail through the link the log-only mailer wrote to the server's
// log, sign in, build an app; a second user who opens the app's URL gets
// the not-found page (not a blank one, and not the app).
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

describe("accounts", () => {
  it("sign up, verify, build an app; another user gets not found", T, async () => {
    const ann = await signUp("ann@example.com", "correct horse battery");
    await ann.locator("#prompt").fill("a recipe tracker");
    await ann.locator("#prompt").press("Enter");
    await ann.waitForURL(/\/s\/s-[a-z0-9.-]+$/);
    const appPath = new URL(ann.url()).pathname;
    await ann.getByTestId("phase").filter({ hasText: /^completed$/ }).waitFor({ timeout: 60_000 });
    await ann.goto(`${server.url}/account`);
    await ann.getByTestId("account-email").filter({ hasText: "ann@example.com" }).waitFor();
    await shot(ann, "accounts-account-page");

    const bob = await signUp("bob@example.com", "another good password");
    await bob.goto(`${server.url}${appPath}`);
    await bob.getByTestId("not-found").getByRole("heading", { name: "Session not found" }).waitFor();
    await shot(bob, "accounts-other-user-not-found");
    assert.equal(await bob.getByTestId("phase").count(), 0, "the other user sees nothing of the app");
    assert.deepEqual(ann.errors.filter((e) => !/401|Unauthorized/.test(e)), []);
  });
});
