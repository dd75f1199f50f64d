import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { DiagnosticSchema } from "../gen/stich/v1/session_pb";
import { checkedTicketUrl, previewTicketPath, versionPreviewUrl } from "../api";
import { savedDevice, screenshotUrl, uncaughtErrors } from "./PreviewPanel";

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
      { text: "TypeError: x is undefined (http://a.preview.localhost/assets/index.js:3)" },
      { text: "Unhandled rejection: boom" },
      { text: "Nothing rendered: the page rendered nothing" },
    ]);
  });
  it("links an error in one of the app's files to its line", () => {
    expect(uncaughtErrors([diag("error", "Error: boom", "src/App.tsx", 7), diag("error", "Error: lib", "node_modules/x/y.js", 2)], ["src/App.tsx"])).toEqual([
      { text: "Error: boom", file: "src/App.tsx", line: 7 },
      { text: "Error: lib (node_modules/x/y.js:2)" },
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
    for (const e of out) expect(e.text.length).toBeLessThanOrEqual(500);
  });
});

describe("savedDevice", () => {
  it("remembers a known device size, desktop otherwise", () => {
    expect(savedDevice({ getItem: () => "phone" })).toBe("phone");
    expect(savedDevice({ getItem: () => "tablet" })).toBe("tablet");
    expect(savedDevice({ getItem: () => "watch" })).toBe("desktop");
    expect(savedDevice({ getItem: () => null })).toBe("desktop");
    expect(
      savedDevice({
        getItem: () => {
          throw new Error("denied");
        },
      }),
    ).toBe("desktop");
  });
});

describe("screenshotUrl", () => {
  it("names the owner-only route, escaped, with the build", () => {
    expect(screenshotUrl("s-abc", 42)).toBe("/api/sessions/s-abc/screenshot.png?build=42");
    expect(screenshotUrl("a/b")).toBe("/api/sessions/a%2Fb/screenshot.png");
    expect(screenshotUrl("s-abc", 42, "t0k")).toBe("/api/sessions/s-abc/screenshot.png?build=42&csrf=t0k");
  });
});

describe("preview tickets", () => {
  const preview = "http://s-abc--local.preview.localhost:8081/";
  it("asks the reader-checked route, escaped", () => {
    expect(previewTicketPath("s-abc.eu")).toBe("/api/sessions/s-abc.eu/preview-ticket");
    expect(previewTicketPath("a/b")).toBe("/api/sessions/a%2Fb/preview-ticket");
  });
  it("opens only the enter path of the app's own preview origin, with a ticket", () => {
    const good = "http://s-abc--local.preview.localhost:8081/__stich/enter?ticket=v1.k.p.m&next=%2F";
    expect(checkedTicketUrl(good, preview)).toBe(good);
    for (const bad of [
      "http://s-other--local.preview.localhost:8081/__stich/enter?ticket=v1.k.p.m",
      "http://s-abc--local.preview.localhost:9999/__stich/enter?ticket=v1.k.p.m",
      "https://evil.example/__stich/enter?ticket=v1.k.p.m",
      "http://s-abc--local.preview.localhost:8081/elsewhere?ticket=v1.k.p.m",
      "http://s-abc--local.preview.localhost:8081/__stich/enter",
      "javascript:alert(1)",
      "not a url",
      42,
      undefined,
    ]) {
      expect(checkedTicketUrl(bad, preview)).toBeUndefined();
    }
  });
});

describe("an old version's preview", () => {
  const preview = "http://s-abc--local.preview.localhost:8081/";
  it("asks the version's ticket route", () => {
    expect(previewTicketPath("s-abc.eu", 3)).toBe("/api/sessions/s-abc.eu/versions/3/preview-ticket");
    expect(previewTicketPath("s-abc.eu", 0)).toBe("/api/sessions/s-abc.eu/preview-ticket");
  });
  it("is on an origin of its own, and accepts tickets of that origin only", () => {
    const v = versionPreviewUrl(preview, 3);
    expect(v).toBe("http://v3-s-abc--local.preview.localhost:8081/");
    const good = "http://v3-s-abc--local.preview.localhost:8081/__stich/enter?ticket=v1.k.p.m&next=%2F";
    expect(checkedTicketUrl(good, v!)).toBe(good);
    // The current preview's ticket URL, or another version's, is refused.
    expect(checkedTicketUrl("http://s-abc--local.preview.localhost:8081/__stich/enter?ticket=v1.k.p.m", v!)).toBeUndefined();
    expect(checkedTicketUrl("http://v2-s-abc--local.preview.localhost:8081/__stich/enter?ticket=v1.k.p.m", v!)).toBeUndefined();
    expect(checkedTicketUrl(good, preview)).toBeUndefined();
  });
});
