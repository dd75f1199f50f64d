// End-to-end: "Sign in with GitHub" in Chromium, against a `stich serve
// --auth multi` whose GitHub is the fake provider (auth/oauth/oauthtest,
// run as a process by cmd fakeoauth).
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { after, before, describe, it } from "node:test";
import { launchBrowser, newPage, repoRoot, shot, startServer, stichBinary, stopServer, tmp } from "./harness.mjs";

const T = { timeout: 90_000 };

let browser;
let server;
let fake;

/** startFake builds and runs the fake provider; resolves with its URL. It exits when its stdin closes. */
function startFake() {
  const bin = join(tmp, "fakeoauth");
  execFileSync("go", ["build", "-o", bin, "./auth/oauth/oauthtest/fakeoauth"], { cwd: repoRoot, stdio: "inherit" });
  const proc = spawn(bin, ["--login", "octo", "--email", "octo@example.com"], { stdio: ["pipe", "pipe", "inherit"] });
  return new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error("fakeoauth did not start in 30 s")), 30_000);
    createInterface({ input: proc.stdout }).once("line", (line) => {
      clearTimeout(timer);
      res({ proc, url: JSON.parse(line).url });
    });
    proc.once("exit", (code) => rej(new Error(`fakeoauth exited (${code})`)));
  });
}

before(async () => {
  fake = await startFake();
  const secret = join(tmp, "gh-secret");
  writeFileSync(secret, "gh-secret\n", { mode: 0o600 });
  server = await startServer(stichBinary(), {
    data: join(tmp, "data-oauth"),
    extra: ["--auth", "multi", "--oauth-github-client-id", "gh-client", "--oauth-github-client-secret-file", secret,
      "--oauth-github-url", fake.url, "--oauth-github-api-url", `${fake.url}/api`],
  });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await stopServer(server);
  fake?.proc.stdin.end();
});

describe("OAuth sign-in", () => {
  it("sign in through the fake GitHub: the button leads to an account and a session", T, async () => {
    const page = await newPage(browser, { server, signedIn: false });
    await page.goto(server.url);
    const button = page.getByTestId("sign-in-github");
    await button.waitFor();
    assert.equal(await button.textContent(), "Sign in with GitHub");
    await shot(page, "oauth-00-sign-in");
    await button.click();
    await page.waitForURL(`${server.url}/`);
    await page.locator("#prompt").waitFor();
    assert.equal(await page.getByTestId("sign-in").count(), 0, "the sign-in page is gone");
    const cookies = await page.context().cookies(server.url);
    const session = cookies.find((c) => c.name === "stich_session");
    assert.ok(session?.httpOnly && session.sameSite === "Lax", "the session cookie is HttpOnly, SameSite=Lax");
    assert.ok(!cookies.some((c) => c.name === "stich_oauth"), "the flow's cookie is cleared");
    // The browser's session calls the API as the new user, who has no apps yet.
    const list = await page.evaluate(async () => {
      const csrf = document.cookie.split("; ").find((c) => c.startsWith("stich_csrf="))?.slice("stich_csrf=".length) ?? "";
      const res = await fetch("/stich.v1.SessionService/ListSessions", {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
        body: "{}",
      });
      return { status: res.status, body: await res.json() };
    });
    assert.equal(list.status, 200, JSON.stringify(list.body));
    assert.deepEqual(list.body.apps ?? [], []);
    await shot(page, "oauth-01-signed-in");
    await page.context().close();
  });

  it("a sign-in through GitHub started from /signin?next=PATH returns to PATH; a path off the origin returns home", T, async () => {
    const page = await newPage(browser, { server, signedIn: false });
    await page.goto(`${server.url}/signin?next=${encodeURIComponent("/gallery")}`);
    const button = page.getByTestId("sign-in-github");
    await button.waitFor();
    assert.equal(await button.getAttribute("href"), "/auth/oauth/github/start?next=%2Fgallery");
    await button.click();
    await page.waitForURL(`${server.url}/gallery`);
    await page.context().close();

    const evil = await newPage(browser, { server, signedIn: false });
    await evil.goto(`${server.url}/signin?next=${encodeURIComponent("//evil.com")}`);
    await evil.getByTestId("sign-in-github").waitFor();
    assert.equal(await evil.getByTestId("sign-in-github").getAttribute("href"), "/auth/oauth/github/start");
    // Even a start link made by hand does not lead off the origin.
    await evil.goto(`${server.url}/auth/oauth/github/start?next=${encodeURIComponent("//evil.com")}`);
    await evil.waitForURL(`${server.url}/`);
    await evil.locator("#prompt").waitFor();
    await evil.context().close();
  });
});
