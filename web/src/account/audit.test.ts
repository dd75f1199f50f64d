import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { AuditEventSchema, UserSummarySchema } from "../gen/stich/v1/account_pb";
import { auditRows, kindsOf, KIND_FILTERS, userRows, when } from "./audit";

const at = (d: string) => timestampFromDate(new Date(d));

describe("auditRows", () => {
  it("labels kinds, marks refusals and counts repeats", () => {
    const rows = auditRows([
      create(AuditEventSchema, { id: 7n, kind: "credentials_refused", count: 12, client: "10.0.0.9", method: "api-key", at: at("2026-12-07T15:04:05Z") }),
      create(AuditEventSchema, { id: 6n, kind: "sign_in", count: 1, email: "ann@example.com", userId: "u-1", method: "password", client: "10.0.0.1" }),
      create(AuditEventSchema, { id: 5n, kind: "role_changed", count: 1, userId: "u-1", actorId: "local", detail: "role: admin" }),
      create(AuditEventSchema, { id: 4n, kind: "something_new", count: 1 }),
    ]);
    expect(rows.map((r) => r.what)).toEqual(["Credentials refused (×12)", "Signed in", "Role changed", "something_new"]);
    expect(rows.map((r) => r.warn)).toEqual([true, false, false, false]);
    expect(rows[0].when).toBe("2026-12-07 15:04 UTC");
    expect(rows[0].who).toBe("unknown account");
    expect(rows[1].who).toBe("ann@example.com");
    expect(rows[2].who).toBe("u-1");
    expect(rows[2].by).toBe("local");
    expect(rows[1]).toMatchObject({ id: "6", from: "10.0.0.1", how: "password" });
  });
});

describe("userRows", () => {
  it("shows never for no sign-in and names the owner", () => {
    const rows = userRows([
      create(UserSummarySchema, { userId: "u-1", email: "ann@example.com", role: "admin", createdAt: at("2026-01-02T03:04:00Z"), lastSignInAt: at("2026-12-01T00:00:00Z"), emailVerified: true }),
      create(UserSummarySchema, { userId: "local", role: "admin", disabled: false }),
      create(UserSummarySchema, { userId: "u-2", email: "bob@example.com", role: "user", disabled: true }),
    ]);
    expect(rows[0]).toMatchObject({ email: "ann@example.com", role: "admin", created: "2026-01-02 03:04 UTC", lastSignIn: "2026-12-01 00:00 UTC", verified: true });
    expect(rows[1].email).toMatch(/owner/);
    expect(rows[1].lastSignIn).toBe("never");
    expect(rows[2].disabled).toBe(true);
  });
});

describe("filters", () => {
  it("splits kind filters", () => {
    expect(kindsOf("")).toEqual([]);
    expect(kindsOf("sign_in,sign_in_failed")).toEqual(["sign_in", "sign_in_failed"]);
    for (const f of KIND_FILTERS) expect(kindsOf(f.value).every((k) => /^[a-z_]+$/.test(k))).toBe(true);
  });
  it("formats no time as empty", () => {
    expect(when(undefined)).toBe("");
  });
});
