import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { AppSummarySchema, Phase } from "../gen/stich/v1/session_pb";
import { ago, appendPage, displayTitle, downloadUrl, emptyApps, normalizeTitle, removed, renamed, titleProblem } from "./apps";

const app = (id: string, title = "") => create(AppSummarySchema, { sessionId: id, title, prompt: `prompt ${id}`, phase: Phase.COMPLETED });

describe("titles", () => {
  it("accepts text and reports empty or long titles", () => {
    expect(titleProblem("My app")).toBeUndefined();
    expect(titleProblem("")).toMatch(/Type a title/);
    expect(titleProblem(" \t\n ")).toMatch(/only spaces/);
    expect(titleProblem("x".repeat(120))).toBeUndefined();
    expect(titleProblem("x".repeat(121))).toMatch(/120 characters \(it has 121\)/);
    // Characters, not UTF-16 units.
    expect(titleProblem("😀".repeat(120))).toBeUndefined();
  });
  it("normalizes whitespace like the server", () => {
    expect(normalizeTitle("  My \t  recipes \n")).toBe("My recipes");
  });
  it("falls back to the prompt, then the id", () => {
    expect(displayTitle(app("s-a", "T"))).toBe("T");
    expect(displayTitle(app("s-a"))).toBe("prompt s-a");
    expect(displayTitle({ sessionId: "s-b", title: "", prompt: "" })).toBe("s-b");
  });
});

describe("download addresses", () => {
  it("current files and versions", () => {
    expect(downloadUrl("s-abc.eu")).toBe("/api/sessions/s-abc.eu/download.zip");
    expect(downloadUrl("s-abc", 3)).toBe("/api/sessions/s-abc/download.zip?version=3");
    expect(downloadUrl("s-abc", 0)).toBe("/api/sessions/s-abc/download.zip");
    expect(downloadUrl("a/b")).toBe("/api/sessions/a%2Fb/download.zip");
    expect(downloadUrl("s-abc", 3, "tok")).toBe("/api/sessions/s-abc/download.zip?version=3&csrf=tok");
    expect(downloadUrl("s-abc", 0, "tok")).toBe("/api/sessions/s-abc/download.zip?csrf=tok");
  });
});

describe("list state", () => {
  it("appends pages without duplicates and restarts on the first page", () => {
    let s = appendPage(emptyApps, { apps: [app("s-1"), app("s-2")], nextPageToken: "t1", total: 3 }, true);
    expect(s.apps.map((a) => a.sessionId)).toEqual(["s-1", "s-2"]);
    expect(s.next).toBe("t1");
    // s-2 was updated between the loads and shows up again on page 2.
    s = appendPage(s, { apps: [app("s-2"), app("s-3")], nextPageToken: "", total: 3 }, false);
    expect(s.apps.map((a) => a.sessionId)).toEqual(["s-1", "s-2", "s-3"]);
    expect(s.next).toBe("");
    s = appendPage(s, { apps: [app("s-9")], nextPageToken: "", total: 1 }, true);
    expect(s.apps.map((a) => a.sessionId)).toEqual(["s-9"]);
    expect(s.total).toBe(1);
  });
  it("renames and removes", () => {
    let s = appendPage(emptyApps, { apps: [app("s-1"), app("s-2")], nextPageToken: "", total: 2 }, true);
    s = renamed(s, app("s-2", "New"));
    expect(s.apps[1].title).toBe("New");
    s = removed(s, "s-1");
    expect(s.apps.map((a) => a.sessionId)).toEqual(["s-2"]);
    expect(s.total).toBe(1);
    // Removing an app that is not listed changes nothing.
    expect(removed(s, "s-x")).toEqual(s);
  });
});

describe("ago", () => {
  const now = new Date("2026-11-28T12:00:00Z");
  it("says how long ago", () => {
    expect(ago(new Date("2026-11-28T11:59:30Z"), now)).toBe("just now");
    expect(ago(new Date("2026-11-28T11:55:00Z"), now)).toBe("5 min ago");
    expect(ago(new Date("2026-11-28T09:00:00Z"), now)).toBe("3 h ago");
    expect(ago(new Date("2026-11-26T12:00:00Z"), now)).toBe("2 d ago");
    // Clock skew: a time in the future reads as now.
    expect(ago(new Date("2026-11-28T12:05:00Z"), now)).toBe("just now");
  });
});
