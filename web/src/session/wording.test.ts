import { describe, expect, it } from "vitest";
import type { FileState } from "./reducer";
import { authorLabel, readerFiles, readerPurpose } from "./wording";

describe("reader wording", () => {
  it("says You to the owner only", () => {
    expect(authorLabel(true, "Carol")).toBe("You");
    expect(authorLabel(false, "Carol Cook")).toBe("Carol Cook");
    expect(authorLabel(false, "")).toBe("Owner");
    expect(authorLabel(false, undefined)).toBe("Owner");
  });
  it("rewrites 'edited by you' for readers", () => {
    expect(readerPurpose("edited by you", "Carol")).toBe("edited by Carol");
    expect(readerPurpose("edited by you", "")).toBe("edited by the owner");
    expect(readerPurpose("the list view", "Carol")).toBe("the list view");
    const f = (purpose: string) => ({ path: "a", purpose, content: "", bytes: 0, done: true, mismatch: false, seq: 1, writes: 1 }) as unknown as FileState;
    const same = { "src/App.tsx": f("the app shell") };
    expect(readerFiles(same, "Carol")).toBe(same);
    const out = readerFiles({ "src/App.tsx": f("edited by you"), "src/b.ts": f("helpers") }, undefined);
    expect(out["src/App.tsx"].purpose).toBe("edited by the owner");
    expect(out["src/b.ts"].purpose).toBe("helpers");
  });
});
