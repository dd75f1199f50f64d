import { describe, expect, it } from "vitest";
import { parseSignInOptions, returnPathOf, safeReturnPath, signInHref, withReturn } from "./signin";

describe("parseSignInOptions", () => {
  it("keeps the server's providers", () => {
    expect(
      parseSignInOptions({
        providers: [
          { name: "github", label: "GitHub", start: "/auth/oauth/github/start" },
          { name: "kc", label: "", start: "/auth/oauth/kc/start" },
        ],
        signUp: true,
      }),
    ).toEqual({
      providers: [
        { name: "github", label: "GitHub", start: "/auth/oauth/github/start" },
        { name: "kc", label: "kc", start: "/auth/oauth/kc/start" },
      ],
      signUp: true,
    });
  });
  it("drops buttons that would lead elsewhere and bad answers", () => {
    expect(
      parseSignInOptions({
        providers: [
          { name: "evil", label: "Evil", start: "https://evil.example/auth/oauth/evil/start" },
          { name: "Bad Name", label: "x", start: "/auth/oauth/Bad Name/start" },
          null,
          "github",
        ],
      }),
    ).toEqual({ providers: [], signUp: false });
    expect(parseSignInOptions(null)).toEqual({ providers: [], signUp: false });
    expect(parseSignInOptions({ providers: "x" })).toEqual({ providers: [], signUp: false });
  });
});

describe("safeReturnPath", () => {
  it("keeps same-origin paths", () => {
    expect(safeReturnPath("/s/abc")).toBe("/s/abc");
    expect(safeReturnPath("/s/abc?tab=files#x")).toBe("/s/abc?tab=files#x");
  });
  it("refuses anything that leaves the origin", () => {
    for (const bad of ["//evil.com", "https://evil", "/\\evil", "/\\/evil.com", "javascript:alert(1)", "evil.com", "/\tevil", "", null, undefined]) {
      expect(safeReturnPath(bad)).toBe("/");
    }
  });
  it("reads ?next= and builds links", () => {
    expect(returnPathOf("?next=%2Fs%2Fabc")).toBe("/s/abc");
    expect(returnPathOf("?next=%2F%2Fevil.com")).toBe("/");
    expect(signInHref("/s/abc")).toBe("/signin?next=%2Fs%2Fabc");
    expect(signInHref("//evil.com")).toBe("/signin");
    expect(withReturn("/auth/oauth/github/start", "/s/abc")).toBe("/auth/oauth/github/start?next=%2Fs%2Fabc");
    expect(withReturn("/auth/oauth/github/start", "https://evil")).toBe("/auth/oauth/github/start");
  });
});
