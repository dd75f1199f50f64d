import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { CredentialSchema } from "../gen/stich/v1/account_pb";
import { credentialRows, queryParam, signUpProblems } from "./forms";

describe("signUpProblems", () => {
  it("accepts a good form", () => {
    expect(signUpProblems({ email: " ann@example.com ", password: "correct horse", confirm: "correct horse" })).toEqual([]);
  });
  it("names each problem", () => {
    const p = signUpProblems({ email: "ann", password: "short", confirm: "shorter" });
    expect(p).toHaveLength(3);
    expect(p.join(" ")).toMatch(/e-mail/);
    expect(p.join(" ")).toMatch(/8 characters/);
    expect(p.join(" ")).toMatch(/differ/);
  });
  it("refuses a display-name address and counts bytes, not characters", () => {
    expect(signUpProblems({ email: "Ann <ann@example.com>", password: "12345678", confirm: "12345678" })).toHaveLength(1);
    expect(signUpProblems({ email: "a@b.io", password: "ééé", confirm: "ééé" })).toHaveLength(1); // 6 bytes
  });
});

describe("queryParam", () => {
  it("reads tokens from links", () => {
    expect(queryParam("?token=u-1.abc_DEF-", "token")).toBe("u-1.abc_DEF-");
    expect(queryParam("?invite=inv_x&x=1", "invite")).toBe("inv_x");
    expect(queryParam("", "token")).toBe("");
  });
});

describe("credentialRows", () => {
  const at = (d: string) => timestampFromDate(new Date(d));
  it("puts this credential first, then sessions, then keys, newest first", () => {
    const rows = credentialRows([
      create(CredentialSchema, { id: "k1", label: "ci", createdAt: at("2026-01-01") }),
      create(CredentialSchema, { id: "k2", label: "laptop", createdAt: at("2026-03-01") }),
      create(CredentialSchema, { id: "b1", label: "browser session", browser: true, createdAt: at("2026-02-01"), expiresAt: at("2026-03-03") }),
      create(CredentialSchema, { id: "b2", label: "browser session", browser: true, current: true, createdAt: at("2026-01-05") }),
    ]);
    expect(rows.map((r) => r.id)).toEqual(["b2", "b1", "k2", "k1"]);
    expect(rows[0]).toMatchObject({ id: "b2", current: true, kind: "browser session" });
    expect(rows.find((r) => r.id === "b1")?.expires).toBe("2026-03-03");
    expect(rows.find((r) => r.id === "k1")?.expires).toBe("never");
  });
});
