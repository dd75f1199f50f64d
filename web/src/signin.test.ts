import { describe, expect, it } from "vitest";
import { parseSignInOptions } from "./signin";

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
