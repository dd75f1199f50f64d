import { describe, expect, it } from "vitest";
import { checkNotice } from "./CodeViewer";

describe("checkNotice", () => {
  it("says checking until a check after the saved version reports", () => {
    expect(checkNotice(3, undefined, 0)).toBe("Checking the app…");
    expect(checkNotice(3, { seq: 9, afterVersion: 2, state: "checked", text: "" }, 0)).toBe("Checking the app…");
  });
  it("reports the check's actual result", () => {
    expect(checkNotice(3, { seq: 9, afterVersion: 3, state: "checked", text: "" }, 0)).toBe("Checked: no problems.");
    expect(checkNotice(3, { seq: 9, afterVersion: 3, state: "checked", text: "" }, 2)).toMatch(/^Checked: 2 problems/);
    expect(checkNotice(3, { seq: 9, afterVersion: 3, state: "not-checked", text: "" }, 0)).toBe("Not checked: this server runs no builds.");
    expect(checkNotice(3, { seq: 9, afterVersion: 4, state: "failed", text: "sandbox down" }, 0)).toBe("The check could not run: sandbox down");
  });
});
