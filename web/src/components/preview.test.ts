import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { DiagnosticSchema } from "../gen/stich/v1/session_pb";
import { screenshotUrl, uncaughtErrors } from "./PreviewPanel";

const diag = (code: string, message: string, file = "", line = 0) => create(DiagnosticSchema, { code, message, file, line, severity: "error" });

describe("uncaughtErrors", () => {
  it("lists what broke the page, not console errors or failed requests", () => {
    expect(
      uncaughtErrors([
        diag("error", "TypeError: x is undefined", "http://a.preview.localhost/assets/index.js", 3),
        diag("console.error", "could not load items"),
        diag("resource", "failed request: fetch /api/items 404"),
        diag("unhandledrejection", "boom"),
        diag("blank", "the page rendered nothing"),
      ]),
    ).toEqual([
      "TypeError: x is undefined (http://a.preview.localhost/assets/index.js:3)",
      "Unhandled rejection: boom",
      "Nothing rendered: the page rendered nothing",
    ]);
  });
  it("shows nothing for a healthy build", () => {
    expect(uncaughtErrors(undefined)).toEqual([]);
    expect(uncaughtErrors([diag("console.error", "warning only")])).toEqual([]);
  });
  it("bounds what a page can put on screen", () => {
    const many = Array.from({ length: 9 }, (_, i) => diag("error", `e${i} ${"x".repeat(900)}`));
    const out = uncaughtErrors(many);
    expect(out).toHaveLength(5);
    for (const e of out) expect(e.length).toBeLessThanOrEqual(500);
  });
});

describe("screenshotUrl", () => {
  it("names the owner-only route, escaped, with the build", () => {
    expect(screenshotUrl("s-abc", 42)).toBe("/api/sessions/s-abc/screenshot.png?build=42");
    expect(screenshotUrl("a/b")).toBe("/api/sessions/a%2Fb/screenshot.png");
    expect(screenshotUrl("s-abc", 42, "t0k")).toBe("/api/sessions/s-abc/screenshot.png?build=42&csrf=t0k");
  });
});
